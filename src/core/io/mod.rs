//! Load: reading what the person drops, in the order a file goes through it.
//!
//! - [`import`]: records (JSON array, JSONL, CSV, Parquet), embeddings (`.npy`, JSON), label
//!   files dropped along — the import plan ([`import::plan_import_mapped`]).
//! - [`shapes`]: the shapes fine-tuning data comes in (chat, ShareGPT, Alpaca,
//!   prompt/completion), read as records.
//! - [`mapping`]: a file whose fields are named otherwise — the column mapping and the
//!   survey of a file's fields.
//! - [`parquet`]: Parquet in and out (arrow-rs).
//! - [`error`]: what went wrong, naming file, line and field.

pub mod error;
pub mod import;
pub mod mapping;
pub mod parquet;
pub mod shapes;
