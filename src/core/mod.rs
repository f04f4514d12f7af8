//! The pure core: no leptos, no web-sys. One module per concern.
//!
//! - [`data`] — records, embeddings, the data set and its fingerprint.
//! - [`import`] — reading records, embeddings and label files, with validation.
//! - [`training`] — the shapes fine-tuning data comes in (chat, ShareGPT, Alpaca, …).
//! - [`mapping`] — the column mapping of a file whose fields are not named as cotlabel's.
//! - [`parquet_io`] — Parquet files in (rows as JSON objects) and out (training sets).
//! - [`trainset`] — training sets from labels: SFT, preference pairs, KTO.
//! - [`labels`] — the label store (provenance, confidence, undo, merge).
//! - [`labelfile`] — the label file of the contract (export and resume).
//! - [`journal`] — human changes as single entries, merged by time across tabs.
//! - [`session`] — a data set with its labels, and atomic imports into it.
//! - [`signature`] — reasoning signatures (structure, consensus, prior score).
//! - [`cluster`] — k-means.
//! - [`hdbscan`] — density clusters with noise.
//! - [`neighbours`] — k nearest neighbours, exact or approximate (graph, HDBSCAN).
//! - [`project`] — the 2-D map (PCA).
//! - [`graph`] — the similarity graph (embedding + signature kNN, signed sibling links).
//! - [`propagate`] — spreading human labels from the prior (label spreading, trust).
//! - [`select`] — representatives and the active-learning queue.
//! - [`simulate`] — a simulated labeller scoring propagation against ground truth.
//! - [`choice`] — the binary-choice classifier (burn): model, training, weights.
//! - [`timing`] — the map's jobs as one benchmark suite, native and in the browser.
//! - [`metrics`] — AUROC, pair accuracy, adjusted Rand index, label accuracy/F1/ECE.
//! - [`error`] — the one error type of the import path.

pub mod choice;
pub mod cluster;
pub mod data;
pub mod embed;
pub mod error;
pub mod graph;
pub mod hdbscan;
pub mod import;
pub mod journal;
pub mod labelfile;
pub mod labels;
pub mod mapping;
pub mod metrics;
pub mod neighbours;
pub mod parquet_io;
pub mod project;
pub mod propagate;
pub mod select;
pub mod session;
pub mod signature;
pub mod simulate;
pub mod timing;
pub mod training;
pub mod trainset;

pub use data::{Dataset, Embeddings, Record};
pub use error::ImportError;
pub use labels::{Label, LabelStore, Provenance, Verdict};
pub use session::Session;
