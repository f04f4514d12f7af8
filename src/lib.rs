//! cotlabel labels chain-of-thought (CoT) training data by reasoning pattern, entirely in
//! the browser.
//!
//! The pipeline's stages, each with its module and entry function, are listed in
//! [`core`]. The crate has these parts:
//!
//! - [`core`]: records, import and validation, the label store, the label file. Plain Rust
//!   with no web APIs, so every algorithm is tested natively with `cargo test`.
//! - [`worker`]: the one door to heavy work: a typed protocol and the job runner the Web
//!   Workers call. The jobs worker holds the data set (load: parse, validate, fingerprint,
//!   signatures) and runs the map and propagation on it; the model worker runs burn
//!   (classify, train, embed).
//! - [`pipeline`] (native only): the whole labelling pipeline on a data set in process
//!   (signatures, partitioned propagation, the classifier, step marks), through the same
//!   jobs the workers run; the CLI and the Python package call it.
//! - [`cli`] (native only): the `cotlabel` command line, the same pipeline on files.
//! - `ui` (wasm32 only): the leptos page, a thin layer over the core, plus the browser
//!   glue (files, downloads, IndexedDB).
#![deny(missing_docs)]
#![allow(clippy::needless_range_loop, clippy::type_complexity)]

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;
pub mod core;
#[cfg(not(target_arch = "wasm32"))]
pub mod pipeline;
#[cfg(feature = "python")]
pub mod python;
pub mod worker;

#[cfg(target_arch = "wasm32")]
pub mod ui;
