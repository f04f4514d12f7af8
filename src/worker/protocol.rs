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

/// Cluster the rows and project them to 2-D.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapJob {
    /// k-means clusters.
    pub k: usize,
    /// k-means++ starts.
    pub restarts: usize,
    /// Seed.
    pub seed: u64,
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
    /// Cluster of each record.
    pub labels: Vec<u32>,
    /// Position of each record.
    pub xy: Vec<[f32; 2]>,
    /// k-means inertia.
    pub inertia: f64,
    /// The record closest to each cluster's centre.
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
