//! Label: the person's work and how it is kept.
//!
//! - [`store`] (re-exported here): one label per record with its provenance and
//!   confidence, pair choices and step marks.
//! - [`steps`]: a CoT cut into steps, the first wrong step suggested and spread.
//! - [`journal`]: every human change kept as it is made, folded on load.
//! - [`session`]: a data set with its labels, and the one way to change them by importing.
//! - [`agreement`]: how far annotators agree (Cohen's κ, Fleiss' κ, Krippendorff's α).
//! - [`share`]: work packages: shares of whole questions, some in two shares, by seed.
//! - [`team`]: several annotators' votes on a record, their consensus and agreement.

pub mod agreement;
pub mod journal;
pub mod session;
pub mod share;
pub mod steps;
pub mod store;
pub mod team;

pub use store::*;
