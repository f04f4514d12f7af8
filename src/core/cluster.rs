//! k-means clustering (k-means++ initialisation, Lloyd iterations, seeded restarts), the
//! same algorithm scikit-learn's `KMeans` runs, checked against its labels and inertia on
//! the demo set (`tests/cluster.rs`).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Why clustering could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ClusterError {
    /// No points.
    #[error("there are no points to cluster")]
    Empty,
    /// k = 0 or k > number of points.
    #[error("k = {k} clusters cannot be made from {n} points (k must be between 1 and {n})")]
    BadK {
        /// Requested clusters.
        k: usize,
        /// Points.
        n: usize,
    },
    /// The data's length is not rows × dim.
    #[error("{len} values do not make {rows} rows of {dim}")]
    Shape {
        /// Values given.
        len: usize,
        /// Rows.
        rows: usize,
        /// Dimension.
        dim: usize,
    },
    /// Something the job needs is not there.
    #[error("{0}")]
    Missing(String),
    /// The caller asked to stop.
    #[error("cancelled")]
    Cancelled,
}

/// A row-major matrix view.
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    /// Values, `rows × dim`.
    pub data: &'a [f32],
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub dim: usize,
}

impl<'a> Matrix<'a> {
    /// Checks the shape.
    pub fn new(data: &'a [f32], rows: usize, dim: usize) -> Result<Self, ClusterError> {
        if rows.checked_mul(dim) != Some(data.len()) {
            return Err(ClusterError::Shape {
                len: data.len(),
                rows,
                dim,
            });
        }
        if rows == 0 {
            return Err(ClusterError::Empty);
        }
        Ok(Self { data, rows, dim })
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// Settings of [`kmeans`]; defaults as scikit-learn's `KMeans(n_init=10)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KMeansConfig {
    /// Clusters.
    pub k: usize,
    /// Independent k-means++ starts; the lowest inertia wins.
    pub restarts: usize,
    /// Lloyd iterations per start at most.
    pub max_iter: usize,
    /// Stop when the centres move less than `tol` × the mean feature variance (squared).
    pub tol: f64,
    /// Seed of the random starts.
    pub seed: u64,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            k: 8,
            restarts: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
        }
    }
}

/// A clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansResult {
    /// Cluster of each point.
    pub labels: Vec<usize>,
    /// Centres, `k × dim`.
    pub centroids: Vec<f32>,
    /// Sum of squared distances of the points to their centres.
    pub inertia: f64,
    /// Lloyd iterations of the winning start.
    pub iterations: usize,
}

/// Squared Euclidean distance. Eight independent partial sums let the compiler use SIMD
/// (a plain `.sum()` of floats is a serial chain: ~8× slower at d = 384).
pub(crate) fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    sq_dist_lanes(a, b)
}

// How k-means is fast here (scikit-learn's speed with its BLAS, or better, single thread):
//
// * Distances to centres come from dot products, ‖x‖² − 2x·c + ‖c‖², with the squared row
//   norms computed once per run ([`Prep`]). A chunk of a row is multiplied with up to
//   eight centres while it sits in registers ([`dots`]), so the work is arithmetic, not
//   loads: a multiply and an add per value, against a subtract, a multiply and an add
//   for `sq_dist`.
// * Those distances lose precision for near points (cancellation). Every decision made on
//   them allows for their error bound ([`Prep::slack`]): Hamerly's bounds are widened by
//   it, and a near tie is settled with exact distances ([`nearest`]). So the labels are
//   those exact distances give, and the inertia is summed from exact distances.
// * The k-means++ trials of one step are sampled first and then measured in one pass over
//   the points, and the distances to the chosen centres seed the first Lloyd step's bounds
//   (no full pass at its start).
// * On x86-64 the whole run is compiled a second time for AVX2 and picked at run time
//   ([`kmeans_avx2`]): everything below the entry points is `#[inline(always)]` so that it
//   is compiled into that copy. No fused multiply-add and the same 8-lane partial sums on
//   every path: results are bit for bit the same with and without AVX2.

/// Lanes of the partial sums of every dot product and distance here: independent sums let
/// the compiler use SIMD, and a fixed count keeps the rounding the same whatever the
/// vector width (SSE2, AVX2, WebAssembly's 128 bits).
const LANES: usize = 8;

/// Centres whose dot products with one row [`dots_all`] computes in one pass over the row:
/// eight 8-lane sums take half of AVX2's sixteen 256-bit registers; 128-bit SIMD needs two
/// registers a sum, so four there.
const GROUP: usize = if cfg!(target_arch = "x86_64") { 8 } else { 4 };

#[inline(always)]
fn sq_dist_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            let d = x[l] - y[l];
            acc[l] += d * d;
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| (x - y) * (x - y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// The arithmetic of the distances, per instruction set. Every implementation computes
/// the same 8-lane partial sums with separate multiplies and adds (no fused multiply-add,
/// whose single rounding would change the bits), so all give the same results.
trait Kernels: Copy {
    /// Dot products of `row` with `G` vectors of its length, in one pass over the row: each
    /// chunk of the row is loaded once for all `G`.
    fn dots<const G: usize>(self, row: &[f32], others: [&[f32]; G]) -> [f32; G];
}

/// Plain Rust, vectorised by the compiler as it can (SSE2 on x86-64, simd128 in the page).
#[derive(Clone, Copy)]
struct Portable;

impl Kernels for Portable {
    #[inline(always)]
    fn dots<const G: usize>(self, row: &[f32], others: [&[f32]; G]) -> [f32; G] {
        let d = row.len();
        let split = d - d % LANES;
        let others = others.map(|c| &c[..d]);
        let mut acc = [[0f32; LANES]; G];
        for (i, x) in row[..split].chunks_exact(LANES).enumerate() {
            for (a, c) in acc.iter_mut().zip(&others) {
                let c = &c[i * LANES..(i + 1) * LANES];
                for l in 0..LANES {
                    a[l] += x[l] * c[l];
                }
            }
        }
        std::array::from_fn(|g| reduce(&acc[g], &row[split..], &others[g][split..]))
    }
}

/// The dot product from 8 lane sums and the products of the last `d mod 8` values, in the
/// one order every [`Kernels`] uses.
#[inline(always)]
fn reduce(lanes: &[f32; LANES], x_tail: &[f32], c_tail: &[f32]) -> f32 {
    let tail: f32 = x_tail.iter().zip(c_tail).map(|(x, c)| x * c).sum();
    lanes.iter().sum::<f32>() + tail
}

/// AVX2 (256-bit vectors, 8 lanes in one register), for CPUs that have it. A value of this
/// type is proof that the CPU has AVX2: only [`Avx2::detect`] makes one.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    fn detect() -> Option<Self> {
        std::arch::is_x86_feature_detected!("avx2").then_some(Self(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Kernels for Avx2 {
    #[inline(always)]
    fn dots<const G: usize>(self, row: &[f32], others: [&[f32]; G]) -> [f32; G] {
        // SAFETY: `avx2::dots` only requires AVX2, and `self` exists only if the CPU has it.
        unsafe { avx2::dots(row, others) }
    }
}

/// The AVX2 kernels. Compiled into [`kmeans_avx2`] (which has the same target features),
/// they inline there; called from elsewhere they would be plain calls.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{reduce, LANES};
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_setzero_ps,
        _mm256_storeu_ps,
    };

    /// Eight values from `v[at..at + 8]`.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn load(v: &[f32], at: usize) -> __m256 {
        let v: &[f32; LANES] = v[at..at + LANES].try_into().expect("8 values");
        // SAFETY: `v` holds the 8 values read; the load has no alignment requirement.
        unsafe { _mm256_loadu_ps(v.as_ptr()) }
    }

    /// [`super::Kernels::dots`].
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) fn dots<const G: usize>(row: &[f32], others: [&[f32]; G]) -> [f32; G] {
        let d = row.len();
        let split = d - d % LANES;
        let others = others.map(|c| &c[..d]);
        let mut acc = [_mm256_setzero_ps(); G];
        for at in (0..split).step_by(LANES) {
            let x = load(row, at);
            for (a, c) in acc.iter_mut().zip(&others) {
                *a = _mm256_add_ps(*a, _mm256_mul_ps(x, load(c, at)));
            }
        }
        std::array::from_fn(|g| {
            let mut lanes = [0f32; LANES];
            // SAFETY: `lanes` has room for the 8 values stored.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc[g]) };
            reduce(&lanes, &row[split..], &others[g][split..])
        })
    }
}

/// Dot products of `row` with the `out.len()` rows of `centres` (row-major, `row.len()`
/// columns), [`GROUP`] centres a pass and the rest in one more.
#[inline(always)]
fn dots_all<K: Kernels>(kern: K, row: &[f32], centres: &[f32], out: &mut [f32]) {
    #[inline(always)]
    fn group<K: Kernels, const G: usize>(kern: K, row: &[f32], centres: &[f32], out: &mut [f32]) {
        let d = row.len();
        let others = std::array::from_fn(|g| &centres[g * d..(g + 1) * d]);
        out[..G].copy_from_slice(&kern.dots::<G>(row, others));
    }
    let d = row.len();
    for (j, out) in out.chunks_mut(GROUP).enumerate() {
        let centres = &centres[j * GROUP * d..];
        match out.len() {
            8 => group::<K, 8>(kern, row, centres, out),
            7 => group::<K, 7>(kern, row, centres, out),
            6 => group::<K, 6>(kern, row, centres, out),
            5 => group::<K, 5>(kern, row, centres, out),
            4 => group::<K, 4>(kern, row, centres, out),
            3 => group::<K, 3>(kern, row, centres, out),
            2 => group::<K, 2>(kern, row, centres, out),
            _ => group::<K, 1>(kern, row, centres, out),
        }
    }
}

/// Squared distance from the squared norms and the dot product: within [`Prep::slack`] of
/// the exact one, never negative.
#[inline(always)]
fn approx_sq(xn: f32, cn: f32, dot: f32) -> f32 {
    (xn + cn - 2.0 * dot).max(0.0)
}

/// What every start needs of the points: their squared norms and lengths.
struct Prep<'a> {
    x: Matrix<'a>,
    /// ‖xᵢ‖², with [`dots`] (the same bits as the norm of a centre that is this point).
    norms: Vec<f32>,
    /// ‖xᵢ‖.
    lens: Vec<f32>,
    /// `(d/8 + 10) ε`, see [`Prep::slack`].
    rel: f32,
}

impl<'a> Prep<'a> {
    #[inline(always)]
    fn new<K: Kernels>(kern: K, x: Matrix<'a>) -> Self {
        let norms: Vec<f32> = (0..x.rows)
            .map(|i| kern.dots(x.row(i), [x.row(i)])[0])
            .collect();
        let lens = norms.iter().map(|n| n.sqrt()).collect();
        Self {
            x,
            norms,
            lens,
            rel: (x.dim / LANES + 10) as f32 * f32::EPSILON,
        }
    }

    /// Bound on the error of [`approx_sq`] for point `i` and any centre no longer than
    /// `c_len`. Each lane sums d/8 products and the lanes are then added, so a computed dot
    /// product is within (d/8 + 8)·u·‖x‖‖c‖ of the true one (u = ε/2, the unit roundoff);
    /// with the norms' own errors and the two last additions, the squared distance is
    /// within (d/8 + 10)·u·(‖x‖ + ‖c‖)². Twice that, for the terms of second order.
    #[inline(always)]
    fn slack(&self, i: usize, c_len: f32) -> f32 {
        let s = self.lens[i] + c_len;
        self.rel * s * s
    }
}

/// Absolute tolerance as scikit-learn: tol × mean over features of their variance.
#[inline(always)]
fn mean_variance(x: Matrix) -> f64 {
    // per-feature sums (the inner loops run along a row, so they vectorise)
    let mut mean = vec![0f64; x.dim];
    for i in 0..x.rows {
        for (m, v) in mean.iter_mut().zip(x.row(i)) {
            *m += *v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= x.rows as f64);
    let mut var = vec![0f64; x.dim];
    for i in 0..x.rows {
        for (s, (v, m)) in var.iter_mut().zip(x.row(i).iter().zip(&mean)) {
            let t = *v as f64 - m;
            *s += t * t;
        }
    }
    var.iter().sum::<f64>() / (x.rows * x.dim) as f64
}

/// Progress reports: called with the share done; returning `false` cancels.
pub type Progress<'a> = &'a mut dyn FnMut(f64) -> bool;

/// Clusters the rows of `x` into `cfg.k` groups.
pub fn kmeans(
    x: Matrix,
    cfg: &KMeansConfig,
    progress: Progress,
) -> Result<KMeansResult, ClusterError> {
    if cfg.k == 0 || cfg.k > x.rows {
        return Err(ClusterError::BadK {
            k: cfg.k,
            n: x.rows,
        });
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(kern) = Avx2::detect() {
        // SAFETY: `kmeans_avx2` requires AVX2 and nothing else; `kern` proves the CPU has
        // it.
        return unsafe { kmeans_avx2(kern, x, cfg, progress) };
    }
    kmeans_run(Portable, x, cfg, progress)
}

/// [`kmeans_run`] with AVX2, compiled for AVX2 as a whole: the kernels inline into it, and
/// the compiler's own vectors elsewhere are 256 bits wide too.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn kmeans_avx2(
    kern: Avx2,
    x: Matrix,
    cfg: &KMeansConfig,
    progress: Progress,
) -> Result<KMeansResult, ClusterError> {
    kmeans_run(kern, x, cfg, progress)
}

#[inline(always)]
fn kmeans_run<K: Kernels>(
    kern: K,
    x: Matrix,
    cfg: &KMeansConfig,
    progress: Progress,
) -> Result<KMeansResult, ClusterError> {
    let p = Prep::new(kern, x);
    let tol = cfg.tol * mean_variance(x);
    let mut rng = SmallRng::seed_from_u64(cfg.seed);
    let mut best: Option<KMeansResult> = None;
    let restarts = cfg.restarts.max(1);
    for r in 0..restarts {
        let (centroids, seed) = plus_plus(kern, &p, cfg.k, &mut rng);
        let max_iter = cfg.max_iter;
        let run = lloyd(kern, &p, centroids, cfg.k, Some(seed), max_iter, tol, &mut |it| {
            progress((r as f64 + it as f64 / max_iter as f64) / restarts as f64)
        })?;
        if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
            best = Some(run);
        }
        if !progress((r + 1) as f64 / restarts as f64) {
            return Err(ClusterError::Cancelled);
        }
    }
    Ok(best.expect("at least one start"))
}

/// Lloyd iterations from given centres (`k × dim`), e.g. to continue another tool's
/// clustering. Same stopping rule as [`kmeans`].
pub fn kmeans_from(
    x: Matrix,
    centroids: Vec<f32>,
    cfg: &KMeansConfig,
    progress: Progress,
) -> Result<KMeansResult, ClusterError> {
    let k = centroids.len() / x.dim.max(1);
    if k == 0 || k > x.rows || centroids.len() != k * x.dim {
        return Err(ClusterError::BadK { k, n: x.rows });
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(kern) = Avx2::detect() {
        // SAFETY: `kmeans_from_avx2` requires AVX2 and nothing else; `kern` proves the CPU
        // has it.
        return unsafe { kmeans_from_avx2(kern, x, centroids, k, cfg, progress) };
    }
    kmeans_from_run(Portable, x, centroids, k, cfg, progress)
}

/// [`kmeans_from_run`] compiled for AVX2, as [`kmeans_avx2`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn kmeans_from_avx2(
    kern: Avx2,
    x: Matrix,
    centroids: Vec<f32>,
    k: usize,
    cfg: &KMeansConfig,
    progress: Progress,
) -> Result<KMeansResult, ClusterError> {
    kmeans_from_run(kern, x, centroids, k, cfg, progress)
}

#[inline(always)]
fn kmeans_from_run<K: Kernels>(
    kern: K,
    x: Matrix,
    centroids: Vec<f32>,
    k: usize,
    cfg: &KMeansConfig,
    progress: Progress,
) -> Result<KMeansResult, ClusterError> {
    let tol = cfg.tol * mean_variance(x);
    let p = Prep::new(kern, x);
    lloyd(kern, &p, centroids, k, None, cfg.max_iter, tol, &mut |it| {
        progress(it as f64 / cfg.max_iter as f64)
    })
}

/// Each point's nearest centre and squared distances (approximate, [`approx_sq`]) to it
/// and to the second nearest, as k-means++ leaves them.
struct Seed {
    labels: Vec<usize>,
    near: Vec<f32>,
    second: Vec<f32>,
}

/// k-means++ with scikit-learn's greedy variant: 2 + ln k candidates per new centre, the one
/// that lowers the potential most is kept. The candidates of a step are all drawn from the
/// same potential, so they are drawn first (the same random numbers as one at a time) and
/// measured in one pass over the points.
#[inline(always)]
fn plus_plus<K: Kernels>(kern: K, p: &Prep, k: usize, rng: &mut SmallRng) -> (Vec<f32>, Seed) {
    let (x, n) = (p.x, p.x.rows);
    let trials = 2 + (k as f64).ln() as usize;
    let mut centroids = Vec::with_capacity(k * x.dim);
    let first = rng.random_range(0..n);
    centroids.extend_from_slice(x.row(first));
    let mut near: Vec<f32> = (0..n)
        .map(|i| approx_sq(p.norms[i], p.norms[first], kern.dots(x.row(i), [x.row(first)])[0]))
        .collect();
    let mut second = vec![f32::INFINITY; n];
    let mut labels = vec![0usize; n];
    let mut potential: f64 = near.iter().map(|&d| d as f64).sum();
    let mut cumulative = vec![0f64; n];
    let mut cands = Vec::with_capacity(trials);
    let mut block = Vec::with_capacity(trials * x.dim);
    // dist[i * trials + t]: squared distance of point i to candidate t
    let mut dist = vec![0f32; n * trials];
    for c in 1..k {
        if potential > 0.0 {
            let mut acc = 0f64;
            for (s, &d) in cumulative.iter_mut().zip(&near) {
                acc += d as f64;
                *s = acc;
            }
        }
        cands.clear();
        for _ in 0..trials {
            cands.push(if potential > 0.0 {
                // the first point whose running sum reaches the target
                let target = rng.random::<f64>() * potential;
                cumulative.partition_point(|&s| s < target).min(n - 1)
            } else {
                rng.random_range(0..n)
            });
        }
        block.clear();
        cands.iter().for_each(|&j| block.extend_from_slice(x.row(j)));
        let mut pot = vec![0f64; trials];
        for (i, out) in dist.chunks_exact_mut(trials).enumerate() {
            dots_all(kern, x.row(i), &block, out);
            for ((o, &j), s) in out.iter_mut().zip(&cands).zip(pot.iter_mut()) {
                *o = approx_sq(p.norms[i], p.norms[j], *o);
                *s += o.min(near[i]) as f64;
            }
        }
        // the candidate that lowers the potential most (the first of equals)
        let best = (1..trials).fold(0, |b, t| if pot[t] < pot[b] { t } else { b });
        centroids.extend_from_slice(x.row(cands[best]));
        for (i, out) in dist.chunks_exact(trials).enumerate() {
            let d = out[best];
            if d < near[i] {
                second[i] = near[i];
                near[i] = d;
                labels[i] = c;
            } else if d < second[i] {
                second[i] = d;
            }
        }
        potential = pot[best];
    }
    (
        centroids,
        Seed {
            labels,
            near,
            second,
        },
    )
}

/// The centres and what the bounds need of them.
struct Centres {
    /// `k × dim`.
    data: Vec<f32>,
    /// ‖c‖², with [`dots`].
    norms: Vec<f32>,
    /// The longest ‖c‖, for [`Prep::slack`].
    max_len: f32,
    /// Half the distance from each centre to its nearest other centre.
    half_gap: Vec<f32>,
    dim: usize,
}

impl Centres {
    #[inline(always)]
    fn new<K: Kernels>(kern: K, data: Vec<f32>, k: usize, dim: usize) -> Self {
        let mut c = Self {
            data,
            norms: vec![0.0; k],
            max_len: 0.0,
            half_gap: vec![0.0; k],
            dim,
        };
        c.refresh(kern);
        c
    }

    #[inline(always)]
    fn row(&self, j: usize) -> &[f32] {
        &self.data[j * self.dim..(j + 1) * self.dim]
    }

    /// Recomputes the norms and gaps after the centres moved.
    #[inline(always)]
    fn refresh<K: Kernels>(&mut self, kern: K) {
        let k = self.norms.len();
        for j in 0..k {
            self.norms[j] = kern.dots(self.row(j), [self.row(j)])[0];
        }
        self.max_len = self.norms.iter().fold(0f32, |m, n| m.max(n.sqrt()));
        let mut gap = vec![f32::INFINITY; k];
        for j in 0..k {
            for o in j + 1..k {
                let g = sq_dist_lanes(self.row(j), self.row(o)).sqrt();
                gap[j] = gap[j].min(g);
                gap[o] = gap[o].min(g);
            }
        }
        for (h, g) in self.half_gap.iter_mut().zip(gap) {
            *h = g / 2.0;
        }
    }
}

/// The centre nearest to `row` by exact distance, from squared distances `dist` within
/// `slack` of the exact ones: the least of them, unless another is within 2 × slack of it;
/// then the exact least of those (the first of equals).
#[inline(always)]
fn nearest(row: &[f32], centres: &Centres, dist: &[f32], slack: f32) -> usize {
    let best = (1..dist.len()).fold(0, |b, j| if dist[j] < dist[b] { j } else { b });
    let reach = dist[best] + 2.0 * slack;
    if dist
        .iter()
        .enumerate()
        .all(|(j, &v)| j == best || v > reach)
    {
        return best;
    }
    let (mut pick, mut least) = (best, f32::INFINITY);
    for (j, &v) in dist.iter().enumerate() {
        if v <= reach {
            let e = sq_dist_lanes(row, centres.row(j));
            if e < least {
                least = e;
                pick = j;
            }
        }
    }
    pick
}

/// Per point: its centre, an upper bound on the distance to it and a lower bound on the
/// distance to any other centre (Hamerly).
struct Bounds {
    labels: Vec<usize>,
    upper: Vec<f32>,
    lower: Vec<f32>,
}

/// One assignment step with Hamerly's bounds: when a point's upper bound is below its lower
/// bound (or half the gap from its centre to the nearest other), the point cannot change
/// cluster and its k distances are skipped; else all k are measured at once (tightening
/// the upper bound first with the distance to its own centre alone did not pay: one dot
/// product is a serial chain of adds, and it rarely saved the other k − 1). `sums`
/// (per-cluster sums and counts) follow the points that move.
#[inline(always)]
fn assign<K: Kernels>(
    kern: K,
    p: &Prep,
    c: &Centres,
    b: &mut Bounds,
    mut sums: Option<(&mut [f64], &mut [usize])>,
    dist: &mut [f32],
) {
    let d = p.x.dim;
    for i in 0..p.x.rows {
        let a = b.labels[i];
        let bound = c.half_gap[a].max(b.lower[i]);
        if b.upper[i] <= bound {
            continue;
        }
        let row = p.x.row(i);
        let slack = p.slack(i, c.max_len);
        dots_all(kern, row, &c.data, dist);
        for (v, &cn) in dist.iter_mut().zip(&c.norms) {
            *v = approx_sq(p.norms[i], cn, *v);
        }
        let to = nearest(row, c, dist, slack);
        let second = dist
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != to)
            .fold(f32::INFINITY, |m, (_, &v)| m.min(v));
        b.upper[i] = (dist[to] + slack).sqrt();
        b.lower[i] = (second - slack).max(0.0).sqrt();
        if to != a {
            b.labels[i] = to;
            if let Some((sums, counts)) = sums.as_mut() {
                counts[a] -= 1;
                counts[to] += 1;
                for (s, v) in sums[a * d..(a + 1) * d].iter_mut().zip(row) {
                    *s -= *v as f64;
                }
                for (s, v) in sums[to * d..(to + 1) * d].iter_mut().zip(row) {
                    *s += *v as f64;
                }
            }
        }
    }
}

/// Lloyd's iterations with Hamerly's bounds ([`assign`]): same result as plain Lloyd, far
/// fewer distances once the centres settle. Per-cluster sums (f64) and counts are kept up
/// to date as points move, not recomputed. Without a `seed` (k-means++'s distances), a
/// first pass measures every point.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lloyd<K: Kernels>(
    kern: K,
    p: &Prep,
    centroids: Vec<f32>,
    k: usize,
    seed: Option<Seed>,
    max_iter: usize,
    tol: f64,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<KMeansResult, ClusterError> {
    let (x, d) = (p.x, p.x.dim);
    let mut c = Centres::new(kern, centroids, k, d);
    let mut dist = vec![0f32; k];
    let mut b = match seed {
        Some(s) => {
            let slack = |i| p.slack(i, c.max_len);
            Bounds {
                upper: (0..x.rows).map(|i| (s.near[i] + slack(i)).sqrt()).collect(),
                lower: (0..x.rows)
                    .map(|i| (s.second[i] - slack(i)).max(0.0).sqrt())
                    .collect(),
                labels: s.labels,
            }
        }
        None => {
            let mut b = Bounds {
                labels: vec![0; x.rows],
                upper: vec![f32::INFINITY; x.rows],
                lower: vec![0.0; x.rows],
            };
            assign(kern, p, &c, &mut b, None, &mut dist);
            b
        }
    };
    let mut sums = vec![0f64; k * d];
    let mut counts = vec![0usize; k];
    for i in 0..x.rows {
        let l = b.labels[i];
        counts[l] += 1;
        for (s, v) in sums[l * d..(l + 1) * d].iter_mut().zip(x.row(i)) {
            *s += *v as f64;
        }
    }
    let mut iterations = 0;
    let mut new = vec![0f32; d];
    let mut moved = vec![0f32; k];
    for it in 0..max_iter {
        iterations = it + 1;
        if it > 0 {
            c.refresh(kern);
        }
        assign(kern, p, &c, &mut b, Some((&mut sums, &mut counts)), &mut dist);
        let empty = counts.contains(&0);
        // An empty cluster takes the point farthest from its centre (exact distances).
        let mut far = if empty {
            let dist: Vec<f32> = (0..x.rows)
                .map(|i| sq_dist_lanes(x.row(i), c.row(b.labels[i])))
                .collect();
            let mut far: Vec<usize> = (0..x.rows).collect();
            far.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]));
            far
        } else {
            Vec::new()
        }
        .into_iter();
        let mut shift = 0f64;
        for j in 0..k {
            if counts[j] == 0 {
                new.copy_from_slice(x.row(far.next().expect("k ≤ n")));
            } else {
                for (v, s) in new.iter_mut().zip(&sums[j * d..(j + 1) * d]) {
                    *v = (*s / counts[j] as f64) as f32;
                }
            }
            let cj = &mut c.data[j * d..(j + 1) * d];
            let m = sq_dist_lanes(cj, &new);
            shift += m as f64;
            moved[j] = m.sqrt();
            cj.copy_from_slice(&new);
        }
        if empty {
            // a relocated centre breaks the bounds: rescan everything next time
            b.upper.iter_mut().for_each(|u| *u = f32::INFINITY);
            b.lower.iter_mut().for_each(|l| *l = 0.0);
        } else {
            // move the bounds with the centres
            let (mut r1, mut m1, mut m2) = (0, 0f32, 0f32);
            for (j, &m) in moved.iter().enumerate() {
                if m > m1 {
                    m2 = m1;
                    m1 = m;
                    r1 = j;
                } else if m > m2 {
                    m2 = m;
                }
            }
            for i in 0..x.rows {
                b.upper[i] += moved[b.labels[i]];
                b.lower[i] -= if b.labels[i] == r1 { m2 } else { m1 };
            }
        }
        if !progress(iterations) {
            return Err(ClusterError::Cancelled);
        }
        if shift <= tol {
            break;
        }
    }
    // the labels of the final centres, and the inertia from exact distances
    c.refresh(kern);
    assign(kern, p, &c, &mut b, None, &mut dist);
    let inertia = (0..x.rows)
        .map(|i| sq_dist_lanes(x.row(i), c.row(b.labels[i])) as f64)
        .sum();
    Ok(KMeansResult {
        labels: b.labels,
        centroids: c.data,
        inertia,
        iterations,
    })
}

/// The member of each cluster closest to the mean of its members (a central point to show
/// for it). Labels below 0 (noise) belong to no cluster.
pub fn central_points(x: Matrix, labels: &[i32]) -> Vec<Option<usize>> {
    let k = labels
        .iter()
        .copied()
        .max()
        .map_or(0, |m| (m + 1).max(0) as usize);
    let mut means = vec![0f64; k * x.dim];
    let mut counts = vec![0usize; k];
    for (i, &l) in labels.iter().enumerate() {
        if l >= 0 {
            counts[l as usize] += 1;
            for (m, v) in means[l as usize * x.dim..(l as usize + 1) * x.dim]
                .iter_mut()
                .zip(x.row(i))
            {
                *m += *v as f64;
            }
        }
    }
    let centres: Vec<f32> = means
        .chunks(x.dim.max(1))
        .zip(&counts)
        .flat_map(|(m, &c)| m.iter().map(move |v| (*v / c.max(1) as f64) as f32))
        .collect();
    let mut best: Vec<Option<(usize, f32)>> = vec![None; k];
    for (i, &l) in labels.iter().enumerate() {
        if l >= 0 {
            let l = l as usize;
            let d = sq_dist(x.row(i), &centres[l * x.dim..(l + 1) * x.dim]);
            if best[l].is_none_or(|b| d < b.1) {
                best[l] = Some((i, d));
            }
        }
    }
    best.into_iter().map(|b| b.map(|b| b.0)).collect()
}

/// Rows scaled to unit length (zero rows stay zero): Euclidean k-means on them is
/// cosine k-means.
pub fn normalized(x: Matrix) -> Vec<f32> {
    let mut out = x.data.to_vec();
    for row in out.chunks_mut(x.dim) {
        let n = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if n > 0.0 {
            row.iter_mut().for_each(|v| *v /= n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::metrics::adjusted_rand_index;

    fn blobs() -> (Vec<f32>, Vec<usize>) {
        // three well-separated blobs of 20 points in 2-D
        let mut data = Vec::new();
        let mut truth = Vec::new();
        let mut rng = SmallRng::seed_from_u64(7);
        for (c, (cx, cy)) in [(0.0, 0.0), (10.0, 10.0), (-10.0, 10.0)]
            .into_iter()
            .enumerate()
        {
            for _ in 0..20 {
                data.push(cx + rng.random::<f32>() - 0.5);
                data.push(cy + rng.random::<f32>() - 0.5);
                truth.push(c);
            }
        }
        (data, truth)
    }

    fn run(data: &[f32], rows: usize, dim: usize, k: usize) -> Result<KMeansResult, ClusterError> {
        kmeans(
            Matrix::new(data, rows, dim)?,
            &KMeansConfig {
                k,
                ..Default::default()
            },
            &mut |_| true,
        )
    }

    #[test]
    fn three_blobs_are_found() {
        let (data, truth) = blobs();
        let r = run(&data, 60, 2, 3).unwrap();
        let a: Vec<i64> = r.labels.iter().map(|&l| l as i64).collect();
        let b: Vec<i64> = truth.iter().map(|&l| l as i64).collect();
        assert_eq!(adjusted_rand_index(&a, &b), 1.0);
        assert!(r.inertia < 60.0 * 0.5, "{}", r.inertia);
        let labels: Vec<i32> = r.labels.iter().map(|&l| l as i32).collect();
        let m = central_points(Matrix::new(&data, 60, 2).unwrap(), &labels);
        assert_eq!(m.len(), 3);
        assert!(m
            .iter()
            .enumerate()
            .all(|(c, i)| i.is_some_and(|i| r.labels[i] == c)));
    }

    #[test]
    fn edge_cases() {
        // identical points: one cluster has them all, inertia 0, no panic for k > distinct
        let same = vec![1.0f32; 10 * 3];
        let r = run(&same, 10, 3, 3).unwrap();
        assert_eq!(r.inertia, 0.0);
        // one point
        let r = run(&[0.5, 0.5], 1, 2, 1).unwrap();
        assert_eq!(r.labels, vec![0]);
        assert_eq!(
            run(&[0.5, 0.5], 1, 2, 2),
            Err(ClusterError::BadK { k: 2, n: 1 })
        );
        assert_eq!(
            run(&[0.5, 0.5], 1, 2, 0),
            Err(ClusterError::BadK { k: 0, n: 1 })
        );
        assert!(matches!(
            run(&[0.5, 0.5, 1.0], 1, 2, 1),
            Err(ClusterError::Shape { .. })
        ));
        assert_eq!(run(&[], 0, 2, 1), Err(ClusterError::Empty));
        let e = run(&[0.5, 0.5], 1, 2, 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "k = 2 clusters cannot be made from 1 points (k must be between 1 and 1)"
        );
    }

    #[test]
    fn seeded_and_cancellable() {
        let (data, _) = blobs();
        let x = Matrix::new(&data, 60, 2).unwrap();
        let cfg = KMeansConfig {
            k: 3,
            seed: 42,
            ..Default::default()
        };
        let a = kmeans(x, &cfg, &mut |_| true).unwrap();
        let b = kmeans(x, &cfg, &mut |_| true).unwrap();
        assert_eq!(a, b);
        let mut calls = 0;
        let r = kmeans(x, &cfg, &mut |_| {
            calls += 1;
            calls < 3
        });
        assert_eq!(r, Err(ClusterError::Cancelled));
    }

    #[test]
    fn normalized_rows_have_unit_length() {
        let n = normalized(Matrix::new(&[3.0, 4.0, 0.0, 0.0], 2, 2).unwrap());
        assert_eq!(n, vec![0.6, 0.8, 0.0, 0.0]);
    }
}
