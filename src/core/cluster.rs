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
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            let d = x[l] - y[l];
            acc[l] += d * d;
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| (x - y) * (x - y)).sum();
    acc.iter().sum::<f32>() + tail
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
    // Absolute tolerance as scikit-learn: tol × mean over features of their variance.
    let tol = cfg.tol * mean_variance(x);
    let mut rng = SmallRng::seed_from_u64(cfg.seed);
    let mut best: Option<KMeansResult> = None;
    let restarts = cfg.restarts.max(1);
    for r in 0..restarts {
        let centroids = plus_plus(x, cfg.k, &mut rng);
        let max_iter = cfg.max_iter;
        let run = lloyd(x, centroids, max_iter, tol, &mut |it| {
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
    let tol = cfg.tol * mean_variance(x);
    lloyd(x, centroids, cfg.max_iter, tol, &mut |it| {
        progress(it as f64 / cfg.max_iter as f64)
    })
}

fn mean_variance(x: Matrix) -> f64 {
    let mut mean = vec![0f64; x.dim];
    for i in 0..x.rows {
        for (m, v) in mean.iter_mut().zip(x.row(i)) {
            *m += *v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= x.rows as f64);
    let mut var = 0f64;
    for i in 0..x.rows {
        var += x
            .row(i)
            .iter()
            .zip(&mean)
            .map(|(v, m)| (*v as f64 - m).powi(2))
            .sum::<f64>();
    }
    var / (x.rows * x.dim) as f64
}

/// k-means++ with scikit-learn's greedy variant: 2 + ln k candidates per new centre, the one
/// that lowers the potential most is kept.
fn plus_plus(x: Matrix, k: usize, rng: &mut SmallRng) -> Vec<f32> {
    let trials = 2 + (k as f64).ln() as usize;
    let mut centroids = Vec::with_capacity(k * x.dim);
    let first = rng.random_range(0..x.rows);
    centroids.extend_from_slice(x.row(first));
    let mut closest: Vec<f32> = (0..x.rows)
        .map(|i| sq_dist(x.row(i), x.row(first)))
        .collect();
    let mut potential: f64 = closest.iter().map(|&d| d as f64).sum();
    for _ in 1..k {
        let mut best: Option<(usize, f64, Vec<f32>)> = None;
        for _ in 0..trials {
            let cand = if potential > 0.0 {
                let target = rng.random::<f64>() * potential;
                let mut acc = 0.0;
                let mut pick = x.rows - 1;
                for (i, &d) in closest.iter().enumerate() {
                    acc += d as f64;
                    if acc >= target {
                        pick = i;
                        break;
                    }
                }
                pick
            } else {
                rng.random_range(0..x.rows)
            };
            let new_closest: Vec<f32> = closest
                .iter()
                .enumerate()
                .map(|(i, &d)| d.min(sq_dist(x.row(i), x.row(cand))))
                .collect();
            let pot: f64 = new_closest.iter().map(|&d| d as f64).sum();
            if best.as_ref().is_none_or(|b| pot < b.1) {
                best = Some((cand, pot, new_closest));
            }
        }
        let (cand, pot, new_closest) = best.expect("trials ≥ 2");
        centroids.extend_from_slice(x.row(cand));
        closest = new_closest;
        potential = pot;
    }
    centroids
}

fn assign(x: Matrix, centroids: &[f32], labels: &mut [usize]) -> (f64, Vec<f32>) {
    let k = centroids.len() / x.dim;
    let mut inertia = 0f64;
    let mut dists = vec![0f32; x.rows];
    for i in 0..x.rows {
        let row = x.row(i);
        let (mut bj, mut bd) = (0, f32::INFINITY);
        for j in 0..k {
            let d = sq_dist(row, &centroids[j * x.dim..(j + 1) * x.dim]);
            if d < bd {
                bd = d;
                bj = j;
            }
        }
        labels[i] = bj;
        dists[i] = bd;
        inertia += bd as f64;
    }
    (inertia, dists)
}

/// Lloyd's iterations with Hamerly's bounds: each point keeps an upper bound on the
/// distance to its centre and a lower bound on the distance to any other; when the first is
/// below the second (or half the gap to the nearest other centre), the point cannot change
/// cluster and its k distances are skipped. Same result as plain Lloyd, far fewer
/// distances once the centres settle.
fn lloyd(
    x: Matrix,
    mut centroids: Vec<f32>,
    max_iter: usize,
    tol: f64,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<KMeansResult, ClusterError> {
    let (k, d) = (centroids.len() / x.dim, x.dim);
    let mut labels = vec![0usize; x.rows];
    let mut upper = vec![f32::INFINITY; x.rows];
    let mut lower = vec![0f32; x.rows];
    let mut iterations = 0;
    let mut half_gap = vec![0f32; k];
    // Per-cluster sums and counts, kept up to date as points move (not recomputed).
    let mut sums = vec![0f64; k * d];
    let mut counts = vec![0usize; k];
    let mut first = true;
    for it in 0..max_iter {
        iterations = it + 1;
        // half the distance from each centre to its nearest other centre
        for j in 0..k {
            let cj = &centroids[j * d..(j + 1) * d];
            half_gap[j] = (0..k)
                .filter(|&o| o != j)
                .map(|o| sq_dist(cj, &centroids[o * d..(o + 1) * d]).sqrt())
                .fold(f32::INFINITY, f32::min)
                / 2.0;
        }
        for i in 0..x.rows {
            let bound = half_gap[labels[i]].max(lower[i]);
            if upper[i] <= bound {
                continue;
            }
            let row = x.row(i);
            upper[i] = sq_dist(row, &centroids[labels[i] * d..(labels[i] + 1) * d]).sqrt();
            if upper[i] <= bound {
                continue;
            }
            let (mut b1, mut d1, mut d2) = (0, f32::INFINITY, f32::INFINITY);
            for j in 0..k {
                let dist = sq_dist(row, &centroids[j * d..(j + 1) * d]);
                if dist < d1 {
                    d2 = d1;
                    d1 = dist;
                    b1 = j;
                } else if dist < d2 {
                    d2 = dist;
                }
            }
            if b1 != labels[i] && !first {
                let old = labels[i];
                counts[old] -= 1;
                counts[b1] += 1;
                for (c, v) in row.iter().enumerate() {
                    sums[old * d + c] -= *v as f64;
                    sums[b1 * d + c] += *v as f64;
                }
            }
            labels[i] = b1;
            upper[i] = d1.sqrt();
            lower[i] = d2.sqrt();
        }
        if first {
            for i in 0..x.rows {
                counts[labels[i]] += 1;
                for (s, v) in sums[labels[i] * d..(labels[i] + 1) * d]
                    .iter_mut()
                    .zip(x.row(i))
                {
                    *s += *v as f64;
                }
            }
            first = false;
        }
        let empty = counts.contains(&0);
        // An empty cluster takes the point farthest from its centre (exact distances).
        let mut far = if empty {
            let dist: Vec<f32> = (0..x.rows)
                .map(|i| sq_dist(x.row(i), &centroids[labels[i] * d..(labels[i] + 1) * d]))
                .collect();
            let mut far: Vec<usize> = (0..x.rows).collect();
            far.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]));
            far
        } else {
            Vec::new()
        }
        .into_iter();
        let mut shift = 0f64;
        let mut moved = vec![0f32; k];
        for j in 0..k {
            let c = &mut centroids[j * d..(j + 1) * d];
            let new: Vec<f32> = if counts[j] == 0 {
                x.row(far.next().expect("k ≤ n")).to_vec()
            } else {
                sums[j * d..(j + 1) * d]
                    .iter()
                    .map(|s| (*s / counts[j] as f64) as f32)
                    .collect()
            };
            let m = sq_dist(c, &new);
            shift += m as f64;
            moved[j] = m.sqrt();
            c.copy_from_slice(&new);
        }
        if empty {
            // a relocated centre breaks the bounds: rescan everything next time
            upper.iter_mut().for_each(|u| *u = f32::INFINITY);
            lower.iter_mut().for_each(|l| *l = 0.0);
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
                upper[i] += moved[labels[i]];
                lower[i] -= if labels[i] == r1 { m2 } else { m1 };
            }
        }
        if !progress(iterations) {
            return Err(ClusterError::Cancelled);
        }
        if shift <= tol {
            break;
        }
    }
    let (inertia, _) = assign(x, &centroids, &mut labels);
    Ok(KMeansResult {
        labels,
        centroids,
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
