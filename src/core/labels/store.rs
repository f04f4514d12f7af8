//! The label store: one label per record with its provenance and confidence, human pair
//! judgements, and an undo history of human actions.
//!
//! Invariants (tested below): a human label is never overwritten by a propagated or
//! classifier label; confidence is in [0, 1]; every human action can be undone.

use rustc_hash::FxHashMap as HashMap;

use serde::{Deserialize, Serialize};

use crate::core::data::Dataset;

/// Sound or flawed reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Sound reasoning.
    Good,
    /// Flawed reasoning.
    Bad,
}

impl Verdict {
    /// `good` / `bad`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Good => "good",
            Self::Bad => "bad",
        }
    }
}

/// Where a label came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// A person chose it. Always wins.
    Human,
    /// Spread from human labels over the similarity graph.
    Propagated,
    /// Predicted by the binary-choice classifier.
    Classifier,
    /// A person settled what several annotators' votes left open (or overrode them). A
    /// human label: it always wins.
    Adjudicated,
}

impl Provenance {
    /// `human` / `propagated` / `classifier`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Propagated => "propagated",
            Self::Classifier => "classifier",
            Self::Adjudicated => "adjudicated",
        }
    }

    /// A person's: `human` or `adjudicated`.
    pub fn is_human(self) -> bool {
        matches!(self, Self::Human | Self::Adjudicated)
    }
}

/// Milliseconds since the Unix epoch (UTC).
pub type Millis = i64;

/// The least confidence of a machine label unless the person sets another: the page's
/// threshold, the CLI's and the Python package's default.
pub const MIN_CONFIDENCE: f64 = 0.6;

/// One record's label.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// Good or bad.
    pub verdict: Verdict,
    /// Who set it.
    pub provenance: Provenance,
    /// In [0, 1]; 1 for human labels.
    pub confidence: f64,
    /// When it was set (whole seconds), when known.
    pub updated_at: Option<Millis>,
    /// The human-labelled records a propagated label came from.
    pub from: Vec<String>,
    /// A person's step mark (human labels only): the first wrong step, or none wrong.
    pub step: Option<StepMark>,
    /// Who set it (human labels only), when the person named themself. A team's consensus
    /// label has none: its votes say who.
    pub annotator: Option<String>,
}

impl Label {
    /// A human label set now (the time is kept to whole seconds, as the label file stores it).
    pub fn human(verdict: Verdict, now: Millis) -> Self {
        Self {
            verdict,
            provenance: Provenance::Human,
            confidence: 1.0,
            updated_at: Some(now.div_euclid(1000) * 1000),
            from: Vec::new(),
            step: None,
            annotator: None,
        }
    }

    /// A person's step mark set now: a wrong step makes the CoT bad, none wrong good.
    pub fn human_step(mark: StepMark, now: Millis) -> Self {
        let verdict = match mark {
            StepMark::WrongAt(_) => Verdict::Bad,
            StepMark::AllFine => Verdict::Good,
        };
        Self {
            step: Some(mark),
            ..Self::human(verdict, now)
        }
    }

    /// A machine label from P(sound) `p`: good at ½ and above, confidence `max(p, 1 − p)`;
    /// `None` below `threshold` (the record stays unlabelled). Time kept to whole seconds.
    pub fn machine(
        p: f64,
        provenance: Provenance,
        threshold: f64,
        now: Millis,
        from: Vec<String>,
    ) -> Option<Self> {
        let confidence = p.max(1.0 - p);
        (confidence >= threshold).then(|| Self {
            verdict: if p >= 0.5 {
                Verdict::Good
            } else {
                Verdict::Bad
            },
            provenance,
            confidence,
            updated_at: Some(now.div_euclid(1000) * 1000),
            from,
            step: None,
            annotator: None,
        })
    }

    /// Whether a person set it (a label of theirs, a team's consensus, or a decision).
    pub fn is_human(&self) -> bool {
        self.provenance.is_human()
    }

    /// This label as `annotator`'s vote (its own annotator first), for a human label.
    fn as_vote(&self, annotator: &str) -> Vote {
        Vote {
            annotator: self
                .annotator
                .clone()
                .unwrap_or_else(|| annotator.to_string()),
            verdict: self.verdict,
            updated_at: self.updated_at,
            step: self.step,
        }
    }
}

/// A judgement that one CoT of a question reasons better than another.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// The question both answer.
    pub question_id: String,
    /// Id of the better CoT.
    pub better: String,
    /// Id of the worse CoT.
    pub worse: String,
    /// Who judged.
    pub provenance: Provenance,
    /// When, when known.
    pub updated_at: Option<Millis>,
}

impl Pair {
    fn key(&self) -> (&str, &str) {
        if self.better <= self.worse {
            (&self.better, &self.worse)
        } else {
            (&self.worse, &self.better)
        }
    }
}

/// What a merge of a label file did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MergeReport {
    /// Labels taken from the file.
    pub applied: usize,
    /// Labels in the file equal to what the store already had.
    pub unchanged: usize,
    /// Human labels in the store kept because they are newer than the file's human label.
    pub kept_newer_human: usize,
    /// Human labels in the store kept over the file's propagated/classifier label.
    pub kept_human: usize,
    /// Ids in the file that name no loaded record (not applied).
    pub unknown_ids: Vec<String>,
    /// Pair judgements taken from the file.
    pub pairs_applied: usize,
}

impl MergeReport {
    /// One line for the page: what was taken and what was kept, and why.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} labels applied", self.applied)];
        if self.unchanged > 0 {
            parts.push(format!("{} already present", self.unchanged));
        }
        if self.kept_newer_human > 0 {
            parts.push(format!(
                "{} of your newer human labels kept over older ones in the file",
                self.kept_newer_human
            ));
        }
        if self.kept_human > 0 {
            parts.push(format!(
                "{} human labels kept over machine labels in the file",
                self.kept_human
            ));
        }
        if !self.unknown_ids.is_empty() {
            let shown: Vec<&str> = self
                .unknown_ids
                .iter()
                .take(3)
                .map(String::as_str)
                .collect();
            parts.push(format!(
                "{} labels skipped: no loaded record has their id ({}{})",
                self.unknown_ids.len(),
                shown.join(", "),
                if self.unknown_ids.len() > 3 {
                    ", …"
                } else {
                    ""
                }
            ));
        }
        if self.pairs_applied > 0 {
            parts.push(format!("{} pair judgements applied", self.pairs_applied));
        }
        parts.join("; ")
    }
}

/// The annotator a human label without a name is counted as when nobody named it (a label
/// file with no `annotator`, merged by the page without a file name to stand for it).
pub const UNNAMED: &str = "unnamed";

/// One annotator's human label on a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    /// Who labelled.
    pub annotator: String,
    /// What they said.
    #[serde(rename = "label")]
    pub verdict: Verdict,
    /// When (whole seconds), when known.
    #[serde(default)]
    pub updated_at: Option<Millis>,
    /// Their step mark, if they marked steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<StepMark>,
}

/// Puts `vote` among a record's votes: one per annotator, the newer one kept (the incoming
/// one when both are as old). Votes stay in annotator order. Returns whether they changed.
pub fn upsert_vote(votes: &mut Vec<Vote>, vote: Vote) -> bool {
    match votes.binary_search_by(|v| v.annotator.as_str().cmp(&vote.annotator)) {
        Ok(i) if votes[i] == vote || votes[i].updated_at > vote.updated_at => false,
        Ok(i) => {
            votes[i] = vote;
            true
        }
        Err(i) => {
            votes.insert(i, vote);
            true
        }
    }
}

/// The verdict a strict majority of the votes gave; `None` on a tie (or with no vote).
pub fn consensus(votes: &[Vote]) -> Option<Verdict> {
    let good = votes.iter().filter(|v| v.verdict == Verdict::Good).count();
    let bad = votes.len() - good;
    match good.cmp(&bad) {
        std::cmp::Ordering::Greater => Some(Verdict::Good),
        std::cmp::Ordering::Less => Some(Verdict::Bad),
        std::cmp::Ordering::Equal => None,
    }
}

/// The step mark of the consensus: among the votes for `verdict` that marked steps, the
/// mark a strict majority of them gave; `None` when they do not agree or none marked.
pub fn consensus_step(votes: &[Vote], verdict: Verdict) -> Option<StepMark> {
    let marks: Vec<StepMark> = votes
        .iter()
        .filter(|v| v.verdict == verdict)
        .filter_map(|v| v.step)
        .collect();
    let mut best: Option<(StepMark, usize)> = None;
    for m in &marks {
        let n = marks.iter().filter(|x| *x == m).count();
        if best.is_none_or(|(_, b)| n > b) {
            best = Some((*m, n));
        }
    }
    best.filter(|&(_, n)| 2 * n > marks.len()).map(|(m, _)| m)
}

/// What a label file brings to a merge (the store reads label files through this, so that
/// it does not depend on the file's format).
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// Labels by record id.
    pub labels: &'a [(String, Label)],
    /// Pair judgements.
    pub pairs: &'a [Pair],
    /// The annotators' votes per record.
    pub votes: &'a [(String, Vec<Vote>)],
}

/// What a merge of several annotators' label files did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TeamMerge {
    /// Label files merged.
    pub files: usize,
    /// The annotators whose votes came in, in name order.
    pub annotators: Vec<String>,
    /// Votes taken (new, or newer than the one kept).
    pub votes: usize,
    /// Records whose votes have a majority: their consensus is their human label.
    pub consensus: usize,
    /// Records with tied votes: unlabelled until a person settles them.
    pub conflicts: usize,
    /// Records a person settled.
    pub adjudicated: usize,
    /// Machine labels in the files, left out (they are recomputed).
    pub machine_skipped: usize,
    /// Ids in the files that name no loaded record (not merged).
    pub unknown_ids: Vec<String>,
}

impl TeamMerge {
    /// One line for the page.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "Merged {} label files from {} annotators ({}): {} votes; {} records with a consensus, {} conflicts to settle",
            self.files,
            self.annotators.len(),
            self.annotators.join(", "),
            self.votes,
            self.consensus,
            self.conflicts
        );
        if self.adjudicated > 0 {
            s.push_str(&format!(", {} settled", self.adjudicated));
        }
        if self.machine_skipped > 0 {
            s.push_str(&format!(
                "; {} machine labels in the files left out (recomputed here)",
                self.machine_skipped
            ));
        }
        if !self.unknown_ids.is_empty() {
            s.push_str(&format!(
                "; {} labels skipped: no loaded record has their id ({})",
                self.unknown_ids.len(),
                self.unknown_ids[0]
            ));
        }
        s
    }
}

/// The annotator a file's unnamed human labels are counted as: the file's name without its
/// folder and extension (`ana.labels.json` → `ana.labels`).
pub fn file_annotator(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = base.strip_suffix(".json").unwrap_or(base);
    if stem.is_empty() {
        UNNAMED.to_string()
    } else {
        stem.to_string()
    }
}

/// Label counts over the loaded records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records labelled good (any provenance).
    pub good: usize,
    /// Records labelled bad (any provenance).
    pub bad: usize,
    /// Records with no label.
    pub unlabelled: usize,
    /// Records with a human label.
    pub human: usize,
}

#[derive(Debug, Clone, Default)]
struct UndoStep {
    what: String,
    labels: Vec<(String, Option<Label>)>,
    pairs: Option<Vec<Pair>>,
    votes: Vec<(String, Option<Vec<Vote>>)>,
}

/// The most human actions that can be undone.
pub const UNDO_DEPTH: usize = 500;

/// Labels by record id, pair judgements, and the undo history.
#[derive(Debug, Clone, Default)]
pub struct LabelStore {
    labels: HashMap<String, Label>,
    pairs: Vec<Pair>,
    undo: Vec<UndoStep>,
    /// Step labels spread from the person's step marks (derived: recomputed from the marks).
    spread: HashMap<String, SpreadStep>,
    /// Each annotator's vote on a record, from merged label files (in annotator order).
    votes: HashMap<String, Vec<Vote>>,
    /// Who labels in this browser: stamped on every human label set here.
    annotator: Option<String>,
}

impl LabelStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The label of a record.
    pub fn get(&self, id: &str) -> Option<&Label> {
        self.labels.get(id)
    }

    /// Number of labelled ids.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no labels and no pairs.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.pairs.is_empty()
    }

    /// The pair judgements, in the order they were made.
    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    /// Each record's human verdict, as propagation takes it: 1 sound, 0 flawed, −1 none
    /// (machine labels count as none).
    pub fn human_rows(&self, dataset: &Dataset) -> Vec<i8> {
        dataset
            .records()
            .iter()
            .map(|r| match self.labels.get(&r.id) {
                Some(l) if l.is_human() => i8::from(l.verdict == Verdict::Good),
                _ => -1,
            })
            .collect()
    }

    /// The person's pair choices as (better, worse) record positions in `dataset`; a pair
    /// naming a record it does not hold is left out.
    pub fn human_pair_rows(&self, dataset: &Dataset) -> Vec<(u32, u32)> {
        self.pairs
            .iter()
            .filter(|p| p.provenance == Provenance::Human)
            .filter_map(|p| {
                let better = dataset.position(&p.better)?;
                let worse = dataset.position(&p.worse)?;
                Some((better as u32, worse as u32))
            })
            .collect()
    }

    fn push_undo(&mut self, step: UndoStep) {
        if self.undo.len() == UNDO_DEPTH {
            self.undo.remove(0);
        }
        self.undo.push(step);
    }

    /// Who labels in this browser (`None`: nobody named).
    pub fn annotator(&self) -> Option<&str> {
        self.annotator.as_deref()
    }

    /// Names who labels in this browser; labels set from now on carry the name.
    pub fn set_annotator(&mut self, name: Option<String>) {
        self.annotator = name.filter(|n| !n.trim().is_empty());
    }

    /// A label a person sets here: with their name, and a decision over the team's votes
    /// where the record has votes.
    fn stamped(&self, id: &str, label: Label) -> Label {
        Label {
            annotator: self.annotator.clone(),
            provenance: if self.votes.contains_key(id) {
                Provenance::Adjudicated
            } else {
                Provenance::Human
            },
            ..label
        }
    }

    /// A person labels a record. Returns false when it already had exactly this human label.
    pub fn set_human(&mut self, id: &str, verdict: Verdict, now: Millis) -> bool {
        let prev = self.labels.get(id);
        let same_decision = !self.votes.contains_key(id)
            || prev.is_some_and(|l| l.provenance == Provenance::Adjudicated);
        if prev.is_some_and(|l| l.is_human() && l.verdict == verdict && same_decision) {
            return false;
        }
        let label = self.stamped(id, Label::human(verdict, now));
        let prev = self.labels.insert(id.to_string(), label);
        self.push_undo(UndoStep {
            what: format!("{} label on {id}", verdict.as_str()),
            labels: vec![(id.to_string(), prev)],
            pairs: None,
            ..UndoStep::default()
        });
        true
    }

    /// A person marks a record's first wrong step (or none wrong). Its label becomes the
    /// human label the mark implies. Returns false when it already had exactly this mark.
    pub fn set_human_step(&mut self, id: &str, mark: StepMark, now: Millis) -> bool {
        if self
            .labels
            .get(id)
            .is_some_and(|l| l.is_human() && l.step == Some(mark))
        {
            return false;
        }
        let label = self.stamped(id, Label::human_step(mark, now));
        let prev = self.labels.insert(id.to_string(), label);
        let what = match mark {
            StepMark::WrongAt(k) => format!("step {} marked wrong on {id}", k + 1),
            StepMark::AllFine => format!("all steps fine on {id}"),
        };
        self.push_undo(UndoStep {
            what,
            labels: vec![(id.to_string(), prev)],
            pairs: None,
            ..UndoStep::default()
        });
        true
    }

    /// A person removes a record's step mark; its human label stays. Returns false when it
    /// had none.
    pub fn clear_step(&mut self, id: &str, now: Millis) -> bool {
        let Some(l) = self.labels.get(id).filter(|l| l.step.is_some()) else {
            return false;
        };
        let next = Label {
            step: None,
            updated_at: Label::human(l.verdict, now).updated_at,
            ..l.clone()
        };
        let prev = self.labels.insert(id.to_string(), next);
        self.push_undo(UndoStep {
            what: format!("clearing the step mark of {id}"),
            labels: vec![(id.to_string(), prev)],
            pairs: None,
            ..UndoStep::default()
        });
        true
    }

    /// The step label spread to a record from the person's marks on its siblings.
    pub fn spread(&self, id: &str) -> Option<&SpreadStep> {
        self.spread.get(id)
    }

    /// Every spread step label.
    pub fn spread_all(&self) -> impl Iterator<Item = (&str, &SpreadStep)> + '_ {
        self.spread.iter().map(|(id, s)| (id.as_str(), s))
    }

    /// Replaces the spread step labels; returns whether they changed.
    pub fn set_spread(&mut self, spread: HashMap<String, SpreadStep>) -> bool {
        if spread == self.spread {
            return false;
        }
        self.spread = spread;
        true
    }

    /// A person clears a record's label (whatever its provenance). Returns false when it had
    /// none.
    pub fn clear(&mut self, id: &str) -> bool {
        let Some(prev) = self.labels.remove(id) else {
            return false;
        };
        self.push_undo(UndoStep {
            what: format!("clearing {id}"),
            labels: vec![(id.to_string(), Some(prev))],
            pairs: None,
            ..UndoStep::default()
        });
        true
    }

    /// A person judges one CoT better than another of the same question.
    pub fn add_human_pair(&mut self, question_id: &str, better: &str, worse: &str, now: Millis) {
        let before = self.pairs.clone();
        let pair = Pair {
            question_id: question_id.to_string(),
            better: better.to_string(),
            worse: worse.to_string(),
            provenance: Provenance::Human,
            updated_at: Some(now.div_euclid(1000) * 1000),
        };
        self.upsert_pair(pair);
        self.push_undo(UndoStep {
            what: format!("{better} over {worse}"),
            labels: vec![],
            pairs: Some(before),
            ..UndoStep::default()
        });
    }

    /// The votes of the team on a record (in annotator order), if it has any.
    pub fn votes(&self, id: &str) -> Option<&[Vote]> {
        self.votes.get(id).map(Vec::as_slice)
    }

    /// Every record with votes, in no particular order.
    pub fn all_votes(&self) -> impl Iterator<Item = (&str, &[Vote])> + '_ {
        self.votes.iter().map(|(id, v)| (id.as_str(), v.as_slice()))
    }

    /// Whether the record's votes are tied and nobody settled them: it counts as unlabelled.
    pub fn is_conflict(&self, id: &str) -> bool {
        self.votes.get(id).is_some_and(|v| consensus(v).is_none())
            && !self.labels.get(id).is_some_and(Label::is_human)
    }

    /// Sets (`Some`) or removes (`None`) a record's votes as the journal or another tab says:
    /// not an undoable action here. Returns whether the store changed.
    pub fn sync_votes(&mut self, id: &str, votes: Option<Vec<Vote>>) -> bool {
        match votes.filter(|v| !v.is_empty()) {
            Some(v) => self.votes.insert(id.to_string(), v.clone()) != Some(v),
            None => self.votes.remove(id).is_some(),
        }
    }

    /// Takes votes (from a label file this browser wrote or restores) alongside what the store
    /// holds: one per annotator per record, the newer kept. Returns the records whose votes
    /// changed, with what they had before.
    fn take_votes(
        &mut self,
        votes: &[(String, Vec<Vote>)],
        known: &impl Fn(&str) -> bool,
    ) -> Vec<(String, Option<Vec<Vote>>)> {
        let mut changed = Vec::new();
        for (id, incoming) in votes.iter().filter(|(id, _)| known(id)) {
            let before = self.votes.get(id).cloned();
            let mut now = before.clone().unwrap_or_default();
            let mut any = false;
            for v in incoming {
                any |= upsert_vote(&mut now, v.clone());
            }
            if any {
                self.votes.insert(id.clone(), now);
                changed.push((id.clone(), before));
            }
        }
        changed
    }

    /// Merges the label files of several annotators, keeping every annotator's labels side
    /// by side as votes (never newest-wins across people), as one undoable step:
    ///
    /// - each file's human labels are votes of their `annotator`, else of the file's name
    ///   (`files[i].0`); votes a merged file carries are taken as they are; its machine
    ///   labels are left out (they are recomputed here);
    /// - this browser's own human labels on records without votes become votes too (of its
    ///   annotator);
    /// - each record with votes then gets the consensus as its human label, or, on a tie,
    ///   no label (a conflict); a person's decision (`adjudicated`, here or in a file; the
    ///   newer) stays over both.
    ///
    /// Ids for which `known` is false are skipped and listed.
    pub fn merge_team(
        &mut self,
        files: &[(&str, Incoming)],
        known: impl Fn(&str) -> bool,
    ) -> TeamMerge {
        let mut report = TeamMerge {
            files: files.len(),
            ..TeamMerge::default()
        };
        let me = self
            .annotator
            .clone()
            .unwrap_or_else(|| UNNAMED.to_string());
        let mut incoming: HashMap<String, Vec<Vote>> = HashMap::default();
        let mut decisions: HashMap<String, Label> = HashMap::default();
        for (id, l) in &self.labels {
            if l.provenance == Provenance::Human && !self.votes.contains_key(id) {
                incoming.entry(id.clone()).or_default().push(l.as_vote(&me));
            }
        }
        for (name, file) in files {
            let stand_in = file_annotator(name);
            let carried: HashMap<&str, &[Vote]> = file
                .votes
                .iter()
                .map(|(id, v)| (id.as_str(), v.as_slice()))
                .collect();
            for (id, l) in file.labels {
                if !known(id) {
                    report.unknown_ids.push(id.clone());
                    continue;
                }
                match l.provenance {
                    Provenance::Adjudicated => {
                        if decisions
                            .get(id)
                            .is_none_or(|d| d.updated_at <= l.updated_at)
                        {
                            decisions.insert(id.clone(), l.clone());
                        }
                    }
                    Provenance::Human if !carried.contains_key(id.as_str()) => incoming
                        .entry(id.clone())
                        .or_default()
                        .push(l.as_vote(&stand_in)),
                    Provenance::Human => {}
                    Provenance::Propagated | Provenance::Classifier => report.machine_skipped += 1,
                }
            }
            for (id, votes) in file.votes {
                if !known(id) {
                    report.unknown_ids.push(id.clone());
                    continue;
                }
                incoming
                    .entry(id.clone())
                    .or_default()
                    .extend(votes.iter().cloned());
            }
        }
        let mut ids: Vec<String> = incoming.keys().chain(decisions.keys()).cloned().collect();
        ids.sort_unstable();
        ids.dedup();
        let mut undo = UndoStep {
            what: format!("merge of {} label files", files.len()),
            ..UndoStep::default()
        };
        let mut annotators = Vec::new();
        for id in ids {
            let before = self.votes.get(&id).cloned();
            let mut votes = before.clone().unwrap_or_default();
            for v in incoming.remove(&id).unwrap_or_default() {
                annotators.push(v.annotator.clone());
                report.votes += usize::from(upsert_vote(&mut votes, v));
            }
            let current = self.labels.get(&id);
            let decision = match (current, decisions.remove(&id)) {
                (Some(c), Some(d)) if c.provenance == Provenance::Adjudicated => {
                    Some(if d.updated_at > c.updated_at {
                        d
                    } else {
                        c.clone()
                    })
                }
                (_, Some(d)) => Some(d),
                (Some(c), None) if c.provenance == Provenance::Adjudicated => Some(c.clone()),
                _ => None,
            };
            let next = decision.or_else(|| {
                let verdict = consensus(&votes)?;
                Some(Label {
                    verdict,
                    provenance: Provenance::Human,
                    confidence: 1.0,
                    updated_at: votes.iter().filter_map(|v| v.updated_at).max(),
                    from: Vec::new(),
                    step: consensus_step(&votes, verdict),
                    annotator: None,
                })
            });
            match &next {
                Some(l) if l.provenance == Provenance::Adjudicated => report.adjudicated += 1,
                Some(_) => report.consensus += 1,
                None => report.conflicts += 1,
            }
            let current = current.cloned();
            let label_changed = match (&current, &next) {
                (Some(c), None) => c.is_human(),
                (c, n) => c.as_ref() != n.as_ref(),
            };
            if label_changed {
                match next {
                    Some(l) => self.labels.insert(id.clone(), l),
                    None => self.labels.remove(&id),
                };
                undo.labels.push((id.clone(), current));
            }
            if before.as_ref() != Some(&votes) {
                self.votes.insert(id.clone(), votes);
                undo.votes.push((id, before));
            }
        }
        annotators.sort_unstable();
        annotators.dedup();
        report.annotators = annotators;
        if !undo.labels.is_empty() || !undo.votes.is_empty() {
            self.push_undo(undo);
        }
        report
    }

    fn upsert_pair(&mut self, pair: Pair) -> bool {
        match self.pairs.iter_mut().find(|p| p.key() == pair.key()) {
            Some(p)
                if p.provenance == Provenance::Human && pair.provenance != Provenance::Human =>
            {
                false
            }
            Some(p) if *p == pair => false,
            Some(p) => {
                *p = pair;
                true
            }
            None => {
                self.pairs.push(pair);
                true
            }
        }
    }

    /// A machine (propagation, classifier) labels a record. Never replaces a human label;
    /// returns whether the label was stored. Not an undoable action.
    pub fn set_machine(&mut self, id: &str, label: Label) -> bool {
        debug_assert!(!label.is_human());
        if self.labels.get(id).is_some_and(Label::is_human) {
            return false;
        }
        let label = Label {
            confidence: label.confidence.clamp(0.0, 1.0),
            ..label
        };
        self.labels.insert(id.to_string(), label);
        true
    }

    /// Puts `label` (`None`: no label) as the record's machine label of `provenance`, in
    /// place: a human label and a machine label of another provenance stay. The same as
    /// [`Self::clear_machine`] then [`Self::set_machine`] for every record, without
    /// dropping and re-inserting every label (propagation does this for each record after
    /// each human label).
    pub fn put_machine(&mut self, id: &str, provenance: Provenance, label: Option<Label>) {
        debug_assert!(provenance != Provenance::Human);
        let clamp = |l: Label| Label {
            confidence: l.confidence.clamp(0.0, 1.0),
            ..l
        };
        match (self.labels.get_mut(id), label) {
            (Some(cur), _) if cur.is_human() || cur.provenance != provenance => {}
            (Some(cur), Some(l)) => *cur = clamp(l),
            (Some(_), None) => {
                self.labels.remove(id);
            }
            (None, Some(l)) => {
                self.labels.insert(id.to_string(), clamp(l));
            }
            (None, None) => {}
        }
    }

    /// Every label, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Label)> + '_ {
        self.labels.iter().map(|(id, l)| (id.as_str(), l))
    }

    /// The human labels, in no particular order.
    pub fn humans(&self) -> impl Iterator<Item = (&str, &Label)> + '_ {
        self.iter().filter(|(_, l)| l.is_human())
    }

    /// Sets (`Some`, a human label) or removes (`None`) a record's human label as the
    /// journal or another tab says: not an undoable action here. Removing leaves a machine
    /// label alone. Returns whether the store changed.
    pub fn sync_human(&mut self, id: &str, label: Option<Label>) -> bool {
        match label {
            Some(l) => {
                debug_assert!(l.is_human());
                self.labels.insert(id.to_string(), l.clone()) != Some(l)
            }
            None if self.labels.get(id).is_some_and(Label::is_human) => {
                self.labels.remove(id);
                true
            }
            None => false,
        }
    }

    /// Replaces the human pair judgements (as the journal or another tab says); machine
    /// pairs stay. Returns whether the store changed.
    pub fn sync_human_pairs(&mut self, pairs: Vec<Pair>) -> bool {
        let human: Vec<&Pair> = self
            .pairs
            .iter()
            .filter(|p| p.provenance == Provenance::Human)
            .collect();
        if human.len() == pairs.len() && human.iter().zip(&pairs).all(|(a, b)| *a == b) {
            return false;
        }
        self.pairs.retain(|p| p.provenance != Provenance::Human);
        for p in pairs {
            self.upsert_pair(p);
        }
        true
    }

    /// The human pair judgements, in the order they were made.
    pub fn human_pairs(&self) -> Vec<Pair> {
        self.pairs
            .iter()
            .filter(|p| p.provenance == Provenance::Human)
            .cloned()
            .collect()
    }

    /// Removes every machine label of one provenance (before a new run of that machine).
    pub fn clear_machine(&mut self, provenance: Provenance) {
        debug_assert!(provenance != Provenance::Human);
        self.labels
            .retain(|_, l| l.is_human() || l.provenance != provenance);
    }

    /// Drops the undo history (after a restore, which is not an action to undo).
    pub fn forget_history(&mut self) {
        self.undo.clear();
    }

    /// Whether there is something to undo.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Undoes the last human action; returns what it was.
    pub fn undo(&mut self) -> Option<String> {
        let step = self.undo.pop()?;
        for (id, prev) in step.labels.into_iter().rev() {
            match prev {
                Some(l) => self.labels.insert(id, l),
                None => self.labels.remove(&id),
            };
        }
        for (id, prev) in step.votes.into_iter().rev() {
            match prev {
                Some(v) => self.votes.insert(id, v),
                None => self.votes.remove(&id),
            };
        }
        if let Some(pairs) = step.pairs {
            self.pairs = pairs;
        }
        Some(step.what)
    }

    /// Merges labels and pairs (from a label file) into the store as one undoable step.
    /// Rules: a human label in the store is kept over a machine label in the file, and over
    /// an older human label in the file (both counted in the report); everything else in the
    /// file is taken. Ids for which `known` is false are skipped and listed.
    pub fn merge(
        &mut self,
        what: &str,
        labels: &[(String, Label)],
        pairs: &[Pair],
        known: impl Fn(&str) -> bool,
    ) -> MergeReport {
        let mut report = MergeReport::default();
        let mut changed = Vec::new();
        for (id, incoming) in labels {
            if !known(id) {
                report.unknown_ids.push(id.clone());
                continue;
            }
            let current = self.labels.get(id);
            match current {
                Some(cur) if cur == incoming => {
                    report.unchanged += 1;
                    continue;
                }
                Some(cur) if cur.is_human() && !incoming.is_human() => {
                    report.kept_human += 1;
                    continue;
                }
                Some(cur) if cur.is_human() && incoming.updated_at < cur.updated_at => {
                    report.kept_newer_human += 1;
                    continue;
                }
                _ => {}
            }
            let prev = self.labels.insert(id.clone(), incoming.clone());
            changed.push((id.clone(), prev));
            report.applied += 1;
        }
        let before = self.pairs.clone();
        for p in pairs {
            if known(&p.better) && known(&p.worse) && self.upsert_pair(p.clone()) {
                report.pairs_applied += 1;
            }
        }
        if !changed.is_empty() || report.pairs_applied > 0 {
            let pairs = (report.pairs_applied > 0).then_some(before);
            self.push_undo(UndoStep {
                what: what.to_string(),
                labels: changed,
                pairs,
                ..UndoStep::default()
            });
        }
        report
    }

    /// Merges a label file (this person's own, or one this browser kept) as
    /// [`Self::merge`] does, with the votes it carries taken alongside the store's.
    pub fn merge_file(
        &mut self,
        what: &str,
        file: Incoming,
        known: impl Fn(&str) -> bool,
    ) -> MergeReport {
        let votes = self.take_votes(file.votes, &known);
        let report = self.merge(what, file.labels, file.pairs, &known);
        if !votes.is_empty() {
            let pushed = report.applied > 0 || report.pairs_applied > 0;
            match self.undo.last_mut() {
                Some(step) if pushed => step.votes = votes,
                _ => self.push_undo(UndoStep {
                    what: what.to_string(),
                    votes,
                    ..UndoStep::default()
                }),
            }
        }
        report
    }

    /// Counts over the records of `dataset`.
    pub fn counts(&self, dataset: &Dataset) -> Counts {
        let mut c = Counts::default();
        for r in dataset.records() {
            match self.labels.get(&r.id) {
                None => c.unlabelled += 1,
                Some(l) => {
                    match l.verdict {
                        Verdict::Good => c.good += 1,
                        Verdict::Bad => c.bad += 1,
                    }
                    if l.is_human() {
                        c.human += 1;
                    }
                }
            }
        }
        c
    }
}

/// A person's step mark on a CoT (it implies the CoT's label: wrong → bad, fine → good).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepMark {
    /// The first wrong step (0-based).
    WrongAt(usize),
    /// No step is wrong.
    AllFine,
}

/// What is known of a CoT's steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepVerdict {
    /// Steps before this one (0-based) are fine; this one is the first wrong one.
    WrongAt(usize),
    /// No step is wrong.
    AllFine,
    /// Steps up to and including this one are fine; nothing is known of the rest.
    FineThrough(usize),
}

/// Written as the label file writes the first wrong step: its index, or `"none"`.
impl Serialize for StepMark {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StepMark::WrongAt(k) => s.serialize_u64(*k as u64),
            StepMark::AllFine => s.serialize_str("none"),
        }
    }
}

impl<'de> Deserialize<'de> for StepMark {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) if s == "none" => Ok(StepMark::AllFine),
            serde_json::Value::Number(n) => n
                .as_u64()
                .and_then(|k| usize::try_from(k).ok())
                .map(StepMark::WrongAt)
                .ok_or_else(|| serde::de::Error::custom(format!("step {n} is not a step index"))),
            other => Err(serde::de::Error::custom(format!(
                "a first wrong step is a step index (0-based) or \"none\", not {other}"
            ))),
        }
    }
}

impl From<StepMark> for StepVerdict {
    fn from(m: StepMark) -> Self {
        match m {
            StepMark::WrongAt(k) => StepVerdict::WrongAt(k),
            StepMark::AllFine => StepVerdict::AllFine,
        }
    }
}

impl StepVerdict {
    /// The state of step `k` (contract §3, `data-state` of `step`): `fine`, `wrong` or
    /// `none` (not known).
    pub fn state_of(self, k: usize) -> &'static str {
        match self {
            StepVerdict::WrongAt(j) if k < j => "fine",
            StepVerdict::WrongAt(j) if k == j => "wrong",
            StepVerdict::WrongAt(_) => "none",
            StepVerdict::AllFine => "fine",
            StepVerdict::FineThrough(j) if k <= j => "fine",
            StepVerdict::FineThrough(_) => "none",
        }
    }

    /// Per-step labels for `steps` steps (TRL stepwise supervision): true before the first
    /// wrong step, false from it on; `None` when the verdict does not say (fine through a
    /// step only), or names a step past the end.
    pub fn step_labels(self, steps: usize) -> Option<Vec<bool>> {
        match self {
            StepVerdict::WrongAt(j) if j < steps => Some((0..steps).map(|k| k < j).collect()),
            StepVerdict::AllFine => Some(vec![true; steps]),
            _ => None,
        }
    }

    /// The index of the earliest wrong step, −1 for none (ProcessBench); `None` when not
    /// known.
    pub fn earliest_wrong(self) -> Option<i64> {
        match self {
            StepVerdict::WrongAt(j) => Some(j as i64),
            StepVerdict::AllFine => Some(-1),
            StepVerdict::FineThrough(_) => None,
        }
    }
}

/// A step label spread from a person's marks on sibling CoTs.
#[derive(Debug, Clone, PartialEq)]
pub struct SpreadStep {
    /// What it says.
    pub verdict: StepVerdict,
    /// In [0, 1].
    pub confidence: f64,
    /// The ids of the marked CoTs it came from.
    pub from: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_labels_from_a_probability() {
        let l = Label::machine(0.2, Provenance::Classifier, 0.6, 12_345, vec![]).unwrap();
        assert_eq!(
            (l.verdict, l.confidence, l.updated_at),
            (Verdict::Bad, 0.8, Some(12_000))
        );
        let g = Label::machine(0.5, Provenance::Propagated, 0.5, 0, vec!["a".into()]).unwrap();
        assert_eq!((g.verdict, g.from.len()), (Verdict::Good, 1));
        assert_eq!(
            Label::machine(0.55, Provenance::Propagated, 0.6, 0, vec![]),
            None
        );
    }
    use crate::core::export::labelfile::LabelFile;
    use proptest::prelude::*;

    const T0: Millis = 1_764_064_692_000; // 2025-11-25T09:58:12Z

    fn machine(verdict: Verdict, confidence: f64) -> Label {
        Label {
            verdict,
            provenance: Provenance::Propagated,
            confidence,
            updated_at: None,
            from: vec!["a".into()],
            step: None,
            annotator: None,
        }
    }

    proptest! {
        /// `put_machine` on every record equals clearing the provenance's labels and
        /// setting the new ones, whatever was there.
        #[test]
        fn put_machine_equals_clear_then_set(
            before in proptest::collection::vec(0u8..5, 8),
            after in proptest::collection::vec(proptest::option::of(0.0f64..1.0), 8),
        ) {
            let label = |p: f64, provenance| Label::machine(p, provenance, 0.0, T0, vec!["h".into()]);
            let mut a = LabelStore::new();
            for (i, b) in before.iter().enumerate() {
                let id = format!("r{i}");
                match b {
                    1 => { a.set_human(&id, Verdict::Good, T0); }
                    2 => { a.set_machine(&id, label(0.9, Provenance::Propagated).unwrap()); }
                    3 => { a.set_machine(&id, label(0.1, Provenance::Classifier).unwrap()); }
                    4 => { a.set_machine(&id, label(1.5, Provenance::Propagated).unwrap()); }
                    _ => {}
                }
            }
            let mut b = a.clone();
            a.clear_machine(Provenance::Propagated);
            for (i, p) in after.iter().enumerate() {
                let id = format!("r{i}");
                if a.get(&id).is_some_and(|l| l.provenance == Provenance::Classifier) {
                    continue;
                }
                if let Some(l) = p.and_then(|p| label(p, Provenance::Propagated)) {
                    a.set_machine(&id, l);
                }
            }
            for (i, p) in after.iter().enumerate() {
                let l = p.and_then(|p| label(p, Provenance::Propagated));
                b.put_machine(&format!("r{i}"), Provenance::Propagated, l);
            }
            let sorted = |s: &LabelStore| {
                let mut v: Vec<(String, Label)> = s.iter().map(|(k, l)| (k.to_string(), l.clone())).collect();
                v.sort_by(|x, y| x.0.cmp(&y.0));
                v
            };
            prop_assert_eq!(sorted(&a), sorted(&b));
        }
    }

    #[test]
    fn human_label_wins_over_machine() {
        let mut s = LabelStore::new();
        assert!(s.set_human("a", Verdict::Good, T0));
        assert!(!s.set_machine("a", machine(Verdict::Bad, 0.9)));
        assert_eq!(s.get("a").unwrap().verdict, Verdict::Good);
        assert!(s.set_machine("b", machine(Verdict::Bad, 0.9)));
        assert!(s.set_human("b", Verdict::Good, T0));
        assert!(s.get("b").unwrap().is_human());
        let by_model = Label {
            provenance: Provenance::Classifier,
            ..machine(Verdict::Good, 0.7)
        };
        assert!(s.set_machine("c", by_model));
        assert!(s.set_machine("d", machine(Verdict::Good, 0.7)));
        s.clear_machine(Provenance::Propagated);
        assert_eq!(s.len(), 3, "humans and the classifier's label stay");
        assert!(s.get("c").is_some() && s.get("d").is_none());
    }

    #[test]
    fn human_label_time_is_whole_seconds() {
        let l = Label::human(Verdict::Bad, T0 + 999);
        assert_eq!(l.updated_at, Some(T0));
        assert_eq!(l.confidence, 1.0);
    }

    #[test]
    fn undo_restores_previous_state_step_by_step() {
        let mut s = LabelStore::new();
        s.set_machine("a", machine(Verdict::Bad, 0.4));
        s.set_human("a", Verdict::Good, T0);
        s.set_human("a", Verdict::Bad, T0 + 1000);
        s.clear("a");
        assert!(s.get("a").is_none());
        assert_eq!(s.undo().as_deref(), Some("clearing a"));
        assert_eq!(s.get("a").unwrap().verdict, Verdict::Bad);
        s.undo();
        assert_eq!(s.get("a").unwrap().verdict, Verdict::Good);
        s.undo();
        assert_eq!(s.get("a"), Some(&machine(Verdict::Bad, 0.4)));
        assert!(!s.can_undo());
        assert_eq!(s.undo(), None);
    }

    #[test]
    fn repeated_label_is_not_an_action() {
        let mut s = LabelStore::new();
        assert!(s.set_human("a", Verdict::Good, T0));
        assert!(!s.set_human("a", Verdict::Good, T0 + 5000));
        s.undo();
        assert!(s.get("a").is_none());
        assert!(!s.clear("a"));
    }

    #[test]
    fn undo_depth_is_bounded() {
        let mut s = LabelStore::new();
        for i in 0..UNDO_DEPTH + 10 {
            s.set_human(&format!("r{i}"), Verdict::Good, T0);
        }
        let mut n = 0;
        while s.undo().is_some() {
            n += 1;
        }
        assert_eq!(n, UNDO_DEPTH);
        assert_eq!(s.len(), 10);
    }

    #[test]
    fn merge_keeps_newer_human_labels_and_reports() {
        let mut s = LabelStore::new();
        s.set_human("new", Verdict::Good, T0 + 60_000);
        s.set_human("old", Verdict::Good, T0);
        s.set_human("h", Verdict::Good, T0);
        let file = vec![
            ("new".to_string(), Label::human(Verdict::Bad, T0)),
            ("old".to_string(), Label::human(Verdict::Bad, T0 + 60_000)),
            ("h".to_string(), machine(Verdict::Bad, 0.99)),
            ("m".to_string(), machine(Verdict::Bad, 0.7)),
            ("ghost".to_string(), Label::human(Verdict::Bad, T0)),
        ];
        let r = s.merge("import", &file, &[], |id| id != "ghost");
        assert_eq!(r.applied, 2);
        assert_eq!(r.kept_newer_human, 1);
        assert_eq!(r.kept_human, 1);
        assert_eq!(r.unknown_ids, vec!["ghost".to_string()]);
        assert_eq!(s.get("new").unwrap().verdict, Verdict::Good);
        assert_eq!(s.get("old").unwrap().verdict, Verdict::Bad);
        assert_eq!(s.get("m").unwrap().verdict, Verdict::Bad);
        assert!(r.summary().contains("1 labels skipped"), "{}", r.summary());
        // the merge is one undoable step
        s.undo();
        assert_eq!(s.get("old").unwrap().verdict, Verdict::Good);
        assert!(s.get("m").is_none());
    }

    #[test]
    fn pairs_dedupe_by_unordered_key_and_undo() {
        let mut s = LabelStore::new();
        s.add_human_pair("q", "a", "b", T0);
        s.add_human_pair("q", "b", "a", T0 + 1000);
        assert_eq!(s.pairs().len(), 1);
        assert_eq!(s.pairs()[0].better, "b");
        s.undo();
        assert_eq!(s.pairs()[0].better, "a");
        let machine_pair = Pair {
            question_id: "q".into(),
            better: "b".into(),
            worse: "a".into(),
            provenance: Provenance::Classifier,
            updated_at: None,
        };
        let r = s.merge("x", &[], &[machine_pair], |_| true);
        assert_eq!(
            r.pairs_applied, 0,
            "a classifier pair never replaces a human one"
        );
    }

    fn three() -> Dataset {
        Dataset::new(
            "d",
            ["r1", "r2", "r3"]
                .iter()
                .map(|id| crate::core::data::tests::record(id, "q", id))
                .collect(),
            None,
        )
    }

    fn named(who: Option<&str>, labels: &[(&str, Verdict)], at: Millis) -> LabelFile {
        let mut s = LabelStore::new();
        s.set_annotator(who.map(str::to_string));
        for (id, v) in labels {
            s.set_human(id, *v, at);
        }
        let ds = three();
        LabelFile::from_store(&ds, &s, at)
    }

    #[test]
    fn team_merge_keeps_every_annotator_and_finds_conflicts() {
        use Verdict::{Bad, Good};
        let ana = named(Some("ana"), &[("r1", Good), ("r2", Bad)], T0);
        let bo = named(Some("bo"), &[("r1", Good), ("r2", Good)], T0);
        let mut chen = named(None, &[("r1", Bad), ("r3", Good)], T0);
        chen.labels.push(("ghost".into(), Label::human(Good, T0)));
        let mut s = LabelStore::new();
        s.set_annotator(Some("dana".into()));
        let r = s.merge_team(
            &[
                ("ana.json", ana.incoming()),
                ("bo.json", bo.incoming()),
                ("labels/chen.json", chen.incoming()),
            ],
            |id| id != "ghost",
        );
        assert_eq!(r.annotators, ["ana", "bo", "chen"]);
        assert_eq!((r.votes, r.consensus, r.conflicts), (6, 2, 1));
        assert_eq!(r.unknown_ids, ["ghost"]);
        assert!(
            r.summary().contains("1 conflicts to settle"),
            "{}",
            r.summary()
        );
        let r1 = s.get("r1").unwrap();
        assert_eq!(
            (r1.verdict, r1.provenance, r1.annotator.as_deref()),
            (Good, Provenance::Human, None)
        );
        assert_eq!(s.votes("r1").unwrap().len(), 3);
        assert!(s.get("r2").is_none() && s.is_conflict("r2"));
        // the same files again change nothing
        let again = s.merge_team(
            &[("ana.json", ana.incoming()), ("bo.json", bo.incoming())],
            |_| true,
        );
        assert_eq!(again.votes, 0);
        // settling the conflict is a decision, with its annotator; undo puts the conflict back
        assert!(s.set_human("r2", Bad, T0 + 5000));
        let d = s.get("r2").unwrap();
        assert_eq!(
            (d.provenance, d.annotator.as_deref()),
            (Provenance::Adjudicated, Some("dana"))
        );
        assert!(!s.is_conflict("r2"));
        assert!(
            !s.set_human("r2", Bad, T0 + 6000),
            "the same decision again"
        );
        s.undo();
        assert!(s.is_conflict("r2"));
        // the merge undoes as one step
        assert_eq!(s.undo().as_deref(), Some("merge of 3 label files"));
        assert!(s.get("r1").is_none() && s.votes("r1").is_none());
    }

    #[test]
    fn a_merged_file_merges_again_the_same_and_keeps_decisions() {
        use Verdict::{Bad, Good};
        let ana = named(Some("ana"), &[("r1", Good), ("r2", Bad)], T0);
        let bo = named(Some("bo"), &[("r1", Bad), ("r2", Bad)], T0);
        let mut lead = LabelStore::new();
        lead.set_annotator(Some("lead".into()));
        lead.set_human("r3", Good, T0); // the merger's own label: a vote of theirs
        lead.merge_team(&[("a", ana.incoming()), ("b", bo.incoming())], |_| true);
        assert_eq!(lead.votes("r3").unwrap()[0].annotator, "lead");
        assert!(lead.is_conflict("r1"));
        lead.set_human("r1", Bad, T0 + 9000);
        let ds = three();
        let merged = LabelFile::from_store(&ds, &lead, T0);
        let mut other = LabelStore::new();
        let r = other.merge_team(&[("merged.json", merged.incoming())], |_| true);
        assert_eq!((r.consensus, r.conflicts, r.adjudicated), (2, 0, 1));
        for id in ["r1", "r2", "r3"] {
            assert_eq!(other.get(id), lead.get(id), "{id}");
            assert_eq!(other.votes(id), lead.votes(id), "{id}");
        }
        // a later vote of bo's turns r2 from bad/bad into a conflict
        let bo2 = named(Some("bo"), &[("r2", Good)], T0 + 60_000);
        other.merge_team(&[("bo2", bo2.incoming())], |_| true);
        assert!(other.is_conflict("r2"));
        assert_eq!(other.get("r1").unwrap().provenance, Provenance::Adjudicated);
    }

    #[test]
    fn unnamed_files_stand_for_their_name() {
        assert_eq!(file_annotator("shares/ana.json"), "ana");
        assert_eq!(file_annotator("C:\\x\\bo.labels.json"), "bo.labels");
        assert_eq!(file_annotator(".json"), UNNAMED);
    }

    proptest! {
        /// Whatever sequence of actions, a human label is never replaced by a machine label,
        /// confidences stay in [0, 1], and undoing every step returns to the empty store.
        #[test]
        fn actions_keep_invariants(ops in prop::collection::vec((0u8..4, 0usize..5, any::<bool>(), -1.0f64..2.0), 0..60)) {
            let mut s = LabelStore::new();
            let mut human_actions = 0;
            for (op, id, good, conf) in ops {
                let id = format!("r{id}");
                let v = if good { Verdict::Good } else { Verdict::Bad };
                let before = s.get(&id).cloned();
                match op {
                    0 => { if s.set_human(&id, v, T0) { human_actions += 1; } }
                    1 => { if s.clear(&id) { human_actions += 1; } }
                    _ => {
                        s.set_machine(&id, machine(v, conf));
                        if let Some(b) = before.filter(Label::is_human) {
                            prop_assert_eq!(s.get(&id), Some(&b));
                        }
                    }
                }
                for l in s.labels.values() {
                    prop_assert!((0.0..=1.0).contains(&l.confidence));
                }
            }
            for _ in 0..human_actions { prop_assert!(s.undo().is_some()); }
            prop_assert!(!s.can_undo());
            prop_assert!(s.labels.values().all(|l| !l.is_human()));
        }
    }
}
