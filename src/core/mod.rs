//! The pure core: no leptos, no web-sys. One module per concern.
//!
//! - [`data`] — records, embeddings, the data set and its fingerprint.
//! - [`import`] — reading records, embeddings and label files, with validation.
//! - [`labels`] — the label store (provenance, confidence, undo, merge).
//! - [`labelfile`] — the label file of the contract (export and resume).
//! - [`session`] — a data set with its labels, and atomic imports into it.
//! - [`signature`] — reasoning signatures (structure, consensus, prior score).
//! - [`cluster`] — k-means.
//! - [`hdbscan`] — density clusters with noise.
//! - [`project`] — the 2-D map (PCA).
//! - [`metrics`] — AUROC, pair accuracy, adjusted Rand index.
//! - [`error`] — the one error type of the import path.

pub mod cluster;
pub mod data;
pub mod error;
pub mod hdbscan;
pub mod import;
pub mod labelfile;
pub mod labels;
pub mod metrics;
pub mod project;
pub mod session;
pub mod signature;

pub use data::{Dataset, Embeddings, Record};
pub use error::ImportError;
pub use labels::{Label, LabelStore, Provenance, Verdict};
pub use session::Session;
