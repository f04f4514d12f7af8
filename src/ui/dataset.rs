//! The data set the jobs worker holds, seen from the page.
//!
//! The worker reads the files (parse, validate, fingerprint, signatures) and keeps the
//! result; the page keeps the records it shows and one row of signature numbers per CoT
//! ([`SignatureTable`]). What the worker read comes back in pieces — records, embedding
//! rows, then the table — each handled in a task of its own, so no step on the page walks
//! the whole data set at once. A job sent here is awaited: [`Waiting::done`] resolves when
//! the worker's last reply for it has arrived.
//!
//! A feature's own job on the held data set (the map, propagation) goes through a
//! [`HeldJob`]: sent once the worker holds the records, latest wins, sent again when the
//! worker lost them, its failures said.
//!
//! The page's side of it lives here too: which data set the worker holds for the records
//! shown (its key), reading files into it, handing the records over again to a restarted
//! worker, and attaching embeddings made on the device.

use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::data::{Assembly, Embeddings, Record};
use crate::core::generate::{self, Stored};
use crate::core::io::mapping::Mapping;
use crate::core::signals::signature::table::SignatureTable;
use crate::core::{Dataset, ImportError, Session};
use crate::worker::protocol::{AdoptJob, AttachJob, FailReason, Job, JobsReply, LoadJob, Loaded};
use crate::worker::RECORDS_PER_PIECE;

use super::bridge::Kind;
use super::browser::{self, PageFile};
use super::jobs::{Asked, Jobs, Latest, Payload};
use super::persist;
use super::state::{AppState, DEMO_FILES, DEMO_NAME};

/// What a load, adopt or attach job brought back.
pub struct Arrived {
    /// What the worker holds now.
    pub loaded: Loaded,
    /// The records, when they were sent (new records, or the same ones read again).
    pub records: Option<Assembly>,
    /// The embeddings, when they were sent.
    pub vectors: Option<Embeddings>,
    /// The signature table, when the data set changed.
    pub table: Option<SignatureTable>,
}

/// Why a data job brought nothing.
pub enum DataError {
    /// The files could not be imported; nothing changed.
    Refused(Vec<ImportError>),
    /// The job failed (or the worker does not hold the data set it named).
    Failed(FailReason, String),
}

/// What a data job has brought so far.
#[derive(Default)]
struct Incoming {
    records: Assembly,
    vectors: Vec<f32>,
    dim: usize,
    table: SignatureTable,
    /// A piece of the table could not be read.
    broken: Option<String>,
}

/// A data job sent; [`Waiting::done`] waits for all the worker sends back.
pub struct Waiting(Asked<Result<Arrived, DataError>>);

impl Waiting {
    /// What the job brought (cancelled when its worker was restarted).
    pub async fn done(self) -> Result<Arrived, DataError> {
        self.0.outcome().await.unwrap_or_else(|| {
            Err(DataError::Failed(
                FailReason::Cancelled,
                "the worker was restarted".into(),
            ))
        })
    }
}

/// Sends a data job (load, adopt, attach) to the jobs worker, shown as its running job;
/// the pieces it sends back are gathered, each in the task it arrives in.
fn send(jobs: Jobs, job: Job, payload: Payload<'_>, stage: &str) -> Waiting {
    let mut incoming = Incoming::default();
    Waiting(
        jobs.ask(job, payload, Some(stage), move |reply| match reply {
            JobsReply::Records { records, total, .. } => {
                incoming.records.reserve(total);
                incoming.records.push(records);
                None
            }
            JobsReply::Vectors {
                dim, total, values, ..
            } => {
                if incoming.vectors.is_empty() {
                    incoming.vectors.reserve_exact(total * dim);
                }
                incoming.dim = dim;
                incoming.vectors.extend_from_slice(&values);
                None
            }
            JobsReply::Table { bytes, total, .. } => {
                incoming.table.reserve(total);
                if incoming.broken.is_none() {
                    if let Err(e) = incoming.table.extend_from_bytes(&bytes) {
                        incoming.broken = Some(e);
                    }
                }
                None
            }
            JobsReply::Loaded { result, .. } => {
                Some(arrived(*result, std::mem::take(&mut incoming)))
            }
            JobsReply::Refused { errors, .. } => Some(Err(DataError::Refused(errors))),
            JobsReply::Failed {
                reason, message, ..
            } => Some(Err(DataError::Failed(reason, message))),
            // progress goes to the status; these are not a data job's replies
            JobsReply::Ready
            | JobsReply::Progress { .. }
            | JobsReply::Map { .. }
            | JobsReply::Propagated { .. }
            | JobsReply::Timed { .. }
            | JobsReply::Cleaned { .. } => None,
        }),
    )
}

/// A feature's job on the data set the jobs worker holds (`Copy`). [`HeldJob::run`] builds
/// the job from the held data set's key when the worker holds the records (else hands them
/// over first and runs then: a click is never dropped); the newest run wins; a worker
/// that lost the data set (restarted) gets it back and the job is built and sent again;
/// an error becomes a notice that names what failed. The feature hears the rest.
#[derive(Clone, Copy)]
pub struct HeldJob {
    app: AppState,
    slot: Latest,
    /// What failed, for the notice ("The map could not be made").
    what: &'static str,
    /// The run waiting for the worker to hold the records.
    pending: StoredValue<Option<Rc<dyn Fn()>>, LocalStorage>,
}

impl HeldJob {
    /// A job slot of `app`'s; `what` names it in error notices.
    pub fn new(app: AppState, what: &'static str) -> Self {
        let this = Self {
            app,
            slot: Latest::default(),
            what,
            pending: StoredValue::new_local(None),
        };
        Effect::new(move |_| {
            if app.held.with(Option::is_some) {
                if let Some(run) = this.pending.try_update_value(Option::take).flatten() {
                    run();
                }
            }
        });
        this
    }

    /// Sends `build(key)` for the held data set (see [`HeldJob`]); `shown`: the stage shown
    /// as the worker's running job. `on_reply` hears the newest job's replies but a lost
    /// data set and errors, which are handled here.
    pub fn run(
        self,
        shown: Option<&'static str>,
        build: impl Fn(String) -> Job + 'static,
        on_reply: impl Fn(JobsReply) + 'static,
    ) {
        self.run_rc(
            shown,
            Rc::new(build),
            Rc::new(Vec::new()),
            Rc::new(on_reply),
        );
    }

    /// [`Self::run`] with files the worker reads beside the job (each run sends them).
    pub fn run_with_files(
        self,
        shown: Option<&'static str>,
        build: impl Fn(String) -> Job + 'static,
        files: Vec<web_sys::Blob>,
        on_reply: impl Fn(JobsReply) + 'static,
    ) {
        self.run_rc(shown, Rc::new(build), Rc::new(files), Rc::new(on_reply));
    }

    fn run_rc(
        self,
        shown: Option<&'static str>,
        build: Rc<dyn Fn(String) -> Job>,
        files: Rc<Vec<web_sys::Blob>>,
        on_reply: Rc<dyn Fn(JobsReply)>,
    ) {
        let app = self.app;
        let Some(key) = app.data_key() else {
            // the worker does not hold the records: this run waits for them
            self.slot.forget();
            self.pending.set_value(Some(Rc::new(move || {
                self.run_rc(shown, build.clone(), files.clone(), on_reply.clone())
            })));
            app.ensure_held();
            return;
        };
        self.pending.set_value(None);
        let job = build(key);
        self.slot.send(
            app.jobs,
            job,
            Payload {
                files: files.as_ref().clone(),
                ..Payload::default()
            },
            shown,
            move |reply| match reply {
                // the worker lost the data set (restarted): hand it over, run once more
                JobsReply::Failed {
                    reason: FailReason::NoData,
                    ..
                } => {
                    app.lost_data();
                    self.run_rc(shown, build.clone(), files.clone(), on_reply.clone());
                }
                JobsReply::Failed {
                    reason: FailReason::Error,
                    message,
                    ..
                } => app
                    .errors
                    .update(|v| v.push(format!("{}: {message}", self.what))),
                reply => on_reply(reply),
            },
        );
    }

    /// Whether job `id` is the newest this slot sent.
    pub fn is_current(self, id: u64) -> bool {
        self.slot.is_current(id)
    }
}

/// What a load, adopt or attach job brought, once its last reply arrived.
fn arrived(loaded: Loaded, inc: Incoming) -> Result<Arrived, DataError> {
    if let Some(e) = inc.broken {
        return Err(DataError::Failed(
            FailReason::Error,
            format!("unreadable signatures: {e}"),
        ));
    }
    let table = loaded.changed.then_some(inc.table);
    let vectors = if loaded.vectors_sent {
        let rows = inc.vectors.len() / inc.dim.max(1);
        Some(Embeddings::new(rows, inc.dim, inc.vectors).ok_or_else(|| {
            DataError::Failed(FailReason::Error, "embedding rows went missing".into())
        })?)
    } else {
        None
    };
    let records = (loaded.record_pieces > 0).then_some(inc.records);
    Ok(Arrived {
        loaded,
        records,
        vectors,
        table,
    })
}

impl AppState {
    /// Starts the jobs worker; when it is restarted (a cancel), it holds no data set.
    pub fn connect_worker(self) {
        self.jobs.start::<Job>();
        self.jobs.on_restart(Kind::Jobs, move || self.lost_data());
    }

    /// The key of the data set the worker holds for the records shown.
    pub fn data_key(&self) -> Option<String> {
        self.held.get_untracked()
    }

    /// The worker holds these records under `key` (with this signature table, when they
    /// changed); what waited for it runs now (it watches [`AppState::held`]).
    pub(super) fn set_held(self, key: String, table: Option<SignatureTable>) {
        if let Some(t) = table {
            self.signatures.set(Some(Arc::new(t)));
        }
        self.held.set(Some(key));
    }

    /// The worker lost the data set (it was restarted, or said it holds another).
    pub fn lost_data(self) {
        if self.held.with_untracked(Option::is_some) {
            self.held.set(None);
        }
    }

    /// Hands the records shown to the worker when it does not hold them, in the
    /// background; what waits for them runs when it does.
    pub fn ensure_held(self) {
        spawn_local(async move {
            let _ = self.held_key().await;
        });
    }

    /// The key of the data set the worker holds for the records shown, handing them over
    /// first when it holds none. `None`: there are no records, or the hand-over failed (said).
    pub(super) async fn held_key(self) -> Option<String> {
        while self.adopting.get_value() {
            gloo_timers::future::TimeoutFuture::new(20).await;
        }
        if let Some(k) = self.data_key() {
            return Some(k);
        }
        self.adopting.set_value(true);
        let adopted = self.adopt().await;
        self.adopting.set_value(false);
        match adopted {
            Ok(Some((key, table))) => {
                self.set_held(key.clone(), Some(table));
                Some(key)
            }
            Ok(None) => None,
            Err(e) => {
                self.errors.update(|v| {
                    v.push(format!(
                        "The background worker could not take the records: {e}"
                    ))
                });
                None
            }
        }
    }

    /// Sends the records shown (and their embeddings) to the worker, serialised a piece
    /// per task so that the page stays responsive.
    async fn adopt(self) -> Result<Option<(String, SignatureTable)>, String> {
        let Some((name, fp, rev, n, dim)) = self.session.with_untracked(|s| {
            s.as_ref().map(|s| {
                (
                    s.dataset.name().to_string(),
                    s.dataset.fingerprint().to_string(),
                    s.dataset.revision(),
                    s.dataset.len(),
                    s.dataset.embeddings().map_or(0, |e| e.dim()),
                )
            })
        }) else {
            return Ok(None);
        };
        // the same records (generated CoTs that joined meanwhile keep the fingerprint)
        let same = |s: &Session| s.dataset.fingerprint() == fp && s.dataset.revision() == rev;
        let mut text = Vec::new();
        for start in (0..n).step_by(RECORDS_PER_PIECE) {
            let written = self.session.with_untracked(|s| {
                let s = s.as_ref().filter(|s| same(s))?;
                let piece = &s.dataset.records()[start..(start + RECORDS_PER_PIECE).min(n)];
                serde_json::to_writer(&mut text, piece).ok()
            });
            if written.is_none() {
                return Ok(None); // other records were opened (or joined) meanwhile
            }
            text.push(b'\n');
            gloo_timers::future::TimeoutFuture::new(0).await;
        }
        let job = Job::Adopt(AdoptJob {
            name,
            fingerprint: fp.clone(),
        });
        let sent = self.session.with_untracked(|s| {
            let s = s.as_ref().filter(|s| same(s))?;
            let numbers = s.dataset.embeddings().map_or(&[][..], |e| e.as_slice());
            let payload = Payload {
                rows: n,
                dim,
                numbers,
                bytes: Some(&text),
                ..Payload::default()
            };
            Some(send(
                self.jobs,
                job,
                payload,
                "handing the records to the worker",
            ))
        });
        let Some(sent) = sent else { return Ok(None) };
        drop(text);
        match self.data_job(sent).await {
            Ok(a) => Ok(a
                .table
                .filter(|_| {
                    self.session
                        .with_untracked(|s| s.as_ref().is_some_and(same))
                })
                .map(|t| (a.loaded.key, t))),
            Err(DataError::Refused(e)) => Err(e
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")),
            Err(DataError::Failed(_, m)) => Err(m),
        }
    }

    /// Generated CoTs kept in this browser join the records shown: those not in yet, and
    /// (when the records have embeddings) those with a vector. The worker is handed the
    /// records again. Returns how many joined, and those that wait for a vector.
    pub fn join_generated(self, kept: Vec<Stored>) -> (usize, Vec<Stored>) {
        let mut waiting = Vec::new();
        let next = self.session.with_untracked(|s| {
            let s = s.as_ref()?;
            let (records, rows, wait) = generate::joinable(&s.dataset, kept);
            waiting = wait;
            let n = records.len();
            if n == 0 {
                return None;
            }
            match s.dataset.appended(records, rows.as_deref()) {
                Ok(d) => Some((d, n)),
                Err(e) => {
                    self.errors
                        .update(|v| v.push(format!("Generated CoTs could not join: {e}")));
                    None
                }
            }
        });
        let Some((dataset, n)) = next else {
            return (0, waiting);
        };
        self.session.update(|s| {
            if let Some(s) = s {
                s.dataset = dataset;
            }
        });
        self.lost_data();
        self.ensure_held();
        (n, waiting)
    }

    /// Generated CoTs leave the records shown: those `drop` names (or every one). They are
    /// forgotten by this browser too; their labels stay in the label store until the next
    /// load. Returns how many left.
    pub async fn remove_generated(self, drop: impl Fn(&Record) -> bool) -> Result<usize, String> {
        let Some((fp, gone, next)) = self.session.with_untracked(|s| {
            let s = s.as_ref()?;
            let gone: Vec<String> = s
                .dataset
                .records()
                .iter()
                .filter(|r| r.is_generated() && drop(r))
                .map(|r| r.id.clone())
                .collect();
            let next = s.dataset.without_generated(&drop);
            Some((s.dataset.fingerprint().to_string(), gone, next))
        }) else {
            return Ok(0);
        };
        persist::delete_generated(&fp, Some(&gone)).await?;
        if gone.is_empty() {
            return Ok(0);
        }
        self.session.update(|s| {
            if let Some(s) = s.as_mut().filter(|s| s.dataset.fingerprint() == fp) {
                s.dataset = next;
            }
        });
        self.selected.set(Some(0));
        self.lost_data();
        self.ensure_held();
        Ok(gone.len())
    }

    /// The judge scores this browser keeps for the data set of `fingerprint` become the ones
    /// in use (none kept: none in use — scores of another data set never carry over).
    pub(super) async fn restore_judged(self, fingerprint: &str) {
        let loaded = persist::load_judged(fingerprint).await;
        let kept = self.kept(loaded, "the judge scores").unwrap_or_default();
        self.judged.set(Arc::new(kept));
    }

    /// What this browser keeps, read back: its unreadable entries, or why nothing could be
    /// read (`what` was kept), become notices; `None` when nothing could be read.
    fn kept<T>(
        self,
        loaded: Result<(T, Vec<String>), persist::StorageError>,
        what: &str,
    ) -> Option<T> {
        match loaded {
            Ok((kept, problems)) => {
                self.errors.update(|v| v.extend(problems));
                Some(kept)
            }
            Err(e) => {
                self.errors
                    .update(|v| v.push(format!("Could not read {what} kept in this browser: {e}")));
                None
            }
        }
    }

    /// `dataset` with the generated CoTs this browser keeps for it that can join at once
    /// (how many joined): done before its labels are restored, so that the labels of
    /// generated CoTs are found. Those that wait for a vector join later (`generate`).
    pub(super) async fn with_kept_generated(self, dataset: Dataset) -> (Dataset, usize) {
        let loaded = persist::load_generated(dataset.fingerprint()).await;
        let Some(stored) = self.kept(loaded, "the generated CoTs") else {
            return (dataset, 0);
        };
        let (records, rows, _) = generate::joinable(&dataset, stored);
        let n = records.len();
        if n == 0 {
            return (dataset, 0);
        }
        match dataset.appended(records, rows.as_deref()) {
            Ok(d) => (d, n),
            Err(e) => {
                self.errors
                    .update(|v| v.push(format!("Generated CoTs could not join: {e}")));
                (dataset, 0)
            }
        }
    }

    /// Embeddings made on this device were set on the records shown: the worker reads the
    /// signatures again with them (by the records' key; handed over whole when it lost them).
    pub fn attach_in_worker(self) {
        let old = self.data_key();
        self.lost_data();
        self.adopting.set_value(true);
        spawn_local(async move {
            let sent = old.and_then(|base| {
                self.session.with_untracked(|s| {
                    let e = s.as_ref()?.dataset.embeddings()?;
                    let payload = Payload {
                        rows: e.rows(),
                        dim: e.dim(),
                        numbers: e.as_slice(),
                        ..Payload::default()
                    };
                    let job = Job::Attach(AttachJob { base });
                    Some(send(self.jobs, job, payload, "reading the reasoning"))
                })
            });
            let attached = match sent {
                Some(f) => self.data_job(f).await.ok(),
                None => None,
            };
            self.adopting.set_value(false);
            match attached {
                Some(a) => self.set_held(a.loaded.key, a.table),
                None => self.ensure_held(),
            }
        });
    }

    /// Waits for a data job; a worker that no longer holds the data set it named holds none.
    async fn data_job(self, sent: Waiting) -> Result<Arrived, DataError> {
        let result = sent.done().await;
        if matches!(result, Err(DataError::Failed(FailReason::NoData, _))) {
            self.lost_data();
        }
        result
    }

    /// Reads files in the worker, into the data set it holds under `base` (or a fresh one),
    /// with the job's progress shown.
    pub(super) async fn read_in_worker(
        self,
        inputs: &[PageFile],
        mapping: Option<&Mapping>,
        base: Option<String>,
    ) -> Result<Arrived, DataError> {
        let job = Job::Load(LoadJob {
            files: inputs.iter().map(|f| (f.name.clone(), f.size())).collect(),
            mapping: mapping.cloned(),
            base,
        });
        let payload = Payload {
            files: inputs.iter().map(|f| f.blob.clone()).collect(),
            ..Payload::default()
        };
        self.data_job(send(self.jobs, job, payload, "reading files"))
            .await
    }

    /// A data set read afresh in the worker: the records, its key and signature table.
    pub(super) async fn open_in_worker(
        self,
        files: &[PageFile],
        name: Option<&str>,
    ) -> Result<(Dataset, String, Option<SignatureTable>), String> {
        match self.read_in_worker(files, None, None).await {
            Ok(Arrived {
                loaded,
                records: Some(records),
                vectors,
                table,
            }) => {
                let d = records
                    .finish(name.unwrap_or(&loaded.name), vectors, loaded.fingerprint)
                    .ok_or("the worker sent records that do not fit")?;
                Ok((d, loaded.key, table))
            }
            Ok(_) => Err("no records".into()),
            Err(DataError::Refused(e)) => Err(e[0].to_string()),
            Err(DataError::Failed(_, m)) => Err(m),
        }
    }

    /// The shipped demo, read in the worker.
    pub(super) async fn open_demo(
        self,
    ) -> Result<(Dataset, String, Option<SignatureTable>), String> {
        let mut files = Vec::new();
        for url in DEMO_FILES {
            files.push(browser::fetch_file(url).await?);
        }
        self.open_in_worker(&files, Some(DEMO_NAME)).await
    }
}
