//! The model worker's message loop: the binary-choice classifier and the MiniLM sentence
//! encoder on WebGPU when the browser has an adapter, else on the CPU (burn-flex), and
//! fine-tuning the classifier (CPU). Kept apart from the jobs worker so the page loads burn
//! and wgpu only when someone asks for a model.
//! `{request: JSON, data: Float32Array, bytes: Uint8Array (weights)}` in, JSON
//! [`ModelReply`] out (`{reply, bytes}` when weights or vectors travel back).

use std::cell::RefCell;

use burn::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::model::{check_classify, classified, train_cpu};
use super::now_ms;
use super::protocol::{
    Backend, ClassifyJob, ClassifyResult, EmbedJob, EmbedResult, ModelJob, ModelReply, Request,
    WorkerError, WorkerReply,
};
use super::wasm::{post, read_message};
use crate::core::data::Groups;
use crate::core::signals::choice::{self, score_pairs, score_pairs_async, sibling_pairs};
use crate::core::signals::embed::{self, MiniLm, Tokenizer};

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
async fn cached_bytes(url: &str, report: &dyn Fn(f64)) -> Result<(Vec<u8>, bool), WorkerError> {
    let fail = |why: String| WorkerError::Model(format!("{url}: {why}"));
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
            .map_err(|e| fail(js(e)))?;
        if let Ok(resp) = hit.dyn_into::<Response>() {
            let buf = JsFuture::from(resp.array_buffer().map_err(|e| fail(js(e)))?)
                .await
                .map_err(|e| fail(js(e)))?;
            return Ok((Uint8Array::new(&buf).to_vec(), true));
        }
    }
    let resp: Response = JsFuture::from(scope.fetch_with_str(url))
        .await
        .map_err(|e| fail(js(e)))?
        .unchecked_into();
    if !resp.ok() {
        return Err(fail(format!(
            "HTTP {} (the model files are made by ./scripts/fetch-minilm before the build)",
            resp.status()
        )));
    }
    let total = resp
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse::<f64>().ok());
    let body = resp
        .body()
        .ok_or_else(|| fail("an empty response".into()))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut out = Vec::with_capacity(total.unwrap_or(0.0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| fail(js(e)))?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(|e| fail(js(e)))?
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
async fn encoder(
    job: &EmbedJob,
    report: &dyn Fn(&str, f64),
) -> Result<(Encoder, bool), WorkerError> {
    if let Some(e) = ENCODER.with(|e| {
        e.borrow()
            .as_ref()
            .filter(|(b, _)| *b == job.backend)
            .map(|(_, e)| e.clone())
    }) {
        return Ok((e, true));
    }
    let (vocab, _) = cached_bytes(&format!("{}-vocab.txt", job.model), &|_| ()).await?;
    let vocab = String::from_utf8(vocab)
        .map_err(|_| WorkerError::Model("the vocabulary is not UTF-8".into()))?;
    let tokenizer = Tokenizer::from_vocab(&vocab).map_err(WorkerError::Model)?;
    let (weights, cached) = cached_bytes(&format!("{}.bpk", job.model), &|f| {
        report("downloading the embedding model", f)
    })
    .await?;
    report("starting the embedding model", 1.0);
    let (device, backend, fallback) = device_for(job.backend).await;
    let bytes = weights.len();
    let model = embed::load(weights, &device).map_err(WorkerError::Model)?;
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

/// Embeds the job's texts in batches of similar length, reporting each batch. On the CPU
/// with `workers > 1`, a pool: this worker embeds one shard and starts helpers (more model
/// workers, nested in this one, so cancelling this worker stops them too) for the others;
/// their progress is summed. A helper that fails leaves its shard to this worker.
/// `texts(done, of)` hears each batch beside `report`'s progress.
async fn embed_texts(
    job: &EmbedJob,
    report: &dyn Fn(&str, f64),
    texts: &dyn Fn(usize, usize),
) -> Result<EmbedResult, WorkerError> {
    let (enc, cached) = encoder(job, report).await?;
    let encodings: Vec<_> = job.texts.iter().map(|t| enc.tokenizer.encode(t)).collect();
    let n = encodings.len();
    let t0 = now_ms();
    let workers = if enc.backend == "cpu" {
        embed::pool_size(n, job.batch, 1, None, Some(job.workers.max(1)))
    } else {
        1 // one GPU: more workers would only queue on it
    };
    let shards = if workers > 1 {
        embed::shards(&encodings, job.batch, workers)
    } else {
        vec![(0..n).collect()]
    };
    let mut pool = Pool::start(job, &shards);
    let on = if shards.len() > 1 {
        format!(" on {} workers", shards.len())
    } else {
        String::new()
    };
    let say = |pool: &Pool| {
        let (done, fraction) = pool.progress.total();
        report(&format!("embedding {done} of {n} texts{on}"), fraction);
        texts(done, n);
    };
    let mut vectors = vec![0.0f32; n * embed::DIM];
    // this worker's shard, then whatever a failed helper left
    let mut mine = vec![0];
    while let Some(w) = mine.pop() {
        let shard = &shards[w];
        let encs: Vec<_> = shard.iter().map(|&i| encodings[i].clone()).collect();
        let mut done = 0;
        for batch in embed::batches(&encs, job.batch) {
            let refs: Vec<_> = batch.iter().map(|&i| &encs[i]).collect();
            let out = embed::embed_async(&enc.model, &refs, &enc.device)
                .await
                .map_err(WorkerError::Model)?;
            for (k, &i) in batch.iter().enumerate() {
                let row = shard[i];
                vectors[row * embed::DIM..(row + 1) * embed::DIM]
                    .copy_from_slice(&out[k * embed::DIM..(k + 1) * embed::DIM]);
            }
            done += batch.len();
            pool.progress
                .set(w, done as f64 / shard.len().max(1) as f64);
            if pool.waiting() {
                // a turn of the event loop: the helpers' messages arrive
                gloo_timers::future::TimeoutFuture::new(0).await;
                pool.drain(&shards, &mut vectors);
            }
            say(&pool);
        }
        if mine.is_empty() {
            while pool.waiting() {
                pool.next(&shards, &mut vectors).await;
                say(&pool);
            }
            mine.append(&mut pool.failed);
        }
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
        workers: shards.len(),
        pool_problem: pool.problem,
        vectors,
    })
}

/// What a helper said.
enum HelperEvent {
    Progress(f64),
    Done(Vec<f32>),
    Failed(String),
}

/// A helper worker: terminated when dropped.
struct Helper {
    worker: web_sys::Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// The helpers of one embedding job (shards 1…; shard 0 is this worker's) and what they
/// have done.
struct Pool {
    helpers: Vec<Option<Helper>>,
    events: futures_channel::mpsc::UnboundedReceiver<(usize, HelperEvent)>,
    progress: embed::PoolProgress,
    /// Shards still out with a helper.
    out: Vec<usize>,
    /// Shards whose helper failed: this worker embeds them.
    failed: Vec<usize>,
    problem: Option<String>,
}

impl Pool {
    /// Starts a helper for each shard but the first (none for one shard).
    fn start(job: &EmbedJob, shards: &[Vec<usize>]) -> Self {
        let (tx, events) = futures_channel::mpsc::unbounded();
        let mut pool = Pool {
            helpers: vec![None],
            events,
            progress: embed::PoolProgress::new(shards.iter().map(Vec::len).collect()),
            out: Vec::new(),
            failed: Vec::new(),
            problem: None,
        };
        for (w, shard) in shards.iter().enumerate().skip(1) {
            let sub = EmbedJob {
                texts: shard.iter().map(|&i| job.texts[i].clone()).collect(),
                model: job.model.clone(),
                backend: Backend::Cpu,
                batch: job.batch,
                workers: 1,
            };
            match start_helper(w, sub, tx.clone()) {
                Ok(h) => {
                    pool.helpers.push(Some(h));
                    pool.out.push(w);
                }
                Err(e) => {
                    pool.helpers.push(None);
                    pool.fail(w, e.to_string());
                }
            }
        }
        pool
    }

    fn waiting(&self) -> bool {
        !self.out.is_empty()
    }

    fn fail(&mut self, w: usize, why: String) {
        self.out.retain(|&x| x != w);
        self.failed.push(w);
        self.problem.get_or_insert(format!(
            "a helper worker failed ({why}); its texts were embedded by this one"
        ));
    }

    fn on(&mut self, w: usize, event: HelperEvent, shards: &[Vec<usize>], vectors: &mut [f32]) {
        if !self.out.contains(&w) {
            return;
        }
        match event {
            HelperEvent::Progress(f) => self.progress.set(w, f),
            HelperEvent::Done(v) if v.len() == shards[w].len() * embed::DIM => {
                for (k, &row) in shards[w].iter().enumerate() {
                    vectors[row * embed::DIM..(row + 1) * embed::DIM]
                        .copy_from_slice(&v[k * embed::DIM..(k + 1) * embed::DIM]);
                }
                self.progress.set(w, 1.0);
                self.out.retain(|&x| x != w);
                self.helpers[w] = None; // its memory back at once
            }
            HelperEvent::Done(v) => self.fail(
                w,
                format!("{} values for {} texts", v.len(), shards[w].len()),
            ),
            HelperEvent::Failed(why) => {
                self.helpers[w] = None;
                self.fail(w, why);
            }
        }
    }

    /// Takes in what the helpers said since the last look.
    fn drain(&mut self, shards: &[Vec<usize>], vectors: &mut [f32]) {
        while let Ok((w, e)) = self.events.try_recv() {
            self.on(w, e, shards, vectors);
        }
    }

    /// Waits for the next thing a helper says.
    async fn next(&mut self, shards: &[Vec<usize>], vectors: &mut [f32]) {
        use futures_util::StreamExt;
        match self.events.next().await {
            Some((w, e)) => self.on(w, e, shards, vectors),
            None => {
                for w in std::mem::take(&mut self.out) {
                    self.fail(w, "it stopped".into());
                }
            }
        }
    }
}

/// Starts a model worker inside this one for `job`; what it says goes to `tx` as shard `w`.
fn start_helper(
    w: usize,
    job: EmbedJob,
    tx: futures_channel::mpsc::UnboundedSender<(usize, HelperEvent)>,
) -> Result<Helper, WorkerError> {
    // relative to this worker's own script: the same loader the page started
    let worker =
        web_sys::Worker::new("./model_worker_loader.js").map_err(|e| WorkerError::Model(js(e)))?;
    let request = serde_json::to_string(&Request {
        id: 1,
        rows: 0,
        dim: 0,
        job: ModelJob::Embed(job),
    })
    .expect("requests serialise");
    let me = worker.clone();
    let send = tx.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        let data = ev.data();
        let get = |k: &str| js_sys::Reflect::get(&data, &k.into()).ok();
        let text = data
            .as_string()
            .or_else(|| get("reply").and_then(|v| v.as_string()));
        let Some(reply) = text.and_then(|t| serde_json::from_str::<ModelReply>(&t).ok()) else {
            return;
        };
        let event = match reply {
            ModelReply::Ready => {
                let msg = js_sys::Object::new();
                let _ = js_sys::Reflect::set(&msg, &"request".into(), &request.as_str().into());
                let _ = js_sys::Reflect::set(
                    &msg,
                    &"data".into(),
                    &js_sys::Float32Array::new_with_length(0),
                );
                let _ = me.post_message(&msg);
                return;
            }
            // its texts' progress only (not the model's loading)
            ModelReply::Texts { done, of, .. } => {
                HelperEvent::Progress(done as f64 / of.max(1) as f64)
            }
            ModelReply::Embedded { .. } => match get("bytes").and_then(|b| b.dyn_into().ok()) {
                Some(bytes) => HelperEvent::Done(super::wasm::floats(&bytes)),
                None => HelperEvent::Failed("no vectors came back".into()),
            },
            ModelReply::Failed { message, .. } => HelperEvent::Failed(message),
            ModelReply::Progress { .. }
            | ModelReply::Classified { .. }
            | ModelReply::Epoch { .. }
            | ModelReply::Trained { .. } => return,
        };
        let _ = send.unbounded_send((w, event));
    });
    let on_error =
        Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |ev: web_sys::ErrorEvent| {
            let _ = tx.unbounded_send((
                w,
                HelperEvent::Failed(format!("it could not run: {}", ev.message())),
            ));
        });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok(Helper {
        worker,
        _on_message: on_message,
        _on_error: on_error,
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

fn cpu() -> Device {
    crate::core::cpu_device()
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
    job: &ClassifyJob,
    rows: usize,
    data: Vec<f32>,
    weights: Vec<u8>,
) -> Result<ClassifyResult, WorkerError> {
    check_classify(job, rows, &data)?;
    let (device, backend, fallback) = device_for(job.backend).await;
    let width = job.info.input.width();
    let model = choice::load(&job.info, weights.clone(), &device).map_err(WorkerError::Model)?;
    let pairs = sibling_pairs(&Groups::from_assignment(&job.groups));
    let t0 = now_ms();
    let scores = score_pairs_async(&model, &data, width, &pairs, &device)
        .await
        .map_err(WorkerError::Model)?;
    let scoring_ms = now_ms() - t0;
    let parity = if job.parity {
        let cpu_device = cpu();
        let cpu_model =
            choice::load(&job.info, weights, &cpu_device).map_err(WorkerError::Model)?;
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
        let (req, data, weights) = match read_message::<ModelJob>(&ev) {
            Ok(m) => m,
            Err(reply) => return post(&me, reply),
        };
        let Request { id, rows, job, .. } = req;
        if let ModelJob::Train(job) = &job {
            // Training runs on the CPU, synchronously: the page cancels it by terminating
            // this worker. Each epoch reports its numbers.
            let trained = train_cpu(job, rows, &data, weights, &mut |e, of| {
                let stage = format!("training: epoch {} of {of}", e.epoch);
                post(
                    &me,
                    ModelReply::progress(id, &stage, e.epoch as f64 / of.max(1) as f64),
                );
                post(&me, ModelReply::Epoch { id, epoch: *e, of });
                true
            });
            return post(
                &me,
                match trained {
                    Ok(result) => ModelReply::Trained {
                        id,
                        result: Box::new(result),
                    },
                    Err(e) => e.reply(id),
                },
            );
        }
        let me = me.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let reply = match job {
                ModelJob::Embed(job) => {
                    post(
                        &me,
                        ModelReply::progress(id, "loading the embedding model", 0.0),
                    );
                    let progress = |stage: &str, fraction: f64| {
                        post(&me, ModelReply::progress(id, stage, fraction))
                    };
                    let texts = |done, of| post(&me, ModelReply::Texts { id, done, of });
                    embed_texts(&job, &progress, &texts)
                        .await
                        .map(|result| ModelReply::Embedded {
                            id,
                            result: Box::new(result),
                        })
                }
                ModelJob::Classify(job) => {
                    post(&me, ModelReply::progress(id, "classifying", 0.0));
                    classify(&job, rows, data, weights)
                        .await
                        .map(|result| ModelReply::Classified { id, result })
                }
                // trained above, synchronously
                ModelJob::Train(_) => return,
            };
            post(&me, reply.unwrap_or_else(|e| e.reply(id)));
        });
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(&scope, ModelReply::READY);
}
