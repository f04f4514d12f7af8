//! Propagation in the page: "label next" (the active-learning queue), "propagate", the
//! confidence threshold, and — when the records carry `is_correct` — a live evaluation
//! with accuracy against the number of human labels. The work runs in the worker, which
//! keeps the graph, so after the first run every human label re-propagates at once.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::graph::propagate::{Config, Method};
use crate::core::graph::GraphConfig;
use crate::core::metrics::{machine_scores, LabelScores};
use crate::core::signals::signature::no_sibling_notice;
use crate::core::Session;
use crate::worker::protocol::{Job, JobsReply, PropagateJob, PropagateResult};

use super::browser::{self, now_ms};
use super::dataset::HeldJob;
use super::state::{AppState, Filter};

/// Entries of the "label next" queue the worker sends back.
const QUEUE_LENGTH: usize = 200;
/// Propagated labels written per task.
const APPLY_PIECE: usize = 20_000;

/// A propagation as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct PropView {
    /// What the worker found.
    pub result: PropagateResult,
    /// Milliseconds from request to reply.
    pub millis: f64,
    /// Human labels it started from.
    pub humans: usize,
}

/// The propagation feature's state (provided as a context of its own).
#[derive(Clone, Copy)]
pub struct PropState {
    app: AppState,
    /// Label spreading or trust propagation.
    pub method: RwSignal<Method>,
    /// Re-propagate after every human label (on after the first run).
    pub auto: RwSignal<bool>,
    /// The latest propagation.
    pub last: RwSignal<Option<Arc<PropView>>>,
    /// Evaluation after each write of machine labels: (human labels, scores) — only with
    /// ground truth.
    pub history: RwSignal<Vec<(usize, LabelScores)>>,
    /// The propagation job: the newest wins, sent again when the worker lost the data set.
    job: HeldJob,
    select_next: StoredValue<bool>,
    /// Counts writes of propagated labels: a newer one stops an older one.
    applying: StoredValue<u64>,
}

impl PropState {
    /// Propagation over `app`'s records. Once it has run, every human label (and pair
    /// choice, and a change of method) re-propagates; the threshold re-applies the last
    /// result without the worker; new records drop it.
    pub fn new(app: AppState) -> Self {
        let this = Self {
            app,
            method: RwSignal::new(Method::SPREADING),
            auto: RwSignal::new(false),
            last: RwSignal::new(None),
            history: RwSignal::new(Vec::new()),
            job: HeldJob::new(app, "Propagation failed"),
            select_next: StoredValue::new(false),
            applying: StoredValue::new(0),
        };
        Effect::new(move |prev: Option<Option<String>>| {
            let key = app.records_key.get();
            if prev.as_ref() != Some(&key) {
                this.last.set(None);
                this.history.set(Vec::new());
                this.auto.set(false);
            }
            key
        });
        Effect::new(move |_| {
            let _ = (app.humans.get(), app.pairs.get(), this.method.get());
            if this.auto.get_untracked() {
                this.request();
            }
        });
        Effect::new(move |prev: Option<f64>| {
            let t = app.min_confidence.get();
            if prev.is_some_and(|p| p != t) {
                this.apply();
            }
            t
        });
        Effect::new(move |prev: Option<u64>| {
            let n = app.machine_written.get();
            if prev.is_some() {
                this.record_evaluation();
            }
            n
        });
        this
    }

    /// Sends the propagation job: it names the data set the worker holds and carries the
    /// human labels; the worker builds (or keeps) the graph itself.
    pub fn request(self) {
        let app = self.app;
        // the embeddings stay in the graph at any size: past a few thousand rows the
        // neighbour search is approximate (`core::neighbours`)
        let graph = GraphConfig::default();
        let config = Config {
            method: self.method.get_untracked(),
            ..Default::default()
        };
        let started = browser::performance_now();
        // no status shown at once: a propagation that builds its graph shows its progress
        self.job.run(
            None,
            move |key| {
                Job::Propagate(PropagateJob {
                    key,
                    graph,
                    config,
                    human: app.humans.get_untracked(),
                    pairs: app.pairs.get_untracked(),
                    queue: QUEUE_LENGTH,
                    judge: app.judge_vector(),
                })
            },
            move |reply| {
                if let JobsReply::Propagated { result, .. } = reply {
                    self.on_propagated(result, started);
                }
            },
        );
    }

    fn on_propagated(self, result: PropagateResult, started: f64) {
        self.last.set(Some(Arc::new(PropView {
            result,
            millis: browser::performance_now() - started,
            humans: self.app.human_count(),
        })));
        self.auto.set(true);
        self.apply();
        if self.select_next.get_value() {
            self.select_next.set_value(false);
            self.select_next_in_queue();
        }
    }

    /// Writes the last propagation's labels (at or above the threshold) into the session,
    /// replacing the previous propagated labels; human labels are never touched. Large
    /// data sets are written [`APPLY_PIECE`] records per task (the page stays responsive),
    /// and what shows labels is told once, after the last piece; a newer result (or other
    /// records) stops an older write, which the newer one covers whole.
    fn apply(self) {
        let Some(view) = self.last.get_untracked() else {
            return;
        };
        let app = self.app;
        let writing = self.applying.get_value() + 1;
        self.applying.set_value(writing);
        let key = app.records_key.get_untracked();
        let threshold = app.min_confidence.get_untracked();
        let now = now_ms();
        let n = view.result.p.len();
        let write = move |s: &mut Option<Session>, range: std::ops::Range<usize>| {
            let Some(s) = s else { return };
            if view.result.p.len() != s.dataset.len() {
                return;
            }
            view.result
                .write_labels(&mut s.labels, s.dataset.records(), range, threshold, now);
        };
        if n <= APPLY_PIECE {
            app.session.update(|s| write(s, 0..n));
            app.machine_labels_written();
            return;
        }
        spawn_local(async move {
            let current = || {
                self.applying.get_value() == writing
                    && app.records_key.with_untracked(|k| *k == key)
            };
            for start in (0..n).step_by(APPLY_PIECE) {
                gloo_timers::future::TimeoutFuture::new(0).await;
                if !current() {
                    return;
                }
                let end = (start + APPLY_PIECE).min(n);
                let t = browser::performance_now();
                if end < n {
                    app.session.update_untracked(|s| write(s, start..end));
                } else {
                    app.session.update(|s| write(s, start..end));
                }
                browser::measure(format_args!("apply-propagation"), t);
            }
            // the evaluation (when the records carry `is_correct`) in a task of its own
            gloo_timers::future::TimeoutFuture::new(0).await;
            if current() {
                app.machine_labels_written();
            }
        });
    }

    /// Scores the machine labels against `is_correct` (when the records carry it) and adds
    /// the point to the accuracy-against-human-labels history.
    fn record_evaluation(self) {
        let humans = self.app.human_count();
        let scores = self.app.session.with_untracked(|s| {
            s.as_ref()
                .and_then(|s| machine_scores(&s.dataset, &s.labels))
                .map(|(sc, _)| sc)
        });
        if let Some(sc) = scores {
            self.history.update(|h| {
                h.retain(|e| e.0 != humans);
                h.push((humans, sc));
                h.sort_by_key(|e| e.0);
            });
        }
    }

    /// Selects the most valuable unlabelled record of the queue (propagating first when
    /// there is no queue yet).
    pub fn next(self) {
        if self.last.with_untracked(Option::is_none) {
            self.select_next.set_value(true);
            self.request();
            return;
        }
        self.select_next_in_queue();
    }

    fn select_next_in_queue(self) {
        let app = self.app;
        let humans = app.humans.get_untracked();
        let pick = self.last.with_untracked(|v| {
            v.as_ref().and_then(|v| {
                v.result
                    .queue
                    .iter()
                    .map(|&i| i as usize)
                    .find(|&i| humans.get(i) == Some(&-1) && app.in_share(i))
            })
        });
        // a share's records the queue does not reach: the first unlabelled one in order
        let pick = pick.or_else(|| {
            app.share
                .with_untracked(Option::is_some)
                .then(|| (0..humans.len()).find(|&i| humans[i] == -1 && app.in_share(i)))?
        });
        match pick {
            Some(i) => {
                // the record must be listed to be shown selected
                app.cluster_filter.set(None);
                if !app.visible.with_untracked(|v| v.binary_search(&i).is_ok()) {
                    app.filter.set(Filter::All);
                }
                app.selected.set(Some(i));
            }
            None if app.share.with_untracked(Option::is_some) => app
                .notice
                .set(Some("Every record of your share is labelled.".into())),
            None => app
                .notice
                .set(Some("Every record in the queue is labelled by you.".into())),
        }
    }
}

/// The propagation bar: label next, propagate, method, threshold, status, evaluation.
#[component]
pub fn PropagationBar(
    /// Controls of other features shown with propagation's (the classifier's).
    children: Children,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let prop = expect_context::<PropState>();
    let status = move || {
        prop.last.with(|v| match v {
            None => "No propagation yet: label a few records, then propagate (the label-free prior already proposes labels).".to_string(),
            Some(v) => {
                let threshold = state.min_confidence.get();
                let below = (0..v.result.p.len())
                    .filter(|&i| v.result.label(i, threshold).is_none())
                    .count();
                format!(
                    "Propagated from {} human label{} in {:.0} ms{} · {} below {:.0}% confidence or unsettled left unlabelled",
                    v.humans,
                    if v.humans == 1 { "" } else { "s" },
                    v.millis,
                    if v.result.built_graph { " (graph built)" } else { "" },
                    below,
                    threshold * 100.0
                )
            }
        })
    };
    view! {
        <div class="propagation">
            <div class="prop-actions">
                <button
                    class="button primary"
                    data-testid="next-button"
                    title="Select the record whose label would teach the most (key n)"
                    on:click=move |_| prop.next()
                >
                    "Label next " <kbd>"n"</kbd>
                </button>
                <button
                    class="button"
                    data-testid="propagate-button"
                    title="Spread your labels to similar reasoning (key p)"
                    on:click=move |_| prop.request()
                >
                    "Propagate " <kbd>"p"</kbd>
                </button>
                <select
                    data-testid="propagation-method"
                    aria-label="Propagation method"
                    on:change=move |ev| {
                        let m = if event_target_value(&ev) == "trust" { Method::TRUST } else { Method::SPREADING };
                        prop.method.set(m);
                        browser::release_focus(&ev);
                    }
                >
                    <option value="spreading">"label spreading"</option>
                    <option value="trust">"trust propagation"</option>
                </select>
                <label class="threshold" title="Propagated labels below this confidence stay unlabelled">
                    "min. confidence "
                    <input
                        type="number"
                        min="50"
                        max="100"
                        step="5"
                        data-testid="confidence-threshold"
                        prop:value=move || (state.min_confidence.get() * 100.0).round()
                        on:change=move |ev| {
                            if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                                state.min_confidence.set((v / 100.0).clamp(0.5, 1.0));
                            }
                        }
                    />
                    "%"
                </label>
            </div>
            <div class="prop-actions">{children()}</div>
            <div class="prop-status" data-testid="propagation-status">{status}</div>
            <ShapeNotice />
            <Evaluation />
        </div>
    }
}

/// What the labels of CoTs without siblings rest on (present only when there are such).
#[component]
fn ShapeNotice() -> impl IntoView {
    let state = expect_context::<AppState>();
    let text = move || {
        state.signatures.with(|sigs| {
            let sigs = sigs.as_ref()?;
            no_sibling_notice(&sigs.shapes)
        })
    };
    view! {
        {move || text().map(|t| view! { <div class="notice shape-notice" data-testid="no-siblings">{t}</div> })}
    }
}

/// Accuracy, macro-F1 and coverage of the machine labels against `is_correct`, and their
/// accuracy against the number of human labels.
#[component]
fn Evaluation() -> impl IntoView {
    let history = expect_context::<PropState>().history;
    view! {
        <Show when=move || history.with(|h| !h.is_empty())>
            <div class="evaluation" data-testid="evaluation">
                <span class="eval-text" data-testid="evaluation-text">{move || {
                    history.with(|h| {
                        h.iter().max_by_key(|e| e.0).map(|(n, s)| {
                            format!(
                                "Against is_correct ({} human labels): accuracy {:.1}% · macro-F1 {:.3} · coverage {:.1}% · ECE {:.3}",
                                n,
                                s.accuracy * 100.0,
                                s.macro_f1,
                                s.coverage * 100.0,
                                s.ece
                            )
                        })
                    })
                }}</span>
                {move || history.with(|h| plot(h))}
            </div>
        </Show>
    }
}

/// Accuracy (y, 50–100 %) against human labels (x) as a small SVG line.
fn plot(points: &[(usize, LabelScores)]) -> impl IntoView {
    const W: f64 = 220.0;
    const H: f64 = 64.0;
    let most = points.iter().map(|p| p.0).max().unwrap_or(0);
    let max_x = most.max(1) as f64;
    let xy: Vec<(f64, f64)> = points
        .iter()
        .map(|(n, s)| {
            let x = 4.0 + (W - 8.0) * *n as f64 / max_x;
            let y = H - 4.0 - (H - 8.0) * ((s.accuracy - 0.5) / 0.5).clamp(0.0, 1.0);
            (x, y)
        })
        .collect();
    let line = xy
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ");
    view! {
        <svg class="accuracy-plot" data-testid="accuracy-plot" width=W height=H viewBox=format!("0 0 {W} {H}")
            role="img" aria-label="Accuracy of the machine labels against the number of human labels">
            <line x1="0" x2=W y1=H / 2.0 y2=H / 2.0 class="grid" />
            <polyline points=line class="curve" />
            {xy.into_iter().map(|(x, y)| view! { <circle cx=x cy=y r="2.5" /> }).collect_view()}
            <text x="2" y="10">"100%"</text>
            <text x="2" y=H - 2.0>"50%"</text>
            <text x=W - 60.0 y=H - 2.0>{format!("{most} labels")}</text>
        </svg>
    }
}
