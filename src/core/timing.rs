//! The map's heavy jobs as one fixed suite, run on the same numbers natively
//! (`cargo bench --bench cluster`) and in the browser (the `?timing` page, through the
//! worker), so that the two timings compare directly.
//!
//! The numbers are built from a small base set (the shipped demo's 300 embeddings): the
//! first rows are the base itself, every later row is a base row plus seeded uniform noise,
//! so any size up to 20k and beyond has the same structure on both sides.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::core::base::{ClusterError, Matrix, Progress};
use crate::core::map::hdbscan::{hdbscan, HdbscanConfig, MstMethod};
use crate::core::map::kmeans::{kmeans, KMeansConfig};
use crate::core::map::project::pca2;

/// One job of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Task {
    /// k-means with k clusters and 10 k-means++ starts (scikit-learn's `n_init=10`).
    KMeans {
        /// Clusters.
        k: usize,
    },
    /// HDBSCAN with `min_cluster_size` 5: exact, or as the app runs it (exact for small
    /// sets, a neighbour graph above [`crate::core::map::hdbscan::EXACT_BUDGET`]).
    Hdbscan {
        /// Every pair of points, whatever the size.
        exact: bool,
    },
    /// The 2-D PCA projection of the map.
    Pca,
}

/// A job at a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// What runs.
    pub task: Task,
    /// Rows of the matrix.
    pub rows: usize,
}

impl Case {
    /// The job's name as the benchmark tables print it.
    pub fn name(&self) -> String {
        match self.task {
            Task::KMeans { k } => format!("k-means k={k} ×10"),
            Task::Hdbscan { exact: false } => "HDBSCAN mcs=5".to_string(),
            Task::Hdbscan { exact: true } => "HDBSCAN mcs=5, exact".to_string(),
            Task::Pca => "PCA (2 components)".to_string(),
        }
    }

    /// The key of scikit-learn's timing of the same job in `baselines.json`
    /// (`f_timing.seconds["N=…"][key]`), when it has one.
    pub fn sklearn_key(&self) -> Option<String> {
        match self.task {
            Task::KMeans { k } => Some(format!("kmeans_k{k}_ninit10")),
            Task::Hdbscan { .. } => Some("hdbscan_mcs5".to_string()),
            Task::Pca => None,
        }
    }
}

/// Sizes of the suite.
pub const SIZES: [usize; 3] = [1_000, 5_000, 20_000];

/// Largest size at which the suite also runs the exact HDBSCAN (at 20k it takes a minute).
pub const EXACT_HDBSCAN_UP_TO: usize = 5_000;

/// Every case: k-means k = 8 and 32, HDBSCAN and PCA at each of [`SIZES`], and the exact
/// HDBSCAN up to [`EXACT_HDBSCAN_UP_TO`].
pub fn suite() -> Vec<Case> {
    let tasks = [
        Task::KMeans { k: 8 },
        Task::KMeans { k: 32 },
        Task::Hdbscan { exact: false },
        Task::Hdbscan { exact: true },
        Task::Pca,
    ];
    SIZES
        .iter()
        .flat_map(|&rows| tasks.map(|task| Case { task, rows }))
        .filter(|c| c.task != Task::Hdbscan { exact: true } || c.rows <= EXACT_HDBSCAN_UP_TO)
        .collect()
}

/// Half-width of the noise added to each value of a repeated row.
const NOISE: f32 = 0.02;

/// `rows × base.dim` values: the base rows first, then base rows (in turn) plus seeded
/// uniform noise in ±[`NOISE`]. Deterministic: the same on every machine.
pub fn matrix(base: Matrix, rows: usize) -> Vec<f32> {
    let mut rng = SmallRng::seed_from_u64(20_000);
    let mut out = Vec::with_capacity(rows * base.dim);
    for i in 0..rows {
        let row = base.row(i % base.rows);
        if i < base.rows {
            out.extend_from_slice(row);
        } else {
            out.extend(row.iter().map(|v| v + rng.random_range(-NOISE..NOISE)));
        }
    }
    out
}

/// Runs one case's job on `x` (its result is dropped: only the time matters).
pub fn run(case: &Case, x: Matrix, progress: Progress) -> Result<(), ClusterError> {
    match case.task {
        Task::KMeans { k } => {
            let cfg = KMeansConfig {
                k,
                restarts: 10,
                ..Default::default()
            };
            kmeans(x, &cfg, progress).map(drop)
        }
        Task::Hdbscan { exact } => {
            let cfg = HdbscanConfig {
                method: if exact {
                    MstMethod::Exact
                } else {
                    MstMethod::Auto
                },
                ..Default::default()
            };
            hdbscan(x, &cfg, progress).map(drop)
        }
        Task::Pca => pca2(x, progress).map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_covers_every_job_at_every_size() {
        let s = suite();
        assert_eq!(s.len(), 14);
        for (rows, jobs) in SIZES.into_iter().zip([5, 5, 4]) {
            assert_eq!(s.iter().filter(|c| c.rows == rows).count(), jobs);
        }
        assert_eq!(s[0].name(), "k-means k=8 ×10");
        assert_eq!(s[0].sklearn_key().as_deref(), Some("kmeans_k8_ninit10"));
        assert_eq!(s[3].sklearn_key().as_deref(), Some("hdbscan_mcs5"));
        assert_eq!(s[4].sklearn_key(), None);
    }

    #[test]
    fn matrix_repeats_the_base_with_seeded_noise() {
        let base: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let b = Matrix::new(&base, 3, 2).unwrap();
        let m = matrix(b, 7);
        assert_eq!(m.len(), 14);
        assert_eq!(&m[..6], &base[..]);
        for i in 3..7 {
            for d in 0..2 {
                let diff = m[i * 2 + d] - base[(i % 3) * 2 + d];
                assert!(diff.abs() <= NOISE && diff != 0.0, "row {i}: {diff}");
            }
        }
        assert_eq!(m, matrix(b, 7), "deterministic");
    }

    #[test]
    fn every_job_runs_on_a_small_case() {
        let base: Vec<f32> = (0..40 * 3).map(|v| ((v * 7) % 11) as f32).collect();
        let b = Matrix::new(&base, 40, 3).unwrap();
        let data = matrix(b, 60);
        let x = Matrix::new(&data, 60, 3).unwrap();
        for task in [
            Task::KMeans { k: 8 },
            Task::Hdbscan { exact: false },
            Task::Hdbscan { exact: true },
            Task::Pca,
        ] {
            run(&Case { task, rows: 60 }, x, &mut |_| true).unwrap();
        }
        let case = Case {
            task: Task::KMeans { k: 8 },
            rows: 60,
        };
        let stop = run(&case, x, &mut |_| false);
        assert_eq!(stop, Err(ClusterError::Cancelled));
    }
}
