//! The 2-D map: principal component analysis, exact and deterministic.
//!
//! The covariance matrix (d × d) is formed once, then its top eigenvectors are found by
//! block subspace iteration (4 vectors, so the top 2 converge at the rate λ₅/λ₂) and a
//! Rayleigh–Ritz step with Jacobi rotations. Signs follow scikit-learn: the largest
//! entry of each component is positive.

use super::cluster::{ClusterError, Matrix, Progress};

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

const BLOCK: usize = 4;

/// Projects the rows of `x` on their first two principal components.
pub fn pca2(x: Matrix, progress: Progress) -> Result<Projection, ClusterError> {
    let (n, d) = (x.rows, x.dim);
    let mut mean = vec![0f64; d];
    for i in 0..n {
        for (m, v) in mean.iter_mut().zip(x.row(i)) {
            *m += *v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    // Covariance (upper triangle, then mirrored), in row chunks with progress.
    let mut cov = vec![0f64; d * d];
    let mut centred = vec![0f64; d];
    for i in 0..n {
        for ((c, v), m) in centred.iter_mut().zip(x.row(i)).zip(&mean) {
            *c = *v as f64 - m;
        }
        for a in 0..d {
            let ca = centred[a];
            if ca == 0.0 {
                continue;
            }
            let row = &mut cov[a * d..(a + 1) * d];
            for b in a..d {
                row[b] += ca * centred[b];
            }
        }
        if i % 512 == 511 && !progress(0.9 * i as f64 / n as f64) {
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
    let total: f64 = (0..d).map(|a| cov[a * d + a]).sum();
    let k = BLOCK.min(d);
    // Deterministic start: a fixed, well-spread pattern.
    let mut q: Vec<Vec<f64>> = (0..k)
        .map(|j| {
            (0..d)
                .map(|i| ((i * (j + 1) + j) as f64 * 0.618).sin() + if i == j { 1.0 } else { 0.0 })
                .collect()
        })
        .collect();
    orthonormalize(&mut q);
    let mut prev = vec![0f64; k];
    for _ in 0..1000 {
        let z: Vec<Vec<f64>> = q.iter().map(|v| mat_vec(&cov, v, d)).collect();
        let rq: Vec<f64> = q.iter().zip(&z).map(|(v, w)| dot(v, w)).collect();
        q = z;
        orthonormalize(&mut q);
        let converged = rq
            .iter()
            .zip(&prev)
            .all(|(a, b)| (a - b).abs() <= 1e-13 * total.max(1e-300));
        prev = rq;
        if converged {
            break;
        }
    }
    // Rayleigh–Ritz on the block.
    let mut t = vec![0f64; k * k];
    let cq: Vec<Vec<f64>> = q.iter().map(|v| mat_vec(&cov, v, d)).collect();
    for a in 0..k {
        for b in 0..k {
            t[a * k + b] = dot(&q[a], &cq[b]);
        }
    }
    let (vals, vecs) = jacobi(t, k);
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    let mut components = Vec::with_capacity(2 * d);
    let mut explained = [0f64; 2];
    for (slot, &o) in order.iter().take(2).enumerate() {
        let mut comp: Vec<f64> = (0..d)
            .map(|i| (0..k).map(|j| q[j][i] * vecs[j * k + o]).sum())
            .collect();
        let big = comp
            .iter()
            .copied()
            .fold(0f64, |m, v| if v.abs() > m.abs() { v } else { m });
        if big < 0.0 {
            comp.iter_mut().for_each(|v| *v = -*v);
        }
        explained[slot] = if total > 0.0 {
            vals[o].max(0.0) / total
        } else {
            0.0
        };
        components.extend(comp);
    }
    if d == 1 {
        components.extend(std::iter::repeat_n(0.0, d));
    }
    let xy = (0..n)
        .map(|i| {
            let mut p = [0f32; 2];
            for (c, slot) in p.iter_mut().enumerate() {
                let comp = &components[c * d..(c + 1) * d];
                *slot = x
                    .row(i)
                    .iter()
                    .zip(&mean)
                    .zip(comp)
                    .map(|((v, m), w)| (*v as f64 - m) * w)
                    .sum::<f64>() as f32;
            }
            p
        })
        .collect();
    progress(1.0);
    Ok(Projection {
        xy,
        explained,
        components,
    })
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

fn mat_vec(m: &[f64], v: &[f64], d: usize) -> Vec<f64> {
    (0..d).map(|a| dot(&m[a * d..(a + 1) * d], v)).collect()
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
    for _sweep in 0..100 {
        let off: f64 = (0..k)
            .flat_map(|i| (0..k).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * k + j].powi(2))
            .sum();
        if off < 1e-30 {
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

    fn pca(data: &[f32], rows: usize, dim: usize) -> Projection {
        pca2(Matrix::new(data, rows, dim).unwrap(), &mut |_| true).unwrap()
    }

    #[test]
    fn hand_computed_axes() {
        // covariance diag(8/3, 2/3): the axes themselves, 80 % / 20 % of the variance
        let p = pca(&[2.0, 0.0, -2.0, 0.0, 0.0, 1.0, 0.0, -1.0], 4, 2);
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
        let p = pca(&data, 50, 3);
        let c = &p.components[..3];
        assert!(
            (c[0] - c[1]).abs() < 1e-9 && (c[0] - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9,
            "{c:?}"
        );
        assert!(p.explained[0] > 0.999);
        // deterministic
        assert_eq!(p, pca(&data, 50, 3));
    }

    #[test]
    fn degenerate_inputs() {
        let p = pca(&[1.0, 2.0, 1.0, 2.0, 1.0, 2.0], 3, 2);
        assert!(p.xy.iter().all(|v| v[0].abs() < 1e-6 && v[1].abs() < 1e-6));
        assert_eq!(p.explained, [0.0, 0.0]);
        let p = pca(&[1.0, 2.0], 1, 2);
        assert_eq!(p.xy.len(), 1);
        let p = pca(&[1.0, 2.0, 3.0], 3, 1);
        assert!((p.xy[0][0] + 1.0).abs() < 1e-6 || (p.xy[0][0] - 1.0).abs() < 1e-6);
    }
}
