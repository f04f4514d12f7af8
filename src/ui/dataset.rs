//! The data set the jobs worker holds, seen from the page.
//!
//! The worker reads the files (parse, validate, fingerprint, signatures) and keeps the
//! result; the page keeps the records it shows and one row of signature numbers per CoT
//! ([`SignatureTable`]). What the worker read comes back in pieces — records, embedding
//! rows, then the table — each handled in a task of its own, so no step on the page walks
//! the whole data set at once. A job sent here is awaited: [`Waiting::done`] resolves when
//! the worker's last reply for it has arrived.
//!
//! The page's side of it lives here too: which data set the worker holds for the records
//! shown (its key), reading files into it, handing the records over again to a restarted
//! worker, and attaching embeddings made on the device.

use std::cell::RefCell;
use std::sync::Arc;

use futures_channel::oneshot;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::data::{Assembly, Embeddings};
use crate::core::mapping::Mapping;
use crate::core::signature::table::SignatureTable;
use crate::core::{Dataset, ImportError, Session};
use crate::worker::protocol::{
    AdoptJob, AttachJob, FailReason, Job, LoadJob, Loaded, Reply, Request,
};
use crate::worker::RECORDS_PER_PIECE;

use super::bridge;
use super::browser::{self, PageFile};
use super::state::{AppState, JobStatus, DEMO_FILES, DEMO_NAME};

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

struct Incoming {
    id: u64,
    records: Assembly,
    vectors: Vec<f32>,
    dim: usize,
    tx: oneshot::Sender<Result<Arrived, DataError>>,
}

thread_local! {
    static INCOMING: RefCell<Vec<Incoming>> = const { RefCell::new(Vec::new()) };
}

/// A data job sent; [`Waiting::done`] waits for all the worker sends back.
pub struct Waiting(oneshot::Receiver<Result<Arrived, DataError>>);

impl Waiting {
    /// What the job brought (cancelled when its worker was restarted).
    pub async fn done(self) -> Result<Arrived, DataError> {
        self.0.await.unwrap_or_else(|_| {
            Err(DataError::Failed(
                FailReason::Cancelled,
                "the worker was restarted".into(),
            ))
        })
    }
}

/// Sends a data job to the jobs worker (now: its numbers and bytes are copied here; the
/// files' blobs are read by the worker).
pub fn send(req: &Request, data: &[f32], bytes: &[u8], files: &[PageFile]) -> Waiting {
    let (tx, rx) = oneshot::channel();
    INCOMING.with(|v| {
        v.borrow_mut().push(Incoming {
            id: req.id,
            records: Assembly::default(),
            vectors: Vec::new(),
            dim: 0,
            tx,
        })
    });
    let blobs = (!files.is_empty()).then(|| files.iter().map(|f| f.blob.clone()).collect());
    bridge::submit_with_files(
        bridge::Kind::Jobs,
        req,
        data,
        Some(bytes).filter(|b| !b.is_empty()),
        blobs,
    );
    Waiting(rx)
}

/// Every data job waiting ends as cancelled (its worker was restarted).
pub fn abandon() {
    INCOMING.with(|v| v.borrow_mut().clear());
}

fn finish(id: u64, result: impl FnOnce(Assembly, Vec<f32>, usize) -> Result<Arrived, DataError>) {
    let done = INCOMING.with(|v| {
        let mut v = v.borrow_mut();
        let at = v.iter().position(|i| i.id == id)?;
        Some(v.swap_remove(at))
    });
    if let Some(Incoming {
        records,
        vectors,
        dim,
        tx,
        ..
    }) = done
    {
        let _ = tx.send(result(records, vectors, dim));
    }
}

/// Takes the replies of data jobs; hands every other reply back.
pub fn route(reply: Reply) -> Option<Reply> {
    let waiting = |id: u64| INCOMING.with(|v| v.borrow().iter().any(|i| i.id == id));
    match reply {
        Reply::Records { id, records } if waiting(id) => {
            INCOMING.with(|v| {
                if let Some(inc) = v.borrow_mut().iter_mut().find(|i| i.id == id) {
                    inc.records.push(records);
                }
            });
            None
        }
        Reply::Vectors {
            id,
            dim,
            total,
            values,
            ..
        } if waiting(id) => {
            INCOMING.with(|v| {
                if let Some(inc) = v.borrow_mut().iter_mut().find(|i| i.id == id) {
                    if inc.vectors.is_empty() {
                        inc.vectors.reserve_exact(total * dim);
                    }
                    inc.dim = dim;
                    inc.vectors.extend_from_slice(&values);
                }
            });
            None
        }
        Reply::Loaded { id, result, table } if waiting(id) => {
            finish(id, move |records, vectors, dim| {
                let table = if table.is_empty() {
                    None
                } else {
                    Some(SignatureTable::from_bytes(&table).map_err(|e| {
                        DataError::Failed(FailReason::Error, format!("unreadable signatures: {e}"))
                    })?)
                };
                let vectors = if result.vectors_sent {
                    let rows = vectors.len() / dim.max(1);
                    Some(Embeddings::new(rows, dim, vectors).ok_or_else(|| {
                        DataError::Failed(FailReason::Error, "embedding rows went missing".into())
                    })?)
                } else {
                    None
                };
                let records = (result.record_pieces > 0).then_some(records);
                Ok(Arrived {
                    loaded: *result,
                    records,
                    vectors,
                    table,
                })
            });
            None
        }
        Reply::Refused { id, errors } if waiting(id) => {
            finish(id, move |_, _, _| Err(DataError::Refused(errors)));
            None
        }
        Reply::Failed {
            id,
            reason,
            message,
        } if waiting(id) => {
            finish(id, move |_, _, _| Err(DataError::Failed(reason, message)));
            None
        }
        other => Some(other),
    }
}

impl AppState {
    /// The key of the data set the worker holds for the records shown.
    pub fn data_key(&self) -> Option<String> {
        self.held.get_value()
    }

    /// The worker holds these records under `key` (with this signature table, when they
    /// changed); what waited for it runs now.
    pub(super) fn set_held(self, key: String, table: Option<SignatureTable>) {
        self.held.set_value(Some(key));
        if let Some(t) = table {
            self.signatures.set(Some(Arc::new(t)));
        }
        if self.map_waiting.get_value() {
            self.map_waiting.set_value(false);
            self.request_map();
        }
        if self.prop.take_waiting() {
            self.request_propagation();
        }
    }

    /// The worker lost the data set (it was restarted, or said it holds another).
    pub fn lost_data(self) {
        self.held.set_value(None);
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
    pub(super) async fn adopt(self) -> Result<Option<(String, SignatureTable)>, String> {
        let Some((name, fp, n, dim)) = self.session.with_untracked(|s| {
            s.as_ref().map(|s| {
                (
                    s.dataset.name().to_string(),
                    s.dataset.fingerprint().to_string(),
                    s.dataset.len(),
                    s.dataset.embeddings().map_or(0, |e| e.dim()),
                )
            })
        }) else {
            return Ok(None);
        };
        let same = |s: &Session| s.dataset.fingerprint() == fp;
        let mut text = Vec::new();
        for start in (0..n).step_by(RECORDS_PER_PIECE) {
            let written = self.session.with_untracked(|s| {
                let s = s.as_ref().filter(|s| same(s))?;
                let piece = &s.dataset.records()[start..(start + RECORDS_PER_PIECE).min(n)];
                serde_json::to_writer(&mut text, piece).ok()
            });
            if written.is_none() {
                return Ok(None); // other records were opened meanwhile
            }
            text.push(b'\n');
            gloo_timers::future::TimeoutFuture::new(0).await;
        }
        let req = Request {
            id: self.next_job_id(),
            rows: n,
            dim,
            job: Job::Adopt(AdoptJob {
                name,
                fingerprint: fp.clone(),
            }),
        };
        let sent = self.session.with_untracked(|s| {
            let s = s.as_ref().filter(|s| same(s))?;
            let numbers = s.dataset.embeddings().map_or(&[][..], |e| e.as_slice());
            Some(send(&req, numbers, &text, &[]))
        });
        let Some(sent) = sent else { return Ok(None) };
        drop(text);
        match self
            .tracked(req.id, "handing the records to the worker", sent)
            .await
        {
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
                    let req = Request {
                        id: self.next_job_id(),
                        rows: e.rows(),
                        dim: e.dim(),
                        job: Job::Attach(AttachJob { base }),
                    };
                    Some((req.id, send(&req, e.as_slice(), &[], &[])))
                })
            });
            let attached = match sent {
                Some((id, f)) => self.tracked(id, "reading the reasoning", f).await.ok(),
                None => None,
            };
            self.adopting.set_value(false);
            match attached {
                Some(a) => self.set_held(a.loaded.key, a.table),
                None => self.ensure_held(),
            }
        });
    }

    /// Waits for a data job, with its progress shown as the running job of the jobs worker.
    pub(super) async fn tracked(
        self,
        id: u64,
        stage: &str,
        sent: Waiting,
    ) -> Result<Arrived, DataError> {
        self.job.set(Some(JobStatus {
            id,
            stage: stage.into(),
            fraction: 0.0,
            started: browser::performance_now(),
            worker: bridge::Kind::Jobs,
        }));
        let result = sent.done().await;
        if self
            .job
            .with_untracked(|j| j.as_ref().is_some_and(|j| j.id == id))
        {
            self.job.set(None);
        }
        if matches!(result, Err(DataError::Failed(FailReason::NoData, _))) {
            self.lost_data();
        }
        result
    }

    pub(super) fn next_job_id(self) -> u64 {
        let id = self.job_seq.get_untracked() + 1;
        self.job_seq.set(id);
        id
    }

    /// Reads files in the worker, into the data set it holds under `base` (or a fresh one),
    /// with the job's progress shown.
    pub(super) async fn read_in_worker(
        self,
        inputs: &[PageFile],
        mapping: Option<&Mapping>,
        base: Option<String>,
    ) -> Result<Arrived, DataError> {
        let id = self.next_job_id();
        let req = Request {
            id,
            rows: 0,
            dim: 0,
            job: Job::Load(LoadJob {
                files: inputs.iter().map(|f| (f.name.clone(), f.size())).collect(),
                mapping: mapping.cloned(),
                base,
            }),
        };
        let sent = send(&req, &[], &[], inputs);
        self.tracked(id, "reading files", sent).await
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
