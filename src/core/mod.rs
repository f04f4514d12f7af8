//! The pure core: no leptos, no web-sys. One module per stage of the pipeline, in the
//! order data goes through them (stage → module → entry function; where it runs in the
//! browser in brackets):
//!
//! 1. **Load** → [`import`] → [`import::plan_import_mapped`] (jobs worker, `Job::Load`):
//!    records in the shapes people have ([`training`]: chat, ShareGPT, Alpaca, …;
//!    [`mapping`]: a file whose fields are named otherwise; [`parquet_io`]: Parquet), with
//!    validation naming file and line ([`error`]), into a [`data::Dataset`] with its
//!    fingerprint. Embeddings made on the device: [`embed`] (model worker). More CoTs per
//!    question sampled from the person's own model: [`generate`] (the OpenAI-compatible
//!    request, its stream, its errors, the records it makes).
//! 2. **Read the reasoning** → [`signature`] → [`signature::signatures`] (jobs worker),
//!    kept on the page as [`signature::table::SignatureTable::new`].
//! 3. **Cluster and map** → [`cluster::kmeans`], [`hdbscan::hdbscan`], [`project::pca2`]
//!    (jobs worker, `Job::Map`), over [`neighbours::knn`].
//! 4. **Pick** what to label next → [`select::queue`] (jobs worker, with propagation).
//! 5. **Propagate** → [`graph::build`] and [`propagate::Prepared`] (`new`, then
//!    `propagate` after every label; jobs worker, `Job::Propagate`). Data sets too large
//!    for one graph (the CLI, Ray): [`partition::partition_records`], a graph per part.
//! 6. **Classify** sibling pairs → [`choice`]: [`choice::sibling_pairs`], `score_pairs`,
//!    [`choice::win_rates`]; fine-tuning [`choice::fine_tune_set`] (model worker).
//! 7. **Label** (the person) → [`labels::LabelStore`], kept by [`journal::fold`] and
//!    [`session::Session`] (the page).
//!    Step labels (the first wrong step) → [`steps`]: [`steps::segment`],
//!    [`steps::suggest`], [`steps::spread`] (the page, per question group).
//! 8. **Export** → [`labelfile::LabelFile::from_store`] (the label file) and
//!    [`trainset::plan`] (training sets) (the page).
//!
//! Beside the stages: [`base`] (the matrix view, job errors, progress, distances that
//! every numeric stage shares), [`metrics`] (AUROC, ARI, accuracy, ECE), [`simulate`] (a simulated
//! labeller), [`timing`] (the map's jobs as one benchmark suite).

pub mod base;
pub mod choice;
pub mod cluster;
pub mod data;
pub mod embed;
pub mod error;
pub mod generate;
pub mod graph;
pub mod hdbscan;
pub mod import;
pub mod journal;
pub mod judge;
pub mod labelfile;
pub mod labels;
pub mod mapping;
pub mod metrics;
pub mod neighbours;
pub mod parquet_io;
pub mod partition;
pub mod project;
pub mod propagate;
pub mod select;
pub mod session;
pub mod signature;
pub mod simulate;
pub mod steps;
pub mod timing;
pub mod training;
pub mod trainset;

pub use data::{Dataset, Embeddings, Record};
pub use error::ImportError;
pub use labels::{Label, LabelStore, Provenance, Verdict};
pub use session::Session;

/// The CPU device every model runs on: burn-flex (pure Rust; gemm with wasm simd128 and
/// macerator's elementwise kernels under burn's `simd`). Measured against burn-ndarray with
/// `simd` in `benches/embed.rs` and the README (MiniLM: 34 vs 33 CoTs/s natively at batch
/// 8, 25 vs 20 at batch 32).
#[cfg(feature = "model")]
pub fn cpu_device() -> burn::prelude::Device {
    burn::prelude::Device::flex()
}

/// Tests that seed burn's global random generator (model init, dropout) hold this lock, so
/// that tests running in parallel do not draw from each other's sequence (a toy training
/// test failed 1 run in 9 when they did).
#[cfg(all(test, feature = "model"))]
pub(crate) fn burn_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
