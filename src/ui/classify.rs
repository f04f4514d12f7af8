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

use crate::core::signals::choice::{inputs, Epoch, Input, TrainConfig, WeightsInfo};
use crate::worker::protocol::{
    ClassifyJob, ClassifyResult, FailReason, ModelJob, ModelReply, TrainJob, TrainResult,
};

use super::browser::{self, now_ms};
use super::jobs::{Latest, Payload};
use super::persist;
use super::state::AppState;

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

/// The classifier feature's state (provided as a context of its own; the pairwise view
/// belongs to this feature and reads it).
#[derive(Clone, Copy)]
pub struct ClassifyState {
    app: AppState,
    /// `webgpu` or `cpu` once the model worker said which it uses.
    pub backend: RwSignal<Option<String>>,
    /// The latest result and how long the whole round trip took (ms).
    /// The last run: its result, its time in ms, and how many of the CoTs it judged lie
    /// outside what it was trained on (no label written for them).
    pub last: RwSignal<Option<Arc<(ClassifyResult, f64, usize)>>>,
    /// The weights in use once loaded (shipped, or fine-tuned here).
    pub weights: RwSignal<Option<Weights>>,
    /// The latest fine-tuning run.
    pub training: RwSignal<Option<TrainView>>,
    /// The classify job (the newest wins).
    classifying: Latest,
    /// The fine-tuning job (the newest wins).
    tuning: Latest,
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
        Err(e) => web_sys::console::warn_1(&e.to_string().into()),
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

impl ClassifyState {
    /// Nothing classified yet.
    pub fn new(app: AppState) -> Self {
        Self {
            app,
            backend: RwSignal::new(None),
            last: RwSignal::new(None),
            weights: RwSignal::new(None),
            training: RwSignal::new(None),
            classifying: Latest::default(),
            tuning: Latest::default(),
        }
    }

    /// The weights in use, loading them on first call; errors are shown.
    async fn load_weights(self) -> Option<Weights> {
        if let Some(w) = self.weights.get_untracked() {
            return Some(w);
        }
        match fetch_weights().await {
            Ok(w) => {
                self.weights.set(Some(w.clone()));
                Some(w)
            }
            Err(e) => {
                self.app.errors.update(|v| {
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
        let app = self.app;
        app.session.with_untracked(|s| {
            let s = s.as_ref()?;
            app.signatures.with_untracked(|sigs| {
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
                    human: app.humans.get_untracked(),
                    chosen: app
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

    /// What a classifier job needs: the weights in use and the model input of the open
    /// data set; `None` (errors shown) when something lacks.
    async fn prepare(self) -> Option<(Weights, ModelInput)> {
        let weights = self.load_weights().await?;
        let m = self.model_input(weights.0.input)?;
        Some((weights, m))
    }

    /// Runs the classifier over every pair of sibling CoTs.
    pub fn classify(self) {
        spawn_local(async move {
            let Some(((info, bytes), m)) = self.prepare().await else {
                return;
            };
            let payload = Payload {
                rows: m.rows,
                dim: info.input.width(),
                numbers: &m.x,
                bytes: Some(&bytes),
                ..Payload::default()
            };
            let job = ModelJob::Classify(ClassifyJob {
                info,
                groups: m.groups,
                prior: m.prior,
                backend: browser::model_backend(),
                parity: browser::query_flag("parity"),
            });
            let started = browser::performance_now();
            self.classifying.send(
                self.app.jobs,
                job,
                payload,
                Some("starting the classifier"),
                move |reply| self.on_classify_reply(reply, started),
            );
        });
    }

    /// Fine-tunes the weights in use on the person's labels and pair choices.
    pub fn train(self) {
        spawn_local(async move {
            let Some(((info, bytes), m)) = self.prepare().await else {
                return;
            };
            let config = TrainConfig::fine_tune();
            self.training.set(Some(TrainView {
                of: config.epochs,
                epochs: Vec::new(),
                done: None,
            }));
            let payload = Payload {
                rows: m.rows,
                dim: info.input.width(),
                numbers: &m.x,
                bytes: Some(&bytes),
                ..Payload::default()
            };
            let job = ModelJob::Train(TrainJob {
                info,
                groups: m.groups,
                human: m.human,
                chosen: m.chosen,
                config,
            });
            self.tuning.send(
                self.app.jobs,
                job,
                payload,
                Some("starting training"),
                move |reply| self.on_train_reply(reply),
            );
        });
    }

    fn on_train_reply(self, reply: ModelReply) {
        match reply {
            ModelReply::Epoch { epoch, .. } => self.training.update(|t| {
                if let Some(t) = t {
                    t.epochs.push(epoch);
                }
            }),
            ModelReply::Trained { result, .. } => self.on_trained(*result),
            // cancelled: a run in progress is dropped (the weights in use stay)
            ModelReply::Failed {
                reason: FailReason::Cancelled,
                ..
            } => {
                let running = self
                    .training
                    .with_untracked(|t| t.as_ref().is_some_and(|t| t.done.is_none()));
                if running {
                    self.training.set(None);
                }
            }
            // failed: say why (the weights in use stay)
            ModelReply::Failed { message, .. } => {
                self.training.set(None);
                self.app
                    .errors
                    .update(|v| v.push(format!("Training did not run: {message}")));
            }
            _ => {}
        }
    }

    /// Fine-tuning finished: its weights are used from now on, kept in IndexedDB, and the
    /// data set is classified again when it had been.
    fn on_trained(self, mut result: TrainResult) {
        if let Some(f) = result.info.fine_tuned.as_mut() {
            f.at = now_ms();
        }
        let weights = Arc::new(std::mem::take(&mut result.weights));
        let info = result.info.clone();
        self.weights.set(Some((info.clone(), weights.clone())));
        self.training.update(|t| {
            if let Some(t) = t {
                t.epochs = result.history.clone();
                t.done = Some(Arc::new(result));
            }
        });
        let again = self.last.with_untracked(Option::is_some);
        let errors = self.app.errors;
        spawn_local(async move {
            let text = serde_json::to_string(&info).expect("plain data");
            if let Err(e) = persist::save_weights(info.input.name(), &text, &weights).await {
                errors.update(|v| {
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
        self.weights.set(None);
        self.training.set(None);
        spawn_local(async move {
            if let Err(e) = persist::delete_weights(Input::Signature.name()).await {
                self.app.errors.update(|v| v.push(e.to_string()));
            }
            // load the shipped ones now, so the page says which weights are in use
            let _ = self.load_weights().await;
        });
    }

    /// Downloads the weights in use: the burnpack record and its JSON description, the
    /// same two files as `weights/` (drop them there to ship them).
    pub fn export_weights(self) {
        let Some((info, bytes)) = self.weights.get_untracked() else {
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
            self.app.errors.update(|v| v.push(e.to_string()));
        }
    }

    fn on_classify_reply(self, reply: ModelReply, started: f64) {
        match reply {
            ModelReply::Classified { result, .. } => self.on_classified(result, started),
            ModelReply::Failed {
                reason: FailReason::Error,
                message,
                ..
            } => self
                .app
                .errors
                .update(|v| v.push(format!("The classifier failed: {message}"))),
            _ => {}
        }
    }

    /// The model worker's verdicts came back: label every CoT not labelled by a person.
    fn on_classified(self, result: ClassifyResult, started: f64) {
        let app = self.app;
        let threshold = app.min_confidence.get_untracked();
        let now = now_ms();
        // the model was trained on numeric answers: a yes/no, option or text answer is
        // outside what it can judge (as for the label-free prior)
        let fitted: Vec<bool> = app.signatures.with_untracked(|sigs| {
            sigs.as_ref()
                .map(|g| g.shapes.iter().map(|s| s.fitted).collect())
                .unwrap_or_default()
        });
        app.session.update(|s| {
            let Some(s) = s else { return };
            if result.p.len() != s.dataset.len() {
                return;
            }
            result.write_labels(&mut s.labels, s.dataset.records(), &fitted, threshold, now);
        });
        app.machine_labels_written();
        self.backend.set(Some(result.backend.clone()));
        let millis = browser::performance_now() - started;
        let outside = (0..result.p.len())
            .filter(|&i| result.judged(i).is_some() && !fitted.get(i).copied().unwrap_or(true))
            .count();
        self.last.set(Some(Arc::new((result, millis, outside))));
    }
}

/// The classify button, the backend in use, the last run's numbers, and training.
#[component]
pub fn ClassifyControls() -> impl IntoView {
    let c = expect_context::<ClassifyState>();
    let summary = move || {
        c.last.with(|l| {
            l.as_ref().map(|l| {
                let (r, ms, outside) = &**l;
                format!(
                    "{} sibling pairs scored in {:.0} ms on {} ({:.0} ms in all){}{}{}{}",
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
                    },
                    match outside {
                        0 => String::new(),
                        n => format!(
                            ". {n} CoTs give an option, yes/no or text answer, or none readable: the classifier was trained on numeric answers and leaves them to propagation"
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
            on:click=move |_| c.classify()
        >
            "Classify"
        </button>
        <button
            class="button"
            data-testid="train-button"
            title="Fine-tune the classifier on your labels and pair choices (in this browser)"
            on:click=move |_| c.train()
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
                on:click=move |_| c.export_weights()>"Export weights"</button>
        </Show>
        <Show when=fine_tuned>
            <button class="button small" data-testid="reset-weights-button"
                title="Forget the fine-tuned weights and use the shipped ones"
                on:click=move |_| c.reset_weights()>"Shipped weights"</button>
        </Show>
        <span class="classify-summary" data-testid="classify-summary">{summary}</span>
        <Training />
    }
}

/// The fine-tuning run: status line and loss curves.
#[component]
fn Training() -> impl IntoView {
    let training = expect_context::<ClassifyState>().training;
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
