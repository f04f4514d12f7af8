//! Read the reasoning: what says whether a CoT is sound.
//!
//! - [`signature`]: each CoT's steps, equations, values and final answer, its consensus with
//!   its siblings, and the label-free prior (the members fitted per shape of data).
//! - [`embed`]: sentence embeddings (MiniLM) computed on the device.
//! - [`choice`]: the binary-choice classifier over sibling pairs (burn).
//! - [`judge`]: the person's own model asked whether a CoT is correct.

pub mod choice;
pub mod embed;
pub mod judge;
pub mod signature;
