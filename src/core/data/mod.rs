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

/// A name fit for a download: ASCII letters, digits and `_` kept, every other run of
/// characters one dash, none at the ends; `fallback` when nothing is left.
pub fn file_slug(name: &str, fallback: &str) -> String {
    let mut clean = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            clean.push(c);
        } else if !clean.is_empty() && !clean.ends_with('-') {
            clean.push('-');
        }
    }
    let clean = clean.trim_end_matches('-');
    if clean.is_empty() {
        fallback.to_string()
    } else {
        clean.to_string()
    }
}
