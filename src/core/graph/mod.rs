//! Propagate and pick: labels travel over a graph of similar CoTs.
//!
//! - [`similarity`] (re-exported here): the graph — signature and embedding similarity, and
//!   sibling links.
//! - [`propagate`]: a few human labels spread to every CoT, with a calibrated confidence.
//! - [`select`]: which CoTs a person should label next.
//! - [`partition`]: whole questions in parts, for data sets too large for one graph.

pub mod partition;
pub mod propagate;
pub mod select;
pub mod similarity;

pub use similarity::*;
