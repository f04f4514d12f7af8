//! Work packages: a data set split into shares of whole questions for several annotators,
//! with a chosen part of the questions in two shares each (so that their agreement can be
//! measured), the same for the same seed on every machine.
//!
//! - The questions are ordered by SHA-256 of the seed and the question's key (no RNG whose
//!   stream could differ between the page's wasm32 and a 64-bit CLI).
//! - The first `round(overlap · questions)` of that order each go into two shares
//!   (question k into shares k mod N and k + 1 mod N); every other question goes into the
//!   share with the fewest CoTs so far (the lowest number on a tie).
//! - A share is a small JSON file ([`Share::to_json`], `format: "cotlabel.share"`): the ids of
//!   its CoTs, which share of how many, the overlap and the seed, and the data set's
//!   fingerprint so that it opens on the records it was made for.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::core::data::{file_slug, Dataset};

/// The `format` of a share file.
pub const FORMAT: &str = "cotlabel.share";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;

/// One annotator's part of a data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The records file's name.
    pub dataset: String,
    /// The data set's fingerprint ([`Dataset::fingerprint`]).
    pub fingerprint: String,
    /// Which share (1-based).
    pub share: usize,
    /// Of how many.
    pub shares: usize,
    /// The part of the questions that are in two shares.
    pub overlap: f64,
    /// The seed of the split.
    pub seed: u64,
    /// Questions in this share.
    pub questions: usize,
    /// The ids of its CoTs, in record order.
    pub ids: Vec<String>,
}

/// Why a data set could not be split, or a share file not read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShareError {
    /// Fewer questions than shares, or no share at all.
    #[error("{questions} questions cannot be split into {shares} shares (1 to {questions})")]
    Shares {
        /// Shares asked for.
        shares: usize,
        /// Questions in the data set.
        questions: usize,
    },
    /// An overlap outside [0, 1].
    #[error("the overlap is a part of the questions between 0 and 1, not {0}")]
    Overlap(f64),
    /// A share file that does not read.
    #[error("{file}: {message}")]
    File {
        /// The file's name.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// Splits `dataset` into `shares` shares of whole questions, `overlap` of the questions in
/// two shares (none with one share), reproducibly from `seed`.
pub fn split(
    dataset: &Dataset,
    shares: usize,
    overlap: f64,
    seed: u64,
) -> Result<Vec<Share>, ShareError> {
    let groups = dataset.groups();
    let questions = groups.len();
    if shares == 0 || shares > questions {
        return Err(ShareError::Shares { shares, questions });
    }
    if !(0.0..=1.0).contains(&overlap) {
        return Err(ShareError::Overlap(overlap));
    }
    let records = dataset.records();
    let mut order: Vec<([u8; 32], usize)> = groups
        .iter()
        .enumerate()
        .map(|(g, members)| {
            let key = records[members[0] as usize].group_key();
            let mut h = Sha256::new();
            h.update(seed.to_le_bytes());
            h.update(key.as_bytes());
            (h.finalize().into(), g)
        })
        .collect();
    order.sort_unstable();
    let doubled = if shares > 1 {
        (overlap * questions as f64).round() as usize
    } else {
        0
    };
    let mut of_share: Vec<Vec<usize>> = vec![Vec::new(); shares];
    let mut load = vec![0usize; shares];
    for (k, &(_, g)) in order.iter().enumerate() {
        let size = groups.members(g).len();
        let into: Vec<usize> = if k < doubled {
            vec![k % shares, (k + 1) % shares]
        } else {
            let least = (0..shares).min_by_key(|&s| (load[s], s)).unwrap_or(0);
            vec![least]
        };
        for s in into {
            of_share[s].push(g);
            load[s] += size;
        }
    }
    Ok(of_share
        .into_iter()
        .enumerate()
        .map(|(s, gs)| {
            let mut rows: Vec<u32> = gs
                .iter()
                .flat_map(|&g| groups.members(g).iter().copied())
                .collect();
            rows.sort_unstable();
            Share {
                format: FORMAT.into(),
                version: VERSION,
                dataset: dataset.name().to_string(),
                fingerprint: dataset.fingerprint().to_string(),
                share: s + 1,
                shares,
                overlap,
                seed,
                questions: gs.len(),
                ids: rows
                    .into_iter()
                    .map(|i| records[i as usize].id.clone())
                    .collect(),
            }
        })
        .collect())
}

impl Share {
    /// The file's name: `<data set>-share-2-of-3.json`.
    pub fn file_name(&self) -> String {
        let stem = self
            .dataset
            .rsplit_once('.')
            .map_or(self.dataset.as_str(), |(s, _)| s);
        format!(
            "{}-share-{}-of-{}.json",
            file_slug(stem, "data"),
            self.share,
            self.shares
        )
    }

    /// The share file.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data") + "\n"
    }

    /// Whether a JSON text is a share file (its `format`), without reading all of it.
    pub fn is_share(text: &str) -> bool {
        let head = &text[..text.len().min(200)];
        head.contains("\"format\"") && head.contains(FORMAT)
    }

    /// Reads a share file; errors name the file and the field.
    pub fn parse(file: &str, text: &str) -> Result<Self, ShareError> {
        let fail = |message: String| ShareError::File {
            file: file.to_string(),
            message,
        };
        let s: Share = serde_json::from_str(text)
            .map_err(|e| fail(format!("not a share file: {e} (line {})", e.line())))?;
        if s.format != FORMAT {
            return Err(fail(format!(
                "format is `{}`, expected `{FORMAT}`",
                s.format
            )));
        }
        if s.version != VERSION {
            return Err(fail(format!(
                "version {} is not the one this cotlabel reads ({VERSION})",
                s.version
            )));
        }
        if s.share == 0 || s.share > s.shares {
            return Err(fail(format!(
                "share {} of {} does not exist",
                s.share, s.shares
            )));
        }
        if s.ids.is_empty() {
            return Err(fail("the share lists no `ids`".into()));
        }
        Ok(s)
    }

    /// Why it does not open on `dataset` (another data set), if it does not.
    pub fn mismatch(&self, dataset: &Dataset) -> Option<String> {
        (self.fingerprint != dataset.fingerprint()).then(|| {
            format!(
                "share {} of {} was made for {} (fingerprint {}), not for {}",
                self.share,
                self.shares,
                self.dataset,
                self.fingerprint,
                dataset.name()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::data::tests::record;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// `q` questions, question i with 1 + i % 4 CoTs.
    fn dataset(q: usize) -> Dataset {
        let mut records = Vec::new();
        for i in 0..q {
            for j in 0..1 + i % 4 {
                let mut r = record(
                    &format!("q{i}-{j}"),
                    &format!("question {i}"),
                    &format!("c{j}"),
                );
                r.question_id = Some(format!("q{i}"));
                records.push(r);
            }
        }
        Dataset::new("data.jsonl", records, None)
    }

    #[test]
    fn by_hand() {
        let ds = dataset(10);
        let shares = split(&ds, 3, 0.2, 7).unwrap();
        assert_eq!(shares.len(), 3);
        // 2 of the 10 questions in two shares: 12 question places
        assert_eq!(shares.iter().map(|s| s.questions).sum::<usize>(), 12);
        assert_eq!(shares[1].file_name(), "data-share-2-of-3.json");
        let demo = Share {
            dataset: "GSM8K demo (300 CoTs)".into(),
            ..shares[0].clone()
        };
        assert_eq!(demo.file_name(), "GSM8K-demo-300-CoTs-share-1-of-3.json");
        let back = Share::parse("s.json", &shares[1].to_json()).unwrap();
        assert_eq!(back, shares[1]);
        assert!(Share::is_share(&shares[1].to_json()));
        assert!(shares[0].mismatch(&ds).is_none());
        assert!(shares[0]
            .mismatch(&dataset(9))
            .unwrap()
            .contains("was made for data.jsonl"));
        assert_eq!(
            split(&ds, 11, 0.1, 0),
            Err(ShareError::Shares {
                shares: 11,
                questions: 10
            })
        );
        assert_eq!(split(&ds, 2, 1.5, 0), Err(ShareError::Overlap(1.5)));
        let bad = shares[0].to_json().replace("\"share\": 1", "\"share\": 4");
        assert!(Share::parse("s.json", &bad)
            .unwrap_err()
            .to_string()
            .contains("share 4 of 3"));
        // one share: everything, nothing doubled
        let one = split(&ds, 1, 0.5, 7).unwrap();
        assert_eq!(one[0].ids.len(), ds.len());
    }

    proptest! {
        /// Whole questions; the doubled ones in exactly two shares, the rest in one; shares
        /// balanced by CoTs within the largest question; the same seed gives the same split.
        #[test]
        fn shares_cover_whole_questions(q in 2usize..60, n in 1usize..6, overlap in 0.0f64..=1.0, seed in any::<u64>()) {
            prop_assume!(n <= q);
            let ds = dataset(q);
            let shares = split(&ds, n, overlap, seed).unwrap();
            prop_assert_eq!(&shares, &split(&ds, n, overlap, seed).unwrap());
            let mut places: HashMap<&str, usize> = HashMap::new();
            for s in &shares {
                let mut qs: Vec<&str> = s.ids.iter().map(|id| id.split('-').next().unwrap()).collect();
                qs.dedup();
                prop_assert_eq!(qs.len(), s.questions);
                for question in qs { *places.entry(question).or_default() += 1; }
                // every CoT of each of its questions
                for id in &s.ids {
                    let question = id.split('-').next().unwrap();
                    let all = ds.records().iter().filter(|r| r.question_id.as_deref() == Some(question)).count();
                    prop_assert_eq!(s.ids.iter().filter(|x| x.split('-').next() == Some(question)).count(), all);
                }
            }
            prop_assert_eq!(places.len(), q);
            let doubled = if n > 1 { (overlap * q as f64).round() as usize } else { 0 };
            prop_assert_eq!(places.values().filter(|&&c| c == 2).count(), doubled);
            prop_assert!(places.values().all(|&c| c == 1 || (c == 2 && n > 1)));
            if doubled == 0 {
                let sizes: Vec<usize> = shares.iter().map(|s| s.ids.len()).collect();
                let (lo, hi) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                prop_assert!(hi - lo <= 4, "{:?}", sizes);
            }
        }
    }
}
