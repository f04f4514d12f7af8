//! The data set the jobs worker holds, seen from the page.
//!
//! The worker reads the files (parse, validate, fingerprint, signatures) and keeps the
//! result; the page keeps the records it shows and one row of signature numbers per CoT
//! ([`SignatureTable`]). What the worker read comes back in pieces — records, embedding
//! rows, then the table — each handled in a task of its own, so no step on the page walks
//! the whole data set at once. A job sent here is awaited: [`send`] resolves when the
//! worker's last reply for it has arrived.

use std::cell::RefCell;

use futures_channel::oneshot;

use crate::core::data::{Assembly, Embeddings};
use crate::core::signature::table::SignatureTable;
use crate::core::ImportError;
use crate::worker::protocol::{FailReason, Loaded, Reply, Request};

use super::bridge;
use super::browser::PageFile;

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
