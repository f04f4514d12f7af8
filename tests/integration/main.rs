//! Every integration test in one binary (one link instead of thirteen), a module per
//! subject. Shared loaders are in `support` (the benches and the measuring bins read
//! `support/gsm8k.rs` too).

mod support;

mod answers;
mod choice;
mod cli;
mod cluster;
mod embed;
mod formats;
mod import;
mod neighbours;
mod propagate;
mod shapes;
mod siblings;
mod signatures;
mod steps;
