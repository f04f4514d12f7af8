//! Cluster and map: the geometry of the CoTs' vectors.
//!
//! - [`neighbours`]: the `k` nearest neighbours of every row (exact, or approximate with
//!   random-projection trees and NN-descent).
//! - [`kmeans`]: k-means (k-means++, Lloyd, restarts) and its distance kernels.
//! - [`hdbscan`]: HDBSCAN as scikit-learn computes it.
//! - [`project`]: principal components: the 2-D map and the reduced dimensions.

pub mod hdbscan;
pub mod kmeans;
pub mod neighbours;
pub mod project;
