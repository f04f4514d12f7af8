//! The binary-choice classifier in the page: fetches the shipped weights once, sends every
//! CoT's model input to the model worker (WebGPU when the browser has it, else the CPU),
//! and writes its calibrated verdicts as `classifier` labels. Human labels are never
//! touched; propagation afterwards leaves classifier labels in place.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::choice::{features, Input, WeightsInfo};
use crate::core::graph;
use crate::core::labels::{Label, Provenance, Verdict};
use crate::worker::protocol::{Backend, ClassifyJob, ClassifyResult, Job, Request};

use super::bridge;
use super::browser::{self, now_ms};
use super::state::{AppState, JobStatus};

/// The shipped weights (copied into the site by Trunk).
const WEIGHTS: &str = "weights/choice-signature";

/// Classifier signals (part of [`AppState`]).
#[derive(Clone, Copy)]
pub struct ClassifyState {
    /// `webgpu` or `cpu` once the model worker said which it uses.
    pub backend: RwSignal<Option<String>>,
    /// The latest result and how long the whole round trip took (ms).
    pub last: RwSignal<Option<Arc<(ClassifyResult, f64)>>>,
    request: StoredValue<(u64, f64)>,
    weights: StoredValue<Option<(WeightsInfo, Arc<Vec<u8>>)>>,
}

impl ClassifyState {
    /// Nothing classified yet.
    pub fn new() -> Self {
        Self {
            backend: RwSignal::new(None),
            last: RwSignal::new(None),
            request: StoredValue::new((0, 0.0)),
            weights: StoredValue::new(None),
        }
    }
}

impl Default for ClassifyState {
    fn default() -> Self {
        Self::new()
    }
}

async fn fetch_weights() -> Result<(WeightsInfo, Arc<Vec<u8>>), String> {
    let info = browser::fetch_bytes(&format!("{WEIGHTS}.json")).await?;
    let info: WeightsInfo =
        serde_json::from_slice(&info).map_err(|e| format!("{WEIGHTS}.json: {e}"))?;
    let bytes = browser::fetch_bytes(&format!("{WEIGHTS}.bpk")).await?;
    Ok((info, Arc::new(bytes)))
}

impl AppState {
    /// Runs the classifier over every pair of sibling CoTs.
    pub fn classify(self) {
        spawn_local(async move {
            let weights = match self.classifier.weights.get_value() {
                Some(w) => w,
                None => match fetch_weights().await {
                    Ok(w) => {
                        self.classifier.weights.set_value(Some(w.clone()));
                        w
                    }
                    Err(e) => {
                        self.errors.update(|v| {
                            v.push(format!("The classifier's weights could not be loaded: {e}"))
                        });
                        return;
                    }
                },
            };
            let (info, bytes) = weights;
            let job = self.session.with_untracked(|s| {
                let s = s.as_ref()?;
                self.signatures.with_untracked(|sigs| {
                    let sigs = sigs.as_ref().filter(|g| g.len() == s.dataset.len())?;
                    let x = features(&s.dataset, sigs, info.input)?;
                    let nodes = graph::nodes(&s.dataset, sigs);
                    Some((
                        x,
                        nodes.iter().map(|n| n.group).collect::<Vec<_>>(),
                        sigs.iter().map(|g| g.prior).collect::<Vec<_>>(),
                        s.dataset.len(),
                    ))
                })
            });
            let Some((x, groups, prior, rows)) = job else {
                return;
            };
            debug_assert_eq!(
                info.input,
                Input::Signature,
                "the shipped model reads signatures"
            );
            if let Err(e) = bridge::start(bridge::Kind::Model, move |reply| self.on_reply(reply)) {
                self.errors.update(|v| v.push(e));
                return;
            }
            let id = self.job_seq.get_untracked() + 1;
            self.job_seq.set(id);
            let started = browser::performance_now();
            self.classifier.request.set_value((id, started));
            self.job.set(Some(JobStatus {
                id,
                stage: "starting the classifier".into(),
                fraction: 0.0,
                started,
            }));
            let req = Request {
                id,
                rows,
                dim: info.input.width(),
                job: Job::Classify(ClassifyJob {
                    info,
                    groups,
                    prior,
                    backend: Backend::Auto,
                    parity: browser::query_flag("parity"),
                }),
            };
            bridge::submit(bridge::Kind::Model, &req, &x, Some(&bytes));
        });
    }

    /// Whether `id` is the classification the page waits for.
    pub fn is_classification(&self, id: u64) -> bool {
        self.classifier.request.get_value().0 == id
    }

    /// The model worker's verdicts came back: label every CoT not labelled by a person.
    pub fn on_classified(self, id: u64, result: ClassifyResult) {
        let (current, started) = self.classifier.request.get_value();
        if id != current {
            return;
        }
        let threshold = self.prop.threshold.get_untracked();
        let now = now_ms() / 1000 * 1000;
        self.session.update(|s| {
            let Some(s) = s else { return };
            if result.p.len() != s.dataset.len() {
                return;
            }
            s.labels.clear_machine(Provenance::Classifier);
            for (r, &p) in s.dataset.records().iter().zip(&result.p) {
                let p = f64::from(p);
                let confidence = p.max(1.0 - p);
                if confidence < threshold {
                    continue;
                }
                s.labels.set_machine(
                    &r.id,
                    Label {
                        verdict: if p >= 0.5 {
                            Verdict::Good
                        } else {
                            Verdict::Bad
                        },
                        provenance: Provenance::Classifier,
                        confidence,
                        updated_at: Some(now),
                        from: Vec::new(),
                    },
                );
            }
        });
        self.record_evaluation();
        self.classifier.backend.set(Some(result.backend.clone()));
        let millis = browser::performance_now() - started;
        self.classifier.last.set(Some(Arc::new((result, millis))));
    }

    /// The classifier failed: say why.
    pub fn on_classification_failed(self, message: &str) {
        self.errors
            .update(|v| v.push(format!("The classifier failed: {message}")));
    }
}

/// The classify button, the backend in use and the last run's numbers.
#[component]
pub fn ClassifyControls() -> impl IntoView {
    let state = expect_context::<AppState>();
    let c = state.classifier;
    let summary = move || {
        c.last.with(|l| {
            l.as_ref().map(|l| {
                let (r, ms) = &**l;
                format!(
                    "{} sibling pairs scored in {:.0} ms on {} ({:.0} ms in all){}{}",
                    r.pairs,
                    r.scoring_ms,
                    r.backend,
                    ms,
                    r.fallback
                        .as_ref()
                        .map(|f| format!(" — {f}"))
                        .unwrap_or_default(),
                    r.parity
                        .map(|d| format!(" · max |GPU − CPU| {d:.2e}"))
                        .unwrap_or_default()
                )
            })
        })
    };
    view! {
        <button
            class="button"
            data-testid="classify-button"
            title="Score every pair of CoTs of the same question with the binary-choice model"
            on:click=move |_| state.classify()
        >
            "Classify"
        </button>
        <span class="backend" title="Where the model runs">
            "backend: "
            <span data-testid="backend">{move || c.backend.get().unwrap_or_else(|| "—".into())}</span>
        </span>
        <span class="classify-summary" data-testid="classify-summary">{summary}</span>
    }
}
