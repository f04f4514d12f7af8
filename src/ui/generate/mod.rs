//! "Generate siblings": more CoTs per question from a model the person runs, over the
//! OpenAI chat-completions protocol (llama.cpp, Ollama, vLLM). What is not a network call
//! lives in [`crate::core::generate`]; this feature holds the settings (`settings`), the
//! confirmation and the actions (here), the endpoint over HTTP (`client`), the run and its
//! progress (`run`) and the panel (`view`).
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

mod client;
mod run;
mod settings;
mod view;

use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};

use crate::core::generate::{self, RunSpec, Tally};

use super::browser;
use super::state::AppState;
use client::served_models;
use run::CTL;
use settings::{confirmed_hosts, load_settings, Settings, HOSTS, SETTINGS};
pub use view::{GenerateButton, GeneratePanel};

/// The panel's name among the page's overlays ([`AppState::overlay`]).
const OVERLAY: &str = "generate";
/// localStorage: the run under way (`{fingerprint, spec}`), until it completes.
const RUN: &str = "cotlabel-generate-run";
/// Kept CoTs join the data set after this many new ones (and at the end of the run).
const JOIN_EVERY: usize = 8;
/// Most requests at a time.
const MAX_CONCURRENCY: usize = 16;

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
