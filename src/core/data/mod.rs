//! Load, the data: records, embeddings and the data set (contract §1), with the question
//! groups every stage reads.
//!
//! - [`records`] (re-exported here): a record, embeddings, the data set and its
//!   fingerprint, records arriving in pieces.
//! - [`groups`] (re-exported here): the CoTs of each question, built once per data set.

pub mod groups;
pub mod records;

pub use groups::Groups;
pub use records::*;
