//! The model worker's message loop: the binary-choice classifier and the MiniLM sentence
//! encoder on WebGPU when the browser has an adapter, else on the CPU (burn-ndarray), and
//! fine-tuning the classifier (CPU). Kept apart from the jobs worker so the page loads burn
//! and wgpu only when someone asks for a model.
//! `{request: JSON, data: Float32Array, bytes: Uint8Array (weights)}` in, JSON [`Reply`] out
//! (`{reply, bytes}` when weights or vectors travel back).

use std::cell::RefCell;

use burn::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::protocol::{
    Backend, ClassifyResult, EmbedJob, EmbedResult, FailReason, ModelJob, Reply, Request,
};
use super::wasm::{post, post_with_bytes, read_message};
use super::{check_classify, classified, group_rows, now_ms, train_cpu};
use crate::core::choice::{self, score_pairs, score_pairs_async, sibling_pairs};
use crate::core::embed::{self, MiniLm, Tokenizer};

/// The MiniLM encoder once loaded: model, tokenizer, device, its name, why not WebGPU,
/// the weights' size.
#[derive(Clone)]
struct Encoder {
    model: MiniLm,
    tokenizer: Tokenizer,
    device: Device,
    backend: &'static str,
    fallback: Option<String>,
    bytes: usize,
}

// The WebGPU device once started, or why there is none; the encoder once loaded (by
// backend request).
thread_local! {
    static GPU: RefCell<Option<Result<Device, String>>> = const { RefCell::new(None) };
    static ENCODER: RefCell<Option<(Backend, Encoder)>> = const { RefCell::new(None) };
}

/// Name of the Cache API store that keeps downloaded model files.
const CACHE: &str = "cotlabel-models-v1";

fn js(e: JsValue) -> String {
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

/// The bytes at `url` from the browser's Cache API when there, else downloaded (reporting
/// the share done) and kept there. Also says whether they came from the cache.
async fn cached_bytes(url: &str, report: &dyn Fn(f64)) -> Result<(Vec<u8>, bool), String> {
    use js_sys::{Reflect, Uint8Array};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{Cache, ReadableStreamDefaultReader, Response, WorkerGlobalScope};
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let cache: Option<Cache> = match scope.caches() {
        Ok(caches) => JsFuture::from(caches.open(CACHE))
            .await
            .ok()
            .map(JsCast::unchecked_into),
        Err(_) => None, // no Cache API (e.g. not a secure context): download every time
    };
    if let Some(cache) = &cache {
        let hit = JsFuture::from(cache.match_with_str(url))
            .await
            .map_err(js)?;
        if let Ok(resp) = hit.dyn_into::<Response>() {
            let buf = JsFuture::from(resp.array_buffer().map_err(js)?)
                .await
                .map_err(js)?;
            return Ok((Uint8Array::new(&buf).to_vec(), true));
        }
    }
    let resp: Response = JsFuture::from(scope.fetch_with_str(url))
        .await
        .map_err(|e| format!("{url}: {}", js(e)))?
        .unchecked_into();
    if !resp.ok() {
        return Err(format!(
            "{url}: HTTP {} (the model files are made by ./scripts/fetch-minilm before the build)",
            resp.status()
        ));
    }
    let total = resp
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<f64>().ok());
    let body = resp
        .body()
        .ok_or_else(|| format!("{url}: an empty response"))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut out = Vec::with_capacity(total.unwrap_or(0.0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(js)?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(js)?
            .unchecked_into();
        let at = out.len();
        out.resize(at + value.length() as usize, 0);
        value.copy_to(&mut out[at..]);
        if let Some(t) = total.filter(|&t| t > 0.0) {
            report((out.len() as f64 / t).min(1.0));
        }
    }
    if let Some(cache) = &cache {
        let copy = Uint8Array::from(out.as_slice());
        if let Ok(stored) = Response::new_with_opt_buffer_source(Some(&copy)) {
            // a full disk only costs a download next time
            let _ = JsFuture::from(cache.put_with_str(url, &stored)).await;
        }
    }
    Ok((out, false))
}

/// The encoder for `backend`, loading it (and the model files) on first use.
async fn encoder(job: &EmbedJob, report: &dyn Fn(&str, f64)) -> Result<(Encoder, bool), String> {
    if let Some(e) = ENCODER.with(|e| {
        e.borrow()
            .as_ref()
            .filter(|(b, _)| *b == job.backend)
            .map(|(_, e)| e.clone())
    }) {
        return Ok((e, true));
    }
    let (vocab, _) = cached_bytes(&format!("{}-vocab.txt", job.model), &|_| ()).await?;
    let vocab = String::from_utf8(vocab).map_err(|_| "the vocabulary is not UTF-8".to_string())?;
    let tokenizer = Tokenizer::from_vocab(&vocab)?;
    let (weights, cached) = cached_bytes(&format!("{}.bpk", job.model), &|f| {
        report("downloading the embedding model", f)
    })
    .await?;
    report("starting the embedding model", 1.0);
    let (device, backend, fallback) = device_for(job.backend).await;
    let bytes = weights.len();
    let model = embed::load(weights, &device)?;
    let e = Encoder {
        model,
        tokenizer,
        device,
        backend,
        fallback,
        bytes,
    };
    ENCODER.with(|slot| *slot.borrow_mut() = Some((job.backend, e.clone())));
    Ok((e, cached))
}

/// Embeds the job's texts in batches of similar length, reporting each batch.
async fn embed_texts(
    req: &Request<ModelJob>,
    report: &dyn Fn(&str, f64),
) -> Result<EmbedResult, String> {
    let ModelJob::Embed(job) = &req.job else {
        return Err("not an embed job".into());
    };
    let (enc, cached) = encoder(job, report).await?;
    let encodings: Vec<_> = job.texts.iter().map(|t| enc.tokenizer.encode(t)).collect();
    let n = encodings.len();
    let mut vectors = vec![0.0f32; n * embed::DIM];
    let t0 = now_ms();
    let mut done = 0;
    for batch in embed::batches(&encodings, job.batch) {
        let refs: Vec<_> = batch.iter().map(|&i| &encodings[i]).collect();
        let out = embed::embed_async(&enc.model, &refs, &enc.device).await?;
        for (k, &i) in batch.iter().enumerate() {
            vectors[i * embed::DIM..(i + 1) * embed::DIM]
                .copy_from_slice(&out[k * embed::DIM..(k + 1) * embed::DIM]);
        }
        done += batch.len();
        report(
            &format!("embedding {done} of {n} texts"),
            done as f64 / n.max(1) as f64,
        );
    }
    Ok(EmbedResult {
        rows: n,
        dim: embed::DIM,
        backend: enc.backend.to_string(),
        fallback: enc.fallback,
        tokens: encodings.iter().map(|e| e.ids.len()).sum(),
        truncated: encodings.iter().filter(|e| e.truncated()).count(),
        embed_ms: now_ms() - t0,
        model_bytes: enc.bytes,
        cached,
        vectors,
    })
}

/// The device for `backend`, its name, and why it is not the one asked for (when not).
async fn device_for(backend: Backend) -> (Device, &'static str, Option<String>) {
    if backend == Backend::Cpu {
        return (cpu(), "cpu", None);
    }
    if backend == Backend::Auto {
        if let Some(name) = software_adapter().await {
            return (
                cpu(),
                "cpu",
                Some(format!(
                    "the WebGPU adapter ({name}) is software, slower than the CPU (?webgpu uses it anyway)"
                )),
            );
        }
    }
    match gpu().await {
        Ok(d) => (d, "webgpu", None),
        Err(why) => (cpu(), "cpu", Some(why)),
    }
}

/// The browser's WebGPU adapter when it is a software one (SwiftShader, llvmpipe,
/// lavapipe, or one the browser calls a fallback adapter): its name. `None` for a hardware
/// adapter, or none at all.
async fn software_adapter() -> Option<String> {
    use js_sys::{Function, Promise, Reflect};
    use wasm_bindgen_futures::JsFuture;
    let get = |o: &wasm_bindgen::JsValue, k: &str| Reflect::get(o, &k.into()).ok();
    let nav = get(&js_sys::global(), "navigator")?;
    let gpu = get(&nav, "gpu").filter(|g| !g.is_undefined() && !g.is_null())?;
    let request: Function = get(&gpu, "requestAdapter")?.dyn_into().ok()?;
    let promise: Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = JsFuture::from(promise)
        .await
        .ok()
        .filter(|a| !a.is_null() && !a.is_undefined())?;
    let info = get(&adapter, "info").filter(|i| !i.is_undefined());
    let text = |k: &str| {
        info.as_ref()
            .and_then(|i| get(i, k))
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let flagged = |o: Option<&wasm_bindgen::JsValue>| {
        o.and_then(|o| get(o, "isFallbackAdapter"))
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    };
    let name = [text("vendor"), text("architecture"), text("description")]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let lower = name.to_ascii_lowercase();
    let software = flagged(Some(&adapter))
        || flagged(info.as_ref())
        || ["swiftshader", "llvmpipe", "lavapipe", "software"]
            .iter()
            .any(|k| lower.contains(k));
    software.then(|| {
        if name.is_empty() {
            "fallback adapter".into()
        } else {
            name
        }
    })
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

async fn classify(
    req: Request<ModelJob>,
    data: Vec<f32>,
    weights: Vec<u8>,
) -> Result<ClassifyResult, String> {
    let ModelJob::Classify(job) = &req.job else {
        return Err("not a classify job".into());
    };
    check_classify(job, req.rows, &data)?;
    let (device, backend, fallback) = device_for(job.backend).await;
    let width = job.info.input.width();
    let model = choice::load(&job.info, weights.clone(), &device)?;
    let pairs = sibling_pairs(&group_rows(&job.groups));
    let t0 = now_ms();
    let scores = score_pairs_async(&model, &data, width, &pairs, &device).await?;
    let scoring_ms = now_ms() - t0;
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
        if matches!(req.job, ModelJob::Train(_)) {
            // Training runs on the CPU, synchronously: the page cancels it by terminating
            // this worker. Each epoch reports its numbers.
            let id = req.id;
            let reply = train_cpu(&req, &data, weights, &mut |e, of| {
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
            });
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
                    stage: match req.job {
                        ModelJob::Embed(_) => "loading the embedding model",
                        _ => "classifying",
                    }
                    .into(),
                    fraction: 0.0,
                },
            );
            if matches!(req.job, ModelJob::Embed(_)) {
                let progress = |stage: &str, fraction: f64| {
                    post(
                        &me,
                        &Reply::Progress {
                            id,
                            stage: stage.to_string(),
                            fraction,
                        },
                    )
                };
                match embed_texts(&req, &progress).await {
                    Ok(result) => {
                        let bytes: Vec<u8> = result
                            .vectors
                            .iter()
                            .flat_map(|v| v.to_le_bytes())
                            .collect();
                        let reply = Reply::Embedded {
                            id,
                            result: Box::new(result),
                        };
                        post_with_bytes(&me, &reply, &bytes);
                    }
                    Err(message) => post(
                        &me,
                        &Reply::Failed {
                            id,
                            reason: FailReason::Error,
                            message,
                        },
                    ),
                }
                return;
            }
            let reply = match classify(req, data, weights).await {
                Ok(result) => Reply::Classified { id, result },
                Err(message) => Reply::Failed {
                    id,
                    reason: FailReason::Error,
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
