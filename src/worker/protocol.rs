//! Messages between the page and the worker (JSON text; the numbers travel beside them as
//! a transferred `Float32Array`).

use serde::{Deserialize, Serialize};

/// What the map is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Space {
    /// Sentence embeddings: groups CoTs by topic.
    Embedding,
    /// Reasoning signatures: groups CoTs by how they reason.
    Signature,
}

/// How the map's clusters are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// k-means with k clusters (k-means++ starts, seeded).
    KMeans {
        /// Clusters.
        k: usize,
        /// Starts; the lowest inertia wins.
        restarts: usize,
        /// Seed.
        seed: u64,
    },
    /// HDBSCAN: clusters of any number and shape, and noise.
    Hdbscan {
        /// The smallest group that counts as a cluster.
        min_cluster_size: usize,
    },
}

/// Cluster the rows and project them to 2-D.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapJob {
    /// The clustering.
    pub method: Method,
    /// Normalise rows first (cosine geometry).
    pub cosine: bool,
    /// What the rows are (for the page; the worker only sees numbers).
    pub space: Space,
}

/// A job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Job {
    /// The reasoning map.
    Map(MapJob),
}

/// A job on a matrix of `rows × dim` numbers sent with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Set by the page; replies carry it back.
    pub id: u64,
    /// Rows of the matrix.
    pub rows: usize,
    /// Columns.
    pub dim: usize,
    /// What to do.
    pub job: Job,
}

/// The map of a data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapResult {
    /// Cluster of each record; −1 is noise (HDBSCAN).
    pub labels: Vec<i32>,
    /// Position of each record.
    pub xy: Vec<[f32; 2]>,
    /// k-means inertia.
    pub inertia: Option<f64>,
    /// HDBSCAN stability of each cluster (how long it persists), by label.
    pub persistence: Vec<f64>,
    /// A central record of each cluster (closest to the centre; for HDBSCAN, to the mean).
    pub medoids: Vec<Option<usize>>,
    /// Variance share of the two axes.
    pub explained: [f64; 2],
}

/// What the worker says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// Loaded and listening (messages sent before this are lost).
    Ready,
    /// A job's progress.
    Progress {
        /// Job id.
        id: u64,
        /// What it is doing.
        stage: String,
        /// Share done, in [0, 1].
        fraction: f64,
    },
    /// A finished map job.
    Map {
        /// Job id.
        id: u64,
        /// The map.
        result: MapResult,
    },
    /// A job that stopped.
    Failed {
        /// Job id.
        id: u64,
        /// Whether it was cancelled.
        cancelled: bool,
        /// Why.
        message: String,
    },
}
