//! The model worker's message loop: the binary-choice classifier on WebGPU when the browser
//! has an adapter, else on the CPU (burn-ndarray). Kept apart from the jobs worker so the
//! page loads burn and wgpu only when someone asks for the classifier.
//! `{request: JSON, data: Float32Array, bytes: Uint8Array (weights)}` in, JSON [`Reply`] out.

use std::cell::RefCell;

use burn::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::protocol::{Backend, ClassifyResult, Job, Reply, Request};
use super::wasm::{post, post_with_bytes, read_message};
use super::{check_classify, classified, group_rows, train_cpu};
use crate::core::choice::{self, score_pairs, score_pairs_async, sibling_pairs};

// The WebGPU device once started, or why there is none.
thread_local! {
    static GPU: RefCell<Option<Result<Device, String>>> = const { RefCell::new(None) };
}

#[allow(deprecated)] // burn 0.22 prefers flex; ndarray is the CPU backend of the brief
fn cpu() -> Device {
    Device::ndarray()
}

async fn gpu() -> Result<Device, String> {
    if let Some(known) = GPU.with(|g| g.borrow().clone()) {
        return known;
    }
    let started = Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| format!("no WebGPU adapter ({e:?})"));
    GPU.with(|g| *g.borrow_mut() = Some(started.clone()));
    started
}

fn now() -> f64 {
    js_sys::Date::now()
}

async fn classify(
    req: Request,
    data: Vec<f32>,
    weights: Vec<u8>,
) -> Result<ClassifyResult, String> {
    let Job::Classify(job) = &req.job else {
        return Err("not a classify job".into());
    };
    check_classify(job, req.rows, &data)?;
    let (device, backend, fallback) = match job.backend {
        Backend::Cpu => (cpu(), "cpu", None),
        Backend::Auto => match gpu().await {
            Ok(d) => (d, "webgpu", None),
            Err(why) => (cpu(), "cpu", Some(why)),
        },
    };
    let width = job.info.input.width();
    let model = choice::load(&job.info, weights.clone(), &device)?;
    let pairs = sibling_pairs(&group_rows(&job.groups));
    let t0 = now();
    let scores = score_pairs_async(&model, &data, width, &pairs, &device).await?;
    let scoring_ms = now() - t0;
    let parity = if job.parity {
        let cpu_device = cpu();
        let cpu_model = choice::load(&job.info, weights, &cpu_device)?;
        let reference = score_pairs(&cpu_model, &data, width, &pairs, &cpu_device);
        Some(
            scores
                .iter()
                .zip(&reference)
                .map(|(a, b)| f64::from((a - b).abs()))
                .fold(0.0, f64::max),
        )
    } else {
        None
    };
    Ok(classified(
        job, &pairs, &scores, backend, fallback, parity, scoring_ms,
    ))
}

/// Installs the message handler and says `Ready`.
pub fn start() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let me = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        let (req, data, weights) = match read_message(&ev) {
            Ok(m) => m,
            Err(reply) => return post(&me, &reply),
        };
        if matches!(req.job, Job::Train(_)) {
            // Training runs on the CPU, synchronously: the page cancels it by terminating
            // this worker. Each epoch reports its numbers.
            let id = req.id;
            let reply = train_cpu(
                &req,
                &data,
                weights,
                &mut |e, of| {
                    post(
                        &me,
                        &Reply::Progress {
                            id,
                            stage: format!("training: epoch {} of {of}", e.epoch),
                            fraction: e.epoch as f64 / of.max(1) as f64,
                        },
                    );
                    post(&me, &Reply::Epoch { id, epoch: *e, of });
                    true
                },
                &now,
            );
            return match &reply {
                Reply::Trained { result, .. } => post_with_bytes(&me, &reply, &result.weights),
                _ => post(&me, &reply),
            };
        }
        let me = me.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let id = req.id;
            post(
                &me,
                &Reply::Progress {
                    id,
                    stage: "classifying".into(),
                    fraction: 0.0,
                },
            );
            let reply = match classify(req, data, weights).await {
                Ok(result) => Reply::Classified { id, result },
                Err(message) => Reply::Failed {
                    id,
                    cancelled: false,
                    message,
                },
            };
            post(&me, &reply);
        });
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(&scope, &Reply::Ready);
}
