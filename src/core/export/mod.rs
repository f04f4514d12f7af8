//! Export: what leaves the app.
//!
//! - [`labelfile`]: the label file of contract §2 (written on export, read to resume).
//! - [`trainset`]: training sets from labels (SFT, preference pairs, KTO, stepwise).

pub mod labelfile;
pub mod trainset;
