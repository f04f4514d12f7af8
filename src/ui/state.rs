//! The page's shell state: one [`Session`] (the records and their labels) and what every
//! feature reads of it — the selection, the list filter, counts, notices, the signature
//! table, the data set the jobs worker holds, the jobs service — with the actions on
//! labels that the keys and buttons call. Features (map, propagation, classifier,
//! embeddings, mapping, training export) keep their own state, provided beside this one
//! ([`super::App`]), and talk to each other only through these signals.

use std::sync::Arc;

use leptos::prelude::*;

use crate::core::clean::{Findings, Flag};
use crate::core::io::mapping::Survey;
use crate::core::labels::{Counts, Verdict};
use crate::core::signals::signature::table::SignatureTable;
use crate::core::Session;

use super::browser::{self, now_ms, PageFile};
use super::durable::Durable;
use super::jobs::Jobs;
use crate::core::labels::share::Share;

/// The shipped demo: 300 GSM8K model solutions with MiniLM embeddings.
pub const DEMO_FILES: [&str; 2] = ["demo/demo_cots.json", "demo/demo_emb.npy"];
/// Name the demo is shown under.
pub const DEMO_NAME: &str = "GSM8K demo (300 CoTs)";
/// The second demo: 314 MMLU-Pro test CoTs of six LLMs, 14 domains (`scripts/make-mmlupro-demo`).
pub const MMLU_PRO_DEMO: &str = "demo/mmlu-pro-demo.jsonl";

/// Which records the list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Every record.
    All,
    /// Records with no label.
    Unlabelled,
    /// Labelled good (any provenance).
    Good,
    /// Labelled bad (any provenance).
    Bad,
    /// Labelled by a person.
    Human,
    /// Labelled by propagation or the classifier.
    Machine,
    /// CoTs sampled here from the person's model.
    Generated,
    /// The data set's own CoTs (generated ones hidden).
    Own,
    /// Records whose annotators' votes are tied and nobody settled.
    Conflicts,
    /// Members of a duplicate cluster (cleaning).
    Duplicates,
    /// Records whose question is in an evaluation set (cleaning).
    Contaminated,
    /// Broken traces (cleaning).
    Broken,
}

impl Filter {
    /// Every filter, in menu order, with its value and text.
    pub const ALL: [(Filter, &'static str, &'static str); 12] = [
        (Filter::All, "all", "All records"),
        (Filter::Unlabelled, "unlabelled", "Unlabelled"),
        (Filter::Good, "good", "Good"),
        (Filter::Bad, "bad", "Bad"),
        (Filter::Human, "human", "Labelled by you"),
        (Filter::Machine, "machine", "Labelled by the app"),
        (Filter::Generated, "generated", "Generated here"),
        (Filter::Own, "own", "Hide generated"),
        (Filter::Conflicts, "conflicts", "Conflicts to settle"),
        (Filter::Duplicates, "duplicates", "Duplicates"),
        (Filter::Contaminated, "contaminated", "In an evaluation set"),
        (Filter::Broken, "broken", "Broken traces"),
    ];

    /// The filter with this menu value.
    pub fn from_value(v: &str) -> Filter {
        Self::ALL
            .iter()
            .find(|f| f.1 == v)
            .map_or(Filter::All, |f| f.0)
    }

    fn keeps(self, s: &Session, i: usize, cleaning: Option<&Cleaning>) -> bool {
        if self == Filter::All {
            return true;
        }
        let kind = |bit: u8| cleaning.is_some_and(|c| c.kinds.get(i).is_some_and(|k| k & bit != 0));
        let r = &s.dataset.records()[i];
        let l = s.labels.get(&r.id);
        match self {
            Filter::All => true,
            Filter::Generated => r.is_generated(),
            Filter::Own => !r.is_generated(),
            Filter::Unlabelled => l.is_none(),
            Filter::Good => l.is_some_and(|l| l.verdict == Verdict::Good),
            Filter::Bad => l.is_some_and(|l| l.verdict == Verdict::Bad),
            Filter::Human => l.is_some_and(|l| l.is_human()),
            Filter::Machine => l.is_some_and(|l| !l.is_human()),
            Filter::Conflicts => s.labels.is_conflict(&r.id),
            Filter::Duplicates => kind(Cleaning::DUPLICATE),
            Filter::Contaminated => kind(Cleaning::CONTAMINATED),
            Filter::Broken => kind(Cleaning::BROKEN),
        }
    }
}

/// What cleaning found in the records shown ([`crate::core::clean`]), kept for the records
/// it was found in.
#[derive(Debug, Clone, PartialEq)]
pub struct Cleaning {
    /// The records it belongs to ([`AppState::records_key`]).
    pub key: String,
    /// The findings.
    pub findings: Findings,
    /// Per record: [`Self::DUPLICATE`], [`Self::CONTAMINATED`], [`Self::BROKEN`] bits.
    pub kinds: Vec<u8>,
    /// The evaluation files checked against, with their questions.
    pub eval: Vec<(String, usize)>,
    /// How long the job took in the worker, in ms.
    pub ms: f64,
    /// Whether embedding duplicates were looked for (graph neighbours).
    pub neighbours: bool,
}

impl Cleaning {
    /// In a duplicate cluster.
    pub const DUPLICATE: u8 = 1;
    /// Its question is in an evaluation set.
    pub const CONTAMINATED: u8 = 2;
    /// Broken.
    pub const BROKEN: u8 = 4;

    /// The findings for `n` records under `key`.
    pub fn new(
        key: String,
        findings: Findings,
        eval: Vec<(String, usize)>,
        n: usize,
        ms: f64,
    ) -> Self {
        let mut kinds = vec![0u8; n];
        let mut mark = |i: u32, bit: u8| {
            if let Some(k) = kinds.get_mut(i as usize) {
                *k |= bit;
            }
        };
        for c in &findings.duplicates {
            for &i in c {
                mark(i, Self::DUPLICATE);
            }
        }
        for (i, _) in &findings.contaminated {
            mark(*i, Self::CONTAMINATED);
        }
        for (i, _) in &findings.broken {
            mark(*i, Self::BROKEN);
        }
        Self {
            key,
            findings,
            kinds,
            eval,
            ms,
            neighbours: false,
        }
    }

    /// Records with `bit`.
    pub fn count(&self, bit: u8) -> usize {
        self.kinds.iter().filter(|&&k| k & bit != 0).count()
    }

    /// What training sets leave out of session `s` (each cluster's representative by the
    /// labels as they are now).
    pub fn flags(&self, s: &Session) -> std::collections::HashMap<usize, Flag> {
        let recs = s.dataset.records();
        self.findings.flags(&|i| recs[i].id.clone(), &|i| {
            s.labels
                .get(&recs[i].id)
                .map(|l| (l.is_human(), l.confidence))
        })
    }
}

/// Signals shared by every view (`Copy`: hand it around freely).
#[derive(Clone, Copy)]
pub struct AppState {
    /// The data set and its labels; `None` while the first load runs.
    pub session: RwSignal<Option<Session>>,
    /// Whether the session is the shipped demo.
    pub is_demo: RwSignal<bool>,
    /// Index (into the records) of the selected record.
    pub selected: RwSignal<Option<usize>>,
    /// The list filter.
    pub filter: RwSignal<Filter>,
    /// Records the list shows, as indices in record order.
    pub visible: Memo<Vec<usize>>,
    /// Label counts over all records.
    pub counts: Memo<Counts>,
    /// The records' identity (fingerprint, revision, embedding width): it changes with new
    /// records or new embeddings, never with labels. What belongs to the old records (a
    /// map, a propagation) is dropped when it changes.
    pub records_key: Memo<Option<String>>,
    /// How many records were generated here (`source: "generated"`), counted when the
    /// records change (not on every label).
    pub generated: Memo<usize>,
    /// The human label of every record (1 sound, 0 flawed, −1 none), recomputed on label
    /// changes only when it differs (so machine labels do not re-trigger propagation).
    pub humans: Memo<Vec<i8>>,
    /// The person's pair choices as (better, worse) rows.
    pub pairs: Memo<Vec<(u32, u32)>>,
    /// Machine labels (propagated, classifier) below this confidence stay unlabelled.
    pub min_confidence: RwSignal<f64>,
    /// Counts writes of machine labels: what scores them follows it.
    pub machine_written: RwSignal<u64>,
    /// The map's cluster of each record, once drawn.
    pub clusters: RwSignal<Option<Arc<Vec<i32>>>>,
    /// Only records of this cluster are listed.
    pub cluster_filter: RwSignal<Option<i32>>,
    /// Errors of the last import (or of storage), as shown.
    pub errors: RwSignal<Vec<String>>,
    /// The last thing that happened, in a sentence.
    pub notice: RwSignal<Option<String>>,
    /// Set when the page restored a previous session: what it restored.
    pub restored: RwSignal<Option<String>>,
    /// Saving labels to IndexedDB (journal, other tabs).
    pub durable: Durable,
    /// Whether labelling a record moves to the next one.
    pub advance: RwSignal<bool>,
    /// Something is loading (text says what).
    pub busy: RwSignal<Option<String>>,
    /// One row of signature numbers per record, from the worker that read them (the full
    /// signature of the record shown is read from its question group).
    pub signatures: RwSignal<Option<Arc<SignatureTable>>>,
    /// The key of the data set the jobs worker holds for these records (`None`: it holds
    /// none yet, or lost it when it was restarted). Jobs that name it wait for it.
    pub held: RwSignal<Option<String>>,
    /// The page is handing its data set to the worker.
    pub(super) adopting: StoredValue<bool>,
    /// Jobs in the workers: ids, status, progress, cancel.
    pub jobs: Jobs,
    /// A dropped records file whose fields name no question and no CoT: the mapping step
    /// shows it.
    pub unmapped: RwSignal<Option<Arc<Unmapped>>>,
    /// The person's model as a judge: its P(yes) per record id, for the CoTs of the data set
    /// shown it judged (kept in this browser, `persist::put_judged`). Propagation learns
    /// its weight from the human labels.
    pub judged: RwSignal<Arc<std::collections::HashMap<String, f32>>>,
    /// The one overlay open over the page (its name, the `data-overlay` of its element):
    /// opening one closes the others, Esc closes it, Tab stays inside it, and the labelling
    /// keys do nothing while one is open.
    pub overlay: RwSignal<Option<&'static str>>,
    /// Who labels in this browser (kept here; stamped on every human label).
    pub annotator: RwSignal<Option<String>>,
    /// The share of the data set this person labels, when one is open: the list and
    /// *Label next* keep to it.
    pub share: RwSignal<Option<Arc<OpenShare>>>,
    /// Files the page's address names on another site, waiting for the person to confirm
    /// the hosts (the hosts, the files).
    pub link_confirm: RwSignal<Option<Arc<(Vec<String>, Vec<browser::Linked>)>>>,
    /// What cleaning found in the records shown (the list's filters, the training export).
    pub cleaning: RwSignal<Option<Arc<Cleaning>>>,
}

/// A share of the data set, opened.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenShare {
    /// The share as its file says.
    pub share: Share,
    /// Its record ids.
    pub ids: std::collections::HashSet<String>,
}

impl OpenShare {
    /// A share to open.
    pub fn new(share: Share) -> Self {
        let ids = share.ids.iter().cloned().collect();
        Self { share, ids }
    }
}

/// Where this browser keeps the share open on the data set with `fingerprint`.
pub fn share_key(fingerprint: &str) -> String {
    format!("cotlabel.share:{fingerprint}")
}

/// Files waiting for a column mapping.
pub struct Unmapped {
    /// The files as dropped.
    pub inputs: Vec<PageFile>,
    /// The fields of the records file, with kinds and samples.
    pub survey: Survey,
}

impl AppState {
    /// Fresh state with no data loaded.
    pub fn new() -> Self {
        let session = RwSignal::new(None::<Session>);
        let filter = RwSignal::new(Filter::All);
        let clusters = RwSignal::new(None::<Arc<Vec<i32>>>);
        let cluster_filter = RwSignal::new(None::<i32>);
        let share = RwSignal::new(None::<Arc<OpenShare>>);
        let cleaning = RwSignal::new(None::<Arc<Cleaning>>);
        let visible = Memo::new(move |_| {
            let f = filter.get();
            let cluster = cluster_filter.get();
            let share = share.get();
            let cleaning = cleaning.get();
            clusters.with(|m| {
                session.with(|s| match s {
                    None => Vec::new(),
                    Some(s) => (0..s.dataset.len())
                        .filter(|&i| f.keeps(s, i, cleaning.as_deref()))
                        .filter(|&i| {
                            share
                                .as_ref()
                                .is_none_or(|o| o.ids.contains(&s.dataset.records()[i].id))
                        })
                        .filter(|&i| match (cluster, m) {
                            (Some(c), Some(m)) => m.get(i) == Some(&c),
                            _ => true,
                        })
                        .collect(),
                })
            })
        });
        let counts = Memo::new(move |_| {
            session.with(|s| {
                s.as_ref()
                    .map(|s| s.labels.counts(&s.dataset))
                    .unwrap_or_default()
            })
        });
        let records_key = Memo::new(move |_| {
            session.with(|s| {
                s.as_ref().map(|s| {
                    let dim = s.dataset.embeddings().map_or(0, |e| e.dim());
                    format!("{}/{}/{dim}", s.dataset.fingerprint(), s.dataset.revision())
                })
            })
        });
        let generated = Memo::new(move |_| {
            records_key.track();
            session.with_untracked(|s| {
                s.as_ref().map_or(0, |s| {
                    s.dataset
                        .records()
                        .iter()
                        .filter(|r| r.is_generated())
                        .count()
                })
            })
        });
        let humans = Memo::new(move |_| {
            session.with(|s| {
                s.as_ref()
                    .map_or_else(Vec::new, |s| s.labels.human_rows(&s.dataset))
            })
        });
        let pairs = Memo::new(move |_| {
            session.with(|s| {
                s.as_ref()
                    .map_or_else(Vec::new, |s| s.labels.human_pair_rows(&s.dataset))
            })
        });
        let errors = RwSignal::new(Vec::new());
        Self {
            session,
            is_demo: RwSignal::new(false),
            selected: RwSignal::new(None),
            filter,
            visible,
            counts,
            records_key,
            generated,
            humans,
            pairs,
            min_confidence: RwSignal::new(crate::core::labels::MIN_CONFIDENCE),
            machine_written: RwSignal::new(0),
            clusters,
            cluster_filter,
            errors,
            notice: RwSignal::new(None),
            restored: RwSignal::new(None),
            durable: Durable::new(session),
            advance: RwSignal::new(false),
            busy: RwSignal::new(None),
            signatures: RwSignal::new(None),
            held: RwSignal::new(None),
            adopting: StoredValue::new(false),
            jobs: Jobs::new(errors),
            unmapped: RwSignal::new(None),
            judged: RwSignal::new(Arc::default()),
            overlay: RwSignal::new(None),
            annotator: RwSignal::new(None),
            share,
            link_confirm: RwSignal::new(None),
            cleaning,
        }
    }

    /// The cleaning findings when they belong to the records shown (tracked).
    pub fn cleaning_now(&self) -> Option<Arc<Cleaning>> {
        let key = self.records_key.get()?;
        self.cleaning.get().filter(|c| c.key == key)
    }

    /// Opens the overlay `name` (closing any other) and moves the focus into it.
    pub fn open_overlay(&self, name: &'static str) {
        self.overlay.set(Some(name));
        browser::focus_overlay(name);
    }

    /// Opens the overlay `name`, or closes it when it is the one open.
    pub fn toggle_overlay(&self, name: &'static str) {
        if self.overlay.get_untracked() == Some(name) {
            self.overlay.set(None);
        } else {
            self.open_overlay(name);
        }
    }

    /// Closes the overlay `name` if it is the one open.
    pub fn close_overlay(&self, name: &'static str) {
        if self.overlay.get_untracked() == Some(name) {
            self.overlay.set(None);
        }
    }

    /// Whether the overlay `name` is the one open (tracked).
    pub fn overlay_open(&self, name: &'static str) -> bool {
        self.overlay.get() == Some(name)
    }

    /// How many records of the data set shown the person's model has judged (tracked).
    pub fn judged_count(&self) -> usize {
        self.judged.with(|j| {
            if j.is_empty() {
                return 0;
            }
            self.session.with(|s| {
                s.as_ref().map_or(0, |s| {
                    s.dataset
                        .records()
                        .iter()
                        .filter(|r| j.contains_key(&r.id))
                        .count()
                })
            })
        })
    }

    /// The judge's P(yes) of every record in record order (−1 where it did not judge);
    /// empty when it judged none of them.
    pub fn judge_vector(&self) -> Vec<f32> {
        self.judged.with_untracked(|j| {
            if j.is_empty() {
                return Vec::new();
            }
            self.session.with_untracked(|s| {
                s.as_ref().map_or_else(Vec::new, |s| {
                    s.dataset
                        .records()
                        .iter()
                        .map(|r| j.get(&r.id).copied().unwrap_or(-1.0))
                        .collect()
                })
            })
        })
    }

    /// Machine labels were written: what scores them runs again.
    pub fn machine_labels_written(&self) {
        self.machine_written.update(|n| *n += 1);
    }

    /// The number of human labels.
    pub fn human_count(&self) -> usize {
        self.humans
            .with_untracked(|h| h.iter().filter(|&&x| x >= 0).count())
    }

    /// Id of the selected record.
    pub fn selected_id(&self) -> Option<String> {
        let i = self.selected.get_untracked()?;
        self.session.with_untracked(|s| {
            s.as_ref()
                .and_then(|s| s.dataset.records().get(i))
                .map(|r| r.id.clone())
        })
    }

    /// Moves the selection by `step` within the visible records (from any record, shown
    /// or not: the next shown one after it).
    pub fn move_selection(&self, step: isize) {
        let visible = self.visible.get_untracked();
        if visible.is_empty() {
            return;
        }
        let next = match self.selected.get_untracked() {
            None => visible[0],
            Some(cur) => match visible.binary_search(&cur) {
                Ok(pos) => {
                    visible[(pos as isize + step).clamp(0, visible.len() as isize - 1) as usize]
                }
                // Not shown (e.g. just labelled under the "unlabelled" filter): the next shown
                // record in that direction.
                Err(pos) if step > 0 => visible[pos.min(visible.len() - 1)],
                Err(pos) => visible[pos.saturating_sub(1)],
            },
        };
        self.selected.set(Some(next));
    }

    /// A person labels the selected record.
    pub fn label(&self, verdict: Verdict) {
        let Some(id) = self.selected_id() else { return };
        if !self.named_for_team() {
            return;
        }
        let mut changed = false;
        self.session.update(|s| {
            if let Some(s) = s {
                changed = s.labels.set_human(&id, verdict, now_ms());
            }
        });
        if changed && self.advance.get_untracked() {
            self.move_selection(1);
        }
    }

    /// Whether a label may be set: on a data set with the team's votes every decision
    /// carries who made it, so a person without a name is asked for one first (the name
    /// field takes the focus).
    fn named_for_team(&self) -> bool {
        let team = self.session.with_untracked(|s| {
            s.as_ref()
                .is_some_and(|s| s.labels.all_votes().next().is_some())
        });
        if !team || self.annotator.with_untracked(Option::is_some) {
            return true;
        }
        self.notice.set(Some(
            "Type your name in the Annotator field first: a decision over the team's votes carries who made it."
                .into(),
        ));
        browser::focus_test_id("annotator");
        false
    }

    /// Opens a share of the data set shown (kept in this browser for it), or closes the
    /// one open (`None`).
    pub fn open_share(&self, share: Option<Share>) {
        let Some(fp) = self
            .session
            .with_untracked(|s| s.as_ref().map(|s| s.dataset.fingerprint().to_string()))
        else {
            return;
        };
        match &share {
            Some(s) => browser::local_set(&share_key(&fp), &s.to_json()),
            None => browser::local_remove(&share_key(&fp)),
        }
        self.share.set(share.map(|s| Arc::new(OpenShare::new(s))));
    }

    /// Whether record `i` is in the share open (every record is when none is).
    pub fn in_share(&self, i: usize) -> bool {
        self.share.with_untracked(|o| {
            o.as_ref().is_none_or(|o| {
                self.session.with_untracked(|s| {
                    s.as_ref()
                        .and_then(|s| s.dataset.records().get(i))
                        .is_some_and(|r| o.ids.contains(&r.id))
                })
            })
        })
    }

    /// A person clears the selected record's label.
    pub fn clear(&self) {
        let Some(id) = self.selected_id() else { return };
        self.session.update(|s| {
            if let Some(s) = s {
                s.labels.clear(&id);
            }
        });
    }

    /// Undoes the last human action.
    pub fn undo(&self) {
        let mut what = None;
        self.session
            .update(|s| what = s.as_mut().and_then(|s| s.labels.undo()));
        self.notice.set(Some(match what {
            Some(w) => format!("Undid {w}."),
            None => "Nothing to undo.".into(),
        }));
    }

    /// The label file of the session, offered as a download.
    pub fn export(&self) {
        let file = self.session.with_untracked(|s| {
            s.as_ref().map(|s| {
                (
                    s.export(now_ms()).to_json(),
                    s.dataset.name().to_string(),
                    s.labels.counts(&s.dataset),
                )
            })
        });
        let Some((json, name, counts)) = file else {
            return;
        };
        let filename = crate::core::export::labelfile::export_file_name(&name, &browser::today());
        match browser::download(&filename, &json) {
            Ok(()) => self.notice.set(Some(format!(
                "Exported {} labels ({} by you) to {filename}.",
                counts.good + counts.bad,
                counts.human
            ))),
            Err(e) => self.errors.set(vec![format!("Export failed: {e}")]),
        }
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}
