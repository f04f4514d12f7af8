//! A data set with its labels, and the one way to change them by importing files.

use crate::core::data::Dataset;
use crate::core::export::labelfile::LabelFile;
use crate::core::io::import::ImportPlan;
use crate::core::labels::{Incoming, LabelStore, MergeReport, Millis, TeamMerge};

/// The loaded data set and its labels.
#[derive(Debug, Clone)]
pub struct Session {
    /// The records (and embeddings).
    pub dataset: Dataset,
    /// Their labels.
    pub labels: LabelStore,
}

/// What an import did, for the page to say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// Whether the records were replaced by others (labels then belong to the new records).
    pub new_records: bool,
    /// Whether embeddings were attached to the records already loaded.
    pub new_embeddings: bool,
    /// Whether the records already loaded (same fingerprint: ids and texts) were read again
    /// from a file with other fields or another name (a mapping that adds reference
    /// answers, say): the data set is replaced, the labels stay.
    pub reread: bool,
    /// Labels restored from this browser's storage for the new records.
    pub restored: Option<MergeReport>,
    /// One report per label file merged.
    pub merged: Vec<(String, MergeReport)>,
    /// The label files of a team, merged side by side ([`is_team_work`]).
    pub team: Option<TeamMerge>,
}

/// Whether label files are a team's work, to be merged side by side as votes
/// ([`LabelStore::merge_team`]) rather than taken as this person's own (newest wins): two or
/// more files, a file that already carries votes, or a human label another annotator (not
/// `me`) set.
pub fn is_team_work(files: &[(String, LabelFile)], me: Option<&str>) -> bool {
    files.len() > 1
        || files.iter().any(|(_, f)| {
            !f.votes.is_empty()
                || f.labels.iter().any(|(_, l)| {
                    l.is_human() && l.annotator.is_some() && l.annotator.as_deref() != me
                })
        })
}

impl Session {
    /// A session with no labels.
    pub fn new(dataset: Dataset) -> Self {
        Self {
            dataset,
            labels: LabelStore::new(),
        }
    }

    /// The label file of this session.
    pub fn export(&self, now: Millis) -> LabelFile {
        LabelFile::from_store(&self.dataset, &self.labels, now)
    }

    /// Applies a plan made by [`crate::core::io::import::plan_import`]. Only records with another
    /// fingerprint replace the labels; `stored` holds the labels this browser kept for
    /// those records, if any (restored first, not undoable). Label files are merged after,
    /// each as one undoable step.
    pub fn apply(&mut self, plan: ImportPlan, stored: Option<&LabelFile>) -> ImportReport {
        let mut report = ImportReport::default();
        if let Some(dataset) = plan.dataset {
            if dataset.fingerprint() == self.dataset.fingerprint() {
                report.new_embeddings = dataset.embeddings() != self.dataset.embeddings();
                report.reread = dataset.records() != self.dataset.records()
                    || dataset.name() != self.dataset.name();
            } else {
                report.new_records = true;
                self.labels = LabelStore::new();
                if let Some(stored) = stored {
                    report.restored = Some(self.restore(stored, &dataset));
                }
            }
            self.dataset = dataset;
        }
        let ds = &self.dataset;
        if is_team_work(&plan.label_files, self.labels.annotator()) {
            let files: Vec<(&str, Incoming)> = plan
                .label_files
                .iter()
                .map(|(name, f)| (name.as_str(), f.incoming()))
                .collect();
            report.team = Some(
                self.labels
                    .merge_team(&files, |id| ds.position(id).is_some()),
            );
            return report;
        }
        for (name, file) in &plan.label_files {
            let r = self
                .labels
                .merge_file(&format!("import of {name}"), file.incoming(), |id| {
                    ds.position(id).is_some()
                });
            report.merged.push((name.clone(), r));
        }
        report
    }

    /// Loads labels kept for this data set (a restored session): not an undoable step.
    pub fn restore_labels(&mut self, stored: &LabelFile) -> MergeReport {
        let (labels, r) = restored(stored, &self.dataset);
        self.labels = labels;
        r
    }

    fn restore(&mut self, stored: &LabelFile, dataset: &Dataset) -> MergeReport {
        let (labels, r) = restored(stored, dataset);
        self.labels = labels;
        r
    }
}

/// The labels kept for `dataset` (a restored session), with no undo history: what
/// [`Session::restore_labels`] sets, without a copy of the data set.
pub fn restored(stored: &LabelFile, dataset: &Dataset) -> (LabelStore, MergeReport) {
    let mut labels = LabelStore::new();
    let r = labels.merge_file("restore", stored.incoming(), |id| {
        dataset.position(id).is_some()
    });
    labels.forget_history();
    (labels, r)
}

impl ImportReport {
    /// One line for the page.
    pub fn summary(&self, dataset: &Dataset) -> String {
        let mut parts = Vec::new();
        if self.new_records {
            let emb = dataset
                .embeddings()
                .map(|e| format!(" with {}-dimensional embeddings", e.dim()))
                .unwrap_or_else(|| " (no embeddings)".into());
            parts.push(format!(
                "Loaded {} records from {}{emb}",
                dataset.len(),
                dataset.name()
            ));
        }
        if self.reread && !self.new_records {
            parts.push(format!(
                "Read {} records from {}: the records already loaded (same ids and texts), \
                 now with this file's fields; their labels stay",
                dataset.len(),
                dataset.name()
            ));
        }
        if self.new_embeddings {
            let dim = dataset.embeddings().map_or(0, |e| e.dim());
            parts.push(format!(
                "Attached {dim}-dimensional embeddings to {}",
                dataset.name()
            ));
        }
        if let Some(r) = &self.restored {
            if r.applied > 0 {
                parts.push(format!(
                    "restored {} labels saved in this browser",
                    r.applied
                ));
            }
        }
        for (name, r) in &self.merged {
            parts.push(format!("{name}: {}", r.summary()));
        }
        if let Some(t) = &self.team {
            parts.push(t.summary());
        }
        parts.join(". ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::data::tests::record;
    use crate::core::io::import::{plan_import, InputFile};
    use crate::core::labels::Verdict;

    const T0: Millis = 1_764_064_692_000;

    fn jsonl(ids: &[&str]) -> InputFile {
        let lines: Vec<String> = ids
            .iter()
            .map(|id| format!(r#"{{"id":"{id}","question":"q","cot":"c {id}"}}"#))
            .collect();
        InputFile::new("r.jsonl", lines.join("\n"))
    }

    #[test]
    fn new_records_start_with_their_stored_labels() {
        let mut s = Session::new(Dataset::new("d", vec![record("x", "q", "c")], None));
        s.labels.set_human("x", Verdict::Good, T0);
        let plan = plan_import(&[jsonl(&["a", "b"])], Some(&s.dataset)).unwrap();
        let new_ds = plan.dataset.clone().unwrap();
        let mut kept = LabelStore::new();
        kept.set_human("a", Verdict::Bad, T0);
        let stored = LabelFile::from_store(&new_ds, &kept, T0);
        let r = s.apply(plan, Some(&stored));
        assert!(r.new_records);
        assert_eq!(s.labels.get("a").unwrap().verdict, Verdict::Bad);
        assert!(s.labels.get("x").is_none());
        assert!(!s.labels.can_undo(), "a restore is not an undoable action");
        assert!(r
            .summary(&s.dataset)
            .contains("Loaded 2 records from r.jsonl"));
        assert!(r.summary(&s.dataset).contains("restored 1 labels"));
    }

    #[test]
    fn same_records_keep_labels() {
        let plan = plan_import(&[jsonl(&["a"])], None).unwrap();
        let mut s = Session::new(plan.dataset.unwrap());
        s.labels.set_human("a", Verdict::Good, T0);
        let again = plan_import(&[jsonl(&["a"])], Some(&s.dataset)).unwrap();
        let r = s.apply(again, None);
        assert!(!r.new_records && !r.reread);
        assert!(s.labels.get("a").is_some());
        // the same records from a file with more fields: read again, labels kept
        let with_ref = InputFile::new(
            "r2.jsonl",
            r#"{"id":"a","question":"q","cot":"c a","reference_answer":"7"}"#,
        );
        let before = s.dataset.revision();
        let r = s.apply(plan_import(&[with_ref], Some(&s.dataset)).unwrap(), None);
        assert!(r.reread && !r.new_records);
        assert_eq!(
            s.dataset.records()[0].reference_answer().as_deref(),
            Some("7")
        );
        assert_ne!(s.dataset.revision(), before);
        assert!(s.labels.get("a").is_some());
        assert!(r
            .summary(&s.dataset)
            .starts_with("Read 1 records from r2.jsonl: the records already loaded"));
    }

    #[test]
    fn label_file_merges_into_current_records() {
        let plan = plan_import(&[jsonl(&["a", "b"])], None).unwrap();
        let mut s = Session::new(plan.dataset.unwrap());
        let mut other = LabelStore::new();
        other.set_human("b", Verdict::Bad, T0);
        let file = LabelFile::from_store(&s.dataset, &other, T0).to_json();
        let plan = plan_import(&[InputFile::new("labels.json", file)], Some(&s.dataset)).unwrap();
        assert!(plan.dataset.is_none());
        let r = s.apply(plan, None);
        assert_eq!(r.merged[0].1.applied, 1);
        assert_eq!(s.labels.get("b").unwrap().verdict, Verdict::Bad);
        assert_eq!(s.labels.undo().as_deref(), Some("import of labels.json"));
        assert!(s.labels.get("b").is_none());
    }
}
