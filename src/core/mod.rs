//! The pure core: no leptos, no web-sys. One folder per stage of the pipeline, in the order
//! data goes through them (stage → module → entry function; where it runs in the browser in
//! brackets):
//!
//! 1. **Load** → [`io`]: [`io::import::plan_import_mapped`] (jobs worker, `Job::Load`) reads
//!    records in the shapes people have ([`io::shapes`]: chat, ShareGPT, Alpaca, …;
//!    [`io::mapping`]: a file whose fields are named otherwise; [`io::parquet`]: Parquet),
//!    with validation naming file and line ([`io::error`]), into a [`data::Dataset`] with its
//!    fingerprint and question groups ([`data::groups`]). More CoTs per question sampled from
//!    the person's own model: [`generate`] (the OpenAI-compatible request, its stream, its
//!    errors, the records it makes).
//! 2. **Read the reasoning** → [`signals`]: [`signals::signature::signatures`] (jobs worker),
//!    kept on the page as [`signals::signature::table::SignatureTable::new`]; embeddings
//!    made on the device ([`signals::embed`], model worker); the binary-choice classifier
//!    ([`signals::choice`]); the person's model as a judge ([`signals::judge`]).
//! 3. **Cluster and map** → [`map`]: [`map::kmeans::kmeans`], [`map::hdbscan::hdbscan`],
//!    [`map::project::pca2`] (jobs worker, `Job::Map`), over [`map::neighbours::knn`].
//! 4. **Propagate and pick** → [`graph`]: [`graph::build`] and
//!    [`graph::propagate::Prepared`] (`new`, then `propagate` after every label; jobs
//!    worker, `Job::Propagate`); what to label next, [`graph::select::queue`]. Data sets too
//!    large for one graph (the CLI, Ray): [`graph::partition::partition_records`].
//! 5. **Label** (the person) → [`labels`]: [`labels::LabelStore`], kept by
//!    [`labels::journal::fold`] and [`labels::session::Session`] (the page); step labels (the
//!    first wrong step) → [`labels::steps`] (the page, per question group).
//! 6. **Clean** → [`clean`]: [`clean::clean`] (jobs worker, `Job::Clean`) finds
//!    near-duplicate CoTs and questions, questions of an evaluation set and broken traces,
//!    which training sets leave out.
//! 7. **Export** → [`export`]: [`export::labelfile::LabelFile::from_store`] (the label file,
//!    contract §2) and [`export::trainset::plan`] (training sets).
//!
//! Beside the stages: [`base`] (the matrix view, job errors, progress, distances that every
//! numeric stage shares), [`metrics`] (AUROC, ARI, accuracy, ECE), [`simulate`] (a simulated
//! labeller), [`timing`] (the map's jobs as one benchmark suite). A test
//! (`layout.rs`, a unit test) fails on an import cycle between the modules of `core`.

pub mod clean;
pub mod data;
pub mod export;
pub mod generate;
pub mod graph;
pub mod io;
pub mod labels;
pub mod map;
pub mod signals;

pub mod base;
pub mod metrics;
pub mod simulate;
pub mod timing;

#[cfg(test)]
mod layout;

pub use data::{Dataset, Embeddings, Record};
pub use io::error::ImportError;
pub use labels::session::Session;
pub use labels::{Label, LabelStore, Provenance, Verdict};

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
