//! What every numeric stage shares: the row-major [`Matrix`] view, the error of a job on
//! numbers ([`ClusterError`]), [`Progress`] callbacks, the squared distance whose rounding
//! the k-means, the neighbour search and the graph agree on, the logistic function and its
//! inverse, and the distance of a feature vector to the distribution it was fitted on.

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

/// Progress reports: called with the share done; returning `false` cancels.
pub type Progress<'a> = &'a mut dyn FnMut(f64) -> bool;

/// Squared Euclidean distance. Eight independent partial sums let the compiler use SIMD
/// (a plain `.sum()` of floats is a serial chain: ~8× slower at d = 384). The one
/// squared distance of k-means, the neighbour search, HDBSCAN and the graph, so every
/// method weighs a pair alike, bit for bit.
#[inline]
pub(crate) fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    sq_dist_lanes(a, b)
}

/// Lanes of the partial sums of every dot product and distance here: independent sums let
/// the compiler use SIMD, and a fixed count keeps the rounding the same whatever the
/// vector width (SSE2, AVX2, WebAssembly's 128 bits).
pub(crate) const LANES: usize = 8;

#[inline(always)]
pub(crate) fn sq_dist_lanes(a: &[f32], b: &[f32]) -> f32 {
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

/// The cosine of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

/// Log-odds, clamped to ±13.8.
pub fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// The logistic function.
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Mean squared z-score of (feature name, value) pairs against the per-name `mean` and
/// `std` of a fitting distribution (a standard deviation of at least 0.02; a name without
/// numbers counts as mean ½, standard deviation 1). 0 for no pairs.
pub fn mean_sq_z<'a>(
    values: impl Iterator<Item = (&'a str, f64)>,
    mean: &std::collections::BTreeMap<String, f64>,
    std: &std::collections::BTreeMap<String, f64>,
) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for (name, x) in values {
        let m = mean.get(name).copied().unwrap_or(0.5);
        let sd = std.get(name).copied().unwrap_or(1.0).max(0.02);
        sum += ((x - m) / sd).powi(2);
        n += 1;
    }
    sum / n.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_checks_its_shape() {
        assert_eq!(
            Matrix::new(&[1.0; 5], 2, 3).unwrap_err(),
            ClusterError::Shape {
                len: 5,
                rows: 2,
                dim: 3
            }
        );
        assert_eq!(Matrix::new(&[], 0, 3).unwrap_err(), ClusterError::Empty);
        assert_eq!(
            Matrix::new(&[1.0, 2.0, 3.0, 4.0], 2, 2).unwrap().row(1),
            &[3.0, 4.0]
        );
    }

    #[test]
    fn squared_distance_of_known_rows() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..19).map(|i| i as f32 + 2.0).collect();
        assert_eq!(sq_dist(&a, &b), 19.0 * 4.0);
        assert_eq!(sq_dist(&a, &a), 0.0);
    }
}
