//! Heavy work, behind one door per worker, each with its own typed messages
//! ([`protocol`]: jobs in, replies out, errors as data):
//!
//! - [`jobs`] — the jobs worker: holds the data set (load, adopt, attach), draws the map,
//!   propagates labels and times the benchmark suite ([`Worker::run`]);
//! - [`model`] — the model worker's jobs on the CPU (burn: classify, fine-tune); the
//!   browser's model worker ([`model_wasm`]) runs them asynchronously, on WebGPU when it can,
//!   and embeds with MiniLM;
//! - [`wasm`] — the Web Worker message loop both workers share.
//!
//! The browser runs them in Web Workers (`src/bin/worker.rs`, `src/bin/model_worker.rs`);
//! the CLI and the Python package run the same jobs in process ([`crate::pipeline`]), and
//! tests call them directly.

pub mod jobs;
#[cfg(feature = "model")]
pub mod model;
#[cfg(all(target_arch = "wasm32", feature = "model"))]
pub mod model_wasm;
pub mod protocol;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use jobs::{Worker, RECORDS_PER_PIECE};

/// Milliseconds from a fixed start: `Date.now()` in the browser (`std::time` does not
/// exist there), a monotonic clock natively.
pub(crate) fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
            * 1e3
    }
}
