//! The label journal: every human change is written as its own small entry when it is made
//! (never a rewrite of the whole label file), so that a label given just before the tab
//! closes is kept; tabs on the same data set exchange the same entries and merge them by
//! time, so they never write over each other's labels.
//!
//! - A [`Journal`] sits beside a [`LabelStore`]: [`Journal::record`] turns what a person
//!   changed since the last call into entries (label set, label cleared, pair judgements),
//!   [`Journal::apply`] takes entries from another tab or from storage.
//! - Every entry carries a [`Stamp`] (time in ms, tab, sequence): for each record the
//!   entry with the greatest stamp wins (last writer wins), whatever the order the entries
//!   arrive in. A cleared label is an entry too (a tombstone), so a clear in one tab is not
//!   undone by an older label from another.
//! - [`compact`] folds a stored label file (the snapshot) and entries into a new snapshot;
//!   the page does this in one storage transaction and then deletes those entries.
//!
//! Stored keys sort as their stamps do ([`Entry::key`]).

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

use crate::core::data::Dataset;
use crate::core::export::labelfile::LabelFile;
use crate::core::labels::StepMark;
use crate::core::labels::Vote;
use crate::core::labels::{Label, LabelStore, Millis, Pair, Provenance, Verdict};

/// Orders human changes: later time first, then tab, then the tab's own sequence.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Stamp {
    /// Milliseconds since the Unix epoch when the change was made.
    pub at: Millis,
    /// The tab that made it (random per tab; 0 for labels read from a label file).
    pub tab: u32,
    /// The tab's own count of its entries.
    pub seq: u64,
}

/// One human change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Change {
    /// A record's human label: set (`verdict`) or cleared (`verdict` null).
    Label {
        /// Record id.
        id: String,
        /// The label, or `None` when the person cleared it.
        verdict: Option<Verdict>,
        /// The label's own time (whole seconds, as the label file keeps it).
        #[serde(default)]
        updated_at: Option<Millis>,
        /// The person's step mark with it: the first wrong step, or `"none"` wrong.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<StepMark>,
        /// Who set it, when named.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        annotator: Option<String>,
        /// A decision over the team's votes (provenance `adjudicated`), or a team's
        /// consensus or a person's own label (`human`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        adjudicated: bool,
    },
    /// A record's votes of the team, all of them (empty: none).
    Votes {
        /// Record id.
        id: String,
        /// One per annotator, in annotator order.
        votes: Vec<Vote>,
    },
    /// The person's pair judgements, all of them (they are few).
    Pairs {
        /// Judgements in the order they were made.
        pairs: Vec<PairEntry>,
    },
}

/// A human pair judgement in an entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairEntry {
    /// The question both CoTs answer.
    pub question_id: String,
    /// Id of the better CoT.
    pub better: String,
    /// Id of the worse CoT.
    pub worse: String,
    /// When it was judged.
    #[serde(default)]
    pub updated_at: Option<Millis>,
}

impl PairEntry {
    fn of(p: &Pair) -> Self {
        Self {
            question_id: p.question_id.clone(),
            better: p.better.clone(),
            worse: p.worse.clone(),
            updated_at: p.updated_at,
        }
    }

    fn pair(&self) -> Pair {
        Pair {
            question_id: self.question_id.clone(),
            better: self.better.clone(),
            worse: self.worse.clone(),
            provenance: Provenance::Human,
            updated_at: self.updated_at,
        }
    }
}

/// A journal entry: a stamp and a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When and where the change was made.
    #[serde(flatten)]
    pub stamp: Stamp,
    /// What changed.
    #[serde(flatten)]
    pub change: Change,
}

/// Prefix of every journal key of the data set with this fingerprint.
pub fn key_prefix(fingerprint: &str) -> String {
    format!("journal:{fingerprint}:")
}

impl Entry {
    /// Its storage key: `journal:<fingerprint>:<at>:<tab>:<seq>`, fixed-width, so that keys
    /// sort as stamps do.
    pub fn key(&self, fingerprint: &str) -> String {
        let s = self.stamp;
        format!(
            "{}{:015}:{:08x}:{:012}",
            key_prefix(fingerprint),
            s.at.max(0),
            s.tab,
            s.seq
        )
    }

    /// As stored and sent between tabs.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain data")
    }

    /// Reads a stored or received entry.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("unreadable journal entry: {e}"))
    }
}

/// What a tab knows of the human labels: the state it last wrote or took, and the stamp of
/// the change that made each record's human label what it is.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    tab: u32,
    seq: u64,
    clock: HashMap<String, Stamp>,
    pairs_clock: Stamp,
    seen: HashMap<String, Label>,
    seen_pairs: Vec<Pair>,
    votes_clock: HashMap<String, Stamp>,
    seen_votes: HashMap<String, Vec<Vote>>,
}

impl Journal {
    /// A journal for `tab` over the labels `store` holds now (read from storage: they are
    /// not changes). Their stamps are their own times from tab 0, so that any change made
    /// after them wins.
    pub fn new(tab: u32, store: &LabelStore) -> Self {
        let mut clock = HashMap::default();
        let mut seen = HashMap::default();
        for (id, l) in store.humans() {
            clock.insert(
                id.to_string(),
                Stamp {
                    at: l.updated_at.unwrap_or(0),
                    tab: 0,
                    seq: 0,
                },
            );
            seen.insert(id.to_string(), l.clone());
        }
        let seen_pairs = store.human_pairs();
        let pairs_clock = Stamp {
            at: seen_pairs
                .iter()
                .filter_map(|p| p.updated_at)
                .max()
                .unwrap_or(0),
            tab: 0,
            seq: 0,
        };
        let mut votes_clock = HashMap::default();
        let mut seen_votes = HashMap::default();
        for (id, v) in store.all_votes() {
            let at = v.iter().filter_map(|v| v.updated_at).max().unwrap_or(0);
            votes_clock.insert(id.to_string(), Stamp { at, tab: 0, seq: 0 });
            seen_votes.insert(id.to_string(), v.to_vec());
        }
        Self {
            tab,
            seq: 0,
            clock,
            pairs_clock,
            seen,
            seen_pairs,
            votes_clock,
            seen_votes,
        }
    }

    /// This tab's number.
    pub fn tab(&self) -> u32 {
        self.tab
    }

    fn stamp(&mut self, now: Millis) -> Stamp {
        self.seq += 1;
        Stamp {
            at: now,
            tab: self.tab,
            seq: self.seq,
        }
    }

    /// The human changes in `store` since the last call (or since [`Journal::new`]), as
    /// entries stamped `now`, in id order. Empty when a person changed nothing.
    pub fn record(&mut self, store: &LabelStore, now: Millis) -> Vec<Entry> {
        let mut changes: Vec<(String, Option<Label>)> = store
            .humans()
            .filter(|(id, l)| self.seen.get(*id) != Some(*l))
            .map(|(id, l)| (id.to_string(), Some(l.clone())))
            .collect();
        changes.extend(
            self.seen
                .keys()
                .filter(|id| !store.get(id).is_some_and(Label::is_human))
                .map(|id| (id.clone(), None)),
        );
        changes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::with_capacity(changes.len() + 1);
        // votes first: a label that settles them comes after them, as it was made
        let mut voted: Vec<(String, Vec<Vote>)> = store
            .all_votes()
            .filter(|(id, v)| self.seen_votes.get(*id).map(Vec::as_slice) != Some(*v))
            .map(|(id, v)| (id.to_string(), v.to_vec()))
            .collect();
        voted.extend(
            self.seen_votes
                .keys()
                .filter(|id| store.votes(id).is_none())
                .map(|id| (id.clone(), Vec::new())),
        );
        voted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (id, votes) in voted {
            let stamp = self.stamp(now);
            self.votes_clock.insert(id.clone(), stamp);
            if votes.is_empty() {
                self.seen_votes.remove(&id);
            } else {
                self.seen_votes.insert(id.clone(), votes.clone());
            }
            out.push(Entry {
                stamp,
                change: Change::Votes { id, votes },
            });
        }
        for (id, label) in changes {
            let stamp = self.stamp(now);
            self.clock.insert(id.clone(), stamp);
            let verdict = label.as_ref().map(|l| l.verdict);
            let updated_at = label.as_ref().and_then(|l| l.updated_at);
            let step = label.as_ref().and_then(|l| l.step);
            let annotator = label.as_ref().and_then(|l| l.annotator.clone());
            let adjudicated = label
                .as_ref()
                .is_some_and(|l| l.provenance == Provenance::Adjudicated);
            match label {
                Some(l) => self.seen.insert(id.clone(), l),
                None => self.seen.remove(&id),
            };
            out.push(Entry {
                stamp,
                change: Change::Label {
                    id,
                    verdict,
                    updated_at,
                    step,
                    annotator,
                    adjudicated,
                },
            });
        }
        let pairs = store.human_pairs();
        if pairs != self.seen_pairs {
            let stamp = self.stamp(now);
            self.pairs_clock = stamp;
            out.push(Entry {
                stamp,
                change: Change::Pairs {
                    pairs: pairs.iter().map(PairEntry::of).collect(),
                },
            });
            self.seen_pairs = pairs;
        }
        out
    }

    /// Takes entries made elsewhere (another tab, or storage): for each record the change
    /// with the greatest stamp wins, whatever the order they come in. Entries are not
    /// recorded again. Returns how many changed the store.
    pub fn apply(&mut self, store: &mut LabelStore, entries: &[Entry]) -> usize {
        let mut sorted: Vec<&Entry> = entries.iter().collect();
        sorted.sort_by_key(|e| e.stamp);
        let mut changed = 0;
        for e in sorted {
            match &e.change {
                Change::Label {
                    id,
                    verdict,
                    updated_at,
                    step,
                    annotator,
                    adjudicated,
                } => {
                    if self.clock.get(id).is_some_and(|c| *c >= e.stamp) {
                        continue;
                    }
                    self.clock.insert(id.clone(), e.stamp);
                    let label = verdict.map(|v| Label {
                        verdict: v,
                        provenance: if *adjudicated {
                            Provenance::Adjudicated
                        } else {
                            Provenance::Human
                        },
                        confidence: 1.0,
                        updated_at: *updated_at,
                        from: Vec::new(),
                        step: *step,
                        annotator: annotator.clone(),
                    });
                    match &label {
                        Some(l) => self.seen.insert(id.clone(), l.clone()),
                        None => self.seen.remove(id),
                    };
                    changed += usize::from(store.sync_human(id, label));
                }
                Change::Votes { id, votes } => {
                    if self.votes_clock.get(id).is_some_and(|c| *c >= e.stamp) {
                        continue;
                    }
                    self.votes_clock.insert(id.clone(), e.stamp);
                    if votes.is_empty() {
                        self.seen_votes.remove(id);
                    } else {
                        self.seen_votes.insert(id.clone(), votes.clone());
                    }
                    changed += usize::from(store.sync_votes(id, Some(votes.clone())));
                }
                Change::Pairs { pairs } => {
                    if self.pairs_clock >= e.stamp {
                        continue;
                    }
                    self.pairs_clock = e.stamp;
                    changed += usize::from(
                        store.sync_human_pairs(pairs.iter().map(PairEntry::pair).collect()),
                    );
                    self.seen_pairs = store.human_pairs();
                }
            }
        }
        changed
    }
}

/// The labels of a stored snapshot with entries folded in, as a new snapshot: human labels
/// and pairs by the rules of [`Journal::apply`]; machine labels from `machine` when given
/// (the tab's latest), else the snapshot's. Labels of records not in `dataset` are dropped,
/// as in every label file cotlabel writes.
pub fn compact(
    dataset: &Dataset,
    snapshot: Option<&LabelFile>,
    entries: &[Entry],
    machine: Option<&LabelStore>,
    now: Millis,
) -> LabelFile {
    let mut store = LabelStore::new();
    if let Some(f) = snapshot {
        store.merge_file("snapshot", f.incoming(), |id| {
            dataset.position(id).is_some()
        });
        store.forget_history();
    }
    Journal::new(0, &store).apply(&mut store, entries);
    if let Some(m) = machine {
        store.clear_machine(Provenance::Propagated);
        store.clear_machine(Provenance::Classifier);
        for (id, l) in m.iter().filter(|(_, l)| !l.is_human()) {
            store.set_machine(id, l.clone());
        }
    }
    LabelFile::from_store(dataset, &store, now)
}

/// What storage holds for one data set's labels: the snapshot label file and the journal
/// entries as `(key, JSON)`, in key order.
#[derive(Debug, Default)]
pub struct StoredLabels {
    /// The snapshot label file.
    pub snapshot: Option<String>,
    /// Journal entries as `(key, JSON)`, in key order.
    pub entries: Vec<(String, String)>,
}

/// How to rewrite them: a new snapshot, the old one kept aside (it could not be read),
/// and the journal keys the new snapshot holds.
#[derive(Debug, Default)]
pub struct Rewrite {
    /// The new snapshot.
    pub snapshot: String,
    /// Text to keep aside (stored under `unreadable-labels:<fingerprint>:<time>`).
    pub quarantine: Option<String>,
    /// Journal keys to delete.
    pub delete: Vec<String>,
}

/// What a fold found.
#[derive(Debug, Clone, Default)]
pub struct Folded {
    /// The stored labels with the journal folded in (`exported_at`: their last change, or
    /// now when machine labels were folded in).
    pub file: Option<LabelFile>,
    /// What could not be read (kept aside, never deleted), for the page.
    pub problems: Vec<String>,
}

/// Folds what storage holds into a new snapshot ([`compact`]), and says how to rewrite
/// storage: never, on a restore with nothing to fold (`always` false); else the new
/// snapshot, the unreadable old one kept aside, and the keys of the entries it holds. An
/// unreadable entry is reported and left where it is. `machine`: the tab's machine labels.
pub fn fold(
    dataset: &Dataset,
    stored: StoredLabels,
    machine: Option<&LabelStore>,
    now: Millis,
    always: bool,
) -> (Option<Rewrite>, Folded) {
    let mut problems = Vec::new();
    let mut quarantine = None;
    let snapshot = stored
        .snapshot
        .and_then(|text| match LabelFile::parse("saved labels", &text) {
            Ok(f) => Some(f),
            Err(e) => {
                problems.push(format!(
                    "The labels saved in this browser could not be read ({}); they were kept aside, not deleted.",
                    e[0]
                ));
                quarantine = Some(text);
                None
            }
        });
    let mut entries = Vec::with_capacity(stored.entries.len());
    let mut delete = Vec::with_capacity(stored.entries.len());
    for (key, text) in stored.entries {
        match Entry::parse(&text) {
            Ok(e) => {
                entries.push(e);
                delete.push(key);
            }
            Err(e) => problems.push(format!("A saved label change ({key}) is unreadable: {e}")),
        }
    }
    let latest = latest(&entries).max(snapshot.as_ref().and_then(|f| f.exported_at));
    let has_any = snapshot.is_some() || !entries.is_empty();
    // the snapshot's time says when its labels last changed
    let at = if machine.is_some() {
        now
    } else {
        latest.unwrap_or(now)
    };
    let file = has_any.then(|| compact(dataset, snapshot.as_ref(), &entries, machine, at));
    let rewrite = match &file {
        Some(f) if always || !entries.is_empty() || quarantine.is_some() => Some(Rewrite {
            snapshot: f.to_json(),
            quarantine,
            delete,
        }),
        _ if always && machine.is_some_and(|m| !m.is_empty()) => Some(Rewrite {
            snapshot: compact(dataset, None, &[], machine, now).to_json(),
            quarantine: None,
            delete: Vec::new(),
        }),
        _ => None,
    };
    (rewrite, Folded { file, problems })
}

/// The latest time among entries (the last change kept in storage).
pub fn latest(entries: &[Entry]) -> Option<Millis> {
    entries.iter().map(|e| e.stamp.at).max()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::data::tests::record;

    const T: Millis = 1_764_000_000_000;

    fn dataset(n: usize) -> Dataset {
        let records = (0..n)
            .map(|i| {
                record(
                    &format!("r{i}"),
                    &format!("q{}", i / 2),
                    &format!("cot {i}"),
                )
            })
            .collect();
        Dataset::new("d.jsonl", records, None)
    }

    fn human(store: &LabelStore) -> Vec<(String, &'static str)> {
        let mut v: Vec<(String, &'static str)> = store
            .humans()
            .map(|(id, l)| (id.to_string(), l.verdict.as_str()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn record_writes_each_change_once_with_tombstones() {
        let mut s = LabelStore::new();
        let mut j = Journal::new(7, &s);
        assert!(j.record(&s, T).is_empty());
        s.set_human("a", Verdict::Good, T);
        s.set_human("b", Verdict::Bad, T);
        let e = j.record(&s, T + 5);
        assert_eq!(e.len(), 2);
        assert!(
            matches!(&e[0].change, Change::Label { id, verdict: Some(Verdict::Good), .. } if id == "a")
        );
        assert_eq!(
            e[0].stamp,
            Stamp {
                at: T + 5,
                tab: 7,
                seq: 1
            }
        );
        assert_eq!(e[1].stamp.seq, 2);
        assert!(j.record(&s, T + 6).is_empty(), "nothing new");
        // a clear is a tombstone; an undo of it writes the label again
        s.clear("a");
        let e = j.record(&s, T + 7);
        assert!(
            matches!(&e[..], [Entry { change: Change::Label { id, verdict: None, .. }, .. }] if id == "a")
        );
        s.undo();
        let e = j.record(&s, T + 8);
        assert!(matches!(
            &e[..],
            [Entry {
                change: Change::Label {
                    verdict: Some(Verdict::Good),
                    ..
                },
                ..
            }]
        ));
        // a machine label is not a human change
        s.set_machine(
            "c",
            Label::machine(0.9, Provenance::Propagated, 0.5, T, vec![]).unwrap(),
        );
        assert!(j.record(&s, T + 9).is_empty());
        // pairs: the whole human list
        s.add_human_pair("q", "a", "b", T);
        let e = j.record(&s, T + 10);
        assert!(
            matches!(&e[..], [Entry { change: Change::Pairs { pairs }, .. }] if pairs.len() == 1)
        );
    }

    #[test]
    fn entries_round_trip_and_keys_sort_as_stamps() {
        let e = Entry {
            stamp: Stamp {
                at: T,
                tab: 0xabc,
                seq: 3,
            },
            change: Change::Label {
                id: "x:1".into(),
                verdict: Some(Verdict::Bad),
                updated_at: Some(T - 1000),
                step: None,
                annotator: None,
                adjudicated: false,
            },
        };
        assert_eq!(Entry::parse(&e.to_json()).unwrap(), e);
        let t = Entry {
            stamp: Stamp {
                at: T,
                tab: 1,
                seq: 1,
            },
            change: Change::Label {
                id: "y".into(),
                verdict: None,
                updated_at: None,
                step: None,
                annotator: None,
                adjudicated: false,
            },
        };
        assert_eq!(Entry::parse(&t.to_json()).unwrap(), t);
        assert!(t.to_json().contains("\"verdict\":null"));
        let mut stamps = [
            Stamp {
                at: T + 1,
                tab: 0,
                seq: 0,
            },
            Stamp {
                at: T,
                tab: 2,
                seq: 1,
            },
            Stamp {
                at: T,
                tab: 1,
                seq: 10,
            },
            Stamp {
                at: T,
                tab: 1,
                seq: 9,
            },
            Stamp {
                at: 999,
                tab: 0xffff_ffff,
                seq: 1,
            },
        ];
        let key = |s: Stamp| {
            Entry {
                stamp: s,
                change: t.change.clone(),
            }
            .key("fp")
        };
        let mut keys: Vec<String> = stamps.iter().map(|&s| key(s)).collect();
        stamps.sort();
        keys.sort();
        assert_eq!(keys, stamps.iter().map(|&s| key(s)).collect::<Vec<_>>());
        assert!(keys[0].starts_with(&key_prefix("fp")));
        assert!(Entry::parse("{\"kind\":\"label\"}").is_err());
    }

    #[test]
    fn two_tabs_converge_on_the_newer_label_whatever_the_delivery_order() {
        let (mut a, mut b) = (LabelStore::new(), LabelStore::new());
        let (mut ja, mut jb) = (Journal::new(1, &a), Journal::new(2, &b));
        a.set_human("x", Verdict::Good, T);
        let ea = ja.record(&a, T);
        b.set_human("x", Verdict::Bad, T + 10);
        b.set_human("y", Verdict::Good, T + 10);
        let eb = jb.record(&b, T + 10);
        // B hears A's older label after its own: keeps its own
        assert_eq!(jb.apply(&mut b, &ea), 0);
        assert_eq!(jb.apply(&mut b, &ea), 0, "idempotent");
        // A hears B's: takes the newer one
        assert_eq!(ja.apply(&mut a, &eb), 2);
        assert_eq!(human(&a), human(&b));
        assert_eq!(human(&a), vec![("x".into(), "bad"), ("y".into(), "good")]);
        // what was applied is not written again
        assert!(ja.record(&a, T + 20).is_empty());
        // a tie in time: the greater tab wins on both sides
        a.set_human("z", Verdict::Good, T + 30);
        b.set_human("z", Verdict::Bad, T + 30);
        let (ea, eb) = (ja.record(&a, T + 30), jb.record(&b, T + 30));
        ja.apply(&mut a, &eb);
        jb.apply(&mut b, &ea);
        assert_eq!(human(&a), human(&b));
        assert_eq!(a.get("z").unwrap().verdict, Verdict::Bad);
    }

    #[test]
    fn step_marks_travel_to_the_other_tab_and_through_storage() {
        let (mut a, mut b) = (LabelStore::new(), LabelStore::new());
        let (mut ja, mut jb) = (Journal::new(1, &a), Journal::new(2, &b));
        a.set_human("x", Verdict::Bad, T);
        ja.record(&a, T);
        // a step mark on an already bad CoT is a change of its own
        a.set_human_step("x", StepMark::WrongAt(3), T + 10);
        let e = ja.record(&a, T + 10);
        assert_eq!(e.len(), 1);
        let text = serde_json::to_string(&e[0]).unwrap();
        assert!(text.contains("\"step\":3"), "{text}");
        let back: Entry = serde_json::from_str(&text).unwrap();
        assert_eq!(jb.apply(&mut b, &[back]), 1);
        assert_eq!(b.get("x"), a.get("x"));
        assert_eq!(b.get("x").unwrap().step, Some(StepMark::WrongAt(3)));
        // entries written before step marks existed still read (no `step`)
        let old = text.replace(",\"step\":3", "");
        let old: Entry = serde_json::from_str(&old).unwrap();
        assert!(matches!(old.change, Change::Label { step: None, .. }));
    }

    #[test]
    fn votes_names_and_decisions_travel_to_the_other_tab_and_through_storage() {
        let ds = dataset(4);
        let mut ana = LabelStore::new();
        ana.set_annotator(Some("ana".into()));
        ana.set_human("r0", Verdict::Good, T);
        ana.set_human("r1", Verdict::Good, T);
        let mut bo = LabelStore::new();
        bo.set_annotator(Some("bo".into()));
        bo.set_human("r0", Verdict::Bad, T);
        let (fa, fb) = (
            LabelFile::from_store(&ds, &ana, T),
            LabelFile::from_store(&ds, &bo, T),
        );
        let (mut a, mut b) = (LabelStore::new(), LabelStore::new());
        let (mut ja, mut jb) = (Journal::new(1, &a), Journal::new(2, &b));
        a.merge_team(&[("ana", fa.incoming()), ("bo", fb.incoming())], |_| true);
        a.set_annotator(Some("dana".into()));
        a.set_human("r0", Verdict::Bad, T + 1000); // settles the conflict
        let entries = ja.record(&a, T + 1000);
        // votes of r0 and r1, then the labels of r0 (a decision) and r1 (the consensus)
        assert_eq!(entries.len(), 4, "{entries:?}");
        let text: Vec<String> = entries.iter().map(Entry::to_json).collect();
        assert!(
            text[2].contains("\"annotator\":\"dana\"") && text[2].contains("\"adjudicated\":true"),
            "{}",
            text[2]
        );
        let back: Vec<Entry> = text.iter().map(|t| Entry::parse(t).unwrap()).collect();
        assert_eq!(jb.apply(&mut b, &back), 4);
        for id in ["r0", "r1"] {
            assert_eq!(b.get(id), a.get(id), "{id}");
            assert_eq!(b.votes(id), a.votes(id), "{id}");
        }
        assert_eq!(b.get("r0").unwrap().provenance, Provenance::Adjudicated);
        // and through storage: the snapshot folds them in
        let folded = compact(&ds, None, &back, None, T + 2000);
        assert_eq!(folded.votes.len(), 2);
        let mut c = LabelStore::new();
        c.merge_file("restore", folded.incoming(), |_| true);
        assert_eq!(c.get("r0"), a.get("r0"));
        assert_eq!(c.votes("r0"), a.votes("r0"));
        // undoing the decision is a change the journal writes too
        a.undo();
        let e = ja.record(&a, T + 3000);
        assert!(
            matches!(
                &e[..],
                [Entry {
                    change: Change::Label { verdict: None, .. },
                    ..
                }]
            ),
            "{e:?}"
        );
        assert!(a.is_conflict("r0"));
    }

    #[test]
    fn a_clear_in_one_tab_beats_an_older_label_from_another() {
        let (mut a, mut b) = (LabelStore::new(), LabelStore::new());
        let (mut ja, mut jb) = (Journal::new(1, &a), Journal::new(2, &b));
        a.set_human("x", Verdict::Good, T);
        let e1 = ja.record(&a, T);
        jb.apply(&mut b, &e1);
        b.clear("x");
        let e2 = jb.record(&b, T + 5);
        // delivered in reverse: the tombstone first, then the older label
        let mut c = LabelStore::new();
        let mut jc = Journal::new(3, &c);
        jc.apply(&mut c, &e2);
        jc.apply(&mut c, &e1);
        assert!(c.get("x").is_none());
        ja.apply(&mut a, &e2);
        assert!(a.get("x").is_none());
        // a machine label under a tombstone stays
        let mut d = LabelStore::new();
        d.set_machine(
            "x",
            Label::machine(0.9, Provenance::Propagated, 0.5, T, vec![]).unwrap(),
        );
        Journal::new(4, &d).apply(&mut d, &e2);
        assert!(d.get("x").is_some_and(|l| !l.is_human()));
    }

    #[test]
    fn compact_folds_entries_into_the_snapshot_and_keeps_newer_snapshot_labels() {
        let ds = dataset(6);
        let mut s = LabelStore::new();
        s.set_human("r0", Verdict::Good, T);
        s.set_human("r1", Verdict::Bad, T);
        s.set_machine(
            "r2",
            Label::machine(0.8, Provenance::Propagated, 0.5, T, vec!["r0".into()]).unwrap(),
        );
        let snapshot = LabelFile::from_store(&ds, &s, T);
        let mut j = Journal::new(9, &s);
        s.set_human("r3", Verdict::Good, T + 2000);
        s.clear("r1");
        s.add_human_pair("q0", "r0", "r1", T + 2000);
        let entries = j.record(&s, T + 2000);
        // an old entry from before the snapshot's label does not undo it
        let old = Entry {
            stamp: Stamp {
                at: T - 5000,
                tab: 3,
                seq: 1,
            },
            change: Change::Label {
                id: "r0".into(),
                verdict: Some(Verdict::Bad),
                updated_at: Some(T - 5000),
                step: None,
                annotator: None,
                adjudicated: false,
            },
        };
        let mut all = entries.clone();
        all.push(old);
        let f = compact(&ds, Some(&snapshot), &all, None, T + 3000);
        let ids: Vec<(&str, Verdict, Provenance)> = f
            .labels
            .iter()
            .map(|(id, l)| (id.as_str(), l.verdict, l.provenance))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("r0", Verdict::Good, Provenance::Human),
                ("r2", Verdict::Good, Provenance::Propagated),
                ("r3", Verdict::Good, Provenance::Human),
            ]
        );
        assert_eq!(f.pairs.len(), 1);
        // the tab's machine labels replace the snapshot's
        let mut m = LabelStore::new();
        m.set_machine(
            "r4",
            Label::machine(0.1, Provenance::Classifier, 0.5, T, vec![]).unwrap(),
        );
        let f = compact(&ds, Some(&snapshot), &all, Some(&m), T + 3000);
        let ids: Vec<&str> = f.labels.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, vec!["r0", "r3", "r4"]);
        // compacting the result again with no entries changes nothing but the time
        let again = compact(&ds, Some(&f), &[], None, T + 3000);
        assert_eq!(again, f);
        assert_eq!(latest(&entries), Some(T + 2000));
    }

    #[test]
    fn fold_rewrites_only_what_needs_it_and_keeps_what_it_cannot_read() {
        let ds = dataset(4);
        // nothing stored: nothing to write
        let (w, f) = fold(&ds, StoredLabels::default(), None, T, false);
        assert!(w.is_none() && f.file.is_none() && f.problems.is_empty());
        // a snapshot alone is read, not rewritten
        let mut s = LabelStore::new();
        s.set_human("r0", Verdict::Good, T);
        let snap = LabelFile::from_store(&ds, &s, T).to_json();
        let stored = |entries: Vec<(String, String)>, snapshot: Option<String>| StoredLabels {
            snapshot,
            entries,
        };
        let (w, f) = fold(
            &ds,
            stored(vec![], Some(snap.clone())),
            None,
            T + 9000,
            false,
        );
        assert!(w.is_none());
        assert_eq!(f.file.as_ref().unwrap().labels.len(), 1);
        assert_eq!(f.file.unwrap().exported_at, Some(T));
        // entries are folded in, their keys deleted; an unreadable one is kept and reported
        let mut j = Journal::new(5, &s);
        s.set_human("r1", Verdict::Bad, T + 2000);
        let e = j.record(&s, T + 2000);
        let entries = vec![
            (e[0].key("fp"), e[0].to_json()),
            ("journal:fp:broken".to_string(), "{".to_string()),
        ];
        let (w, f) = fold(
            &ds,
            stored(entries, Some(snap.clone())),
            None,
            T + 9000,
            false,
        );
        let w = w.expect("a rewrite");
        assert_eq!(w.delete, vec![e[0].key("fp")]);
        assert!(w.quarantine.is_none());
        assert_eq!(f.problems.len(), 1, "{:?}", f.problems);
        assert!(f.problems[0].contains("journal:fp:broken"));
        let written = LabelFile::parse("x", &w.snapshot).unwrap();
        assert_eq!(written.labels.len(), 2);
        assert_eq!(
            written.exported_at,
            Some(T + 2000),
            "the time of the last change"
        );
        // an unreadable snapshot is kept aside and the entries still make the new one
        let (w, f) = fold(
            &ds,
            stored(
                vec![(e[0].key("fp"), e[0].to_json())],
                Some("not json".into()),
            ),
            None,
            T,
            false,
        );
        let w = w.unwrap();
        assert_eq!(w.quarantine.as_deref(), Some("not json"));
        assert_eq!(LabelFile::parse("x", &w.snapshot).unwrap().labels.len(), 1);
        assert!(f.problems[0].contains("kept aside"));
        // a quiet-time fold writes the tab's machine labels even with nothing else stored
        let mut m = LabelStore::new();
        m.set_machine(
            "r3",
            Label::machine(0.9, Provenance::Propagated, 0.5, T, vec![]).unwrap(),
        );
        let (w, _) = fold(&ds, StoredLabels::default(), Some(&m), T, true);
        assert_eq!(
            LabelFile::parse("x", &w.unwrap().snapshot)
                .unwrap()
                .labels
                .len(),
            1
        );
        let (w, _) = fold(
            &ds,
            StoredLabels::default(),
            Some(&LabelStore::new()),
            T,
            true,
        );
        assert!(w.is_none());
    }

    use proptest::prelude::*;

    proptest! {
        /// Three tabs label, clear and undo at random; entries reach the others in any
        /// order, some twice. Every tab ends with the same human labels, and they are the
        /// labels of the newest change per record, which is what compaction keeps too.
        #[test]
        fn tabs_converge_and_compaction_agrees(
            ops in prop::collection::vec((0usize..3, 0u8..4, 0usize..5, 0i64..3), 1..60),
            shuffle in any::<u64>(),
        ) {
            let ds = dataset(5);
            let mut stores = [LabelStore::new(), LabelStore::new(), LabelStore::new()];
            let mut journals: Vec<Journal> = (0..3).map(|t| Journal::new(t as u32 + 1, &stores[t])).collect();
            let mut log: Vec<Entry> = Vec::new();
            let mut now = T;
            for (tab, op, rec, dt) in ops {
                now += dt * 1000;
                let id = format!("r{rec}");
                let s = &mut stores[tab];
                match op {
                    0 => { s.set_human(&id, Verdict::Good, now); }
                    1 => { s.set_human(&id, Verdict::Bad, now); }
                    2 => { s.clear(&id); }
                    _ => { s.undo(); }
                }
                log.extend(journals[tab].record(&stores[tab], now));
            }
            // deliver every entry to every tab in a scrambled order, some twice
            let mut order: Vec<usize> = (0..log.len()).chain(0..log.len() / 2).collect();
            let mut x = shuffle | 1;
            for i in (1..order.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                order.swap(i, (x % (i as u64 + 1)) as usize);
            }
            for t in 0..3 {
                for &i in &order {
                    journals[t].apply(&mut stores[t], std::slice::from_ref(&log[i]));
                }
            }
            prop_assert_eq!(human(&stores[0]), human(&stores[1]));
            prop_assert_eq!(human(&stores[1]), human(&stores[2]));
            let f = compact(&ds, None, &log, None, now);
            let mut from_file: Vec<(String, &str)> = f.labels.iter().map(|(id, l)| (id.clone(), l.verdict.as_str())).collect();
            from_file.sort();
            prop_assert_eq!(from_file, human(&stores[0]));
        }
    }
}
