//! k-means clustering (k-means++ initialisation, Lloyd iterations, seeded restarts), the
//! same algorithm scikit-learn's `KMeans` runs, checked against its labels and inertia on
//! the demo set (`tests/integration/cluster.rs`).

use crate::core::base::{sq_dist, sq_dist_lanes, LANES};
use crate::core::base::{ClusterError, Matrix, Progress};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

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

// How k-means is fast here (twice scikit-learn's speed with its BLAS, single thread, or
// better):
//
// * Distances to centres come from dot products, ‖x‖² − 2x·c + ‖c‖², with the squared row
//   norms computed once per run ([`Prep`]). A chunk of a row is multiplied with up to six
//   centres while it sits in registers ([`dots_rows`]), a fused multiply-add per value
//   with AVX2 ([`Kernels`]).
// * Those distances lose precision for near points (cancellation). Every decision made on
//   them allows for their error bound ([`Prep::slack`]): the bounds are widened by it, and
//   a near tie is settled with exact distances ([`nearest`]). So the labels are those
//   exact distances give, and the inertia is summed from exact distances.
// * Elkan's bounds ([`assign`]) skip most distances once the centres settle.
// * The k-means++ trials of one step are drawn first and then measured in one pass over
//   the points; the distances to the chosen centres seed the first Lloyd step's bounds (no
//   full pass at its start).
// * On x86-64 the whole run is compiled a second time for AVX2 and FMA and picked at run
//   time ([`kmeans_avx2`]): everything below the entry points is `#[inline(always)]` so that
//   it is compiled into that copy.

/// The arithmetic of the distances, per instruction set.
///
/// A dot product is summed in `W` independent 8-lane sums (chunk `i` of 8 values goes to
/// sum `i mod W`), so that the adds, which wait 3–4 cycles for one another within a sum,
/// overlap; then the sums are added lane by lane, pairwise, the 8 lanes pairwise too
/// ([`hsum`]), and the products of the last `d mod 8` values last. Every
/// implementation does exactly this; the AVX2 one fuses each multiply and add (FMA: half
/// the instructions, a third less time for the whole of k-means here), with one rounding
/// instead of two, so its dot products can differ from the portable ones in the last bits.
/// That never changes Lloyd's labels, which are those of exact distances ([`nearest`]),
/// but k-means++ samples with these distances: on a CPU without AVX2 and FMA a start can,
/// rarely, pick another point. On one machine the results are always the same.
trait Kernels: Copy {
    /// The most centres whose dot products with one row [`dots_rows`] computes in one pass
    /// over the row: as many as the registers hold the sums of.
    const GROUP: usize;

    /// Sums per dot product (`W`) in a pass over two centres: four if the registers allow.
    const PAIR_WAYS: usize;

    /// Dot products of `row` with `G` vectors of its length, in one pass over the row: each
    /// chunk of the row is loaded once for all `G`. `W` (2 or 4): sums per dot product; four
    /// when there are one or two (else a pass is bound by the latency of the adds), two
    /// beyond (the registers run out).
    fn dots<const G: usize, const W: usize>(self, row: &[f32], others: [&[f32]; G]) -> [f32; G];

    /// One dot product.
    #[inline(always)]
    fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        self.dots::<1, 4>(a, [b])[0]
    }

    /// Elkan's test of one point: the centres `j` that could be nearer to it than its own
    /// (`own`), those with `upper > lower[j]` and `upper > half[j]`, and its own, in order
    /// into `ids`; returns how many.
    fn select(
        self,
        upper: f32,
        lower: &[f32],
        half: &[f32],
        own: usize,
        ids: &mut [usize],
    ) -> usize;
}

/// The sum of 8 lanes as a tree, ((0 + 4) + (2 + 6)) + ((1 + 5) + (3 + 7)): three adds
/// deep, as a SIMD horizontal sum does it.
#[inline(always)]
fn hsum(v: &[f32; LANES]) -> f32 {
    let t = [v[0] + v[4], v[1] + v[5], v[2] + v[6], v[3] + v[7]];
    (t[0] + t[2]) + (t[1] + t[3])
}

/// The `W` (a power of two) sums of a dot product added pairwise: (0 + 1) + (2 + 3).
#[inline(always)]
fn combine<T: Copy, const W: usize>(mut v: [T; W], add: impl Fn(T, T) -> T) -> T {
    let mut w = W;
    while w > 1 {
        for i in 0..w / 2 {
            v[i] = add(v[2 * i], v[2 * i + 1]);
        }
        w /= 2;
    }
    v[0]
}

/// The products of the last `d mod 8` values, in order.
#[inline(always)]
fn tail(x: &[f32], c: &[f32]) -> f32 {
    x.iter().zip(c).map(|(x, c)| x * c).sum()
}

/// Four-lane SIMD: simd128 in the page's WebAssembly (the compiler vectorises loops over
/// 8-lane arrays only in part there), arrays of four elsewhere, which the compiler turns
/// into SSE2 on x86-64. A multiply, then an add: the same bits on each.
mod quad {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    mod imp {
        use std::arch::wasm32::{
            f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat, v128, v128_load,
        };
        pub type V = v128;
        #[inline(always)]
        pub fn zero() -> V {
            f32x4_splat(0.0)
        }
        #[inline(always)]
        pub fn load(v: &[f32; 4]) -> V {
            // SAFETY: `v` holds the 16 bytes read; the load has no alignment requirement.
            unsafe { v128_load(v.as_ptr().cast()) }
        }
        #[inline(always)]
        pub fn mul_add(a: V, x: V, c: V) -> V {
            f32x4_add(a, f32x4_mul(x, c))
        }
        #[inline(always)]
        pub fn add(a: V, b: V) -> V {
            f32x4_add(a, b)
        }
        #[inline(always)]
        pub fn lanes(v: V) -> [f32; 4] {
            [
                f32x4_extract_lane::<0>(v),
                f32x4_extract_lane::<1>(v),
                f32x4_extract_lane::<2>(v),
                f32x4_extract_lane::<3>(v),
            ]
        }
    }

    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    mod imp {
        pub type V = [f32; 4];
        #[inline(always)]
        pub fn zero() -> V {
            [0.0; 4]
        }
        #[inline(always)]
        pub fn load(v: &[f32; 4]) -> V {
            *v
        }
        #[inline(always)]
        pub fn mul_add(a: V, x: V, c: V) -> V {
            std::array::from_fn(|l| a[l] + x[l] * c[l])
        }
        #[inline(always)]
        pub fn add(a: V, b: V) -> V {
            std::array::from_fn(|l| a[l] + b[l])
        }
        #[inline(always)]
        pub fn lanes(v: V) -> [f32; 4] {
            v
        }
    }

    pub use imp::*;
}

/// Four-lane SIMD ([`quad`]); an 8-lane sum is two vectors.
#[derive(Clone, Copy)]
struct Portable;

impl Kernels for Portable {
    // twelve sums of two vectors take 24 of 16 registers: three centres, not six
    const GROUP: usize = 3;
    const PAIR_WAYS: usize = 2;

    #[inline(always)]
    fn dots<const G: usize, const W: usize>(self, row: &[f32], others: [&[f32]; G]) -> [f32; G] {
        use quad::{add, lanes, load, mul_add, zero, V};
        /// Eight values, as two vectors.
        #[inline(always)]
        fn load8(v: &[f32; LANES]) -> [V; 2] {
            let (v, _) = v.as_chunks::<4>();
            [load(&v[0]), load(&v[1])]
        }
        #[inline(always)]
        fn mul_add8(a: [V; 2], x: [V; 2], c: [V; 2]) -> [V; 2] {
            [mul_add(a[0], x[0], c[0]), mul_add(a[1], x[1], c[1])]
        }
        // as `avx2::dots`
        let (xs, x_tail) = row.as_chunks::<LANES>();
        let (xw, x_rest) = xs.as_chunks::<W>();
        let mut cw = [xw; G];
        let mut c_rest = [x_rest; G];
        let mut c_tail = [x_tail; G];
        for g in 0..G {
            let (c, t) = others[g][..row.len()].as_chunks::<LANES>();
            let (c, r) = c.as_chunks::<W>();
            (cw[g], c_rest[g], c_tail[g]) = (&c[..xw.len()], r, t);
        }
        let mut acc = [[[zero(); 2]; W]; G];
        for (q, x) in xw.iter().enumerate() {
            for k in 0..W {
                let x = load8(&x[k]);
                for g in 0..G {
                    acc[g][k] = mul_add8(acc[g][k], x, load8(&cw[g][q][k]));
                }
            }
        }
        for (k, x) in x_rest.iter().enumerate() {
            let x = load8(x);
            for g in 0..G {
                acc[g][k] = mul_add8(acc[g][k], x, load8(&c_rest[g][k]));
            }
        }
        let mut out = [0f32; G];
        for g in 0..G {
            let v = combine(acc[g], |a, b| [add(a[0], b[0]), add(a[1], b[1])]);
            let (lo, hi) = (lanes(v[0]), lanes(v[1]));
            let mut all = [0f32; LANES];
            all[..4].copy_from_slice(&lo);
            all[4..].copy_from_slice(&hi);
            out[g] = hsum(&all) + tail(x_tail, c_tail[g]);
        }
        out
    }

    #[inline(always)]
    fn select(
        self,
        upper: f32,
        lower: &[f32],
        half: &[f32],
        own: usize,
        ids: &mut [usize],
    ) -> usize {
        // without branches: the tests are unpredictable
        let mut len = 0;
        for (j, (&l, &h)) in lower.iter().zip(half).enumerate() {
            ids[len] = j;
            len += usize::from((j == own) | ((upper > l) & (upper > h)));
        }
        len
    }
}

/// AVX2 (256-bit vectors, 8 lanes in one register) with FMA, for CPUs that have both (all
/// x86-64 ones since 2013–2015). A value of this type is proof that the CPU has them: only
/// [`Avx2::detect`] makes one.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    fn detect() -> Option<Self> {
        (std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"))
            .then_some(Self(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Kernels for Avx2 {
    // six centres' sums (two each) take twelve of the sixteen 256-bit registers
    const GROUP: usize = 6;
    const PAIR_WAYS: usize = 4;

    #[inline(always)]
    fn dots<const G: usize, const W: usize>(self, row: &[f32], others: [&[f32]; G]) -> [f32; G] {
        // SAFETY: `avx2::dots` only requires AVX2 and FMA, and `self` exists only if the CPU
        // has them.
        unsafe { avx2::dots::<G, W>(row, others) }
    }

    #[inline(always)]
    fn select(
        self,
        upper: f32,
        lower: &[f32],
        half: &[f32],
        own: usize,
        ids: &mut [usize],
    ) -> usize {
        // SAFETY: as above.
        unsafe { avx2::select(upper, lower, half, own, ids) }
    }
}

/// The AVX2 kernels. Called from [`kmeans_avx2`], which has the same target features, they
/// can inline there.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{combine, tail, LANES};
    use std::arch::x86_64::{
        __m256, _mm256_add_ps, _mm256_and_ps, _mm256_castps256_ps128, _mm256_cmp_ps,
        _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_movemask_ps,
        _mm256_set1_ps, _mm256_setzero_ps, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps,
        _mm_shuffle_ps, _CMP_GT_OQ,
    };

    /// Eight values.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn load(v: &[f32; LANES]) -> __m256 {
        // SAFETY: `v` holds the 8 values read; the load has no alignment requirement.
        unsafe { _mm256_loadu_ps(v.as_ptr()) }
    }

    /// [`super::Kernels::select`], eight centres a compare.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) fn select(
        upper: f32,
        lower: &[f32],
        half: &[f32],
        own: usize,
        ids: &mut [usize],
    ) -> usize {
        let (ls, l_tail) = lower.as_chunks::<LANES>();
        let (hs, h_tail) = half[..lower.len()].as_chunks::<LANES>();
        let u = _mm256_set1_ps(upper);
        let mut len = 0;
        for (c, (l, h)) in ls.iter().zip(hs).enumerate() {
            let near = _mm256_and_ps(
                _mm256_cmp_ps::<_CMP_GT_OQ>(u, load(l)),
                _mm256_cmp_ps::<_CMP_GT_OQ>(u, load(h)),
            );
            let mut bits = _mm256_movemask_ps(near) as u32;
            if own / LANES == c {
                bits |= 1 << (own % LANES);
            }
            while bits != 0 {
                ids[len] = c * LANES + bits.trailing_zeros() as usize;
                len += 1;
                bits &= bits - 1;
            }
        }
        let base = ls.len() * LANES;
        for (j, (&l, &h)) in l_tail.iter().zip(h_tail).enumerate() {
            ids[len] = base + j;
            len += usize::from((base + j == own) | ((upper > l) & (upper > h)));
        }
        len
    }

    /// [`super::hsum`] of the lanes of `v`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn hsum(v: __m256) -> f32 {
        // [0 + 4, 1 + 5, 2 + 6, 3 + 7]
        let t = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        // [(0 + 4) + (2 + 6), (1 + 5) + (3 + 7), …]
        let u = _mm_add_ps(t, _mm_movehl_ps(t, t));
        _mm_cvtss_f32(_mm_add_ss(u, _mm_shuffle_ps::<1>(u, u)))
    }

    /// [`super::Kernels::dots`].
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) fn dots<const G: usize, const W: usize>(
        row: &[f32],
        others: [&[f32]; G],
    ) -> [f32; G] {
        // the row in runs of `W` chunks of 8, the centres likewise: the loops index within
        // known lengths, so without bounds checks
        let (xs, x_tail) = row.as_chunks::<LANES>();
        let (xw, x_rest) = xs.as_chunks::<W>();
        let mut cw = [xw; G];
        let mut c_rest = [x_rest; G];
        let mut c_tail = [x_tail; G];
        for g in 0..G {
            let (c, t) = others[g][..row.len()].as_chunks::<LANES>();
            let (c, r) = c.as_chunks::<W>();
            (cw[g], c_rest[g], c_tail[g]) = (&c[..xw.len()], r, t);
        }
        let mut acc = [[_mm256_setzero_ps(); W]; G];
        for (q, x) in xw.iter().enumerate() {
            for k in 0..W {
                let x = load(&x[k]);
                for g in 0..G {
                    acc[g][k] = _mm256_fmadd_ps(x, load(&cw[g][q][k]), acc[g][k]);
                }
            }
        }
        // the last chunks, fewer than `W`, to sums 0, 1, …
        for (k, x) in x_rest.iter().enumerate() {
            let x = load(x);
            for g in 0..G {
                acc[g][k] = _mm256_fmadd_ps(x, load(&c_rest[g][k]), acc[g][k]);
            }
        }
        let mut out = [0f32; G];
        for g in 0..G {
            let lanes = combine(acc[g], |a, b| _mm256_add_ps(a, b));
            out[g] = hsum(lanes) + tail(x_tail, c_tail[g]);
        }
        out
    }
}

/// Dot products of `row` with `others(0)`, …, `others(out.len() − 1)` (vectors of its
/// length), in as few passes over the row as [`Kernels::GROUP`] allows, of sizes as even as
/// can be
/// (7 is 4 + 3, not 6 + 1: a pass over few centres is bound by the latency of its adds).
#[inline(always)]
fn dots_rows<'c, K: Kernels>(
    kern: K,
    row: &[f32],
    others: impl Fn(usize) -> &'c [f32],
    out: &mut [f32],
) {
    #[inline(always)]
    fn group<'c, K: Kernels, const G: usize, const W: usize>(
        kern: K,
        row: &[f32],
        others: impl Fn(usize) -> &'c [f32],
        out: &mut [f32],
    ) {
        let mut o = [row; G];
        for (g, o) in o.iter_mut().enumerate() {
            *o = others(g);
        }
        out.copy_from_slice(&kern.dots::<G, W>(row, o));
    }
    let n = out.len();
    let passes = n.div_ceil(K::GROUP);
    // the first `n % passes` passes take one more
    let (size, extra) = (n / passes, n % passes);
    let mut from = 0;
    for p in 0..passes {
        let to = from + size + usize::from(p < extra);
        let others = |g| others(from + g);
        let out = &mut out[from..to];
        match to - from {
            6 => group::<K, 6, 2>(kern, row, others, out),
            5 => group::<K, 5, 2>(kern, row, others, out),
            4 => group::<K, 4, 2>(kern, row, others, out),
            3 => group::<K, 3, 2>(kern, row, others, out),
            2 if K::PAIR_WAYS == 4 => group::<K, 2, 4>(kern, row, others, out),
            2 => group::<K, 2, 2>(kern, row, others, out),
            _ => group::<K, 1, 4>(kern, row, others, out),
        }
        from = to;
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
    /// ‖xᵢ‖², with [`Kernels::dot`] (the same bits as the norm of a centre that is this
    /// point).
    norms: Vec<f32>,
    /// ‖xᵢ‖.
    lens: Vec<f32>,
    /// `(d/8 + 10) ε`, see [`Prep::slack`].
    rel: f32,
}

impl<'a> Prep<'a> {
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    fn new<K: Kernels>(kern: K, x: Matrix<'a>) -> Self {
        let norms: Vec<f32> = (0..x.rows).map(|i| kern.dot(x.row(i), x.row(i))).collect();
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
#[cfg_attr(target_arch = "x86_64", inline(always))]
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
        // SAFETY: `kmeans_avx2` requires AVX2 and FMA and nothing else; `kern` proves the
        // CPU has them.
        return unsafe { kmeans_avx2(kern, x, cfg, progress) };
    }
    kmeans_run(Portable, x, cfg, progress)
}

/// [`kmeans_run`] with AVX2, compiled for AVX2 as a whole: the kernels inline into it, and
/// the compiler's own vectors elsewhere are 256 bits wide too.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn kmeans_avx2(
    kern: Avx2,
    x: Matrix,
    cfg: &KMeansConfig,
    progress: Progress,
) -> Result<KMeansResult, ClusterError> {
    kmeans_run(kern, x, cfg, progress)
}

#[cfg_attr(target_arch = "x86_64", inline(always))]
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
        let run = lloyd(
            kern,
            &p,
            centroids,
            cfg.k,
            Some(seed),
            max_iter,
            tol,
            &mut |it| progress((r as f64 + it as f64 / max_iter as f64) / restarts as f64),
        )?;
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
        // SAFETY: `kmeans_from_avx2` requires AVX2 and FMA and nothing else; `kern` proves
        // the CPU has them.
        return unsafe { kmeans_from_avx2(kern, x, centroids, k, cfg, progress) };
    }
    kmeans_from_run(Portable, x, centroids, k, cfg, progress)
}

/// [`kmeans_from_run`] compiled for AVX2, as [`kmeans_avx2`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
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

#[cfg_attr(target_arch = "x86_64", inline(always))]
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

/// What k-means++ leaves for the first Lloyd step: each point's nearest centre, and its
/// squared distances (approximate, [`approx_sq`]) to every centre (`rows × k`).
struct Seed {
    labels: Vec<usize>,
    dist: Vec<f32>,
}

/// k-means++ with scikit-learn's greedy variant: 2 + ln k candidates per new centre, the one
/// that lowers the potential most is kept. The candidates of a step are all drawn from the
/// same potential, so they are drawn first (the same random numbers as one at a time) and
/// measured in one pass over the points.
#[cfg_attr(target_arch = "x86_64", inline(always))]
fn plus_plus<K: Kernels>(kern: K, p: &Prep, k: usize, rng: &mut SmallRng) -> (Vec<f32>, Seed) {
    let (x, n) = (p.x, p.x.rows);
    let trials = 2 + (k as f64).ln() as usize;
    let mut centroids = Vec::with_capacity(k * x.dim);
    let first = rng.random_range(0..n);
    centroids.extend_from_slice(x.row(first));
    let mut near: Vec<f32> = (0..n)
        .map(|i| approx_sq(p.norms[i], p.norms[first], kern.dot(x.row(i), x.row(first))))
        .collect();
    let mut seed = Seed {
        labels: vec![0; n],
        dist: vec![0.0; n * k],
    };
    for (i, &d) in near.iter().enumerate() {
        seed.dist[i * k] = d;
    }
    let mut potential: f64 = near.iter().map(|&d| d as f64).sum();
    let mut cumulative = vec![0f64; n];
    let mut cands = Vec::with_capacity(trials);
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
        let mut pot = vec![0f64; trials];
        for (i, out) in dist.chunks_exact_mut(trials).enumerate() {
            dots_rows(kern, x.row(i), |t| x.row(cands[t]), out);
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
            seed.dist[i * k + c] = d;
            if d < near[i] {
                near[i] = d;
                seed.labels[i] = c;
            }
        }
        potential = pot[best];
    }
    (centroids, seed)
}

/// The centres and what the bounds need of them.
struct Centres {
    /// `k × dim`.
    data: Vec<f32>,
    k: usize,
    dim: usize,
    /// ‖c‖², with [`Kernels::dots`].
    norms: Vec<f32>,
    /// The longest ‖c‖, for [`Prep::slack`].
    max_len: f32,
    /// Half the distance between each two centres, `k × k`, and infinity from a centre to
    /// itself.
    half: Vec<f32>,
    /// Half the distance from each centre to its nearest other centre.
    half_gap: Vec<f32>,
}

impl Centres {
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    fn new<K: Kernels>(kern: K, data: Vec<f32>, k: usize, dim: usize) -> Self {
        let mut c = Self {
            data,
            k,
            dim,
            norms: vec![0.0; k],
            max_len: 0.0,
            half: vec![f32::INFINITY; k * k],
            half_gap: vec![0.0; k],
        };
        c.refresh(kern);
        c
    }

    #[inline(always)]
    fn row(&self, j: usize) -> &[f32] {
        &self.data[j * self.dim..(j + 1) * self.dim]
    }

    /// Recomputes the norms and gaps after the centres moved.
    #[cfg_attr(target_arch = "x86_64", inline(always))]
    fn refresh<K: Kernels>(&mut self, kern: K) {
        let k = self.k;
        for j in 0..k {
            self.norms[j] = kern.dot(self.row(j), self.row(j));
        }
        self.max_len = self.norms.iter().fold(0f32, |m, n| m.max(n.sqrt()));
        for j in 0..k {
            for o in j + 1..k {
                let h = sq_dist_lanes(self.row(j), self.row(o)).sqrt() / 2.0;
                self.half[j * k + o] = h;
                self.half[o * k + j] = h;
            }
        }
        for j in 0..k {
            self.half_gap[j] = (0..k)
                .filter(|&o| o != j)
                .fold(f32::INFINITY, |m, o| m.min(self.half[j * k + o]));
        }
    }
}

/// Which of the centres `ids` is nearest to `row` by exact distance, from their squared
/// distances `dist` within `slack` of the exact ones: the least of them, unless another is
/// within 2 × slack of it; then the exact least of those (the first of equals).
#[inline(always)]
fn nearest(row: &[f32], centres: &Centres, ids: &[usize], dist: &[f32], slack: f32) -> usize {
    let best = (1..dist.len()).fold(0, |b, t| if dist[t] < dist[b] { t } else { b });
    let reach = dist[best] + 2.0 * slack;
    if dist
        .iter()
        .enumerate()
        .all(|(t, &v)| t == best || v > reach)
    {
        return best;
    }
    let (mut pick, mut least) = (best, f32::INFINITY);
    for (t, &v) in dist.iter().enumerate() {
        if v <= reach {
            let e = sq_dist_lanes(row, centres.row(ids[t]));
            if e < least {
                least = e;
                pick = t;
            }
        }
    }
    pick
}

/// Per point: its centre, an upper bound on the distance to it, and a lower bound on the
/// distance to each centre (`rows × k`), as Elkan's k-means keeps them.
struct Bounds {
    labels: Vec<usize>,
    upper: Vec<f32>,
    lower: Vec<f32>,
}

/// One assignment step with Elkan's bounds. A point is skipped when its upper bound is
/// below half the gap from its centre to the nearest other; else only the centres that
/// could be nearer, those whose lower bound and half distance to its centre are both below
/// the upper bound, are measured, together with its own centre, in one pass over the row.
/// (Hamerly's single lower bound, which every centre's move lowers, left half the points to
/// be measured against all k centres in every step on these 384-d embeddings.) `sums`
/// (per-cluster sums and counts) follow the points that move.
#[cfg_attr(target_arch = "x86_64", inline(always))]
fn assign<K: Kernels>(
    kern: K,
    p: &Prep,
    c: &Centres,
    b: &mut Bounds,
    mut sums: Option<(&mut [f64], &mut [usize])>,
    ids: &mut [usize],
    dist: &mut [f32],
) {
    let (d, k) = (p.x.dim, c.k);
    for (i, lower) in b.lower.chunks_exact_mut(k).enumerate() {
        let a = b.labels[i];
        let upper = b.upper[i];
        if upper <= c.half_gap[a] {
            continue;
        }
        let half = &c.half[a * k..(a + 1) * k];
        // the centres that could be nearer, and its own (`half[a]` is infinite)
        let len = kern.select(upper, lower, half, a, ids);
        if len == 1 {
            continue;
        }
        let ids = &ids[..len];
        let row = p.x.row(i);
        let slack = p.slack(i, c.max_len);
        let dist = &mut dist[..ids.len()];
        dots_rows(kern, row, |t| c.row(ids[t]), dist);
        for (v, &j) in dist.iter_mut().zip(ids.iter()) {
            *v = approx_sq(p.norms[i], c.norms[j], *v);
            lower[j] = (*v - slack).max(0.0).sqrt();
        }
        let t = nearest(row, c, ids, dist, slack);
        let to = ids[t];
        b.upper[i] = (dist[t] + slack).sqrt();
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

/// Lloyd's iterations with Elkan's bounds ([`assign`]): same result as plain Lloyd, far
/// fewer distances once the centres settle. Per-cluster sums (f64) and counts are kept up
/// to date as points move, not recomputed. Without a `seed` (k-means++'s distances), a
/// first pass measures every point.
#[cfg_attr(target_arch = "x86_64", inline(always))]
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
    let mut ids = vec![0; k];
    let mut dist = vec![0f32; k];
    let mut b = match seed {
        Some(Seed {
            labels,
            dist: mut lower,
        }) => {
            let mut upper = vec![0f32; x.rows];
            for (i, lower) in lower.chunks_exact_mut(k).enumerate() {
                let slack = p.slack(i, c.max_len);
                upper[i] = (lower[labels[i]] + slack).sqrt();
                lower
                    .iter_mut()
                    .for_each(|l| *l = (*l - slack).max(0.0).sqrt());
            }
            Bounds {
                labels,
                upper,
                lower,
            }
        }
        None => {
            let mut b = Bounds {
                labels: vec![0; x.rows],
                upper: vec![f32::INFINITY; x.rows],
                lower: vec![0.0; x.rows * k],
            };
            assign(kern, p, &c, &mut b, None, &mut ids, &mut dist);
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
        assign(
            kern,
            p,
            &c,
            &mut b,
            Some((&mut sums, &mut counts)),
            &mut ids,
            &mut dist,
        );
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
            // a relocated centre breaks the bounds: measure everything next time
            b.upper.iter_mut().for_each(|u| *u = f32::INFINITY);
            b.lower.iter_mut().for_each(|l| *l = 0.0);
        } else {
            // move the bounds with the centres
            for (i, lower) in b.lower.chunks_exact_mut(k).enumerate() {
                b.upper[i] += moved[b.labels[i]];
                for (l, m) in lower.iter_mut().zip(&moved) {
                    *l -= m;
                }
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
    assign(kern, p, &c, &mut b, None, &mut ids, &mut dist);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::base::normalized;
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

    /// Unit rows around `k` random directions, overlapping as sentence embeddings do; `dim`
    /// not a multiple of 8, so the kernels' tails run too.
    fn embeddings(n: usize, k: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut normal = move || {
            // Box–Muller
            let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        };
        let dirs: Vec<f32> = (0..k * dim).map(|_| normal()).collect();
        let mut data = Vec::with_capacity(n * dim);
        for i in 0..n {
            let c = &dirs[(i % k) * dim..(i % k + 1) * dim];
            data.extend(c.iter().map(|v| v + 1.5 * normal()));
        }
        normalized(Matrix::new(&data, n, dim).unwrap())
    }

    fn kernels_agree_with_exact<K: Kernels>(kern: K) {
        let dim = 389;
        let data = embeddings(40, 5, dim, 3);
        let x = Matrix::new(&data, 40, dim).unwrap();
        let p = Prep::new(kern, x);
        for i in 0..40 {
            let mut out = [0f32; 39];
            let others: Vec<usize> = (0..40).filter(|&j| j != i).collect();
            // every group size and both sums per pass
            for n in 1..=others.len() {
                dots_rows(kern, x.row(i), |t| x.row(others[t]), &mut out[..n]);
                for (t, &j) in others[..n].iter().enumerate() {
                    let exact: f64 = x
                        .row(i)
                        .iter()
                        .zip(x.row(j))
                        .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                        .sum();
                    let approx = approx_sq(p.norms[i], p.norms[j], out[t]) as f64;
                    let slack = p.slack(i, p.lens[j]) as f64;
                    assert!((approx - exact).abs() <= slack, "{approx} {exact} {slack}");
                }
            }
        }
    }

    #[test]
    fn distances_from_dot_products_are_within_their_slack() {
        kernels_agree_with_exact(Portable);
        #[cfg(target_arch = "x86_64")]
        if let Some(kern) = Avx2::detect() {
            kernels_agree_with_exact(kern);
        }
    }

    #[test]
    fn labels_are_the_nearest_centres_and_lloyd_is_the_same_on_every_path() {
        let (n, dim) = (900, 100);
        let data = embeddings(n, 12, dim, 5);
        let x = Matrix::new(&data, n, dim).unwrap();
        let cfg = KMeansConfig {
            k: 12,
            restarts: 3,
            ..Default::default()
        };
        let r = kmeans(x, &cfg, &mut |_| true).unwrap();
        let mut inertia = 0f64;
        for i in 0..n {
            let d: Vec<f32> = (0..cfg.k)
                .map(|j| sq_dist(x.row(i), &r.centroids[j * dim..(j + 1) * dim]))
                .collect();
            let best = d.iter().copied().fold(f32::INFINITY, f32::min);
            assert_eq!(d[r.labels[i]], best, "point {i}");
            inertia += best as f64;
        }
        assert_eq!(r.inertia, inertia);
        // From the same centres, the portable kernels and the AVX2 ones (whose dot products
        // differ in the last bits) give the same Lloyd iterations, bit for bit.
        // (a poor start, all in one blob: many iterations)
        let start: Vec<f32> = (0..cfg.k).flat_map(|j| x.row(j * cfg.k)).copied().collect();
        let a = kmeans_from(x, start.clone(), &cfg, &mut |_| true).unwrap();
        let b = kmeans_from_run(Portable, x, start, cfg.k, &cfg, &mut |_| true).unwrap();
        assert_eq!(a, b);
        assert!(a.iterations > 5, "{}", a.iterations);
    }
}
