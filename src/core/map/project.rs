//! Principal component analysis, exact and deterministic: the 2-D map ([`pca2`]) and the
//! reduced space HDBSCAN clusters large sets in ([`pca`]).
//!
//! The covariance matrix (d × d) is formed once (rank-8 updates, f64), then its top
//! eigenvectors are found by block subspace iteration (m + max(2, m/2) vectors, so the top m
//! converge at the rate of the first left-out eigenvalue against the m-th) with a
//! Rayleigh–Ritz step by Jacobi rotations after each multiplication. Signs follow
//! scikit-learn: the largest entry of each component is positive.

use crate::core::base::{ClusterError, Matrix, Progress};

/// Points on the map.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// (x, y) of each row.
    pub xy: Vec<[f32; 2]>,
    /// Share of the total variance along each axis.
    pub explained: [f64; 2],
    /// The two components, `2 × dim`.
    pub components: Vec<f64>,
}

/// The principal axes of a set of rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Columns of the data.
    pub dim: usize,
    /// Mean of the rows, `dim`.
    pub mean: Vec<f64>,
    /// The components, `count × dim`, orthonormal, by decreasing variance.
    pub components: Vec<f64>,
    /// Variance along each component (eigenvalue of the covariance), decreasing.
    pub variance: Vec<f64>,
    /// Total variance (the trace of the covariance).
    pub total: f64,
}

impl Pca {
    /// Components kept.
    pub fn count(&self) -> usize {
        self.variance.len()
    }

    /// Share of the total variance along each component (0 when there is no variance).
    pub fn explained(&self) -> Vec<f64> {
        self.variance
            .iter()
            .map(|v| {
                if self.total > 0.0 {
                    v.max(0.0) / self.total
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Coordinates of the centred row `row` along the components, into `out` (`count`).
    /// `centred` is scratch space of `dim` values.
    #[inline(never)]
    pub fn project_row(&self, row: &[f32], centred: &mut [f64], out: &mut [f64]) {
        for ((c, v), m) in centred.iter_mut().zip(row).zip(&self.mean) {
            *c = *v as f64 - m;
        }
        for (o, comp) in out.iter_mut().zip(self.components.chunks_exact(self.dim)) {
            *o = dot(centred, comp);
        }
    }

    /// The rows of `x` in component coordinates, `rows × count`.
    pub fn project(&self, x: Matrix) -> Vec<f32> {
        let m = self.count();
        let mut centred = vec![0f64; self.dim];
        let mut coords = vec![0f64; m];
        let mut out = Vec::with_capacity(x.rows * m);
        for i in 0..x.rows {
            self.project_row(x.row(i), &mut centred, &mut coords);
            out.extend(coords.iter().map(|&v| v as f32));
        }
        out
    }
}

/// The first `m` principal components of the rows of `x` (`m` is capped at the dimension).
/// Progress goes to 0.9 while the covariance is formed and reaches 1 at the end.
pub fn pca(x: Matrix, m: usize, progress: Progress) -> Result<Pca, ClusterError> {
    principal_axes(x, m, 1, 500, progress)
}

/// A quicker, rougher [`pca`] for large sets: the covariance of at most about 8,192 evenly
/// spaced rows, and at most 6 steps of the subspace iteration. The components are
/// orthonormal and deterministic; they span nearly the same space as the exact ones (what
/// a search for candidate neighbours needs), but are not converged one by one.
pub fn principal_subspace(x: Matrix, m: usize, progress: Progress) -> Result<Pca, ClusterError> {
    principal_axes(x, m, x.rows.div_ceil(8192).max(1), 6, progress)
}

fn principal_axes(
    x: Matrix,
    m: usize,
    stride: usize,
    max_iterations: usize,
    progress: Progress,
) -> Result<Pca, ClusterError> {
    let d = x.dim;
    let m = m.clamp(1, d.max(1));
    let mean = column_means(x);
    let cov = covariance(x, &mean, stride, &mut |f| progress(0.9 * f))?;
    let total: f64 = (0..d).map(|a| cov[a * d + a]).sum();
    let k = (m + (m / 2).max(2)).min(d);
    // Deterministic start: a fixed, well-spread pattern.
    let mut q: Vec<Vec<f64>> = (0..k)
        .map(|j| {
            (0..d)
                .map(|i| ((i * (j + 1) + j) as f64 * 0.618).sin() + if i == j { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    orthonormalize(&mut q);
    let mut prev = vec![f64::INFINITY; m];
    let mut iteration = 0;
    let (q, ritz) = loop {
        // Rayleigh–Ritz on the block's span: T = Qᵀ C Q, T = V Λ Vᵀ; the Ritz vectors Q V
        // are the best approximations there, and C (Q V) = (C Q) V starts the next step.
        let w = mat_mul(&cov, &q, d);
        let mut t = vec![0f64; k * k];
        for a in 0..k {
            for b in a..k {
                let v = dot(&q[a], &w[b]);
                t[a * k + b] = v;
                t[b * k + a] = v;
            }
        }
        let (vals, vecs) = jacobi(t, k);
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
        let rotate = |m: &[Vec<f64>]| -> Vec<Vec<f64>> {
            order
                .iter()
                .map(|&o| {
                    (0..d)
                        .map(|i| (0..k).map(|j| m[j][i] * vecs[j * k + o]).sum())
                        .collect()
                })
                .collect()
        };
        let ritz: Vec<f64> = order.iter().map(|&o| vals[o]).collect();
        iteration += 1;
        let converged = ritz
            .iter()
            .zip(&prev)
            .all(|(a, b)| (a - b).abs() <= 1e-13 * total.max(1e-300));
        if converged || iteration >= max_iterations {
            break (rotate(&q), ritz);
        }
        prev.copy_from_slice(&ritz[..m]);
        q = rotate(&w);
        orthonormalize(&mut q);
        if !progress(0.9 + 0.1 * (iteration as f64 / 50.0).min(0.99)) {
            return Err(ClusterError::Cancelled);
        }
    };
    let mut q = q;
    let mut components = Vec::with_capacity(m * d);
    for comp in q.iter_mut().take(m) {
        let big = comp
            .iter()
            .copied()
            .fold(0f64, |m, v| if v.abs() > m.abs() { v } else { m });
        if big < 0.0 {
            comp.iter_mut().for_each(|v| *v = -*v);
        }
        components.extend_from_slice(comp);
    }
    progress(1.0);
    Ok(Pca {
        dim: d,
        mean,
        components,
        variance: ritz[..m].to_vec(),
        total,
    })
}

/// Projects the rows of `x` on their first two principal components.
pub fn pca2(x: Matrix, progress: Progress) -> Result<Projection, ClusterError> {
    let d = x.dim;
    let p = pca(x, 2, &mut |f| progress(0.95 * f))?;
    let mut components = p.components.clone();
    components.resize(2 * d, 0.0);
    let explained = p.explained();
    let explained = [explained[0], explained.get(1).copied().unwrap_or(0.0)];
    let coords = p.project(x);
    let m = p.count();
    let xy = coords
        .chunks_exact(m)
        .map(|c| [c[0], c.get(1).copied().unwrap_or(0.0)])
        .collect();
    progress(1.0);
    Ok(Projection {
        xy,
        explained,
        components,
    })
}

fn column_means(x: Matrix) -> Vec<f64> {
    let mut mean = vec![0f64; x.dim];
    for i in 0..x.rows {
        for (m, v) in mean.iter_mut().zip(x.row(i)) {
            *m += *v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= x.rows.max(1) as f64);
    mean
}

/// The sample covariance (`d × d`), from rank-8 updates of the upper triangle (each entry of
/// the matrix is loaded once per eight rows, which keeps the loop compute-bound).
/// Rows `0, stride, 2·stride, …` only (the mean is that of all rows).
fn covariance(
    x: Matrix,
    mean: &[f64],
    stride: usize,
    progress: Progress,
) -> Result<Vec<f64>, ClusterError> {
    const R: usize = 8;
    let d = x.dim;
    let n = x.rows.div_ceil(stride);
    let mut cov = vec![0f64; d * d];
    let mut buf = vec![0f64; R * d];
    for start in (0..n).step_by(R) {
        let rows = R.min(n - start);
        buf.fill(0.0);
        for r in 0..rows {
            for ((c, v), m) in buf[r * d..(r + 1) * d]
                .iter_mut()
                .zip(x.row((start + r) * stride))
                .zip(mean)
            {
                *c = *v as f64 - m;
            }
        }
        rank8(&mut cov, &buf, d);
        if start % 512 == 504 && !progress(start as f64 / n as f64) {
            return Err(ClusterError::Cancelled);
        }
    }
    let denom = (n.max(2) - 1) as f64;
    for a in 0..d {
        for b in a..d {
            let v = cov[a * d + b] / denom;
            cov[a * d + b] = v;
            cov[b * d + a] = v;
        }
    }
    Ok(cov)
}

/// Adds the outer products of the eight rows of `buf` (`8 × d`) to the upper triangle of
/// `cov` (a function of its own: WebAssembly engines optimise it for its next call).
#[inline(never)]
fn rank8(cov: &mut [f64], buf: &[f64], d: usize) {
    let b: Vec<&[f64]> = buf.chunks_exact(d).collect();
    for a in 0..d {
        let c = [
            b[0][a], b[1][a], b[2][a], b[3][a], b[4][a], b[5][a], b[6][a], b[7][a],
        ];
        let len = d - a;
        let s = |r: usize| &b[r][a..a + len];
        let (b0, b1, b2, b3, b4, b5, b6, b7) = (s(0), s(1), s(2), s(3), s(4), s(5), s(6), s(7));
        let row = &mut cov[a * d + a..a * d + a + len];
        for j in 0..len {
            row[j] += c[0] * b0[j]
                + c[1] * b1[j]
                + c[2] * b2[j]
                + c[3] * b3[j]
                + c[4] * b4[j]
                + c[5] * b5[j]
                + c[6] * b6[j]
                + c[7] * b7[j];
        }
    }
}

/// Dot product with four partial sums (lets the compiler use SIMD).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// `m` (d × d, symmetric) times each vector of `q`; each row of `m` is read once.
fn mat_mul(m: &[f64], q: &[Vec<f64>], d: usize) -> Vec<Vec<f64>> {
    let mut out = vec![vec![0f64; d]; q.len()];
    for (a, row) in m.chunks_exact(d).enumerate() {
        for (o, v) in out.iter_mut().zip(q) {
            o[a] = dot(row, v);
        }
    }
    out
}

/// Modified Gram–Schmidt (two passes). A vector that vanishes (the data has fewer
/// directions than the block) is replaced by the first unit basis vector that stays
/// independent of the ones before it.
fn orthonormalize(q: &mut [Vec<f64>]) {
    let d = q.first().map_or(0, Vec::len);
    for j in 0..q.len() {
        let mut candidates = (0..d).map(|e| {
            (0..d)
                .map(|i| if i == e { 1.0 } else { 0.0 })
                .collect::<Vec<f64>>()
        });
        loop {
            for _pass in 0..2 {
                for i in 0..j {
                    let p = dot(&q[i], &q[j]);
                    let (head, tail) = q.split_at_mut(j);
                    tail[0]
                        .iter_mut()
                        .zip(&head[i])
                        .for_each(|(a, b)| *a -= p * b);
                }
            }
            let norm = dot(&q[j], &q[j]).sqrt();
            if norm > 1e-9 {
                q[j].iter_mut().for_each(|a| *a /= norm);
                break;
            }
            match candidates.next() {
                Some(e) => q[j] = e,
                None => break,
            }
        }
    }
}

/// Eigen-decomposition of a small symmetric matrix by cyclic Jacobi rotations.
/// Returns (eigenvalues, eigenvectors as columns of a k × k row-major matrix).
fn jacobi(mut a: Vec<f64>, k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; k * k];
    for i in 0..k {
        v[i * k + i] = 1.0;
    }
    // Converged when the off-diagonal mass is negligible next to the diagonal (absolute
    // for a zero matrix).
    let diag: f64 = (0..k).map(|i| a[i * k + i].powi(2)).sum();
    for _sweep in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * k + j].powi(2))
            .sum();
        if off < 1e-30 || off <= 1e-30 * diag {
            break;
        }
        for p in 0..k {
            for r in p + 1..k {
                let apr = a[p * k + r];
                if apr.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[r * k + r] - a[p * k + p]) / (2.0 * apr);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for i in 0..k {
                    let (aip, air) = (a[i * k + p], a[i * k + r]);
                    a[i * k + p] = c * aip - s * air;
                    a[i * k + r] = s * aip + c * air;
                }
                for i in 0..k {
                    let (api, ari) = (a[p * k + i], a[r * k + i]);
                    a[p * k + i] = c * api - s * ari;
                    a[r * k + i] = s * api + c * ari;
                }
                for i in 0..k {
                    let (vip, vir) = (v[i * k + p], v[i * k + r]);
                    v[i * k + p] = c * vip - s * vir;
                    v[i * k + r] = s * vip + c * vir;
                }
            }
        }
    }
    ((0..k).map(|i| a[i * k + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map2(data: &[f32], rows: usize, dim: usize) -> Projection {
        pca2(Matrix::new(data, rows, dim).unwrap(), &mut |_| true).unwrap()
    }

    #[test]
    fn hand_computed_axes() {
        // covariance diag(8/3, 2/3): the axes themselves, 80 % / 20 % of the variance
        let p = map2(&[2.0, 0.0, -2.0, 0.0, 0.0, 1.0, 0.0, -1.0], 4, 2);
        let expect = [[2.0, 0.0], [-2.0, 0.0], [0.0, 1.0], [0.0, -1.0]];
        for (got, want) in p.xy.iter().zip(expect) {
            assert!(
                (got[0] - want[0]).abs() < 1e-6 && (got[1] - want[1]).abs() < 1e-6,
                "{got:?} vs {want:?}"
            );
        }
        assert!((p.explained[0] - 0.8).abs() < 1e-12 && (p.explained[1] - 0.2).abs() < 1e-12);
    }

    #[test]
    fn a_rotated_line_lands_on_the_first_axis() {
        // points on the line y = x in 3-D, each twice with z = ±0.1 (uncorrelated with t)
        let mut data = Vec::new();
        for i in 0..25 {
            let t = i as f32 - 12.0;
            data.extend([t, t, 0.1, t, t, -0.1]);
        }
        let p = map2(&data, 50, 3);
        let c = &p.components[..3];
        assert!(
            (c[0] - c[1]).abs() < 1e-9 && (c[0] - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9,
            "{c:?}"
        );
        assert!(p.explained[0] > 0.999);
        // deterministic
        assert_eq!(p, map2(&data, 50, 3));
    }

    #[test]
    fn degenerate_inputs() {
        let p = map2(&[1.0, 2.0, 1.0, 2.0, 1.0, 2.0], 3, 2);
        assert!(p.xy.iter().all(|v| v[0].abs() < 1e-6 && v[1].abs() < 1e-6));
        assert_eq!(p.explained, [0.0, 0.0]);
        let p = map2(&[1.0, 2.0], 1, 2);
        assert_eq!(p.xy.len(), 1);
        let p = map2(&[1.0, 2.0, 3.0], 3, 1);
        assert!((p.xy[0][0] + 1.0).abs() < 1e-6 || (p.xy[0][0] - 1.0).abs() < 1e-6);
    }

    /// Rows with independent columns of decreasing spread (column c: ±(d − c)), so the
    /// principal axes are the coordinate axes in order; `mix` rotates them by a fixed
    /// orthonormal pair of reflections so they are not.
    fn spread_rows(rows: usize, dim: usize, mix: bool) -> Vec<f32> {
        let mut state = 17u64;
        let mut r = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f64 / (1u64 << 24) as f64 - 0.5
        };
        let mut out = Vec::with_capacity(rows * dim);
        for _ in 0..rows {
            let mut v: Vec<f64> = (0..dim).map(|c| r() * (dim - c) as f64).collect();
            if mix {
                // Householder reflection along (1, 1, …, 1)/√d
                let s: f64 = v.iter().sum::<f64>() * 2.0 / dim as f64;
                v.iter_mut().for_each(|x| *x -= s);
            }
            out.extend(v.iter().map(|&x| x as f32 + 3.0));
        }
        out
    }

    fn orthonormal(p: &Pca) {
        let d = p.dim;
        for a in 0..p.count() {
            for b in 0..p.count() {
                let v = dot(
                    &p.components[a * d..(a + 1) * d],
                    &p.components[b * d..(b + 1) * d],
                );
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-9, "components {a}·{b} = {v}");
            }
        }
    }

    #[test]
    fn components_are_orthonormal_and_by_decreasing_variance() {
        let (rows, dim) = (400, 12);
        let data = spread_rows(rows, dim, true);
        let x = Matrix::new(&data, rows, dim).unwrap();
        let p = pca(x, 5, &mut |_| true).unwrap();
        assert_eq!((p.count(), p.components.len()), (5, 5 * dim));
        orthonormal(&p);
        assert!(
            p.variance.windows(2).all(|w| w[0] >= w[1]),
            "{:?}",
            p.variance
        );
        let explained = p.explained();
        assert!(explained.iter().sum::<f64>() < 1.0 && explained[0] > explained[4]);
        // each variance is the sample variance of the projections on its component
        let y = p.project(x);
        for c in 0..5 {
            let mean = (0..rows).map(|i| y[i * 5 + c] as f64).sum::<f64>() / rows as f64;
            let var = (0..rows)
                .map(|i| (y[i * 5 + c] as f64 - mean).powi(2))
                .sum::<f64>()
                / (rows - 1) as f64;
            assert!(mean.abs() < 1e-4, "centred: {mean}");
            assert!(
                (var - p.variance[c]).abs() < 1e-4 * p.variance[c],
                "{var} vs {}",
                p.variance[c]
            );
        }
        // all components: all the variance
        let all = pca(x, dim, &mut |_| true).unwrap();
        orthonormal(&all);
        assert!((all.explained().iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!((all.total - p.total).abs() < 1e-12 * p.total);
        // the first two are the map's axes (to the convergence of the vectors: the square
        // root of that of the values); more than d components are d
        let map = pca2(x, &mut |_| true).unwrap();
        for (a, b) in map.components.iter().zip(&p.components[..2 * dim]) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        assert_eq!(pca(x, 99, &mut |_| true).unwrap().count(), dim);
        assert_eq!(p, pca(x, 5, &mut |_| true).unwrap(), "deterministic");
    }

    #[test]
    fn unmixed_columns_are_their_own_axes() {
        let (rows, dim) = (300, 6);
        let data = spread_rows(rows, dim, false);
        let p = pca(Matrix::new(&data, rows, dim).unwrap(), 3, &mut |_| true).unwrap();
        for c in 0..3 {
            let comp = &p.components[c * dim..(c + 1) * dim];
            // (the sample's columns are not exactly uncorrelated)
            assert!(comp[c] > 0.98, "component {c}: {comp:?}");
        }
    }

    #[test]
    fn the_quick_subspace_spans_the_leading_components() {
        let (rows, dim) = (20_000, 10);
        let data = spread_rows(rows, dim, true);
        let x = Matrix::new(&data, rows, dim).unwrap();
        let exact = pca(x, 3, &mut |_| true).unwrap();
        let quick = principal_subspace(x, 3, &mut |_| true).unwrap();
        orthonormal(&quick);
        // each exact component lies (almost) in the quick one's span
        for c in exact.components.chunks_exact(dim) {
            let inside: f64 = quick
                .components
                .chunks_exact(dim)
                .map(|q| dot(c, q).powi(2))
                .sum();
            assert!(inside > 0.99, "{inside}");
        }
    }

    #[test]
    fn cancellable() {
        let data = spread_rows(2000, 8, true);
        let x = Matrix::new(&data, 2000, 8).unwrap();
        assert_eq!(pca(x, 3, &mut |_| false), Err(ClusterError::Cancelled));
        assert_eq!(pca2(x, &mut |_| false), Err(ClusterError::Cancelled));
    }
}
