//! Propagation in the page: "label next" (the active-learning queue), "propagate", the
//! confidence threshold, and — when the records carry `is_correct` — a live evaluation
//! with accuracy against the number of human labels. The work runs in the worker, which
//! keeps the graph, so after the first run every human label re-propagates at once.

use std::sync::Arc;

use leptos::prelude::*;

use crate::core::graph::GraphConfig;
use crate::core::labels::{Label, Provenance, Verdict};
use crate::core::metrics::{label_scores, LabelScores};
use crate::core::propagate::{Config, Method};
use crate::core::signature::no_sibling_notice;
use crate::worker::protocol::{FailReason, Job, PropagateJob, PropagateResult, Request};

use super::bridge;
use super::browser::{self, now_ms};
use super::state::AppState;

/// Entries of the "label next" queue the worker sends back.
const QUEUE_LENGTH: usize = 200;

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

/// Propagation signals (part of [`AppState`]).
#[derive(Clone, Copy)]
pub struct PropState {
    /// Label spreading or trust propagation.
    pub method: RwSignal<Method>,
    /// Propagated labels below this confidence are left unlabelled.
    pub threshold: RwSignal<f64>,
    /// Re-propagate after every human label (on after the first run).
    pub auto: RwSignal<bool>,
    /// The latest propagation.
    pub last: RwSignal<Option<Arc<PropView>>>,
    /// Evaluation after each propagation: (human labels, scores) — only with ground truth.
    pub history: RwSignal<Vec<(usize, LabelScores)>>,
    /// The human label of every record (1, 0, −1), recomputed on label changes only
    /// when it differs (so machine labels do not re-trigger propagation).
    pub humans: Memo<Vec<i8>>,
    /// The person's pair choices as (better, worse) rows.
    pub pairs: Memo<Vec<(u32, u32)>>,
    request: StoredValue<(u64, f64)>,
    select_next: StoredValue<bool>,
    /// A propagation asked for before the worker held the records: it runs as soon as it
    /// does (a click is never dropped).
    waiting: StoredValue<bool>,
}

impl PropState {
    /// Signals over `session`.
    pub fn new(session: RwSignal<Option<crate::core::Session>>) -> Self {
        let humans = Memo::new(move |_| {
            session.with(|s| {
                s.as_ref().map_or_else(Vec::new, |s| {
                    s.dataset
                        .records()
                        .iter()
                        .map(|r| match s.labels.get(&r.id) {
                            Some(l) if l.is_human() => i8::from(l.verdict == Verdict::Good),
                            _ => -1,
                        })
                        .collect()
                })
            })
        });
        let pairs = Memo::new(move |_| {
            session.with(|s| {
                s.as_ref().map_or_else(Vec::new, |s| {
                    s.labels
                        .pairs()
                        .iter()
                        .filter(|p| p.provenance == Provenance::Human)
                        .filter_map(|p| {
                            let better = s.dataset.position(&p.better)?;
                            let worse = s.dataset.position(&p.worse)?;
                            Some((better as u32, worse as u32))
                        })
                        .collect()
                })
            })
        });
        Self {
            method: RwSignal::new(Method::SPREADING),
            threshold: RwSignal::new(0.6),
            auto: RwSignal::new(false),
            last: RwSignal::new(None),
            history: RwSignal::new(Vec::new()),
            humans,
            pairs,
            request: StoredValue::new((0, 0.0)),
            select_next: StoredValue::new(false),
            waiting: StoredValue::new(false),
        }
    }

    /// Whether a propagation waits for the worker's data set (and forget it).
    pub fn take_waiting(&self) -> bool {
        let w = self.waiting.get_value();
        self.waiting.set_value(false);
        w
    }

    /// Forget the last data set's propagation (new records).
    pub fn reset(&self) {
        self.last.set(None);
        self.history.set(Vec::new());
        self.auto.set(false);
    }
}

impl AppState {
    /// Re-propagates after each human label once propagation has run (and when the method
    /// changes); re-applies the threshold to the last result without the worker.
    pub fn track_propagation(self) {
        Effect::new(move |_| {
            let _ = (
                self.prop.humans.get(),
                self.prop.pairs.get(),
                self.prop.method.get(),
            );
            if self.prop.auto.get_untracked() {
                self.request_propagation();
            }
        });
        Effect::new(move |prev: Option<f64>| {
            let t = self.prop.threshold.get();
            if prev.is_some_and(|p| p != t) {
                self.apply_propagation();
            }
            t
        });
    }

    /// Sends the propagation job: it names the data set the worker holds and carries the
    /// human labels; the worker builds (or keeps) the graph itself.
    pub fn request_propagation(self) {
        // the embeddings stay in the graph at any size: past a few thousand rows the
        // neighbour search is approximate (`core::neighbours`)
        let graph = GraphConfig::default();
        let config = Config {
            method: self.prop.method.get_untracked(),
            ..Default::default()
        };
        let Some(key) = self.data_key() else {
            // the worker does not hold the records yet: run when it does
            self.prop.waiting.set_value(true);
            self.ensure_held();
            return;
        };
        let id = self.job_seq.get_untracked() + 1;
        self.job_seq.set(id);
        self.prop
            .request
            .set_value((id, browser::performance_now()));
        let req = Request {
            id,
            rows: 0,
            dim: 0,
            job: Job::Propagate(PropagateJob {
                key,
                graph,
                config,
                human: self.prop.humans.get_untracked(),
                pairs: self.prop.pairs.get_untracked(),
                queue: QUEUE_LENGTH,
            }),
        };
        bridge::submit(bridge::Kind::Jobs, &req, &[], None);
    }

    /// Whether `id` is the propagation the page waits for.
    pub fn is_propagation(&self, id: u64) -> bool {
        self.prop.request.get_value().0 == id
    }

    /// The worker's propagation came back: keep it, label, and pick next if asked.
    pub fn on_propagated(self, id: u64, result: PropagateResult) {
        let (current, started) = self.prop.request.get_value();
        if id != current {
            return;
        }
        let humans = self
            .prop
            .humans
            .with_untracked(|h| h.iter().filter(|&&x| x >= 0).count());
        self.prop.last.set(Some(Arc::new(PropView {
            result,
            millis: browser::performance_now() - started,
            humans,
        })));
        self.prop.auto.set(true);
        self.apply_propagation();
        if self.prop.select_next.get_value() {
            self.prop.select_next.set_value(false);
            self.select_next_in_queue();
        }
    }

    /// A propagation failed: when the worker lost the data set (restarted), hand it over
    /// again and run once more.
    pub fn on_propagation_failed(self, reason: FailReason, message: &str) {
        if reason == FailReason::NoData {
            self.lost_data();
            self.request_propagation();
        } else {
            self.errors
                .update(|v| v.push(format!("Propagation failed: {message}")));
        }
    }

    /// Writes the last propagation's labels (at or above the threshold) into the session,
    /// replacing the previous propagated labels; human labels are never touched.
    fn apply_propagation(self) {
        let Some(view) = self.prop.last.get_untracked() else {
            return;
        };
        let threshold = self.prop.threshold.get_untracked();
        let now = now_ms();
        self.session.update(|s| {
            let Some(s) = s else { return };
            if view.result.p.len() != s.dataset.len() {
                return;
            }
            let records = s.dataset.records();
            for (i, r) in records.iter().enumerate() {
                // unsettled verdicts (a base rate from too few labels) stay unlabelled; the
                // classifier's verdicts stay until it runs again (put_machine keeps them)
                let label = view.result.label(i, threshold).and_then(|_| {
                    let from = view.result.from[i]
                        .iter()
                        .filter_map(|&j| records.get(j as usize).map(|r| r.id.clone()))
                        .collect();
                    let p = f64::from(view.result.p[i]);
                    Label::machine(p, Provenance::Propagated, threshold, now, from)
                });
                s.labels.put_machine(&r.id, Provenance::Propagated, label);
            }
        });
        self.record_evaluation();
    }

    /// Scores the machine labels against `is_correct` (when the records carry it) and adds
    /// the point to the accuracy-against-human-labels history.
    pub(super) fn record_evaluation(self) {
        let humans = self
            .prop
            .humans
            .with_untracked(|h| h.iter().filter(|&&x| x >= 0).count());
        let scores = self.session.with_untracked(|s| {
            let s = s.as_ref()?;
            let records = s.dataset.records();
            if !records.iter().any(|r| r.is_correct.is_some()) {
                return None;
            }
            let mut predicted = Vec::with_capacity(records.len());
            let mut truth = Vec::with_capacity(records.len());
            for r in records {
                let l = s.labels.get(&r.id);
                predicted.push(
                    l.filter(|l| !l.is_human())
                        .map(|l| (l.verdict == Verdict::Good, l.confidence)),
                );
                truth.push(if l.is_some_and(Label::is_human) {
                    None
                } else {
                    r.is_correct
                });
            }
            Some(label_scores(&predicted, &truth))
        });
        if let Some(sc) = scores {
            self.prop.history.update(|h| {
                h.retain(|e| e.0 != humans);
                h.push((humans, sc));
                h.sort_by_key(|e| e.0);
            });
        }
    }

    /// Selects the most valuable unlabelled record of the queue (propagating first when
    /// there is no queue yet).
    pub fn next(self) {
        if self.prop.last.with_untracked(Option::is_none) {
            self.prop.select_next.set_value(true);
            self.request_propagation();
            return;
        }
        self.select_next_in_queue();
    }

    fn select_next_in_queue(self) {
        let humans = self.prop.humans.get_untracked();
        let pick = self.prop.last.with_untracked(|v| {
            v.as_ref().and_then(|v| {
                v.result
                    .queue
                    .iter()
                    .map(|&i| i as usize)
                    .find(|&i| humans.get(i) == Some(&-1))
            })
        });
        match pick {
            Some(i) => {
                // the record must be listed to be shown selected
                self.cluster_filter.set(None);
                if !self.visible.with_untracked(|v| v.binary_search(&i).is_ok()) {
                    self.filter.set(super::state::Filter::All);
                }
                self.selected.set(Some(i));
            }
            None => self
                .notice
                .set(Some("Every record in the queue is labelled by you.".into())),
        }
    }
}

/// The propagation bar: label next, propagate, method, threshold, status, evaluation.
#[component]
pub fn PropagationBar() -> impl IntoView {
    let state = expect_context::<AppState>();
    let prop = state.prop;
    let status = move || {
        prop.last.with(|v| match v {
            None => "No propagation yet: label a few records, then propagate (the label-free prior already proposes labels).".to_string(),
            Some(v) => {
                let threshold = prop.threshold.get();
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
                    on:click=move |_| state.next()
                >
                    "Label next " <kbd>"n"</kbd>
                </button>
                <button
                    class="button"
                    data-testid="propagate-button"
                    title="Spread your labels to similar reasoning (key p)"
                    on:click=move |_| state.request_propagation()
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
                        prop:value=move || (prop.threshold.get() * 100.0).round()
                        on:change=move |ev| {
                            if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                                prop.threshold.set((v / 100.0).clamp(0.5, 1.0));
                            }
                        }
                    />
                    "%"
                </label>
            </div>
            <div class="prop-actions">
                <super::classify::ClassifyControls />
            </div>
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
    let state = expect_context::<AppState>();
    let history = state.prop.history;
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
