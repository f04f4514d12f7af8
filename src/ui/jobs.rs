//! The one jobs service every feature of the page uses to run work in a worker.
//!
//! - **Ids**: [`Jobs::send`] numbers each job; every reply to it goes to the handler the
//!   feature passed with it, until the job's last reply ([`WorkerReply::is_final`]). No central
//!   `match` routes replies, and no feature knows another's job ids.
//! - **Status and progress**: each worker's running job is shown (stage, share done,
//!   start) in [`Jobs::running`]; a job sent without a status becomes the one shown when it
//!   reports progress while its worker shows nothing else (a propagation building its graph).
//! - **Cancel, per worker**: [`Jobs::cancel`] restarts that worker only; its jobs end with
//!   `Failed { reason: Cancelled }`, handed to their handlers, and what registered with
//!   [`Jobs::on_restart`] learns that the fresh worker holds nothing.
//!
//! - **Latest wins**: a feature that re-sends a job as its inputs change keeps a [`Latest`]
//!   slot: replies to a job sent before the newest one are dropped there.
//! - **Awaitable**: [`Jobs::ask`] sends a job and gives a future of its outcome.
//!
//! Which worker runs a job, and what it replies, follow from its type ([`WorkerJob`]):
//! [`crate::worker::protocol::Job`] goes to the jobs worker and comes back as
//! [`crate::worker::protocol::JobsReply`], [`crate::worker::protocol::ModelJob`] to the
//! model worker as [`crate::worker::protocol::ModelReply`]. The data set's own lifecycle
//! (hand it over, retry a job the worker lost it for) is [`super::dataset::HeldJob`].

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::oneshot;
use leptos::prelude::*;

use crate::worker::protocol::{FailReason, Request, WorkerJob, WorkerReply};

use super::bridge::{self, Kind};
use super::browser;

/// A job shown as running, with its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatus {
    /// Job id.
    pub id: u64,
    /// What it does now.
    pub stage: String,
    /// Share done.
    pub fraction: f64,
    /// When it was sent or first shown (performance.now()).
    pub started: f64,
    /// The worker running it (cancelling stops only that one).
    pub worker: Kind,
}

/// What travels beside a job: numbers (`rows × dim`, row-major), bytes (weights, records)
/// and blobs the worker reads itself (files).
#[derive(Default)]
pub struct Payload<'a> {
    /// Rows of `numbers`.
    pub rows: usize,
    /// Values per row.
    pub dim: usize,
    /// The numbers.
    pub numbers: &'a [f32],
    /// Bytes, when any.
    pub bytes: Option<&'a [u8]>,
    /// Files, when any.
    pub files: Vec<web_sys::Blob>,
}

/// A job sent and not yet answered in full.
struct Live {
    id: u64,
    worker: Kind,
    /// The feature's handler, an `Rc<dyn Fn(R)>` of its worker's reply type `R`.
    handler: Rc<dyn Any>,
    /// Tells the handler the job was cancelled (its worker restarted).
    cancelled: Rc<dyn Fn()>,
}

thread_local! {
    static LIVE: RefCell<Vec<Live>> = const { RefCell::new(Vec::new()) };
    static ON_RESTART: RefCell<Vec<(Kind, Rc<dyn Fn()>)>> = const { RefCell::new(Vec::new()) };
}

/// The jobs service (`Copy`: every feature keeps it).
#[derive(Clone, Copy)]
pub struct Jobs {
    seq: StoredValue<u64>,
    /// The job each worker runs, as shown (at most one per worker).
    pub running: RwSignal<Vec<JobStatus>>,
    /// Where a reply nobody can read is reported.
    errors: RwSignal<Vec<String>>,
}

impl Jobs {
    /// The service; problems it cannot hand to a job are added to `errors`.
    pub fn new(errors: RwSignal<Vec<String>>) -> Self {
        Self {
            seq: StoredValue::new(0),
            running: RwSignal::new(Vec::new()),
            errors,
        }
    }

    /// Starts the worker that runs jobs of type `J` (once); jobs sent before it is ready
    /// wait for it.
    pub fn start<J: WorkerJob>(self) {
        if let Err(e) = bridge::start::<J>(move |reply| self.route(J::WORKER, reply)) {
            self.errors.update(|v| v.push(e.to_string()));
        }
    }

    /// Sends `job` to its worker (started when it is not); replies go to `handler`.
    /// `shown`: the stage shown as that worker's running job from now on. The job's id.
    pub fn send<J: WorkerJob>(
        self,
        job: J,
        payload: Payload<'_>,
        shown: Option<&str>,
        handler: impl Fn(J::Reply) + 'static,
    ) -> u64 {
        let worker = J::WORKER;
        self.start::<J>();
        let id = self.seq.get_value() + 1;
        self.seq.set_value(id);
        let handler: Rc<dyn Fn(J::Reply)> = Rc::new(handler);
        let cancel = handler.clone();
        LIVE.with(|l| {
            l.borrow_mut().push(Live {
                id,
                worker,
                handler: Rc::new(handler),
                cancelled: Rc::new(move || {
                    cancel(J::Reply::failed(
                        id,
                        FailReason::Cancelled,
                        "cancelled".into(),
                    ))
                }),
            })
        });
        if let Some(stage) = shown {
            self.show(JobStatus {
                id,
                stage: stage.into(),
                fraction: 0.0,
                started: browser::performance_now(),
                worker,
            });
        }
        let files = (!payload.files.is_empty())
            .then(|| payload.files.iter().cloned().collect::<js_sys::Array>());
        let req = Request {
            id,
            rows: payload.rows,
            dim: payload.dim,
            job,
        };
        bridge::submit(&req, payload.numbers, payload.bytes, files);
        id
    }

    /// Sends `job` and gives its outcome to await: `outcome` sees every reply and returns
    /// `Some` at the one that ends the job (a cancel included: its `Failed` reply comes
    /// here too).
    pub fn ask<J: WorkerJob, T: 'static>(
        self,
        job: J,
        payload: Payload<'_>,
        shown: Option<&str>,
        outcome: impl FnMut(J::Reply) -> Option<T> + 'static,
    ) -> Asked<T> {
        let (tx, rx) = oneshot::channel();
        let tx = RefCell::new(Some(tx));
        let outcome = RefCell::new(outcome);
        self.send(job, payload, shown, move |reply| {
            if let Some(t) = (outcome.borrow_mut())(reply) {
                if let Some(tx) = tx.borrow_mut().take() {
                    let _ = tx.send(t);
                }
            }
        });
        Asked(rx)
    }

    /// Stops what `worker` runs: restarts it (the other worker carries on). Its jobs end
    /// as cancelled, and what registered with [`Jobs::on_restart`] runs.
    pub fn cancel(self, worker: Kind) {
        bridge::cancel(worker);
        self.running.update(|r| r.retain(|j| j.worker != worker));
        let ended: Vec<Live> = LIVE.with(|l| {
            let mut l = l.borrow_mut();
            let (ended, keep) = std::mem::take(&mut *l)
                .into_iter()
                .partition(|j| j.worker == worker);
            *l = keep;
            ended
        });
        for job in ended {
            (job.cancelled)();
        }
        let hooks: Vec<_> = ON_RESTART.with(|h| {
            h.borrow()
                .iter()
                .filter(|(w, _)| *w == worker)
                .map(|(_, f)| f.clone())
                .collect()
        });
        for f in hooks {
            f();
        }
    }

    /// `f` runs whenever `worker` is restarted (what it held is gone).
    pub fn on_restart(self, worker: Kind, f: impl Fn() + 'static) {
        ON_RESTART.with(|h| h.borrow_mut().push((worker, Rc::new(f))));
    }

    /// The status shown for `worker`, if any (untracked).
    pub fn shown(self, worker: Kind) -> Option<JobStatus> {
        self.running
            .with_untracked(|r| r.iter().find(|j| j.worker == worker).cloned())
    }

    fn show(self, status: JobStatus) {
        self.running.update(|r| {
            r.retain(|j| j.worker != status.worker);
            r.push(status);
        });
    }

    /// Hands a reply of `worker` to the job that asked; progress updates the status
    /// shown.
    fn route<R: WorkerReply>(self, worker: Kind, reply: R) {
        let id = reply.id();
        let handler = LIVE.with(|l| {
            l.borrow()
                .iter()
                .find(|j| j.id == id && j.worker == worker)
                .and_then(|j| j.handler.downcast_ref::<Rc<dyn Fn(R)>>().cloned())
        });
        let Some(handler) = handler else {
            // a reply to a job that ended (cancelled) is dropped; one that could not be
            // read at all is said
            if let (0, Some((_, message))) = (id, reply.as_failure()) {
                self.errors
                    .update(|v| v.push(format!("A worker's reply: {message}")));
            }
            return;
        };
        if let Some((stage, fraction)) = reply.as_progress() {
            let started = match self.shown(worker) {
                Some(s) if s.id == id => Some(s.started),
                None => Some(browser::performance_now()),
                Some(_) => None,
            };
            if let Some(started) = started {
                self.show(JobStatus {
                    id,
                    stage: stage.to_string(),
                    fraction,
                    started,
                    worker,
                });
            }
            return;
        }
        if reply.is_final() {
            LIVE.with(|l| l.borrow_mut().retain(|j| j.id != id));
            if self
                .running
                .with_untracked(|r| r.iter().any(|j| j.id == id))
            {
                self.running.update(|r| r.retain(|j| j.id != id));
            }
        }
        handler(reply);
    }
}

/// A job's outcome to await ([`Jobs::ask`]).
pub struct Asked<T>(oneshot::Receiver<T>);

impl<T> Asked<T> {
    /// The outcome; `None` when the job ended without one.
    pub async fn outcome(self) -> Option<T> {
        self.0.await.ok()
    }
}

/// A feature's slot for a job it sends again whenever its inputs change: the newest job
/// sent through it wins, and replies to older ones are dropped here (`Copy`).
#[derive(Clone, Copy)]
pub struct Latest(StoredValue<u64>);

impl Default for Latest {
    fn default() -> Self {
        Self(StoredValue::new(0))
    }
}

impl Latest {
    /// [`Jobs::send`] through this slot: `handler` hears only the newest job's replies.
    pub fn send<J: WorkerJob>(
        self,
        jobs: Jobs,
        job: J,
        payload: Payload<'_>,
        shown: Option<&str>,
        handler: impl Fn(J::Reply) + 'static,
    ) -> u64 {
        let id = jobs.send(job, payload, shown, move |reply| {
            if self.is_current(reply.id()) {
                handler(reply);
            }
        });
        self.0.set_value(id);
        id
    }

    /// Whether job `id` is still the newest sent through this slot.
    pub fn is_current(self, id: u64) -> bool {
        self.0.get_value() == id
    }

    /// Drops whatever is in flight: its replies go nowhere.
    pub fn forget(self) {
        self.0.set_value(0);
    }
}
