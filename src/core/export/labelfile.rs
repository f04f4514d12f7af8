//! The label file of contract §2: what export writes and import reads to resume.
//!
//! The wire structs mirror the contract field by field; [`LabelFile`] is the validated form
//! (parsed times, checked confidences, unique ids). `export → parse → export` is exact.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SecondsFormat};
use serde::{Deserialize, Serialize};

use crate::core::data::{file_slug, Dataset};
use crate::core::io::error::ImportError;
use crate::core::labels::Vote;
use crate::core::labels::{Incoming, Label, LabelStore, Millis, Pair, Provenance, Verdict};
use crate::core::labels::{SpreadStep, StepMark, StepVerdict};

/// The `format` field of every label file.
pub const FORMAT: &str = "cotlabel.labels";
/// The version this build writes (and the newest it reads).
pub const VERSION: u32 = 1;

/// The data set a label file was written for. Every field may be absent in a file written
/// by another tool (labels then match by id alone); cotlabel always writes all three.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// Name of the records file.
    #[serde(default)]
    pub name: String,
    /// Number of records.
    #[serde(default)]
    pub records: usize,
    /// [`Dataset::fingerprint`].
    #[serde(default)]
    pub fingerprint: String,
}

#[derive(Serialize, Deserialize)]
struct WireFile {
    format: String,
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exported_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dataset: Option<DatasetInfo>,
    #[serde(default)]
    labels: Vec<WireLabel>,
    #[serde(default)]
    pairs: Vec<WirePair>,
    /// Records whose annotators' votes are tied and not yet settled (no label).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    conflicts: Vec<WireConflict>,
}

/// One annotator's vote as the file writes it.
#[derive(Serialize, Deserialize)]
struct WireVote {
    annotator: String,
    label: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
    /// The annotator's first wrong step (0-based) or `"none"`, when they marked steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    step: Option<StepMark>,
}

impl WireVote {
    fn of(v: &Vote) -> Self {
        Self {
            annotator: v.annotator.clone(),
            label: v.verdict,
            updated_at: v.updated_at.map(format_time),
            step: v.step,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct WireConflict {
    id: String,
    votes: Vec<WireVote>,
}

#[derive(Serialize, Deserialize)]
struct WireLabel {
    id: String,
    label: Verdict,
    provenance: Provenance,
    /// Absent in files of other tools: 1 for a human label (a machine label needs one).
    #[serde(default)]
    confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    from: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    step: Option<WireStep>,
    /// Who set a human or adjudicated label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotator: Option<String>,
    /// Every annotator's vote, on a merged file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    votes: Vec<WireVote>,
}

/// A step label on an entry: a person's mark, or one spread from marks on siblings.
#[derive(Serialize, Deserialize)]
struct WireStep {
    /// The first wrong step (0-based) or `"none"`; absent when only `fine_through` is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_wrong: Option<StepMark>,
    /// Steps up to and including this one are fine (spread labels only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fine_through: Option<usize>,
    /// `human` or `spread`.
    provenance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    from: Vec<String>,
}

impl WireStep {
    fn human(mark: StepMark) -> Self {
        Self {
            first_wrong: Some(mark),
            fine_through: None,
            provenance: "human".into(),
            confidence: None,
            from: Vec::new(),
        }
    }

    fn spread(s: &SpreadStep) -> Self {
        let (first_wrong, fine_through) = match s.verdict {
            StepVerdict::WrongAt(k) => (Some(StepMark::WrongAt(k)), None),
            StepVerdict::AllFine => (Some(StepMark::AllFine), None),
            StepVerdict::FineThrough(k) => (None, Some(k)),
        };
        Self {
            first_wrong,
            fine_through,
            provenance: "spread".into(),
            confidence: Some(s.confidence),
            from: s.from.clone(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct WirePair {
    question_id: String,
    better: String,
    worse: String,
    provenance: Provenance,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
}

/// A validated label file.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelFile {
    /// When it was written.
    pub exported_at: Option<Millis>,
    /// The data set it was written for.
    pub dataset: Option<DatasetInfo>,
    /// Labels by record id, in file order; ids are unique.
    pub labels: Vec<(String, Label)>,
    /// Pair judgements.
    pub pairs: Vec<Pair>,
    /// Step labels spread from step marks, on labelled records (they are recomputed from
    /// the marks when the file is loaded; kept here so that a file reads back whole).
    pub spread: Vec<(String, SpreadStep)>,
    /// The annotators' votes per record (a merged file), in file order: on labelled records
    /// and on conflicts (records with tied votes and no label).
    pub votes: Vec<(String, Vec<Vote>)>,
}

/// `2026-11-25T09:58:12Z` (whole seconds, UTC).
pub fn format_time(t: Millis) -> String {
    DateTime::from_timestamp_millis(t)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// Parses an RFC 3339 time (any offset) to milliseconds since the epoch.
pub fn parse_time(s: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// The download name of a data set's label file: `cotlabel-<name without extension>-<date>.json`,
/// with anything but ASCII letters, digits and `_` turned into single dashes.
pub fn export_file_name(dataset_name: &str, date: &str) -> String {
    let stem = [".jsonl", ".ndjson", ".json", ".csv"]
        .iter()
        .find_map(|ext| dataset_name.strip_suffix(ext))
        .unwrap_or(dataset_name);
    format!("cotlabel-{}-{date}.json", file_slug(stem, "labels"))
}

impl LabelFile {
    /// The labels of every loaded record that has one (in record order) and the pairs.
    pub fn from_store(dataset: &Dataset, store: &LabelStore, now: Millis) -> Self {
        let info = DatasetInfo {
            name: dataset.name().to_string(),
            records: dataset.len(),
            fingerprint: dataset.fingerprint().to_string(),
        };
        let ids = dataset.records().iter().map(|r| r.id.as_str());
        Self::of_ids(Some(info), ids, store, now)
    }

    /// The labels and votes of `ids` (in that order) that the store holds, and the pairs:
    /// a file for a data set known only by `dataset` (merged label files, say).
    pub fn of_ids<'a>(
        dataset: Option<DatasetInfo>,
        ids: impl Iterator<Item = &'a str>,
        store: &LabelStore,
        now: Millis,
    ) -> Self {
        let mut labels: Vec<(String, Label)> = Vec::new();
        let mut votes = Vec::new();
        for id in ids {
            if let Some(l) = store.get(id) {
                labels.push((id.to_string(), l.clone()));
            }
            if let Some(v) = store.votes(id) {
                votes.push((id.to_string(), v.to_vec()));
            }
        }
        let spread = labels
            .iter()
            .filter(|(_, l)| l.step.is_none())
            .filter_map(|(id, _)| store.spread(id).map(|s| (id.clone(), s.clone())))
            .collect();
        Self {
            exported_at: Some(now.div_euclid(1000) * 1000),
            dataset,
            labels,
            pairs: store.pairs().to_vec(),
            spread,
            votes,
        }
    }

    /// What the file brings to a merge into a store.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            labels: &self.labels,
            pairs: &self.pairs,
            votes: &self.votes,
        }
    }

    /// The file as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        let spread: HashMap<&str, &SpreadStep> =
            self.spread.iter().map(|(id, s)| (id.as_str(), s)).collect();
        let votes: HashMap<&str, &[Vote]> = self
            .votes
            .iter()
            .map(|(id, v)| (id.as_str(), v.as_slice()))
            .collect();
        let labelled: HashSet<&str> = self.labels.iter().map(|(id, _)| id.as_str()).collect();
        let wire_votes = |id: &str| -> Vec<WireVote> {
            votes
                .get(id)
                .map(|v| v.iter().map(WireVote::of).collect())
                .unwrap_or_default()
        };
        let wire = WireFile {
            format: FORMAT.into(),
            version: VERSION,
            exported_at: self.exported_at.map(format_time),
            dataset: self.dataset.clone(),
            labels: self
                .labels
                .iter()
                .map(|(id, l)| WireLabel {
                    id: id.clone(),
                    label: l.verdict,
                    provenance: l.provenance,
                    confidence: Some(l.confidence),
                    updated_at: l.updated_at.map(format_time),
                    from: l.from.clone(),
                    step: match l.step {
                        Some(mark) => Some(WireStep::human(mark)),
                        None => spread.get(id.as_str()).map(|s| WireStep::spread(s)),
                    },
                    annotator: l.annotator.clone(),
                    votes: wire_votes(id),
                })
                .collect(),
            pairs: self
                .pairs
                .iter()
                .map(|p| WirePair {
                    question_id: p.question_id.clone(),
                    better: p.better.clone(),
                    worse: p.worse.clone(),
                    provenance: p.provenance,
                    updated_at: p.updated_at.map(format_time),
                })
                .collect(),
            conflicts: self
                .votes
                .iter()
                .filter(|(id, _)| !labelled.contains(id.as_str()))
                .map(|(id, _)| WireConflict {
                    id: id.clone(),
                    votes: wire_votes(id),
                })
                .collect(),
        };
        let mut s = serde_json::to_string_pretty(&wire).expect("plain data serialises");
        s.push('\n');
        s
    }

    /// Reads and validates a label file; errors name the file and the entry.
    pub fn parse(file: &str, text: &str) -> Result<Self, Vec<ImportError>> {
        let fail = |message: String| {
            vec![ImportError::LabelFile {
                file: file.to_string(),
                message,
            }]
        };
        // Check the header first so that a non-label JSON object gets a clear message.
        let head: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            vec![ImportError::Malformed {
                file: file.to_string(),
                line: e.line(),
                format: "JSON".into(),
                message: e.to_string(),
            }]
        })?;
        match head.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => {}
            Some(other) => return Err(fail(format!("format is `{other}`, expected `{FORMAT}`"))),
            None => {
                return Err(fail(format!(
                    "a JSON object without \"format\": \"{FORMAT}\" is not a label file \
                     (records go in a JSON array, JSONL or CSV)"
                )))
            }
        }
        match head.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v as u32 == VERSION => {}
            Some(v) if v > VERSION as u64 => {
                return Err(fail(format!(
                    "version {v} was written by a newer cotlabel; this one reads version {VERSION}"
                )))
            }
            _ => {
                return Err(fail(format!(
                    "missing or unknown `version` (expected {VERSION})"
                )))
            }
        }
        let wire: WireFile = serde_json::from_str(text).map_err(|e| {
            vec![ImportError::Malformed {
                file: file.to_string(),
                line: e.line(),
                format: "label file".into(),
                message: e.to_string(),
            }]
        })?;
        let mut errors = Vec::new();
        let time =
            |what: &str, s: &Option<String>, errors: &mut Vec<ImportError>| -> Option<Millis> {
                let s = s.as_ref()?;
                let t = parse_time(s);
                if t.is_none() {
                    errors.push(ImportError::LabelFile {
                        file: file.to_string(),
                        message: format!(
                            "{what}: `{s}` is not an RFC 3339 time such as 2026-11-25T09:58:12Z"
                        ),
                    });
                }
                t
            };
        let exported_at = time("exported_at", &wire.exported_at, &mut errors);
        let mut seen = HashSet::new();
        let mut labels = Vec::with_capacity(wire.labels.len());
        let mut spread = Vec::new();
        let mut votes = Vec::new();
        for (i, w) in wire.labels.into_iter().enumerate() {
            let what = format!("labels[{i}] (id `{}`)", w.id);
            if !seen.insert(w.id.clone()) {
                errors.push(ImportError::LabelFile {
                    file: file.to_string(),
                    message: format!("{what}: the id appears more than once"),
                });
            }
            let confidence = match (w.confidence, w.provenance) {
                (Some(c), _) => c,
                (None, p) if p.is_human() => 1.0,
                (None, p) => {
                    errors.push(ImportError::LabelFile {
                        file: file.to_string(),
                        message: format!(
                            "{what}: a {} label needs a `confidence` in [0, 1]",
                            p.as_str()
                        ),
                    });
                    0.0
                }
            };
            if !(0.0..=1.0).contains(&confidence) {
                errors.push(ImportError::LabelFile {
                    file: file.to_string(),
                    message: format!("{what}: confidence {confidence} is outside [0, 1]"),
                });
            }
            let updated_at = time(&what, &w.updated_at, &mut errors);
            let mut step = None;
            match w.step {
                None => {}
                Some(s) if s.provenance == "human" => {
                    let fits = match s.first_wrong {
                        Some(StepMark::WrongAt(_)) => w.label == Verdict::Bad,
                        Some(StepMark::AllFine) => w.label == Verdict::Good,
                        None => false,
                    };
                    if !w.provenance.is_human() || !fits {
                        errors.push(ImportError::LabelFile {
                            file: file.to_string(),
                            message: format!(
                                "{what}: a human step mark needs `first_wrong` and a human label \
                                 it implies (a wrong step: bad; \"none\": good)"
                            ),
                        });
                    }
                    step = s.first_wrong;
                }
                Some(s) if s.provenance == "spread" => {
                    let verdict = match (s.first_wrong, s.fine_through) {
                        (Some(m), None) => Some(m.into()),
                        (None, Some(k)) => Some(StepVerdict::FineThrough(k)),
                        _ => None,
                    };
                    let confidence = s.confidence.filter(|c| (0.0..=1.0).contains(c));
                    match (verdict, confidence) {
                        (Some(verdict), Some(confidence)) => spread.push((
                            w.id.clone(),
                            SpreadStep {
                                verdict,
                                confidence,
                                from: s.from,
                            },
                        )),
                        _ => errors.push(ImportError::LabelFile {
                            file: file.to_string(),
                            message: format!(
                                "{what}: a spread step label needs either `first_wrong` or \
                                 `fine_through`, and a `confidence` in [0, 1]"
                            ),
                        }),
                    }
                }
                Some(s) => errors.push(ImportError::LabelFile {
                    file: file.to_string(),
                    message: format!(
                        "{what}: step provenance `{}` is neither `human` nor `spread`",
                        s.provenance
                    ),
                }),
            }
            if w.annotator.is_some() && !w.provenance.is_human() {
                errors.push(ImportError::LabelFile {
                    file: file.to_string(),
                    message: format!(
                        "{what}: a {} label has no `annotator` (only a person's label does)",
                        w.provenance.as_str()
                    ),
                });
            }
            if w.provenance == Provenance::Adjudicated && w.votes.is_empty() {
                errors.push(ImportError::LabelFile {
                    file: file.to_string(),
                    message: format!(
                        "{what}: an adjudicated label settles `votes`, and it has none"
                    ),
                });
            }
            if !w.votes.is_empty() {
                if !w.provenance.is_human() {
                    errors.push(ImportError::LabelFile {
                        file: file.to_string(),
                        message: format!(
                            "{what}: a {} label carries `votes` (only a consensus or adjudicated label does)",
                            w.provenance.as_str()
                        ),
                    });
                }
                let v = read_votes(file, &what, w.votes, &mut errors);
                votes.push((w.id.clone(), v));
            }
            labels.push((
                w.id,
                Label {
                    verdict: w.label,
                    provenance: w.provenance,
                    confidence,
                    updated_at,
                    from: w.from,
                    step,
                    annotator: w.annotator,
                },
            ));
        }
        for (i, c) in wire.conflicts.into_iter().enumerate() {
            let what = format!("conflicts[{i}] (id `{}`)", c.id);
            if !seen.insert(c.id.clone()) {
                errors.push(ImportError::LabelFile {
                    file: file.to_string(),
                    message: format!("{what}: the id appears more than once (or also has a label)"),
                });
            }
            if c.votes.is_empty() {
                errors.push(ImportError::LabelFile {
                    file: file.to_string(),
                    message: format!("{what}: a conflict without `votes`"),
                });
            }
            let v = read_votes(file, &what, c.votes, &mut errors);
            votes.push((c.id, v));
        }
        let mut pairs = Vec::with_capacity(wire.pairs.len());
        for (i, w) in wire.pairs.into_iter().enumerate() {
            if w.better == w.worse {
                errors.push(ImportError::LabelFile {
                    file: file.to_string(),
                    message: format!(
                        "pairs[{i}]: `better` and `worse` are the same record `{}`",
                        w.better
                    ),
                });
            }
            let updated_at = time(&format!("pairs[{i}]"), &w.updated_at, &mut errors);
            pairs.push(Pair {
                question_id: w.question_id,
                better: w.better,
                worse: w.worse,
                provenance: w.provenance,
                updated_at,
            });
        }
        if !errors.is_empty() {
            errors.truncate(crate::core::io::error::MAX_ERRORS);
            return Err(errors);
        }
        Ok(Self {
            exported_at,
            dataset: wire.dataset,
            labels,
            pairs,
            spread,
            votes,
        })
    }
}

/// A record's votes as read: one per annotator (a name given), in annotator order, their
/// times and step marks checked. Problems go to `errors`, naming the entry.
fn read_votes(
    file: &str,
    what: &str,
    wire: Vec<WireVote>,
    errors: &mut Vec<ImportError>,
) -> Vec<Vote> {
    let mut out: Vec<Vote> = Vec::with_capacity(wire.len());
    let mut fail = |message: String| {
        errors.push(ImportError::LabelFile {
            file: file.to_string(),
            message: format!("{what}: {message}"),
        })
    };
    for w in wire {
        if w.annotator.trim().is_empty() {
            fail("a vote without an `annotator` name".into());
            continue;
        }
        let updated_at = match &w.updated_at {
            Some(s) => match parse_time(s) {
                Some(t) => Some(t),
                None => {
                    fail(format!(
                        "the vote of {}: `{s}` is not an RFC 3339 time such as 2026-11-25T09:58:12Z",
                        w.annotator
                    ));
                    None
                }
            },
            None => None,
        };
        let fits = match w.step {
            Some(StepMark::WrongAt(_)) => w.label == Verdict::Bad,
            Some(StepMark::AllFine) => w.label == Verdict::Good,
            None => true,
        };
        if !fits {
            fail(format!(
                "the vote of {} marks a step its label contradicts (a wrong step: bad; \"none\": good)",
                w.annotator
            ));
        }
        if out.iter().any(|v| v.annotator == w.annotator) {
            fail(format!("two votes of {}", w.annotator));
            continue;
        }
        out.push(Vote {
            annotator: w.annotator,
            verdict: w.label,
            updated_at,
            step: w.step,
        });
    }
    out.sort_by(|a, b| a.annotator.cmp(&b.annotator));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::data::tests::record;
    use proptest::prelude::*;

    const T0: Millis = 1_764_064_692_000;

    fn dataset(n: usize) -> Dataset {
        Dataset::new(
            "d.jsonl",
            (0..n)
                .map(|i| record(&format!("r{i}"), "q", &format!("c{i}")))
                .collect(),
            None,
        )
    }

    #[test]
    fn time_round_trip() {
        assert_eq!(format_time(T0), "2025-11-25T09:58:12Z");
        assert_eq!(parse_time("2025-11-25T09:58:12Z"), Some(T0));
        assert_eq!(parse_time("2025-11-25T10:58:12+01:00"), Some(T0));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn export_file_names() {
        assert_eq!(
            export_file_name("GSM8K demo (300 CoTs)", "2026-11-25"),
            "cotlabel-GSM8K-demo-300-CoTs-2026-11-25.json"
        );
        assert_eq!(
            export_file_name("my_data.v2.jsonl", "d"),
            "cotlabel-my_data-v2-d.json"
        );
        assert_eq!(
            export_file_name("données.csv", "d"),
            "cotlabel-donn-es-d.json"
        );
        assert_eq!(export_file_name("...", "d"), "cotlabel-labels-d.json");
    }

    #[test]
    fn label_files_of_other_tools_match_by_id() {
        // written by a script: no fingerprint, no confidence for human labels
        let text = r#"{
          "format": "cotlabel.labels", "version": 1,
          "dataset": { "name": "sheet export", "records": 3 },
          "labels": [
            { "id": "r0", "label": "good", "provenance": "human" },
            { "id": "r2", "label": "bad", "provenance": "human" }
          ]
        }"#;
        let f = LabelFile::parse("sheet.json", text).unwrap();
        assert_eq!(f.dataset.as_ref().unwrap().fingerprint, "");
        assert_eq!(f.labels[0].1.confidence, 1.0);
        let ds = dataset(3);
        let mut store = crate::core::labels::LabelStore::default();
        let report = store.merge("sheet.json", &f.labels, &f.pairs, |id| {
            ds.position(id).is_some()
        });
        assert_eq!(report.applied, 2, "{report:?}");
        // no dataset block at all
        let bare = r#"{"format": "cotlabel.labels", "version": 1,
          "labels": [{ "id": "r1", "label": "good", "provenance": "human" }]}"#;
        assert_eq!(LabelFile::parse("b.json", bare).unwrap().labels.len(), 1);
        // a machine label must say how confident it is
        let machine = r#"{"format": "cotlabel.labels", "version": 1,
          "labels": [{ "id": "r1", "label": "good", "provenance": "propagated" }]}"#;
        let err = LabelFile::parse("m.json", machine).unwrap_err();
        assert!(
            err[0]
                .to_string()
                .contains("labels[0] (id `r1`): a propagated label needs a `confidence`"),
            "{}",
            err[0]
        );
    }

    #[test]
    fn contract_example_parses() {
        let text = r#"{
          "format": "cotlabel.labels", "version": 1, "exported_at": "2026-11-25T10:00:00Z",
          "dataset": { "name": "demo", "records": 300, "fingerprint": "abc" },
          "labels": [
            { "id": "gsm8k-0001-175b_verification", "label": "good", "provenance": "human",
              "confidence": 1.0, "updated_at": "2026-11-25T09:58:12Z" },
            { "id": "gsm8k-0002-6b_finetuning", "label": "bad", "provenance": "propagated",
              "confidence": 0.83, "from": ["gsm8k-0007-6b_verification"] }
          ],
          "pairs": [
            { "question_id": "gsm8k-0001", "better": "a", "worse": "b", "provenance": "human" }
          ]
        }"#;
        let f = LabelFile::parse("l.json", text).unwrap();
        assert_eq!(f.labels.len(), 2);
        assert_eq!(
            f.labels[1].1.from,
            vec!["gsm8k-0007-6b_verification".to_string()]
        );
        assert_eq!(f.labels[1].1.confidence, 0.83);
        assert_eq!(f.pairs[0].better, "a");
        assert_eq!(f.dataset.unwrap().records, 300);
    }

    #[test]
    fn invalid_files_name_the_problem() {
        let cases: &[(&str, &str)] = &[
            (r#"{"format":"other","version":1}"#, "format is `other`"),
            (r#"{"version":1}"#, "is not a label file"),
            (
                r#"{"format":"cotlabel.labels","version":2}"#,
                "newer cotlabel",
            ),
            (
                r#"{"format":"cotlabel.labels","version":1,"labels":[{"id":"a","label":"good","provenance":"human","confidence":1.5}]}"#,
                "labels[0] (id `a`): confidence 1.5 is outside [0, 1]",
            ),
            (
                r#"{"format":"cotlabel.labels","version":1,"labels":[{"id":"a","label":"good","provenance":"human","confidence":1},{"id":"a","label":"bad","provenance":"human","confidence":1}]}"#,
                "labels[1] (id `a`): the id appears more than once",
            ),
            (
                r#"{"format":"cotlabel.labels","version":1,"labels":[{"id":"a","label":"good","provenance":"human","confidence":1,"updated_at":"noon"}]}"#,
                "`noon` is not an RFC 3339 time",
            ),
            (
                r#"{"format":"cotlabel.labels","version":1,"pairs":[{"question_id":"q","better":"a","worse":"a","provenance":"human"}]}"#,
                "pairs[0]: `better` and `worse` are the same record",
            ),
        ];
        for (text, expected) in cases {
            let err = LabelFile::parse("l.json", text).unwrap_err();
            assert!(err[0].to_string().contains(expected), "{text}: {}", err[0]);
            assert!(err[0].to_string().starts_with("l.json"), "{}", err[0]);
        }
        let err = LabelFile::parse(
            "l.json",
            "{\"format\":\"cotlabel.labels\",\"version\":1,\n\"labels\":[{\"id\":\"a\",\"label\":\"great\",\"provenance\":\"human\",\"confidence\":1}]}",
        )
        .unwrap_err();
        assert_eq!(err[0].kind(), "malformed");
        assert!(err[0].to_string().contains("line 2"), "{}", err[0]);
        assert!(
            err[0].to_string().contains("unknown variant `great`"),
            "{}",
            err[0]
        );
    }

    #[test]
    fn export_lists_labelled_records_in_record_order() {
        let ds = dataset(4);
        let mut s = LabelStore::new();
        s.set_human("r2", Verdict::Bad, T0);
        s.set_human("r0", Verdict::Good, T0);
        let f = LabelFile::from_store(&ds, &s, T0 + 123);
        let ids: Vec<&str> = f.labels.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["r0", "r2"]);
        let json: serde_json::Value = serde_json::from_str(&f.to_json()).unwrap();
        assert_eq!(json["format"], FORMAT);
        assert_eq!(json["version"], 1);
        assert_eq!(json["exported_at"], "2025-11-25T09:58:12Z");
        assert_eq!(json["dataset"]["records"], 4);
        assert_eq!(json["dataset"]["fingerprint"], ds.fingerprint());
        assert_eq!(json["labels"][0]["label"], "good");
        assert_eq!(json["labels"][0]["provenance"], "human");
        assert_eq!(json["labels"][0]["confidence"], 1.0);
        assert_eq!(json["labels"][0]["updated_at"], "2025-11-25T09:58:12Z");
        assert!(json["labels"][0].get("from").is_none());
        assert_eq!(json["pairs"], serde_json::json!([]));
    }

    fn arb_label() -> impl Strategy<Value = Label> {
        (
            any::<bool>(),
            0u8..4,
            0.0f64..=1.0,
            prop::option::of(0i64..4_000_000_000_000),
            prop::collection::vec("[a-z0-9-]{1,8}", 0..3),
            prop::option::of(0usize..30),
            prop::option::of("[a-zé ]{1,6}"),
        )
            .prop_map(|(good, p, confidence, t, from, step, annotator)| {
                let provenance = [
                    Provenance::Human,
                    Provenance::Propagated,
                    Provenance::Classifier,
                    Provenance::Adjudicated,
                ][p as usize];
                // a person's step mark implies the label: none wrong → good, a step → bad
                let step = step.filter(|_| provenance.is_human()).map(|k| {
                    if good {
                        StepMark::AllFine
                    } else {
                        StepMark::WrongAt(k)
                    }
                });
                Label {
                    verdict: if good { Verdict::Good } else { Verdict::Bad },
                    provenance,
                    confidence,
                    updated_at: t.map(|t| t / 1000 * 1000),
                    from,
                    step,
                    annotator: annotator.filter(|_| provenance.is_human()),
                }
            })
    }

    /// Votes of a few annotators (some of them on the same record twice: the newer kept).
    fn arb_votes() -> impl Strategy<Value = Vec<Vote>> {
        prop::collection::vec(
            (
                0usize..4,
                any::<bool>(),
                prop::option::of(0i64..4_000_000),
                prop::option::of(0usize..9),
            ),
            0..4,
        )
        .prop_map(|votes| {
            let mut out = Vec::new();
            for (who, good, t, step) in votes {
                let vote = Vote {
                    annotator: ["ana", "bo", "chen li", "dré"][who].to_string(),
                    verdict: if good { Verdict::Good } else { Verdict::Bad },
                    updated_at: t.map(|t| t * 1000),
                    step: step.map(|k| {
                        if good {
                            StepMark::AllFine
                        } else {
                            StepMark::WrongAt(k)
                        }
                    }),
                };
                crate::core::labels::upsert_vote(&mut out, vote);
            }
            out
        })
    }

    #[test]
    fn step_labels_are_written_read_back_and_checked() {
        let ds = dataset(4);
        let mut store = LabelStore::new();
        store.set_human_step("r0", StepMark::WrongAt(2), T0);
        store.set_human_step("r1", StepMark::AllFine, T0);
        store.set_machine(
            "r2",
            Label::machine(0.2, Provenance::Propagated, 0.6, T0, vec!["r0".into()]).unwrap(),
        );
        let spread = [
            ("r2", StepVerdict::WrongAt(1), 0.9),
            ("r3", StepVerdict::FineThrough(0), 0.85), // unlabelled: not in the file
            ("r0", StepVerdict::FineThrough(1), 0.85), // marked: its own mark is written
        ];
        store.set_spread(
            spread
                .iter()
                .map(|(id, v, c)| {
                    let s = SpreadStep {
                        verdict: *v,
                        confidence: *c,
                        from: vec!["r0".into()],
                    };
                    (id.to_string(), s)
                })
                .collect(),
        );
        let text = LabelFile::from_store(&ds, &store, T0).to_json();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json["labels"][0]["step"],
            serde_json::json!({"first_wrong": 2, "provenance": "human"})
        );
        assert_eq!(json["labels"][0]["label"], "bad");
        assert_eq!(
            json["labels"][1]["step"],
            serde_json::json!({"first_wrong": "none", "provenance": "human"})
        );
        assert_eq!(
            json["labels"][2]["step"],
            serde_json::json!({"first_wrong": 1, "provenance": "spread", "confidence": 0.9, "from": ["r0"]})
        );
        assert_eq!(json["labels"].as_array().unwrap().len(), 3);
        let parsed = LabelFile::parse("l.json", &text).unwrap();
        assert_eq!(parsed.labels[0].1.step, Some(StepMark::WrongAt(2)));
        assert_eq!(parsed.spread.len(), 1);
        assert_eq!(parsed.to_json(), text);
        // a file without steps (version 1 as before) still reads; bad steps are named
        let bad = text.replace("\"first_wrong\": \"none\"", "\"first_wrong\": 3");
        let e = LabelFile::parse("l.json", &bad).unwrap_err();
        assert!(
            e[0].to_string()
                .contains("labels[1] (id `r1`): a human step mark needs"),
            "{}",
            e[0]
        );
        let bad = text.replace("\"first_wrong\": 2", "\"first_wrong\": -2");
        let e = LabelFile::parse("l.json", &bad).unwrap_err();
        assert!(e[0].to_string().contains("not a step index"), "{}", e[0]);
    }

    proptest! {
        /// export → import → export gives the same file, byte for byte, and the same store.
        #[test]
        fn export_import_export_is_identical(
            labels in prop::collection::vec((prop::option::of(arb_label()), arb_votes()), 1..30),
            pairs in prop::collection::vec((0usize..30, 0usize..30, any::<bool>()), 0..5),
            now in 0i64..4_000_000_000_000,
        ) {
            let ds = dataset(labels.len());
            let mut store = LabelStore::new();
            let mut file_labels = Vec::new();
            let mut file_votes = Vec::new();
            for (i, (l, votes)) in labels.iter().enumerate() {
                // votes sit on a person's label (a consensus, a decision) or on no label
                // (a conflict); a decision settles votes
                let mut l = l.clone();
                let mut votes = votes.clone();
                match &mut l {
                    Some(l) if !l.is_human() => votes.clear(),
                    Some(l) if votes.is_empty() && l.provenance == Provenance::Adjudicated => {
                        l.provenance = Provenance::Human;
                    }
                    _ => {}
                }
                if let Some(l) = l { file_labels.push((format!("r{i}"), l)); }
                if !votes.is_empty() { file_votes.push((format!("r{i}"), votes)); }
            }
            let file_pairs: Vec<Pair> = pairs.iter()
                .filter(|(a, b, _)| a != b && *a < labels.len() && *b < labels.len())
                .map(|(a, b, h)| Pair {
                    question_id: "q".into(), better: format!("r{a}"), worse: format!("r{b}"),
                    provenance: if *h { Provenance::Human } else { Provenance::Classifier },
                    updated_at: None,
                })
                .collect();
            let seed = LabelFile {
                exported_at: None,
                dataset: None,
                labels: file_labels,
                pairs: file_pairs,
                spread: Vec::new(),
                votes: file_votes,
            };
            store.merge_file("seed", seed.incoming(), |_| true);
            let first = LabelFile::from_store(&ds, &store, now).to_json();
            let parsed = LabelFile::parse("x.json", &first).unwrap();
            let mut restored = LabelStore::new();
            let report = restored.merge_file("resume", parsed.incoming(), |id| ds.position(id).is_some());
            prop_assert!(report.unknown_ids.is_empty());
            let second = LabelFile::from_store(&ds, &restored, now).to_json();
            prop_assert_eq!(&first, &second);
            for r in ds.records() {
                prop_assert_eq!(store.get(&r.id), restored.get(&r.id));
                prop_assert_eq!(store.votes(&r.id), restored.votes(&r.id));
            }
        }
    }
}
