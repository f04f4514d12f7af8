//! A run: the plan, a bounded number of request loops over it, each CoT streamed and kept
//! in IndexedDB as it is finished, retries (429, server errors, cut streams, empty replies),
//! cancel; the kept CoTs joining the data set (embedded on the device first when it has
//! embeddings); and a judge run over chosen CoTs.

use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use futures_channel::oneshot;
use js_sys::{Reflect, Uint8Array};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::core::data::{snippet, Record};
use crate::core::generate::{
    self, classify_http, Endpoint, GaveUp, GenError, RunSpec, SseEvent, SseReader, Stored, Tally,
};
use crate::core::signals::embed::DIM;
use crate::worker::protocol::{EmbedJob, ModelJob, ModelReply};

use super::super::browser;
use super::super::jobs::Payload;
use super::super::persist;
use super::client::{fetch, http_error, judge_one, race, served_models, JudgedBy, Raced};
use super::{GenState, LiveCot, RunRecord, JOIN_EVERY, MAX_CONCURRENCY, RUN};

/// A stream silent this long has timed out.
pub(super) const IDLE_MS: i32 = 120_000;

/// The run's controls, shared by its request loops.
#[derive(Default)]
pub(super) struct Ctl {
    pub(super) cancelled: Cell<bool>,
    pub(super) fatal: RefCell<Option<String>>,
    pub(super) aborts: RefCell<Vec<web_sys::AbortController>>,
    pub(super) queue: RefCell<VecDeque<Task>>,
    pub(super) taken: RefCell<HashSet<String>>,
    pub(super) notes: RefCell<Vec<GaveUp>>,
    pub(super) fresh: Cell<usize>,
    pub(super) active: Cell<usize>,
}

impl Ctl {
    pub(super) fn stopped(&self) -> bool {
        self.cancelled.get() || self.fatal.borrow().is_some()
    }

    /// Aborts every request in flight.
    pub(super) fn abort_all(&self) {
        for a in self.aborts.borrow_mut().drain(..) {
            a.abort();
        }
    }
}

thread_local! {
    pub(super) static CTL: RefCell<Option<Rc<Ctl>>> = const { RefCell::new(None) };
}

/// One CoT to ask for.
#[derive(Clone)]
pub(super) struct Task {
    like: Record,
    /// Index of its question in the plan.
    question: usize,
}

/// How one CoT ended.
pub(super) enum Outcome {
    Kept(Record),
    Lost(GaveUp),
    Stopped,
    Fatal(String),
}

/// Why a stream gave nothing.
pub(super) enum StreamError {
    Http(GenError),
    Cut,
    Timeout,
    Aborted,
}

impl GenState {
    /// A run: the plan, `spec.concurrency` request loops over it, then the kept CoTs join.
    pub(super) async fn run(self, spec: RunSpec) {
        if self.running() {
            return;
        }
        let settings = self.settings.get_untracked();
        let endpoint = settings.endpoint();
        if endpoint.model.is_empty() {
            self.problem.set(Some(
                "Name the model (\"Test connection\" lists the ones the server has).".into(),
            ));
            return;
        }
        let Some(fp) = self.fingerprint() else { return };
        // the server first: is it there, and does it serve this model? (some servers
        // answer any model name with the one they have)
        match served_models(&endpoint, &settings.api_key).await {
            Ok(ids) if !ids.is_empty() && !ids.contains(&endpoint.model) => {
                self.problem.set(Some(format!(
                    "{} It serves: {}.",
                    GenError::NotFound(format!("asked for `{}`", endpoint.model))
                        .message(&endpoint),
                    ids.join(", ")
                )));
                return;
            }
            Err(
                e @ (GenError::Unreachable(_) | GenError::Refused(_) | GenError::Unauthorized(_)),
            ) => {
                self.problem.set(Some(e.message(&endpoint)));
                return;
            }
            _ => {} // a server without /v1/models: the requests tell
        }
        // ids of CoTs kept before (joined or not), so that no new one takes theirs
        let mut taken: HashSet<String> = HashSet::new();
        if let Ok((kept, _)) = persist::load_generated(&fp).await {
            taken.extend(kept.into_iter().map(|s| s.record.id));
        }
        let planned = self.app.session.with_untracked(|s| {
            let s = s.as_ref()?;
            let only: Option<Vec<usize>> = spec
                .only
                .as_ref()
                .map(|ids| ids.iter().filter_map(|id| s.dataset.position(id)).collect());
            let plan = generate::plan(&s.dataset, spec.samples, only.as_deref());
            let mut tasks = VecDeque::new();
            for (q, &(i, n)) in plan.iter().enumerate() {
                for _ in 0..n {
                    tasks.push_back(Task {
                        like: s.dataset.records()[i].clone(),
                        question: q,
                    });
                }
            }
            Some((plan.iter().map(|p| p.1).collect::<Vec<usize>>(), tasks))
        });
        let Some((per_question, tasks)) = planned else {
            return;
        };
        if tasks.is_empty() {
            browser::local_set(RUN, "");
            self.resumable.set(None);
            self.status.set(Some(format!(
                "Every question asked for already has {} CoTs: nothing to generate.",
                spec.samples
            )));
            return;
        }
        browser::local_set(
            RUN,
            &serde_json::to_string(&RunRecord {
                fingerprint: fp.clone(),
                spec: spec.clone(),
            })
            .expect("plain data"),
        );
        self.resumable.set(None);
        self.status.set(None);
        let loops = spec.concurrency.clamp(1, MAX_CONCURRENCY).min(tasks.len());
        self.tally.set(Some(Tally {
            questions: per_question.len(),
            wanted: tasks.len(),
            started_ms: browser::performance_now(),
            ..Tally::default()
        }));
        self.live.set(vec![None; loops]);
        let ctl = Rc::new(Ctl {
            queue: RefCell::new(tasks),
            taken: RefCell::new(taken),
            active: Cell::new(loops),
            ..Ctl::default()
        });
        CTL.with(|c| *c.borrow_mut() = Some(ctl.clone()));
        let remaining = Rc::new(RefCell::new(per_question));
        let (tx, rx) = oneshot::channel::<()>();
        let tx = Rc::new(RefCell::new(Some(tx)));
        for slot in 0..loops {
            let (ctl, remaining, tx, endpoint, key, fp) = (
                ctl.clone(),
                remaining.clone(),
                tx.clone(),
                endpoint.clone(),
                settings.api_key.clone(),
                fp.clone(),
            );
            spawn_local(async move {
                self.request_loop(slot, &ctl, &remaining, &endpoint, &key, &fp)
                    .await;
                ctl.active.set(ctl.active.get() - 1);
                if ctl.active.get() == 0 {
                    if let Some(tx) = tx.borrow_mut().take() {
                        let _ = tx.send(());
                    }
                }
            });
        }
        let _ = rx.await;
        CTL.with(|c| *c.borrow_mut() = None);
        let tally = self.tally.get_untracked().unwrap_or_default();
        let secs = (browser::performance_now() - tally.started_ms) / 1000.0;
        let notes = ctl.notes.borrow().clone();
        let mut line = format!(
            "{} {} of {} CoTs from {} in {secs:.0} s ({:.1} tokens/s)",
            if ctl.cancelled.get() {
                "Cancelled: kept"
            } else {
                "Kept"
            },
            tally.kept,
            tally.wanted,
            endpoint.model,
            tally.tokens_per_s(browser::performance_now()),
        );
        if !notes.is_empty() {
            line.push_str(&format!(
                "; {} given up: {}",
                notes.len(),
                generate::summarise(&notes)
            ));
            if loops > 1 && notes.iter().any(|n| matches!(n, GaveUp::Empty { .. })) {
                line.push_str(
                    " (llama-cpp-python's server cuts a request short when another one \
                     arrives, unless started with --interrupt_requests False: ask one at a \
                     time, or restart it so)",
                );
            }
        }
        let unfinished = ctl.stopped();
        if unfinished {
            self.resumable.set(Some(spec));
            line.push_str(". \"Resume\" goes on where it stopped");
        } else {
            browser::local_set(RUN, "");
        }
        self.status.set(Some(line + "."));
        if let Some(f) = ctl.fatal.borrow().clone() {
            self.problem.set(Some(f));
        }
        self.tally.set(None);
        self.live.set(Vec::new());
        self.join_kept().await;
    }

    /// One request loop: takes the next CoT to ask for until none is left or the run stops.
    pub(super) async fn request_loop(
        self,
        slot: usize,
        ctl: &Rc<Ctl>,
        remaining: &Rc<RefCell<Vec<usize>>>,
        endpoint: &Endpoint,
        key: &str,
        fp: &str,
    ) {
        loop {
            if ctl.stopped() {
                return;
            }
            let Some(task) = ctl.queue.borrow_mut().pop_front() else {
                return;
            };
            self.live.update(|l| {
                if let Some(x) = l.get_mut(slot) {
                    *x = Some(LiveCot {
                        question: snippet(&task.like.question, 120),
                        text: String::new(),
                    })
                }
            });
            let outcome = self.one(slot, ctl, endpoint, key, &task.like).await;
            let through = match outcome {
                Outcome::Kept(record) => {
                    let item = Stored {
                        record,
                        vector: None,
                    };
                    match persist::put_generated(fp, &[(item.record.id.clone(), item.to_json())])
                        .await
                    {
                        Ok(()) => {
                            self.count(|t| t.kept += 1);
                            ctl.fresh.set(ctl.fresh.get() + 1);
                            if ctl.fresh.get() >= JOIN_EVERY {
                                ctl.fresh.set(0);
                                spawn_local(self.join_kept());
                            }
                            true
                        }
                        Err(e) => {
                            *ctl.fatal.borrow_mut() = Some(format!(
                                "A generated CoT could not be kept in this browser: {e}"
                            ));
                            ctl.abort_all();
                            false
                        }
                    }
                }
                Outcome::Lost(why) => {
                    ctl.notes.borrow_mut().push(why);
                    self.count(|t| t.lost += 1);
                    true
                }
                Outcome::Stopped => false,
                Outcome::Fatal(message) => {
                    if ctl.fatal.borrow().is_none() {
                        *ctl.fatal.borrow_mut() = Some(message);
                    }
                    ctl.abort_all();
                    false
                }
            };
            if through {
                let done = {
                    let mut r = remaining.borrow_mut();
                    r[task.question] -= 1;
                    r[task.question] == 0
                };
                if done {
                    self.count(|t| t.questions_done += 1);
                }
            }
        }
    }

    pub(super) fn count(self, f: impl FnOnce(&mut Tally)) {
        self.tally.update(|t| {
            if let Some(t) = t {
                f(t)
            }
        });
    }

    /// One CoT of `like`'s question: asked for (again after a 429, a server error, a cut
    /// stream or an empty reply) until it is kept or given up on.
    pub(super) async fn one(
        self,
        slot: usize,
        ctl: &Rc<Ctl>,
        endpoint: &Endpoint,
        key: &str,
        like: &Record,
    ) -> Outcome {
        let system = generate::system_prompt(like);
        let body = endpoint
            .request_body(&like.question, system.as_deref())
            .to_string();
        let (mut attempt, mut empty, mut cut, mut slow) = (0u32, 0, 0, 0);
        loop {
            if ctl.stopped() {
                return Outcome::Stopped;
            }
            self.live.update(|l| {
                if let Some(Some(x)) = l.get_mut(slot) {
                    x.text.clear();
                }
            });
            match self.stream(slot, ctl, endpoint, key, &body, attempt).await {
                Ok((text, _)) if text.trim().is_empty() => {
                    empty += 1;
                    if empty >= 2 {
                        return Outcome::Lost(GaveUp::Empty { twice: true });
                    }
                }
                Ok((text, finish)) => {
                    let id = {
                        let taken = ctl.taken.borrow();
                        let in_data = |id: &str| {
                            self.app.session.with_untracked(|s| {
                                s.as_ref().is_some_and(|s| s.dataset.position(id).is_some())
                            })
                        };
                        generate::next_id(&like.id, |id| taken.contains(id) || in_data(id))
                    };
                    ctl.taken.borrow_mut().insert(id.clone());
                    let now = crate::core::export::labelfile::format_time(browser::now_ms());
                    return match generate::generated_record(
                        like,
                        &text,
                        finish.as_deref(),
                        endpoint,
                        id,
                        &now,
                    ) {
                        Some(r) => Outcome::Kept(r),
                        None => Outcome::Lost(GaveUp::Empty { twice: false }),
                    };
                }
                Err(StreamError::Aborted) => return Outcome::Stopped,
                Err(StreamError::Http(GenError::RateLimited(wait))) => {
                    attempt += 1;
                    if attempt > 8 {
                        return Outcome::Fatal(format!(
                            "{} kept asking to slow down (429, {attempt} times): try fewer \
                             requests at a time",
                            endpoint.base_url
                        ));
                    }
                    self.live.update(|l| {
                        if let Some(Some(x)) = l.get_mut(slot) {
                            x.text = GenError::RateLimited(wait).message(endpoint);
                        }
                    });
                    if !sleep(ctl, wait).await {
                        return Outcome::Stopped;
                    }
                }
                Err(StreamError::Http(e @ GenError::Server(_))) => {
                    attempt += 1;
                    if attempt > 2 {
                        return Outcome::Fatal(e.message(endpoint));
                    }
                    if !sleep(ctl, f64::from(attempt)).await {
                        return Outcome::Stopped;
                    }
                }
                Err(StreamError::Http(e @ GenError::ContextLength(_))) => {
                    return Outcome::Lost(GaveUp::Context(e.message(endpoint)))
                }
                Err(StreamError::Http(e)) => return Outcome::Fatal(e.message(endpoint)),
                Err(StreamError::Cut) => {
                    cut += 1;
                    if cut >= 2 {
                        return Outcome::Lost(GaveUp::Cut);
                    }
                }
                Err(StreamError::Timeout) => {
                    slow += 1;
                    if slow >= 2 {
                        return Outcome::Fatal(format!(
                            "{} sent nothing for {} s (twice): is it overloaded, or stuck?",
                            endpoint.base_url,
                            IDLE_MS / 1000
                        ));
                    }
                }
            }
        }
    }

    /// One streamed request: the reply's text, shown as it comes.
    pub(super) async fn stream(
        self,
        slot: usize,
        ctl: &Rc<Ctl>,
        endpoint: &Endpoint,
        key: &str,
        body: &str,
        attempt: u32,
    ) -> Result<(String, Option<String>), StreamError> {
        let abort = web_sys::AbortController::new().map_err(|_| StreamError::Aborted)?;
        ctl.aborts.borrow_mut().push(abort.clone());
        let result = async {
            let resp = fetch(
                &endpoint.url("chat/completions"),
                Some(body),
                key,
                Some(&abort),
            )
            .await
            .map_err(|e| match e {
                _ if abort.signal().aborted() => StreamError::Aborted,
                GenError::TimedOut(_) => StreamError::Timeout,
                GenError::Aborted => StreamError::Aborted,
                e => StreamError::Http(e),
            })?;
            if !resp.ok() {
                return Err(StreamError::Http(http_error(&resp, attempt).await));
            }
            let reader: web_sys::ReadableStreamDefaultReader = resp
                .body()
                .ok_or(StreamError::Cut)?
                .get_reader()
                .unchecked_into();
            let mut sse = SseReader::new();
            let mut text = String::new();
            let (mut deltas, mut usage) = (0u64, None::<u64>);
            let mut finish: Option<String> = None;
            loop {
                let chunk = match race(reader.read(), IDLE_MS).await {
                    Raced::Value(v) => v,
                    Raced::TimedOut => {
                        abort.abort();
                        return Err(StreamError::Timeout);
                    }
                    Raced::Failed(_) if abort.signal().aborted() => {
                        return Err(StreamError::Aborted)
                    }
                    Raced::Failed(_) => return Err(StreamError::Cut),
                };
                let done = Reflect::get(&chunk, &"done".into())
                    .ok()
                    .and_then(|v| v.as_bool())
                    .unwrap_or(true);
                let events = if done {
                    let (events, cut) = sse.finish();
                    if cut {
                        return Err(StreamError::Cut);
                    }
                    events
                } else {
                    let value: Uint8Array = Reflect::get(&chunk, &"value".into())
                        .map_err(|_| StreamError::Cut)?
                        .unchecked_into();
                    sse.feed(&value.to_vec())
                };
                let mut added = String::new();
                let mut pieces = 0;
                for ev in events {
                    match ev {
                        SseEvent::Delta(t) => {
                            pieces += 1;
                            added.push_str(&t);
                        }
                        SseEvent::Usage { completion, .. } => usage = Some(completion),
                        SseEvent::Error(m) => {
                            return Err(StreamError::Http(classify_http(500, None, &m, attempt)))
                        }
                        SseEvent::Finish(f) => finish = Some(f),
                        SseEvent::Done => {}
                    }
                }
                if !added.is_empty() {
                    deltas += pieces;
                    text.push_str(&added);
                    self.count(|t| t.tokens += pieces);
                    self.live.update(|l| {
                        if let Some(Some(x)) = l.get_mut(slot) {
                            x.text.push_str(&added);
                        }
                    });
                }
                if done {
                    break;
                }
            }
            // the server's own count, when it sends one, replaces one token per piece
            if let Some(u) = usage {
                self.count(|t| t.tokens = t.tokens.saturating_sub(deltas) + u);
            }
            Ok((text, finish))
        }
        .await;
        ctl.aborts
            .borrow_mut()
            .retain(|a| !js_sys::Object::is(a.as_ref(), abort.as_ref()));
        result
    }

    /// A judge run over `todo` (record indices), one request at a time.
    pub(super) async fn run_judge(self, todo: Vec<usize>) {
        let s = self.settings.get_untracked();
        let endpoint = s.endpoint();
        self.judging.set(true);
        let (mut judged, mut failed) = (0usize, 0usize);
        let mut by = [0usize; 3];
        let mut last_problem = None;
        let mut last_way = None;
        for (k, &i) in todo.iter().enumerate() {
            if !self.judging.get_untracked() {
                break;
            }
            let Some((fp, id, question, cot)) = self.app.session.with_untracked(|ss| {
                let ds = &ss.as_ref()?.dataset;
                let r = ds.records().get(i)?;
                Some((
                    ds.fingerprint().to_string(),
                    r.id.clone(),
                    r.question.clone(),
                    r.cot.clone(),
                ))
            }) else {
                continue;
            };
            self.judge_status.set(Some(format!(
                "Judging {} of {} CoTs with {}…",
                k + 1,
                todo.len(),
                endpoint.model
            )));
            // the way that worked for the last CoT goes first
            let completion_first = last_way == Some(JudgedBy::Completion);
            match judge_one(&endpoint, &s.api_key, &question, &cot, completion_first).await {
                Ok((p, how)) => {
                    judged += 1;
                    by[how as usize] += 1;
                    last_way = Some(how);
                    self.app.judged.update(|m| {
                        Arc::make_mut(m).insert(id.clone(), p as f32);
                    });
                    // kept as it arrives: a reload or a closed tab keeps what was judged
                    if let Err(e) = persist::put_judged(&fp, &[(id, p as f32)]).await {
                        last_problem =
                            Some(format!("the score could not be kept in this browser: {e}"));
                    }
                }
                Err(e) => {
                    failed += 1;
                    last_problem = Some(e);
                    if failed >= 3 && judged == 0 {
                        break; // a server that cannot judge: say so, do not hammer it
                    }
                }
            }
        }
        let stopped = !self.judging.get_untracked();
        self.judging.set(false);
        let total = untrack(|| self.app.judged_count());
        let how = [
            (by[0], "from the chat reply's log-probabilities"),
            (by[1], "from a plain completion's log-probabilities"),
            (by[2], "from sampled answers"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, t)| format!("{n} {t}"))
        .collect::<Vec<_>>()
        .join(", ");
        let how = if how.is_empty() {
            "none".to_string()
        } else {
            how
        };
        self.judge_status.set(Some(format!(
            "{}Judged {judged} of {} CoTs with {} (P(yes): {how}); {total} judged in all. Its say is learnt from your labels at each propagation (none without labels).{}",
            if stopped { "Stopped. " } else { "" },
            todo.len(),
            endpoint.model,
            last_problem
                .map(|p| format!(" {failed} could not be judged: {p}"))
                .unwrap_or_default()
        )));
    }

    /// Kept CoTs of the records shown that are not in yet join them; those that need a
    /// vector are embedded on this device first. One join at a time (a call during one
    /// makes it go round again).
    pub(super) async fn join_kept(self) {
        let (busy, _) = self.joining.get_value();
        if busy {
            self.joining.set_value((true, true));
            return;
        }
        self.joining.set_value((true, false));
        loop {
            if let Err(e) = self.join_once().await {
                self.app
                    .errors
                    .update(|v| v.push(format!("Generated CoTs could not join: {e}")));
            }
            let (_, again) = self.joining.get_value();
            if !again {
                break;
            }
            self.joining.set_value((true, false));
        }
        self.joining.set_value((false, false));
    }

    pub(super) async fn join_once(self) -> Result<(), String> {
        let Some(fp) = self.fingerprint() else {
            return Ok(());
        };
        let (kept, problems) = persist::load_generated(&fp).await?;
        if !problems.is_empty() {
            self.app.errors.update(|v| v.extend(problems));
        }
        if kept.is_empty() || self.fingerprint().as_deref() != Some(fp.as_str()) {
            return Ok(());
        }
        let (_, waiting) = self.app.join_generated(kept);
        if waiting.is_empty() {
            return Ok(());
        }
        let dim = self.app.session.with_untracked(|s| {
            s.as_ref()
                .and_then(|s| s.dataset.embeddings().map(|e| e.dim()))
        });
        if dim != Some(DIM) {
            return Err(format!(
                "{} wait for a vector, but the data set's embeddings are {}-dimensional and \
                 this device computes MiniLM's {DIM}: they join once the data set is embedded \
                 on this device",
                waiting.len(),
                dim.unwrap_or(0)
            ));
        }
        let texts: Vec<String> = waiting.iter().map(|s| s.record.cot.clone()).collect();
        let vectors = self.embed(texts).await?;
        if vectors.len() != waiting.len() * DIM {
            return Err("fewer vectors than CoTs came back".into());
        }
        let done: Vec<Stored> = waiting
            .into_iter()
            .zip(vectors.chunks_exact(DIM))
            .map(|(mut s, v)| {
                s.vector = Some(v.to_vec());
                s
            })
            .collect();
        let items: Vec<(String, String)> = done
            .iter()
            .map(|s| (s.record.id.clone(), s.to_json()))
            .collect();
        persist::put_generated(&fp, &items).await?;
        if self.fingerprint().as_deref() == Some(fp.as_str()) {
            self.app.join_generated(done);
        }
        Ok(())
    }

    /// MiniLM vectors of `texts`, from the model worker.
    pub(super) async fn embed(self, texts: Vec<String>) -> Result<Vec<f32>, String> {
        let job = ModelJob::Embed(EmbedJob {
            texts,
            model: browser::MINILM.into(),
            backend: browser::model_backend(),
            batch: browser::MINILM_BATCH,
            workers: 1, // a few CoTs at a time: a pool would not repay its start
        });
        self.app
            .jobs
            .ask(
                job,
                Payload::default(),
                Some("embedding generated CoTs"),
                |reply| match reply {
                    ModelReply::Embedded { result, .. } => Some(Ok(result.vectors)),
                    ModelReply::Failed { message, .. } => Some(Err(message)),
                    _ => None,
                },
            )
            .outcome()
            .await
            .unwrap_or_else(|| Err("the model worker was restarted".into()))
    }
}

/// Waits `secs` unless the run stops meanwhile; whether it is still going.
pub(super) async fn sleep(ctl: &Ctl, secs: f64) -> bool {
    let mut left = (secs * 1000.0).max(0.0) as u32;
    while left > 0 {
        if ctl.stopped() {
            return false;
        }
        let step = left.min(250);
        gloo_timers::future::TimeoutFuture::new(step).await;
        left -= step;
    }
    !ctl.stopped()
}
