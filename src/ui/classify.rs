//! The binary-choice classifier in the page: fetches the shipped weights once (or the ones
//! fine-tuned here, from IndexedDB), sends every CoT's model input to the model worker
//! (WebGPU when the browser has it, else the CPU), and writes its calibrated verdicts as
//! `classifier` labels. Human labels are never touched; propagation afterwards leaves
//! classifier labels in place. "Train on my labels" fine-tunes the weights in the model
//! worker on the person's labels and pair choices, with live loss and cancel; the result
//! is kept in IndexedDB, can be exported, and "shipped weights" goes back.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::choice::{inputs, Epoch, Input, TrainConfig, WeightsInfo};
use crate::core::labels::{Label, Provenance};
use crate::worker::protocol::{ClassifyJob, ClassifyResult, Job, Request, TrainJob, TrainResult};

use super::browser::{self, now_ms};
use super::state::{AppState, JobStatus};
use super::{bridge, persist};

/// The shipped weights (copied into the site by Trunk).
const WEIGHTS: &str = "weights/choice-signature";

/// The weights in use: their description and burnpack bytes.
type Weights = (WeightsInfo, Arc<Vec<u8>>);

/// A fine-tuning run as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainView {
    /// Epochs at most.
    pub of: usize,
    /// Every epoch so far.
    pub epochs: Vec<Epoch>,
    /// The finished run (None while it runs).
    pub done: Option<Arc<TrainResult>>,
}

/// Classifier signals (part of [`AppState`]).
#[derive(Clone, Copy)]
pub struct ClassifyState {
    /// `webgpu` or `cpu` once the model worker said which it uses.
    pub backend: RwSignal<Option<String>>,
    /// The latest result and how long the whole round trip took (ms).
    pub last: RwSignal<Option<Arc<(ClassifyResult, f64)>>>,
    /// The weights in use once loaded (shipped, or fine-tuned here).
    pub weights: RwSignal<Option<Weights>>,
    /// The latest fine-tuning run.
    pub training: RwSignal<Option<TrainView>>,
    request: StoredValue<(u64, f64)>,
    train_request: StoredValue<u64>,
}

impl ClassifyState {
    /// Nothing classified yet.
    pub fn new() -> Self {
        Self {
            backend: RwSignal::new(None),
            last: RwSignal::new(None),
            weights: RwSignal::new(None),
            training: RwSignal::new(None),
            request: StoredValue::new((0, 0.0)),
            train_request: StoredValue::new(0),
        }
    }
}

impl Default for ClassifyState {
    fn default() -> Self {
        Self::new()
    }
}

async fn fetch_weights() -> Result<Weights, String> {
    // weights fine-tuned in this browser win over the shipped ones
    match persist::load_weights(Input::Signature.name()).await {
        Ok(Some((info, bytes))) => match serde_json::from_str::<WeightsInfo>(&info) {
            Ok(info) => return Ok((info, Arc::new(bytes))),
            Err(e) => web_sys::console::warn_1(
                &format!("stored fine-tuned weights ignored (unreadable description: {e})").into(),
            ),
        },
        Ok(None) => {}
        Err(e) => web_sys::console::warn_1(&e.into()),
    }
    let info = browser::fetch_bytes(&format!("{WEIGHTS}.json")).await?;
    let info: WeightsInfo =
        serde_json::from_slice(&info).map_err(|e| format!("{WEIGHTS}.json: {e}"))?;
    let bytes = browser::fetch_bytes(&format!("{WEIGHTS}.bpk")).await?;
    Ok((info, Arc::new(bytes)))
}

/// What the model worker needs about the open data set: model inputs, question groups,
/// priors, human labels, the person's pair choices (rows) and the row count.
struct ModelInput {
    x: Vec<f32>,
    groups: Vec<u32>,
    prior: Vec<f64>,
    human: Vec<i8>,
    chosen: Vec<(u32, u32, bool)>,
    rows: usize,
}

impl AppState {
    /// The weights in use, loading them on first call; errors are shown.
    async fn weights(self) -> Option<Weights> {
        if let Some(w) = self.classifier.weights.get_untracked() {
            return Some(w);
        }
        match fetch_weights().await {
            Ok(w) => {
                self.classifier.weights.set(Some(w.clone()));
                Some(w)
            }
            Err(e) => {
                self.errors.update(|v| {
                    v.push(format!("The classifier's weights could not be loaded: {e}"))
                });
                None
            }
        }
    }

    fn model_input(self, input: Input) -> Option<ModelInput> {
        debug_assert_eq!(
            input,
            Input::Signature,
            "the shipped model reads signatures"
        );
        self.session.with_untracked(|s| {
            let s = s.as_ref()?;
            self.signatures.with_untracked(|sigs| {
                let sigs = sigs.as_ref().filter(|g| g.len() == s.dataset.len())?;
                let x = inputs(
                    s.dataset.embeddings(),
                    &sigs.vectors,
                    &sigs.label_free_prior,
                    input,
                )?;
                Some(ModelInput {
                    x,
                    groups: sigs.nodes.iter().map(|n| n.group).collect(),
                    // the classifier's calibration reads the label-free prior
                    prior: sigs.label_free_prior.clone(),
                    human: self.prop.humans.get_untracked(),
                    chosen: self
                        .prop
                        .pairs
                        .get_untracked()
                        .into_iter()
                        .map(|(better, worse)| (better, worse, true))
                        .collect(),
                    rows: s.dataset.len(),
                })
            })
        })
    }

    /// Starts the model worker (once) and a job status; the job id and its start.
    pub(super) fn start_model_job(self, stage: &str) -> Option<(u64, f64)> {
        if let Err(e) = bridge::start(bridge::Kind::Model, move |reply| self.on_reply(reply)) {
            self.errors.update(|v| v.push(e));
            return None;
        }
        let id = self.job_seq.get_untracked() + 1;
        self.job_seq.set(id);
        let started = browser::performance_now();
        self.job.set(Some(JobStatus {
            id,
            stage: stage.into(),
            fraction: 0.0,
            started,
            worker: bridge::Kind::Model,
        }));
        Some((id, started))
    }

    /// What a classifier job needs: the weights in use, the model input of the open data
    /// set, and a started job (id, start); `None` (errors shown) when something lacks.
    async fn prepare(self, stage: &str) -> Option<(Weights, ModelInput, u64, f64)> {
        let weights = self.weights().await?;
        let m = self.model_input(weights.0.input)?;
        let (id, started) = self.start_model_job(stage)?;
        Some((weights, m, id, started))
    }

    /// Runs the classifier over every pair of sibling CoTs.
    pub fn classify(self) {
        spawn_local(async move {
            let Some(((info, bytes), m, id, started)) =
                self.prepare("starting the classifier").await
            else {
                return;
            };
            self.classifier.request.set_value((id, started));
            let req = Request {
                id,
                rows: m.rows,
                dim: info.input.width(),
                job: Job::Classify(ClassifyJob {
                    info,
                    groups: m.groups,
                    prior: m.prior,
                    backend: browser::model_backend(),
                    parity: browser::query_flag("parity"),
                }),
            };
            bridge::submit(bridge::Kind::Model, &req, &m.x, Some(&bytes));
        });
    }

    /// Fine-tunes the weights in use on the person's labels and pair choices.
    pub fn train(self) {
        spawn_local(async move {
            let Some(((info, bytes), m, id, _)) = self.prepare("starting training").await else {
                return;
            };
            let config = TrainConfig::fine_tune();
            self.classifier.train_request.set_value(id);
            self.classifier.training.set(Some(TrainView {
                of: config.epochs,
                epochs: Vec::new(),
                done: None,
            }));
            let req = Request {
                id,
                rows: m.rows,
                dim: info.input.width(),
                job: Job::Train(TrainJob {
                    info,
                    groups: m.groups,
                    human: m.human,
                    chosen: m.chosen,
                    config,
                }),
            };
            bridge::submit(bridge::Kind::Model, &req, &m.x, Some(&bytes));
        });
    }

    /// Whether `id` is the fine-tuning run the page waits for.
    pub fn is_training(&self, id: u64) -> bool {
        self.classifier.train_request.get_value() == id
    }

    /// One epoch of fine-tuning done.
    pub fn on_epoch(self, id: u64, epoch: Epoch) {
        if self.is_training(id) {
            self.classifier.training.update(|t| {
                if let Some(t) = t {
                    t.epochs.push(epoch);
                }
            });
        }
    }

    /// Fine-tuning finished: its weights are used from now on, kept in IndexedDB, and the
    /// data set is classified again when it had been.
    pub fn on_trained(self, id: u64, mut result: TrainResult) {
        if !self.is_training(id) {
            return;
        }
        if let Some(f) = result.info.fine_tuned.as_mut() {
            f.at = now_ms();
        }
        let weights = Arc::new(std::mem::take(&mut result.weights));
        let info = result.info.clone();
        self.classifier
            .weights
            .set(Some((info.clone(), weights.clone())));
        self.classifier.training.update(|t| {
            if let Some(t) = t {
                t.epochs = result.history.clone();
                t.done = Some(Arc::new(result));
            }
        });
        let again = self.classifier.last.with_untracked(Option::is_some);
        spawn_local(async move {
            let text = serde_json::to_string(&info).expect("plain data");
            if let Err(e) = persist::save_weights(info.input.name(), &text, &weights).await {
                self.errors.update(|v| {
                    v.push(format!(
                        "The fine-tuned weights could not be kept for the next visit: {e}"
                    ))
                });
            }
        });
        if again {
            self.classify();
        }
    }

    /// Goes back to the shipped weights (forgets the fine-tuned ones).
    pub fn reset_weights(self) {
        self.classifier.weights.set(None);
        self.classifier.training.set(None);
        spawn_local(async move {
            if let Err(e) = persist::delete_weights(Input::Signature.name()).await {
                self.errors.update(|v| v.push(e));
            }
            // load the shipped ones now, so the page says which weights are in use
            let _ = self.weights().await;
        });
    }

    /// Downloads the weights in use: the burnpack record and its JSON description, the
    /// same two files as `weights/` (drop them there to ship them).
    pub fn export_weights(self) {
        let Some((info, bytes)) = self.classifier.weights.get_untracked() else {
            return;
        };
        let stem = match info.fine_tuned {
            Some(_) => format!("choice-{}-fine-tuned", info.input.name()),
            None => format!("choice-{}", info.input.name()),
        };
        let text = serde_json::to_string_pretty(&info).expect("plain data");
        let result = browser::download_bytes(&format!("{stem}.bpk"), &bytes)
            .and_then(|()| browser::download(&format!("{stem}.json"), &text));
        if let Err(e) = result {
            self.errors.update(|v| v.push(e));
        }
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
        let now = now_ms();
        // the model was trained on numeric answers: a yes/no, option or text answer is
        // outside what it can judge (as for the label-free prior)
        let fitted: Vec<bool> = self.signatures.with_untracked(|sigs| {
            sigs.as_ref()
                .map(|g| g.shapes.iter().map(|s| s.fitted).collect())
                .unwrap_or_default()
        });
        self.session.update(|s| {
            let Some(s) = s else { return };
            if result.p.len() != s.dataset.len() {
                return;
            }
            s.labels.clear_machine(Provenance::Classifier);
            for (i, r) in s.dataset.records().iter().enumerate() {
                // a CoT without a sibling has nothing to be compared with: no verdict
                let Some(p) = result.judged(i) else { continue };
                if !fitted.get(i).copied().unwrap_or(true) {
                    continue;
                }
                if let Some(label) =
                    Label::machine(p, Provenance::Classifier, threshold, now, Vec::new())
                {
                    s.labels.set_machine(&r.id, label);
                }
            }
        });
        self.record_evaluation();
        self.classifier.backend.set(Some(result.backend.clone()));
        let millis = browser::performance_now() - started;
        self.classifier.last.set(Some(Arc::new((result, millis))));
    }

    /// Fine-tuning failed: say why (the weights in use stay).
    pub fn on_training_failed(self, message: &str) {
        self.classifier.training.set(None);
        self.errors
            .update(|v| v.push(format!("Training did not run: {message}")));
    }

    /// The person cancelled: a run in progress is dropped (the weights in use stay).
    pub fn training_cancelled(self) {
        let running = self
            .classifier
            .training
            .with_untracked(|t| t.as_ref().is_some_and(|t| t.done.is_none()));
        if running {
            self.classifier.training.set(None);
        }
    }

    /// The classifier failed: say why.
    pub fn on_classification_failed(self, message: &str) {
        self.errors
            .update(|v| v.push(format!("The classifier failed: {message}")));
    }
}

/// The classify button, the backend in use, the last run's numbers, and training.
#[component]
pub fn ClassifyControls() -> impl IntoView {
    let state = expect_context::<AppState>();
    let c = state.classifier;
    let summary = move || {
        c.last.with(|l| {
            l.as_ref().map(|l| {
                let (r, ms) = &**l;
                format!(
                    "{} sibling pairs scored in {:.0} ms on {} ({:.0} ms in all){}{}{}",
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
                        .unwrap_or_default(),
                    match r.unjudged() {
                        0 => String::new(),
                        n => format!(
                            ". {n} CoTs have no sibling to compare with: the classifier gives them no label"
                        ),
                    }
                )
            })
        })
    };
    let source = move || {
        c.weights.with(|w| match w {
            None => "—".to_string(),
            Some((info, _)) => match &info.fine_tuned {
                None => format!(
                    "shipped ({:.1}% GSM8K test pair accuracy)",
                    info.test_pair_accuracy * 100.0
                ),
                Some(f) => format!(
                    "fine-tuned here on {} of your pairs (+{} replayed)",
                    f.human_pairs, f.replay_pairs
                ),
            },
        })
    };
    let fine_tuned = move || {
        c.weights
            .with(|w| w.as_ref().is_some_and(|w| w.0.fine_tuned.is_some()))
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
        <button
            class="button"
            data-testid="train-button"
            title="Fine-tune the classifier on your labels and pair choices (in this browser)"
            on:click=move |_| state.train()
        >
            "Train on my labels"
        </button>
        <span class="backend" title="Where the model runs">
            "backend: "
            <span data-testid="backend">{move || c.backend.get().unwrap_or_else(|| "—".into())}</span>
        </span>
        <span class="weights-source" title="The classifier's weights">
            "weights: "
            <span data-testid="weights-source">{source}</span>
        </span>
        <Show when=move || c.weights.with(Option::is_some)>
            <button class="button small" data-testid="export-weights-button"
                title="Download the weights in use (.bpk and .json, as in weights/)"
                on:click=move |_| state.export_weights()>"Export weights"</button>
        </Show>
        <Show when=fine_tuned>
            <button class="button small" data-testid="reset-weights-button"
                title="Forget the fine-tuned weights and use the shipped ones"
                on:click=move |_| state.reset_weights()>"Shipped weights"</button>
        </Show>
        <span class="classify-summary" data-testid="classify-summary">{summary}</span>
        <Training />
    }
}

/// The fine-tuning run: status line and loss curves.
#[component]
fn Training() -> impl IntoView {
    let state = expect_context::<AppState>();
    let training = state.classifier.training;
    let status = move || {
        training.with(|t| {
            let t = t.as_ref()?;
            let val = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3}"));
            Some(match &t.done {
                None => match t.epochs.last() {
                    None => "training: starting…".to_string(),
                    Some(e) => format!(
                        "training: epoch {} of {} · loss {:.3} · validation loss {}",
                        e.epoch,
                        t.of,
                        e.loss,
                        val(e.val_loss)
                    ),
                },
                Some(r) => {
                    let Some(f) = r.info.fine_tuned.clone() else {
                        return Some("trained".to_string());
                    };
                    let kept = match f.epoch {
                        0 => "no epoch beat the starting weights, which stay".to_string(),
                        e => format!("epoch {e} kept"),
                    };
                    format!(
                        "trained {} epochs in {:.1} s on {} of your pairs + {} replayed; validation ({} pairs) loss {} → {}; {kept}",
                        r.history.len(),
                        r.millis / 1000.0,
                        f.human_pairs,
                        f.replay_pairs,
                        f.val_pairs,
                        val(f.val_loss_before),
                        val(f.val_loss_after),
                    )
                }
            })
        })
    };
    view! {
        <Show when=move || training.with(Option::is_some)>
            <div class="training">
                <span data-testid="train-status">{status}</span>
                {move || training.with(|t| t.as_ref().map(loss_plot))}
            </div>
        </Show>
    }
}

/// Training loss and validation loss per epoch as a small SVG.
fn loss_plot(t: &TrainView) -> impl IntoView {
    const W: f64 = 220.0;
    const H: f64 = 64.0;
    let top = t
        .epochs
        .iter()
        .flat_map(|e| [Some(e.loss), e.val_loss])
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-6);
    let of = t.of.max(1) as f64;
    let line = |pick: &dyn Fn(&Epoch) -> Option<f64>| {
        t.epochs
            .iter()
            .filter_map(|e| {
                let v = pick(e)?;
                let x = 4.0 + (W - 8.0) * e.epoch as f64 / of;
                let y = H - 4.0 - (H - 8.0) * (v / top).clamp(0.0, 1.0);
                Some(format!("{x:.1},{y:.1}"))
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let train = line(&|e| Some(e.loss));
    let val = line(&|e| e.val_loss);
    view! {
        <svg class="loss-plot" data-testid="train-plot" width=W height=H viewBox=format!("0 0 {W} {H}")
            role="img" aria-label="Training and validation loss per epoch">
            <polyline points=train class="curve" />
            <polyline points=val class="curve val" />
            <text x="2" y="10">{format!("{top:.2}")}</text>
            <text x=W - 110.0 y="10" class="legend">"— train · — validation"</text>
            <text x=W - 40.0 y=H - 2.0>{format!("{} ep.", t.of)}</text>
        </svg>
    }
}
