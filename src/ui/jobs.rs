//! The one jobs service every feature of the page uses to run work in a worker.
//!
//! - **Ids**: [`Jobs::send`] numbers each job; every reply to it goes to the handler the
//!   feature passed with it, until the job's last reply ([`Reply::is_final`]). No central
//!   `match` routes replies, and no feature knows another's job ids.
//! - **Status and progress**: each worker's running job is shown (stage, share done,
//!   start) in [`Jobs::running`]; a job sent without a status becomes the one shown when it
//!   reports progress while its worker shows nothing else (a propagation building its graph).
//! - **Cancel, per worker**: [`Jobs::cancel`] restarts that worker only; its jobs end with
//!   `Failed { reason: Cancelled }`, handed to their handlers, and what registered with
//!   [`Jobs::on_restart`] learns that the fresh worker holds nothing.
//!
//! Which worker runs a job follows from its type ([`WorkerJob`]): [`crate::worker::protocol::Job`]
//! goes to the jobs worker, [`crate::worker::protocol::ModelJob`] to the model worker.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;

use crate::worker::protocol::{FailReason, Reply, Request, WorkerJob};

use super::bridge::{self, Kind};
use super::browser;

/// What a feature does with the replies to one of its jobs.
type Handler = Rc<dyn Fn(Reply)>;

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

struct Live {
    id: u64,
    worker: Kind,
    handler: Handler,
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

    /// Starts a worker (once); jobs sent before it is ready wait for it.
    pub fn start(self, worker: Kind) {
        if let Err(e) = bridge::start(worker, move |reply| self.route(reply)) {
            self.errors.update(|v| v.push(e));
        }
    }

    /// Sends `job` to its worker (started when it is not); replies go to `handler`.
    /// `shown`: the stage shown as that worker's running job from now on. The job's id.
    pub fn send<J: WorkerJob>(
        self,
        job: J,
        payload: Payload<'_>,
        shown: Option<&str>,
        handler: impl Fn(Reply) + 'static,
    ) -> u64 {
        let worker = J::WORKER;
        self.start(worker);
        let id = self.seq.get_value() + 1;
        self.seq.set_value(id);
        LIVE.with(|l| {
            l.borrow_mut().push(Live {
                id,
                worker,
                handler: Rc::new(handler),
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
            (job.handler)(Reply::Failed {
                id: job.id,
                reason: FailReason::Cancelled,
                message: "cancelled".into(),
            });
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

    /// Hands a reply to the job that asked; progress updates the status shown.
    fn route(self, reply: Reply) {
        let id = reply.id();
        let live = LIVE.with(|l| {
            l.borrow()
                .iter()
                .find(|j| j.id == id)
                .map(|j| (j.worker, j.handler.clone()))
        });
        let Some((worker, handler)) = live else {
            // a reply to a job that ended (cancelled) is dropped; one that could not be
            // read at all is said
            if let Reply::Failed { id: 0, message, .. } = &reply {
                self.errors
                    .update(|v| v.push(format!("A worker's reply: {message}")));
            }
            return;
        };
        if let Reply::Progress {
            stage, fraction, ..
        } = &reply
        {
            let started = match self.shown(worker) {
                Some(s) if s.id == id => Some(s.started),
                None => Some(browser::performance_now()),
                Some(_) => None,
            };
            if let Some(started) = started {
                self.show(JobStatus {
                    id,
                    stage: stage.clone(),
                    fraction: *fraction,
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
