//! The page's state: signals over one [`Session`], and the actions the views call.
//! Every change to the data or the labels goes through the core; this file only wires
//! signals, storage and the browser together.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::import::ImportPlan;
use crate::core::labelfile::LabelFile;
use crate::core::labels::{Counts, Verdict};
use crate::core::mapping::Mapping;
use crate::core::signature::table::SignatureTable;
use crate::core::{Dataset, ImportError, Session};
use crate::worker::protocol::{FailReason, Job, MapJob, MapResult, Method, Reply, Request, Space};

use super::bridge;
use super::browser::{self, now_ms, PageFile};
use super::classify::ClassifyState;
use super::dataset::{self, Arrived, DataError};
use super::durable::Durable;
use super::embed::EmbedState;
use super::mapping::MappingStep;
use super::persist::{self, Current};
use super::propagation::PropState;

/// The shipped demo: 300 GSM8K model solutions with MiniLM embeddings.
pub const DEMO_FILES: [&str; 2] = ["demo/demo_cots.json", "demo/demo_emb.npy"];
/// Name under which the mapping a records file was read through is kept with it.
const MAPPING_FILE: &str = "cotlabel-mapping.json";
/// Name the demo is shown under.
pub const DEMO_NAME: &str = "GSM8K demo (300 CoTs)";

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
}

impl Filter {
    /// Every filter, in menu order, with its value and text.
    pub const ALL: [(Filter, &'static str, &'static str); 6] = [
        (Filter::All, "all", "All records"),
        (Filter::Unlabelled, "unlabelled", "Unlabelled"),
        (Filter::Good, "good", "Good"),
        (Filter::Bad, "bad", "Bad"),
        (Filter::Human, "human", "Labelled by you"),
        (Filter::Machine, "machine", "Labelled by the app"),
    ];

    /// The filter with this menu value.
    pub fn from_value(v: &str) -> Filter {
        Self::ALL
            .iter()
            .find(|f| f.1 == v)
            .map_or(Filter::All, |f| f.0)
    }

    fn keeps(self, s: &Session, i: usize) -> bool {
        if self == Filter::All {
            return true;
        }
        let l = s.labels.get(&s.dataset.records()[i].id);
        match self {
            Filter::All => true,
            Filter::Unlabelled => l.is_none(),
            Filter::Good => l.is_some_and(|l| l.verdict == Verdict::Good),
            Filter::Bad => l.is_some_and(|l| l.verdict == Verdict::Bad),
            Filter::Human => l.is_some_and(|l| l.is_human()),
            Filter::Machine => l.is_some_and(|l| !l.is_human()),
        }
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
    /// none yet, or lost it when it was restarted).
    pub(super) held: StoredValue<Option<String>>,
    /// The page is handing its data set to the worker.
    pub(super) adopting: StoredValue<bool>,
    /// A map asked for while the worker held no data set: drawn when it does.
    pub(super) map_waiting: StoredValue<bool>,
    /// The reasoning map of the records, once the worker made it.
    pub map: RwSignal<Option<Arc<MapView>>>,
    /// What the map is made from.
    pub map_space: RwSignal<Space>,
    /// Clusters on the map.
    pub map_k: RwSignal<usize>,
    /// How the map colours points.
    pub colour_by: RwSignal<ColourBy>,
    /// Only records of this cluster are listed.
    pub cluster_filter: RwSignal<Option<i32>>,
    /// k-means (true) or HDBSCAN (false) for the map's clusters.
    pub map_kmeans: RwSignal<bool>,
    /// The running background job.
    pub job: RwSignal<Option<JobStatus>>,
    /// Id of the latest job sent.
    pub job_seq: RwSignal<u64>,
    /// Id of the map job the page waits for.
    map_request: StoredValue<u64>,
    /// Label propagation and the "label next" queue.
    pub prop: PropState,
    /// The binary-choice classifier.
    pub classifier: ClassifyState,
    /// Embeddings computed on this device.
    pub embed_state: EmbedState,
    /// The sibling shown beside the selected record in the pairwise view.
    pub compare: RwSignal<Option<usize>>,
    /// The column-mapping step, while a dropped file waits for one.
    pub mapping_step: RwSignal<Option<MappingStep>>,
    /// The mapping the step shows.
    pub mapping: RwSignal<Mapping>,
}

/// A map made by the worker, and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct MapView {
    /// Clusters and positions.
    pub result: MapResult,
    /// Milliseconds from request to reply.
    pub millis: f64,
}

/// A background job in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatus {
    /// Job id.
    pub id: u64,
    /// What it does now.
    pub stage: String,
    /// Share done.
    pub fraction: f64,
    /// When it was sent (performance.now()).
    pub started: f64,
    /// The worker running it (cancelling stops only that one).
    pub worker: bridge::Kind,
}

/// Point colours on the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourBy {
    /// k-means cluster.
    Cluster,
    /// good / bad / none, human or machine.
    Label,
    /// The label-free prior score.
    Prior,
}

impl AppState {
    /// Fresh state with no data loaded.
    pub fn new() -> Self {
        let session = RwSignal::new(None::<Session>);
        let filter = RwSignal::new(Filter::All);
        let map = RwSignal::new(None::<Arc<MapView>>);
        let cluster_filter = RwSignal::new(None::<i32>);
        let visible = Memo::new(move |_| {
            let f = filter.get();
            let cluster = cluster_filter.get();
            map.with(|m| {
                session.with(|s| match s {
                    None => Vec::new(),
                    Some(s) => (0..s.dataset.len())
                        .filter(|&i| f.keeps(s, i))
                        .filter(|&i| match (cluster, m) {
                            (Some(c), Some(m)) => m.result.labels.get(i) == Some(&c),
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
        Self {
            session,
            is_demo: RwSignal::new(false),
            selected: RwSignal::new(None),
            filter,
            visible,
            counts,
            errors: RwSignal::new(Vec::new()),
            notice: RwSignal::new(None),
            restored: RwSignal::new(None),
            durable: Durable::new(session),
            advance: RwSignal::new(false),
            busy: RwSignal::new(None),
            signatures: RwSignal::new(None),
            held: StoredValue::new(None),
            adopting: StoredValue::new(false),
            map_waiting: StoredValue::new(false),
            map,
            map_space: RwSignal::new(Space::Signature),
            map_k: RwSignal::new(8),
            colour_by: RwSignal::new(ColourBy::Cluster),
            cluster_filter,
            map_kmeans: RwSignal::new(true),
            job: RwSignal::new(None),
            job_seq: RwSignal::new(0),
            map_request: StoredValue::new(0),
            prop: PropState::new(session),
            classifier: ClassifyState::new(),
            embed_state: EmbedState::new(),
            compare: RwSignal::new(None),
            mapping_step: RwSignal::new(None),
            mapping: RwSignal::new(Mapping::new()),
        }
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
        let filename = crate::core::labelfile::export_file_name(&name, &browser::today());
        match browser::download(&filename, &json) {
            Ok(()) => self.notice.set(Some(format!(
                "Exported {} labels ({} by you) to {filename}.",
                counts.good + counts.bad,
                counts.human
            ))),
            Err(e) => self.errors.set(vec![format!("Export failed: {e}")]),
        }
    }

    /// Imports files the user picked or dropped: all of them, or (on any error) none.
    pub fn import(self, files: Vec<web_sys::File>) {
        if files.is_empty() {
            return;
        }
        match browser::read_files(files) {
            Ok(inputs) => spawn_local(self.run_import(inputs, None)),
            Err(e) => self.show_import_errors(&e),
        }
    }

    /// Imports files already read, through `mapping` when given. A records file whose
    /// fields need mapping opens the mapping step instead (nothing is imported yet).
    pub async fn run_import(self, inputs: Vec<PageFile>, mapping: Option<Mapping>) {
        self.busy.set(Some("Reading files…".into()));
        let result = self.import_inputs(&inputs, mapping.as_ref()).await;
        self.busy.set(None);
        match result {
            Ok(summary) => {
                self.errors.set(Vec::new());
                self.notice.set(Some(summary));
            }
            Err(errors) => match errors.as_slice() {
                [ImportError::Unmapped { survey, .. }] => {
                    let (step, shown) = MappingStep::new(inputs, (**survey).clone());
                    self.errors.set(Vec::new());
                    self.notice.set(Some(format!(
                        "{}: say which field is the question and which the CoT, then import.",
                        step.survey.file
                    )));
                    self.mapping.set(shown);
                    self.mapping_step.set(Some(step));
                }
                _ => self.show_import_errors(&errors),
            },
        }
    }

    fn show_import_errors(self, errors: &[ImportError]) {
        self.errors
            .set(errors.iter().map(ImportError::to_string).collect());
        self.notice.set(Some(
            "Nothing was imported: fix the errors below and drop the files again.".into(),
        ));
    }

    async fn import_inputs(
        self,
        inputs: &[PageFile],
        mapping: Option<&Mapping>,
    ) -> Result<String, Vec<ImportError>> {
        let trouble = |message: String| vec![ImportError::Combination { message }];
        let loaded_before = self.session.with_untracked(Option::is_some);
        let base = if loaded_before {
            Some(self.held_key().await.ok_or_else(|| {
                trouble("the background worker could not take the records shown".into())
            })?)
        } else {
            None
        };
        let arrived = match self.read_in_worker(inputs, mapping, base).await {
            Ok(a) => a,
            Err(DataError::Refused(errors)) => return Err(errors),
            Err(DataError::Failed(FailReason::Cancelled, _)) => {
                return Err(trouble("the import was cancelled".into()))
            }
            Err(DataError::Failed(_, message)) => return Err(trouble(message)),
        };
        let Arrived {
            loaded,
            records,
            vectors,
            table,
        } = arrived;
        let mut label_files = Vec::new();
        for (name, json) in &loaded.label_files {
            label_files.push((name.clone(), LabelFile::parse(name, json)?));
        }
        let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        let was_demo = self.is_demo.get_untracked();
        let old = self.session.with_untracked(|s| {
            s.as_ref().map(|s| {
                (
                    s.dataset.fingerprint().to_string(),
                    s.dataset.name().to_string(),
                )
            })
        });
        let old_had_labels = self.counts.get_untracked().human > 0;
        // new records (or the same ones read again) arrive whole; new embeddings for the
        // records shown are set in place
        let (dataset, in_place) = match records {
            Some(records) => (
                Some(
                    records
                        .finish(loaded.name.clone(), vectors, loaded.fingerprint.clone())
                        .ok_or_else(|| trouble("the worker sent records that do not fit".into()))?,
                ),
                None,
            ),
            None => (None, vectors.filter(|_| loaded.changed)),
        };
        let stored = match &dataset {
            Some(ds) if Some(ds.fingerprint()) != old.as_ref().map(|o| o.0.as_str()) => {
                self.stored_labels(ds).await
            }
            _ => None,
        };
        let plan = ImportPlan {
            dataset,
            label_files,
            sources: loaded.sources.clone(),
            warnings: Vec::new(),
            mapping: loaded.mapping.clone(),
        };
        // The files the data came from, kept so that a reload reads them again (with the
        // mapping they were read through).
        let mut data_files: Vec<PageFile> = inputs
            .iter()
            .filter(|f| plan.sources.contains(&f.name))
            .cloned()
            .collect();
        if let Some(m) = &plan.mapping {
            data_files.push(PageFile::from_text(MAPPING_FILE, &m.to_json()).map_err(trouble)?);
        }
        let mut report = None;
        let mut attached = false;
        let t = browser::performance_now();
        self.session.update(|s| {
            let session = s.get_or_insert_with(|| Session::new(Dataset::new("", Vec::new(), None)));
            if let Some(v) = in_place {
                session.dataset.set_embeddings(Some(v));
                attached = true;
            }
            report = Some(session.apply(plan, stored.as_ref()));
        });
        let mut report = report.expect("applied");
        browser::measure(format_args!("apply-import"), t);
        report.new_embeddings |= attached;
        self.set_held(loaded.key, table);
        let (mut summary, fp, name) = self.session.with_untracked(|s| {
            let ds = &s.as_ref().expect("applied").dataset;
            (
                report.summary(ds),
                ds.fingerprint().to_string(),
                ds.name().to_string(),
            )
        });
        if !warnings.is_empty() {
            summary.push_str(&format!(
                ". {} warning{}: {}",
                warnings.len(),
                if warnings.len() == 1 { "" } else { "s" },
                warnings.join("; ")
            ));
        }
        if report.new_records {
            self.is_demo.set(false);
            self.restored.set(None);
            self.selected.set(Some(0));
            if let Some((_, old_name)) = old.as_ref().filter(|_| old_had_labels) {
                summary.push_str(&format!(
                    ". Your labels on {old_name} stay saved in this browser: load it again to get them back"
                ));
            }
        }
        if report.reread {
            self.is_demo.set(false);
        }
        if report.new_records || report.reread || (report.new_embeddings && !was_demo) {
            let mut files = data_files;
            if !report.new_records && !report.reread {
                // New embeddings for the same records: keep the stored records file.
                let stored = persist::load_files(&fp)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                files.extend(
                    stored
                        .into_iter()
                        .filter(|f| f.name == name || f.name == MAPPING_FILE),
                );
            }
            let t = browser::performance_now();
            let saved = persist::save_files(&fp, &files).await;
            browser::measure(format_args!("save-files"), t);
            let saved = saved.and(
                persist::set_current(&Current {
                    fingerprint: fp.clone(),
                    name,
                    demo: false,
                })
                .await,
            );
            if let Err(e) = saved {
                self.errors.set(vec![format!(
                    "Could not keep the data in this browser: {e}"
                )]);
            }
            // The replaced data set's files are no longer needed; its labels stay.
            if let Some((old_fp, _)) = old.filter(|o| report.new_records && !was_demo && o.0 != fp)
            {
                let _ = persist::delete_files(&old_fp).await;
            }
        } else if report.new_embeddings {
            summary.push_str(" (the demo reopens with its own embeddings after a reload)");
        }
        Ok(summary + ".")
    }

    /// Labels this browser kept for these records (the journal folded in); from here on
    /// the human changes to them are journaled. What could not be read is kept aside and
    /// reported; when storage cannot be read at all, new labels are still journaled (they
    /// never overwrite anything) and the stored ones are left untouched.
    async fn stored_labels(&self, dataset: &Dataset) -> Option<LabelFile> {
        match self.durable.restore(dataset).await {
            Ok(r) => {
                if !r.problems.is_empty() {
                    self.errors.update(|v| v.extend(r.problems));
                }
                r.file
            }
            Err(e) => {
                self.durable.forget(dataset);
                self.errors.update(|v| {
                    v.push(format!("Could not read the labels saved in this browser ({e}); they are left untouched, and new labels are saved beside them"))
                });
                None
            }
        }
    }

    /// First load: the data set of the last visit (or the demo) and its saved labels.
    pub fn start(self) {
        spawn_local(async move {
            self.busy.set(Some("Loading…".into()));
            let current = persist::current().await.unwrap_or_else(|e| {
                self.errors.update(|v| v.push(e));
                None
            });
            let mut loaded = None;
            if let Some(cur) = current.as_ref().filter(|c| !c.demo) {
                match persist::load_files(&cur.fingerprint).await {
                    Ok(Some(files)) => match self.open_in_worker(&files, None).await {
                        Ok(d) => loaded = Some((d, false)),
                        Err(e) => self.errors.update(|v| {
                            v.push(format!(
                                "Could not reopen {} from this browser: {e}",
                                cur.name
                            ))
                        }),
                    },
                    Ok(None) => {}
                    Err(e) => self.errors.update(|v| v.push(e)),
                }
            }
            if loaded.is_none() {
                match self.open_demo().await {
                    Ok(d) => loaded = Some((d, true)),
                    Err(e) => self
                        .errors
                        .update(|v| v.push(format!("Could not load the demo: {e}"))),
                }
            }
            self.busy.set(None);
            let Some(((dataset, key, table), demo)) = loaded else {
                return;
            };
            let mut session = Session::new(dataset);
            if let Some(stored) = self.stored_labels(&session.dataset).await {
                let r = session.restore_labels(&stored);
                let c = session.labels.counts(&session.dataset);
                if r.applied > 0 {
                    let when = stored
                        .exported_at
                        .map(crate::core::labelfile::format_time)
                        .unwrap_or_default();
                    self.restored.set(Some(format!(
                        "Restored your session on {}: {} labels ({} by you), saved in this browser {}.",
                        session.dataset.name(),
                        c.good + c.bad,
                        c.human,
                        when.replace('T', " ").replace('Z', " UTC")
                    )));
                }
            }
            let _ = persist::set_current(&Current {
                fingerprint: session.dataset.fingerprint().to_string(),
                name: session.dataset.name().to_string(),
                demo,
            })
            .await;
            self.is_demo.set(demo);
            self.session.set(Some(session));
            self.set_held(key, table);
            self.selected.set(Some(0));
        });
    }

    /// Deletes this data set's saved labels (and, for the user's own data, its stored files)
    /// and opens the demo fresh.
    pub fn start_over(self) {
        let Some(fp) = self
            .session
            .with_untracked(|s| s.as_ref().map(|s| s.dataset.fingerprint().to_string()))
        else {
            return;
        };
        spawn_local(async move {
            let mut result = persist::delete_labels(&fp).await;
            if !self.is_demo.get_untracked() {
                result = result.and(persist::delete_files(&fp).await);
            }
            if let Err(e) = result {
                self.errors
                    .set(vec![format!("Could not clear this browser's storage: {e}")]);
                return;
            }
            match self.open_demo().await {
                Ok((d, key, table)) => {
                    let _ = persist::delete_labels(d.fingerprint()).await;
                    self.durable.forget(&d);
                    let _ = persist::set_current(&Current {
                        fingerprint: d.fingerprint().to_string(),
                        name: d.name().to_string(),
                        demo: true,
                    })
                    .await;
                    self.is_demo.set(true);
                    self.session.set(Some(Session::new(d)));
                    self.set_held(key, table);
                    self.selected.set(Some(0));
                    self.restored.set(None);
                    self.errors.set(Vec::new());
                    self.notice
                        .set(Some("Started over: the demo with no labels.".into()));
                }
                Err(e) => self
                    .errors
                    .set(vec![format!("Could not load the demo: {e}")]),
            }
        });
    }

    /// Whenever the records change (not on label changes): the old map and propagation
    /// belong to the old records; records without embeddings get the ones this browser
    /// computed for them before, when it has all of them.
    pub fn track_records(self) {
        Effect::new(move |prev: Option<Option<String>>| {
            let fp = self.session.with(|s| {
                s.as_ref().map(|s| {
                    let dim = s.dataset.embeddings().map_or(0, |e| e.dim());
                    format!("{}/{}/{dim}", s.dataset.fingerprint(), s.dataset.revision())
                })
            });
            if prev.as_ref() != Some(&fp) {
                if fp.as_deref().is_some_and(|f| f.ends_with("/0")) {
                    self.attach_cached_embeddings();
                }
                let waiting = self.prop.take_waiting();
                self.map.set(None);
                self.prop.reset();
                self.cluster_filter.set(None);
                if waiting {
                    self.request_propagation();
                }
            }
            fp
        });
    }

    /// Starts the worker and routes its replies into the page's signals.
    pub fn start_worker(self) {
        let result = bridge::start(bridge::Kind::Jobs, move |reply| self.on_reply(reply));
        if let Err(e) = result {
            self.errors.update(|v| v.push(e));
        }
        // A new map whenever the records' signatures, the space or k change.
        Effect::new(move |_| {
            let ready = self.signatures.with(Option::is_some);
            let _ = (
                self.map_space.get(),
                self.map_k.get(),
                self.map_kmeans.get(),
            );
            if ready {
                self.request_map();
            }
        });
    }

    /// Routes every worker's replies into the page's signals.
    pub(super) fn on_reply(self, reply: Reply) {
        // replies to data jobs (load, adopt, attach) go to the code awaiting them
        let Some(reply) = dataset::route(reply) else {
            return;
        };
        let current = self
            .job
            .with_untracked(|j| j.as_ref().map(|j| (j.id, j.started, j.worker)));
        let finished = |id: u64| {
            if current.is_some_and(|c| c.0 == id) {
                self.job.set(None);
            }
        };
        match reply {
            Reply::Progress {
                id,
                stage,
                fraction,
            } => {
                let started = match current.filter(|c| c.0 == id) {
                    Some(c) => Some((c.1, c.2)),
                    // a propagation building its graph shows its progress too
                    None if self.is_propagation(id) && current.is_none() => {
                        Some((browser::performance_now(), bridge::Kind::Jobs))
                    }
                    None => None,
                };
                if let Some((started, worker)) = started {
                    self.job.set(Some(JobStatus {
                        id,
                        stage,
                        fraction,
                        started,
                        worker,
                    }));
                }
            }
            Reply::Map { id, result } => {
                if id != self.map_request.get_value() {
                    return;
                }
                let started = current.filter(|c| c.0 == id).map(|c| c.1);
                let millis = started.map_or(0.0, |s| browser::performance_now() - s);
                finished(id);
                self.cluster_filter.set(None);
                self.map.set(Some(Arc::new(MapView { result, millis })));
            }
            Reply::Propagated { id, result } => {
                finished(id);
                self.on_propagated(id, result);
            }
            Reply::Classified { id, result } => {
                finished(id);
                self.on_classified(id, result);
            }
            Reply::Epoch { id, epoch, .. } => self.on_epoch(id, epoch),
            Reply::Embedded { id, result } => {
                finished(id);
                self.on_embedded(id, *result);
            }
            Reply::Trained { id, result } => {
                finished(id);
                self.on_trained(id, *result);
            }
            Reply::Failed {
                id,
                reason,
                message,
            } => {
                finished(id);
                if reason == FailReason::Cancelled {
                    return;
                }
                if self.is_propagation(id) {
                    self.on_propagation_failed(reason, &message);
                } else if self.is_classification(id) {
                    self.on_classification_failed(&message);
                } else if self.is_training(id) {
                    self.on_training_failed(&message);
                } else if self.is_embedding(id) {
                    self.on_embedding_failed(&message);
                } else if id == self.map_request.get_value() && reason == FailReason::NoData {
                    // the worker was restarted: hand the records over, then draw
                    self.lost_data();
                    self.request_map();
                } else if id == self.map_request.get_value() || id == 0 {
                    self.errors
                        .update(|v| v.push(format!("The map could not be made: {message}")));
                }
            }
            // suite timings belong to the timing page; data replies nobody waits for
            // (a job cancelled meanwhile) are dropped
            Reply::Ready
            | Reply::Timed { .. }
            | Reply::Records { .. }
            | Reply::Vectors { .. }
            | Reply::Loaded { .. }
            | Reply::Refused { .. } => {}
        }
    }

    /// Sends the map job for the records shown: the worker draws it from the data set it
    /// holds (embeddings or signatures); no numbers travel.
    pub fn request_map(self) {
        let Some(key) = self.data_key() else {
            self.map_waiting.set_value(true);
            self.ensure_held();
            return;
        };
        let space = self.map_space.get_untracked();
        let k = self.map_k.get_untracked();
        let Some((rows, has_embeddings)) = self.session.with_untracked(|s| {
            s.as_ref()
                .map(|s| (s.dataset.len(), s.dataset.embeddings().is_some()))
        }) else {
            return;
        };
        let used = if has_embeddings {
            space
        } else {
            Space::Signature
        };
        if used != space {
            self.map_space.set(used);
        }
        let id = self.next_job_id();
        self.map_request.set_value(id);
        let method = if self.map_kmeans.get_untracked() {
            Method::KMeans {
                k: k.min(rows).max(1),
                restarts: 4,
                seed: 0,
            }
        } else {
            Method::Hdbscan {
                min_cluster_size: k.max(2),
            }
        };
        let req = Request {
            id,
            rows: 0,
            dim: 0,
            job: Job::Map(MapJob {
                method,
                cosine: used == Space::Embedding,
                space: used,
                key: Some(key),
            }),
        };
        self.job.set(Some(JobStatus {
            id,
            stage: "starting".into(),
            fraction: 0.0,
            started: browser::performance_now(),
            worker: bridge::Kind::Jobs,
        }));
        bridge::submit(bridge::Kind::Jobs, &req, &[], None);
    }

    /// Stops the running job: restarts the worker running it, and only that one (the
    /// model worker keeps its loaded model when a map is cancelled).
    pub fn cancel_job(self) {
        let Some(worker) = self.job.with_untracked(|j| j.as_ref().map(|j| j.worker)) else {
            return;
        };
        bridge::cancel(worker);
        match worker {
            // the fresh worker holds no data set: the next job hands it over again
            bridge::Kind::Jobs => {
                dataset::abandon();
                self.lost_data();
            }
            bridge::Kind::Model => self.training_cancelled(),
        }
        self.job.set(None);
        self.notice
            .set(Some("Cancelled: the background job was stopped.".into()));
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}
