//! "Generate siblings": more CoTs per question from a model the person runs, over the
//! OpenAI chat-completions protocol (llama.cpp, Ollama, vLLM). What is not a network call
//! lives in [`crate::core::generate`]; this feature holds the settings, the confirmation,
//! the run and its progress.
//!
//! - **Settings** persist in this browser (localStorage); the API key only when the
//!   person ticks "remember".
//! - **Privacy**: nothing is sent before a click ("Test connection", "Generate", "Resume").
//!   A host that is not loopback needs a confirmation naming it, once per host.
//! - **A run** fills each question (all, the selected one's, or those the list shows) up to
//!   N CoTs: streamed requests, a bounded number at a time; progress in questions, tokens
//!   per second and time left; cancel aborts every request at once. Each CoT is kept in
//!   IndexedDB as it is finished, and the run itself is remembered until it completes, so a
//!   reload or a crash offers to resume it (the plan counts the CoTs already there).
//! - **Judging** ("Judge with my model"): the same endpoint asked, per CoT, whether its
//!   reasoning and answer are correct ([`crate::core::signals::judge`]); P(yes) per record id in
//!   [`AppState::judged`], read by propagation, which learns the judge's say from the labels.
//! - **Joining**: kept CoTs join the data set every few CoTs and at the end (embedded on
//!   the device first when the data set has embeddings), through the shell
//!   ([`AppState::join_generated`]); signatures, groups and propagation follow from there.

use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use futures_channel::oneshot;
use js_sys::{Reflect, Uint8Array};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::core::data::{snippet, Record};
use crate::core::generate::{
    self, classify_http, Endpoint, GenError, RunSpec, SseEvent, SseReader, Stored, Tally,
};
use crate::core::signals::embed::DIM;
use crate::core::signals::judge;
use crate::worker::protocol::{EmbedJob, ModelJob, ModelReply};

use super::browser;
use super::jobs::Payload;
use super::persist;
use super::state::AppState;

/// The panel's name among the page's overlays ([`AppState::overlay`]).
const OVERLAY: &str = "generate";

/// localStorage: the settings.
const SETTINGS: &str = "cotlabel-generate";
/// localStorage: hosts the person agreed to send questions to.
const HOSTS: &str = "cotlabel-generate-hosts";
/// localStorage: the run under way (`{fingerprint, spec}`), until it completes.
const RUN: &str = "cotlabel-generate-run";
/// A reply whose headers have not come after this long has timed out (a server that
/// serves one request at a time keeps the others waiting: this is generous).
const HEADERS_MS: i32 = 600_000;
/// A stream silent this long has timed out.
const IDLE_MS: i32 = 120_000;
/// Kept CoTs join the data set after this many new ones (and at the end of the run).
const JOIN_EVERY: usize = 8;
/// Most requests at a time.
const MAX_CONCURRENCY: usize = 16;

/// What the person set (persisted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Base URL, up to `/v1`.
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// API key (kept only with `remember`).
    pub api_key: String,
    /// Keep the API key in this browser.
    pub remember: bool,
    /// Sampling temperature.
    pub temperature: f64,
    /// Most tokens per CoT.
    pub max_tokens: u32,
    /// Fill each question up to this many CoTs.
    pub samples: usize,
    /// Requests at a time.
    pub concurrency: usize,
    /// The prompt, `{question}` replaced.
    pub template: String,
    /// Which questions: `all`, `selected`, `shown`.
    pub scope: String,
}

impl Default for Settings {
    fn default() -> Self {
        let e = Endpoint::default();
        Self {
            base_url: e.base_url,
            model: e.model,
            api_key: String::new(),
            remember: false,
            temperature: e.temperature,
            max_tokens: e.max_tokens,
            samples: 4,
            concurrency: 2,
            template: e.template,
            scope: "all".into(),
        }
    }
}

impl Settings {
    fn endpoint(&self) -> Endpoint {
        Endpoint {
            base_url: self.base_url.trim().to_string(),
            model: self.model.trim().to_string(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            template: self.template.clone(),
        }
    }
}

/// What waits for the person's confirmation of a host.
#[derive(Clone)]
enum Action {
    Test,
    Generate(RunSpec),
    /// Judge these records (indices) with the person's model.
    Judge(Vec<usize>),
}

/// The run under way, remembered for a resume.
#[derive(Serialize, Deserialize)]
struct RunRecord {
    fingerprint: String,
    spec: RunSpec,
}

/// A stream being read, as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveCot {
    /// The question, cut short.
    pub question: String,
    /// The reply so far.
    pub text: String,
}

/// The run's controls, shared by its request loops.
#[derive(Default)]
struct Ctl {
    cancelled: Cell<bool>,
    fatal: RefCell<Option<String>>,
    aborts: RefCell<Vec<web_sys::AbortController>>,
    queue: RefCell<VecDeque<Task>>,
    taken: RefCell<HashSet<String>>,
    notes: RefCell<Vec<String>>,
    fresh: Cell<usize>,
    active: Cell<usize>,
}

impl Ctl {
    fn stopped(&self) -> bool {
        self.cancelled.get() || self.fatal.borrow().is_some()
    }

    /// Aborts every request in flight.
    fn abort_all(&self) {
        for a in self.aborts.borrow_mut().drain(..) {
            a.abort();
        }
    }
}

thread_local! {
    static CTL: RefCell<Option<Rc<Ctl>>> = const { RefCell::new(None) };
}

/// One CoT to ask for.
#[derive(Clone)]
struct Task {
    like: Record,
    /// Index of its question in the plan.
    question: usize,
}

/// How one CoT ended.
enum Outcome {
    Kept(Record),
    Lost(String),
    Stopped,
    Fatal(String),
}

/// Why a stream gave nothing.
enum StreamError {
    Http(GenError),
    Cut,
    Timeout,
    Aborted,
}

/// The feature's state (provided as a context of its own).
#[derive(Clone, Copy)]
pub struct GenState {
    app: AppState,
    /// The settings, as edited.
    pub settings: RwSignal<Settings>,
    /// What "test connection" found: the models served, or why not.
    pub models: RwSignal<Option<Result<Vec<String>, String>>>,
    /// A host waiting for the person's confirmation.
    pub confirm: RwSignal<Option<String>>,
    action: StoredValue<Option<Action>>,
    /// The run's progress, while it runs.
    pub tally: RwSignal<Option<Tally>>,
    /// The streams being read.
    pub live: RwSignal<Vec<Option<LiveCot>>>,
    /// What the last run (or test) did.
    pub status: RwSignal<Option<String>>,
    /// Why the last run stopped, when it failed.
    pub problem: RwSignal<Option<String>>,
    /// A run that stopped before it was done, for these records.
    pub resumable: RwSignal<Option<RunSpec>>,
    /// Generated CoTs in the data set.
    pub generated: Memo<usize>,
    /// What the judge did (or is doing), in a sentence.
    pub judge_status: RwSignal<Option<String>>,
    /// A judge run is under way (set to false to stop it after the CoT in flight).
    pub judging: RwSignal<bool>,
    /// "Delete generated" was clicked once.
    pub deleting: RwSignal<bool>,
    joining: StoredValue<(bool, bool)>,
}

fn load_settings() -> Settings {
    browser::local_get(SETTINGS)
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn confirmed_hosts() -> Vec<String> {
    browser::local_get(HOSTS)
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

impl GenState {
    /// The settings of the last visit; a stopped run of these records is offered for
    /// resuming, and kept CoTs that did not join yet join (embedded first when needed).
    pub fn new(app: AppState) -> Self {
        let settings = RwSignal::new(load_settings());
        let this = Self {
            app,
            settings,
            models: RwSignal::new(None),
            confirm: RwSignal::new(None),
            action: StoredValue::new(None),
            tally: RwSignal::new(None),
            live: RwSignal::new(Vec::new()),
            status: RwSignal::new(None),
            problem: RwSignal::new(None),
            resumable: RwSignal::new(None),
            generated: app.generated,
            judge_status: RwSignal::new(None),
            judging: RwSignal::new(false),
            deleting: RwSignal::new(false),
            joining: StoredValue::new((false, false)),
        };
        Effect::new(move |_| {
            let mut s = settings.get();
            if !s.remember {
                s.api_key.clear();
            }
            browser::local_set(SETTINGS, &serde_json::to_string(&s).expect("plain data"));
        });
        Effect::new(move |prev: Option<Option<String>>| {
            let key = app.records_key.get();
            if prev.as_ref() != Some(&key) && key.is_some() {
                // a template the person did not write follows the data set's kind
                // (multiple choice, yes/no, a number)
                let fits = this.app.session.with_untracked(|s| {
                    s.as_ref()
                        .map(|s| crate::core::generate::default_template(&s.dataset))
                });
                let current = settings.with_untracked(|s| s.template.clone());
                if let Some(fits) = fits.filter(|f| {
                    *f != current && crate::core::generate::is_default_template(&current)
                }) {
                    settings.update(|s| s.template = fits.to_string());
                }
                let fp = this.fingerprint();
                let stopped = browser::local_get(RUN)
                    .and_then(|t| serde_json::from_str::<RunRecord>(&t).ok())
                    .filter(|r| Some(&r.fingerprint) == fp.as_ref());
                if this.tally.get_untracked().is_none() {
                    this.resumable.set(stopped.map(|r| r.spec));
                }
                spawn_local(this.join_kept());
            }
            key
        });
        this
    }

    fn fingerprint(&self) -> Option<String> {
        self.app
            .session
            .with_untracked(|s| s.as_ref().map(|s| s.dataset.fingerprint().to_string()))
    }

    /// Whether a run is under way.
    pub fn running(&self) -> bool {
        self.tally.with(Option::is_some)
    }

    /// "Test connection": the models the server serves (after a confirmation when needed).
    pub fn test(self) {
        self.with_confirmation(Action::Test);
    }

    /// "Generate": a run with the settings shown.
    pub fn generate(self) {
        let s = self.settings.get_untracked();
        let only = match s.scope.as_str() {
            "selected" => Some(self.app.selected_id().into_iter().collect()),
            "shown" => Some(self.app.session.with_untracked(|ss| {
                ss.as_ref().map_or_else(Vec::new, |ss| {
                    self.app
                        .visible
                        .get_untracked()
                        .iter()
                        .filter_map(|&i| ss.dataset.records().get(i).map(|r| r.id.clone()))
                        .collect()
                })
            })),
            _ => None,
        };
        self.with_confirmation(Action::Generate(RunSpec {
            samples: s.samples.max(1),
            concurrency: s.concurrency.clamp(1, MAX_CONCURRENCY),
            only,
        }));
    }

    /// "Judge with my model": asks the person's model, per CoT of the scope (all, the
    /// selected record, or those shown) not judged yet, whether its reasoning and answer are
    /// correct ([`crate::core::signals::judge`]); after a confirmation for a host off this machine.
    pub fn judge(self) {
        if self.judging.get_untracked() {
            self.judging.set(false); // the button stops a run under way
            return;
        }
        let s = self.settings.get_untracked();
        let done = self.app.judged.get_untracked();
        let todo: Vec<usize> = self.app.session.with_untracked(|ss| {
            let Some(ss) = ss.as_ref() else {
                return Vec::new();
            };
            let scope: Vec<usize> = match s.scope.as_str() {
                "selected" => self.app.selected.get_untracked().into_iter().collect(),
                "shown" => self.app.visible.get_untracked().to_vec(),
                _ => (0..ss.dataset.len()).collect(),
            };
            scope
                .into_iter()
                .filter(|&i| {
                    ss.dataset
                        .records()
                        .get(i)
                        .is_some_and(|r| !done.contains_key(&r.id))
                })
                .collect()
        });
        if todo.is_empty() {
            self.judge_status
                .set(Some("Every CoT in scope is judged already.".into()));
            return;
        }
        self.with_confirmation(Action::Judge(todo));
    }

    /// A judge run over `todo` (record indices), one request at a time.
    async fn run_judge(self, todo: Vec<usize>) {
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

    /// "Resume": the stopped run again (the plan skips what is there).
    pub fn resume(self) {
        if let Some(spec) = self.resumable.get_untracked() {
            self.with_confirmation(Action::Generate(spec));
        }
    }

    /// Stops the run: every request is aborted at once; what was kept stays.
    pub fn cancel(self) {
        CTL.with(|c| {
            if let Some(ctl) = c.borrow().as_ref() {
                ctl.cancelled.set(true);
                ctl.abort_all();
            }
        });
    }

    fn with_confirmation(self, action: Action) {
        self.problem.set(None);
        let endpoint = self.settings.get_untracked().endpoint();
        let Some(host) = generate::host_of(&endpoint.base_url) else {
            self.problem.set(Some(format!(
                "\"{}\" is not an http:// or https:// address",
                endpoint.base_url
            )));
            return;
        };
        if endpoint.is_loopback() || confirmed_hosts().contains(&host) {
            self.perform(action);
        } else {
            self.action.set_value(Some(action));
            self.confirm.set(Some(host));
        }
    }

    /// The person answered the confirmation: send (and remember the host), or not.
    pub fn answer(self, yes: bool) {
        let host = self.confirm.get_untracked();
        self.confirm.set(None);
        let action = self.action.get_value();
        self.action.set_value(None);
        if let (true, Some(host), Some(action)) = (yes, host, action) {
            let mut hosts = confirmed_hosts();
            if !hosts.contains(&host) {
                hosts.push(host);
                browser::local_set(HOSTS, &serde_json::to_string(&hosts).expect("text"));
            }
            self.perform(action);
        } else {
            self.status.set(Some("Nothing was sent.".into()));
        }
    }

    fn perform(self, action: Action) {
        match action {
            Action::Test => spawn_local(self.list_models()),
            Action::Generate(spec) => spawn_local(self.run(spec)),
            Action::Judge(todo) => spawn_local(self.run_judge(todo)),
        }
    }

    async fn list_models(self) {
        let s = self.settings.get_untracked();
        let endpoint = s.endpoint();
        self.models.set(None);
        let result = served_models(&endpoint, &s.api_key)
            .await
            .map_err(|e| e.message(&endpoint));
        if let Ok(ids) = &result {
            if s.model.trim().is_empty() {
                if let Some(first) = ids.first() {
                    self.settings.update(|s| s.model = first.clone());
                }
            }
        }
        self.models.set(Some(result));
    }

    /// A run: the plan, `spec.concurrency` request loops over it, then the kept CoTs join.
    async fn run(self, spec: RunSpec) {
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
                summarise(&notes)
            ));
            if loops > 1 && notes.iter().any(|n| n.starts_with("empty")) {
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
    async fn request_loop(
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

    fn count(self, f: impl FnOnce(&mut Tally)) {
        self.tally.update(|t| {
            if let Some(t) = t {
                f(t)
            }
        });
    }

    /// One CoT of `like`'s question: asked for (again after a 429, a server error, a cut
    /// stream or an empty reply) until it is kept or given up on.
    async fn one(
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
                Ok(text) if text.trim().is_empty() => {
                    empty += 1;
                    if empty >= 2 {
                        return Outcome::Lost("empty completion (twice)".into());
                    }
                }
                Ok(text) => {
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
                    return match generate::generated_record(like, &text, endpoint, id, &now) {
                        Some(r) => Outcome::Kept(r),
                        None => Outcome::Lost("empty completion".into()),
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
                    return Outcome::Lost(e.message(endpoint))
                }
                Err(StreamError::Http(e)) => return Outcome::Fatal(e.message(endpoint)),
                Err(StreamError::Cut) => {
                    cut += 1;
                    if cut >= 2 {
                        return Outcome::Lost("the stream was cut before its end (twice)".into());
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
    async fn stream(
        self,
        slot: usize,
        ctl: &Rc<Ctl>,
        endpoint: &Endpoint,
        key: &str,
        body: &str,
        attempt: u32,
    ) -> Result<String, StreamError> {
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
                GenError::Server(m) if m == TIMED_OUT => StreamError::Timeout,
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
                        SseEvent::Finish(_) | SseEvent::Done => {}
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
            Ok(text)
        }
        .await;
        ctl.aborts
            .borrow_mut()
            .retain(|a| !js_sys::Object::is(a.as_ref(), abort.as_ref()));
        result
    }

    /// Kept CoTs of the records shown that are not in yet join them; those that need a
    /// vector are embedded on this device first. One join at a time (a call during one
    /// makes it go round again).
    async fn join_kept(self) {
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

    async fn join_once(self) -> Result<(), String> {
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
    async fn embed(self, texts: Vec<String>) -> Result<Vec<f32>, String> {
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

    /// "Delete generated" (second click): every generated CoT leaves the data set and
    /// this browser.
    pub fn delete_generated(self) {
        self.deleting.set(false);
        spawn_local(async move {
            match self.app.remove_generated(|_| true).await {
                Ok(n) => self
                    .status
                    .set(Some(format!("Deleted {n} generated CoTs."))),
                Err(e) => self
                    .problem
                    .set(Some(format!("Could not delete the generated CoTs: {e}"))),
            }
        });
    }
}

/// What gave up CoTs, most frequent first: `"empty completion (twice)" ×3; …`.
fn summarise(notes: &[String]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for n in notes {
        match counts.iter_mut().find(|(k, _)| *k == n) {
            Some(c) => c.1 += 1,
            None => counts.push((n, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
        .iter()
        .map(|(k, n)| {
            if *n > 1 {
                format!("{k} ×{n}")
            } else {
                k.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One CoT judged: P(yes) from the log-probabilities of a short chat reply, or of a plain
/// completion ending in "Answer:" (small and base models answer there) — the one that
/// worked for the previous CoT first (`completion_first`) — else from three sampled chat
/// answers (a server without log-probabilities). Returns (P(yes), how).
async fn judge_one(
    endpoint: &Endpoint,
    key: &str,
    question: &str,
    cot: &str,
    completion_first: bool,
) -> Result<(f64, JudgedBy), String> {
    let chat = endpoint.url("chat/completions");
    let tries = [
        (
            JudgedBy::Chat,
            chat.clone(),
            judge::request_body(endpoint, question, cot),
        ),
        (
            JudgedBy::Completion,
            endpoint.url("completions"),
            judge::completion_body(endpoint, question, cot),
        ),
    ];
    let order = if completion_first { [1, 0] } else { [0, 1] };
    let mut problem = None;
    for k in order {
        let (how, url, body) = &tries[k];
        match post_json(url, body, key, endpoint).await {
            Ok(v) => {
                if let Some(p) = judge::p_yes_logprobs(&v) {
                    return Ok((p, *how));
                }
            }
            Err(e) => problem = problem.or(Some(e)),
        }
    }
    // no log-probabilities: a few samples of the one-word answer
    let sample = judge::sample_body(endpoint, question, cot);
    let mut says = Vec::new();
    for _ in 0..3 {
        match post_json(&chat, &sample, key, endpoint).await {
            Ok(v) => says.push(judge::p_yes(&v).map(|p| p >= 0.5)),
            Err(e) => problem = Some(e),
        }
    }
    judge::p_yes_of_samples(&says)
        .map(|p| (p, JudgedBy::Samples))
        .ok_or_else(|| problem.unwrap_or_else(|| "the model answered neither yes nor no".into()))
}

/// Where a judge's P(yes) came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JudgedBy {
    Chat,
    Completion,
    Samples,
}

/// POSTs `body` as JSON and reads the JSON reply; a failure as the message the person reads.
async fn post_json(
    url: &str,
    body: &serde_json::Value,
    key: &str,
    endpoint: &Endpoint,
) -> Result<serde_json::Value, String> {
    let resp = fetch(url, Some(&body.to_string()), key, None)
        .await
        .map_err(|e| e.message(endpoint))?;
    if !resp.ok() {
        return Err(http_error(&resp, 0).await.message(endpoint));
    }
    let text = JsFuture::from(resp.text().map_err(js_text)?)
        .await
        .map_err(js_text)?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| format!("the reply is not JSON: {e}"))
}

/// The models the endpoint serves (`GET /v1/models`).
async fn served_models(endpoint: &Endpoint, key: &str) -> Result<Vec<String>, GenError> {
    let resp = fetch(&endpoint.url("models"), None, key, None).await?;
    if !resp.ok() {
        return Err(http_error(&resp, 0).await);
    }
    let json = resp.json().map_err(|e| GenError::Server(js_text(e)))?;
    JsFuture::from(json)
        .await
        .map(|v| model_ids(&v))
        .map_err(|e| GenError::Server(format!("the model list is not JSON: {}", js_text(e))))
}

/// The model ids of a `/v1/models` reply.
fn model_ids(v: &JsValue) -> Vec<String> {
    let Ok(data) = Reflect::get(v, &"data".into()) else {
        return Vec::new();
    };
    js_sys::Array::from(&data)
        .iter()
        .filter_map(|m| Reflect::get(&m, &"id".into()).ok()?.as_string())
        .collect()
}

fn js_text(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// The text of a timed-out request (kept apart from real server errors).
const TIMED_OUT: &str = "timed out";

/// A request to the endpoint (POST with `body`, else GET), with the API key. A request the
/// browser could not make is told apart: a server that answers an opaque request but
/// refuses this page (CORS), or none at all.
async fn fetch(
    url: &str,
    body: Option<&str>,
    key: &str,
    abort: Option<&web_sys::AbortController>,
) -> Result<web_sys::Response, GenError> {
    let window = web_sys::window().ok_or_else(|| GenError::Unreachable("no window".into()))?;
    let init = web_sys::RequestInit::new();
    let headers = web_sys::Headers::new().map_err(|e| GenError::Unreachable(js_text(e)))?;
    if let Some(b) = body {
        init.set_method("POST");
        init.set_body(&JsValue::from_str(b));
        let _ = headers.set("Content-Type", "application/json");
    }
    if !key.trim().is_empty() {
        let _ = headers.set("Authorization", &format!("Bearer {}", key.trim()));
    }
    init.set_headers(&headers);
    if let Some(a) = abort {
        init.set_signal(Some(&a.signal()));
    }
    match race(window.fetch_with_str_and_init(url, &init), HEADERS_MS).await {
        Raced::Value(v) => Ok(v.unchecked_into()),
        Raced::TimedOut => {
            if let Some(a) = abort {
                a.abort();
            }
            Err(GenError::Server(TIMED_OUT.into()))
        }
        Raced::Failed(e) => {
            if abort.is_some_and(|a| a.signal().aborted()) {
                return Err(GenError::Unreachable("aborted".into()));
            }
            // did anything answer? an opaque request is not subject to CORS
            let probe = web_sys::RequestInit::new();
            probe.set_mode(web_sys::RequestMode::NoCors);
            let origin = window.location().origin().unwrap_or_default();
            match race(window.fetch_with_str_and_init(url, &probe), 10_000).await {
                Raced::Value(_) => Err(GenError::Refused(origin)),
                _ => Err(GenError::Unreachable(js_text(e))),
            }
        }
    }
}

/// A reply that is not 2xx, as a [`GenError`].
async fn http_error(resp: &web_sys::Response, attempt: u32) -> GenError {
    let retry = resp.headers().get("retry-after").ok().flatten();
    let body = match resp.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    classify_http(resp.status(), retry.as_deref(), &body, attempt)
}

/// A promise's outcome, or its time running out.
enum Raced {
    Value(JsValue),
    Failed(JsValue),
    TimedOut,
}

/// Awaits `promise` for at most `ms`.
async fn race(promise: js_sys::Promise, ms: i32) -> Raced {
    let marker = js_sys::Object::new();
    let window = web_sys::window().expect("a window");
    let handle = Rc::new(Cell::new(None));
    let timer = {
        let marker = marker.clone();
        let handle = handle.clone();
        js_sys::Promise::new(&mut |resolve, _| {
            let marker = marker.clone();
            let f = wasm_bindgen::closure::Closure::once_into_js(move || {
                let _ = resolve.call1(&JsValue::NULL, &marker);
            });
            handle.set(
                window
                    .set_timeout_with_callback_and_timeout_and_arguments_0(f.unchecked_ref(), ms)
                    .ok(),
            );
        })
    };
    let out = JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(&promise, &timer))).await;
    if let Some(h) = handle.get() {
        window.clear_timeout_with_handle(h);
    }
    match out {
        Ok(v) if js_sys::Object::is(&v, &marker) => Raced::TimedOut,
        Ok(v) => Raced::Value(v),
        Err(e) => Raced::Failed(e),
    }
}

/// Waits `secs` unless the run stops meanwhile; whether it is still going.
async fn sleep(ctl: &Ctl, secs: f64) -> bool {
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

/// Beside the record count: "Generate…", which opens the panel.
#[component]
pub fn GenerateButton() -> impl IntoView {
    let g = expect_context::<GenState>();
    view! {
        <button
            class="button"
            data-testid="generate-open"
            title="Sample more CoTs per question from a model you run (llama.cpp, Ollama, vLLM)"
            on:click=move |_| g.app.toggle_overlay(OVERLAY)
        >
            {move || if g.running() { "Generating…" } else { "Generate…" }}
        </button>
    }
}

/// The panel: endpoint, sampling, the run, what it did.
#[component]
pub fn GeneratePanel() -> impl IntoView {
    let g = expect_context::<GenState>();
    let set = g.settings;
    let text_field =
        move |id: &'static str, get: fn(&Settings) -> String, put: fn(&mut Settings, String)| {
            view! {
                <input
                    type="text"
                    data-testid=id
                    prop:value=move || set.with(get)
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        set.update(|s| put(s, v));
                    }
                />
            }
        };
    let number_field = move |id: &'static str,
                             step: &'static str,
                             get: fn(&Settings) -> f64,
                             put: fn(&mut Settings, f64)| {
        view! {
            <input
                type="number"
                step=step
                min="0"
                data-testid=id
                prop:value=move || set.with(get).to_string()
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).trim().parse::<f64>() {
                        if v.is_finite() && v >= 0.0 {
                            set.update(|s| put(s, v));
                        }
                    }
                }
            />
        }
    };
    let live = move || {
        g.live
            .get()
            .into_iter()
            .flatten()
            .map(|c| {
                let tail: String = {
                    let n = c.text.chars().count();
                    c.text.chars().skip(n.saturating_sub(600)).collect()
                };
                view! {
                    <div class="generate-stream">
                        <div class="generate-question">{c.question}</div>
                        <pre>{tail}</pre>
                    </div>
                }
            })
            .collect_view()
    };
    view! {
        <Show when=move || g.app.overlay_open(OVERLAY)>
            <section class="generate" role="dialog" aria-modal="true" aria-label="Generate sibling CoTs" data-testid="generate" data-overlay=OVERLAY>
                <h2>"Generate sibling CoTs from your model"</h2>
                <p class="hint">
                    "An OpenAI-compatible server you run (llama.cpp's llama-server, Ollama, vLLM). \
                     Nothing is sent until you click; a server that is not on this machine needs your \
                     confirmation first."
                </p>
                <div class="generate-grid">
                    <label>"Base URL " {text_field("endpoint-url", |s| s.base_url.clone(), |s, v| s.base_url = v)}</label>
                    <label>"Model " {text_field("endpoint-model", |s| s.model.clone(), |s, v| s.model = v)}</label>
                    <label>
                        "API key "
                        <input
                            type="password"
                            autocomplete="off"
                            data-testid="endpoint-key"
                            prop:value=move || set.with(|s| s.api_key.clone())
                            on:change=move |ev| {
                                let v = event_target_value(&ev);
                                set.update(|s| s.api_key = v);
                            }
                        />
                    </label>
                    <label class="check">
                        <input
                            type="checkbox"
                            data-testid="endpoint-remember"
                            prop:checked=move || set.with(|s| s.remember)
                            on:change=move |ev| set.update(|s| s.remember = event_target_checked(&ev))
                        />
                        " remember the key in this browser"
                    </label>
                    <label>"CoTs per question " {number_field("generate-samples", "1", |s| s.samples as f64, |s, v| s.samples = (v as usize).clamp(1, 64))}</label>
                    <label>"Requests at a time " {number_field("generate-concurrency", "1", |s| s.concurrency as f64, |s, v| s.concurrency = (v as usize).clamp(1, MAX_CONCURRENCY))}</label>
                    <label>"Temperature " {number_field("generate-temperature", "0.1", |s| s.temperature, |s, v| s.temperature = v.min(2.0))}</label>
                    <label>"Max tokens " {number_field("generate-max-tokens", "1", |s| f64::from(s.max_tokens), |s, v| s.max_tokens = (v as u32).clamp(1, 32_768))}</label>
                    <label>
                        "Questions "
                        <select
                            data-testid="generate-scope"
                            on:change=move |ev| {
                                let v = event_target_value(&ev);
                                set.update(|s| s.scope = v);
                            }
                        >
                            {[("all", "every question with fewer"), ("selected", "the selected record's question"), ("shown", "the questions the list shows")]
                                .into_iter()
                                .map(|(v, t)| view! { <option value=v selected=move || set.with(|s| s.scope == v)>{t}</option> })
                                .collect_view()}
                        </select>
                    </label>
                </div>
                <label class="template">
                    "Prompt ({question} is replaced; the records' own system prompt is sent when they have one)"
                    <textarea
                        data-testid="generate-template"
                        rows="3"
                        prop:value=move || set.with(|s| s.template.clone())
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            set.update(|s| s.template = v);
                        }
                    ></textarea>
                </label>
                <div class="generate-actions">
                    <button class="button" data-testid="endpoint-test" on:click=move |_| g.test()>"Test connection"</button>
                    <button
                        class="button primary"
                        data-testid="generate-button"
                        prop:disabled=move || g.running()
                        on:click=move |_| g.generate()
                    >
                        "Generate siblings"
                    </button>
                    <Show when=move || g.running()>
                        <button class="button danger" data-testid="generate-cancel" on:click=move |_| g.cancel()>"Cancel"</button>
                    </Show>
                    <button
                        class="button"
                        data-testid="judge-button"
                        title="Ask your model, per CoT, whether its reasoning and answer are correct; its say is learnt from your labels"
                        on:click=move |_| g.judge()
                    >
                        {move || if g.judging.get() { "Stop judging" } else { "Judge with my model" }}
                    </button>
                    <Show when=move || g.resumable.with(Option::is_some) && !g.running()>
                        <button class="button" data-testid="generate-resume" on:click=move |_| g.resume()>"Resume"</button>
                    </Show>
                    <Show when=move || { g.generated.get() > 0 && !g.running() }>
                        <button
                            class="button danger"
                            data-testid="generate-delete"
                            on:click=move |_| if g.deleting.get_untracked() { g.delete_generated() } else { g.deleting.set(true) }
                        >
                            {move || if g.deleting.get() {
                                format!("Delete {} generated CoTs and their labels? Click again", g.generated.get())
                            } else {
                                format!("Delete generated ({})", g.generated.get())
                            }}
                        </button>
                    </Show>
                </div>
                {move || g.confirm.get().map(|host| view! {
                    <div class="generate-confirm" role="alertdialog" data-testid="generate-confirm">
                        <p>{format!("Your questions will be sent to {host}. Send them?")}</p>
                        <button class="button primary" data-testid="generate-confirm-yes" on:click=move |_| g.answer(true)>"Send"</button>
                        <button class="button" data-testid="generate-confirm-no" on:click=move |_| g.answer(false)>"Do not send"</button>
                    </div>
                })}
                {move || g.models.get().map(|m| match m {
                    Ok(ids) => view! {
                        <p class="generate-models" data-testid="endpoint-models">
                            {format!("The server serves: {}", if ids.is_empty() { "no model".into() } else { ids.join(", ") })}
                        </p>
                    }.into_any(),
                    Err(e) => view! { <p class="error" data-testid="endpoint-models">{e}</p> }.into_any(),
                })}
                {move || g.tally.get().map(|t| view! {
                    <p class="generate-progress" data-testid="generate-progress">{t.line(browser::performance_now())}</p>
                    <progress max=t.wanted.max(1) value=t.kept + t.lost></progress>
                })}
                {move || g.status.get().map(|s| view! { <p data-testid="generate-status">{s}</p> })}
                {move || g.judge_status.get().or_else(|| {
                    let n = g.app.judged_count();
                    (n > 0).then(|| format!(
                        "{n} CoT{} judged by your model, kept in this browser. Its say is learnt from your labels at each propagation (none without labels).",
                        if n == 1 { "" } else { "s" }
                    ))
                }).map(|s| view! { <p data-testid="judge-status">{s}</p> })}
                {move || g.problem.get().map(|s| view! { <p class="error" data-testid="generate-problem">{s}</p> })}
                <div class="generate-live" data-testid="generate-live">{live}</div>
            </section>
        </Show>
    }
}
