//! Embeddings computed on this device: records that came without vectors are embedded
//! with all-MiniLM-L6-v2 in the model worker (WebGPU, else the CPU). Each vector is cached
//! in IndexedDB under a hash of its text, so a reload — or the same CoT in another data
//! set — needs no model at all; the model files themselves are downloaded once, when first
//! asked for, and kept in the browser's Cache API by the worker.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::data::Embeddings;
use crate::core::signals::embed::{cache_key, DIM};
use crate::worker::protocol::{
    EmbedJob, EmbedResult, FailReason, ModelJob, ModelReply, WorkerReply,
};

use super::browser;
use super::jobs::Payload;
use super::persist;
use super::state::AppState;

/// The embedding feature's state (provided as a context of its own).
#[derive(Clone, Copy)]
pub struct EmbedState {
    app: AppState,
    /// The latest run and how long the whole round trip took (ms).
    pub last: RwSignal<Option<Arc<(EmbedResult, f64)>>>,
    /// The request waited for: id, start, and the texts' cache keys with the vectors
    /// already cached (`None`: sent to the worker, in order).
    request: StoredValue<Option<Pending>>,
}

#[derive(Clone)]
struct Pending {
    id: u64,
    started: f64,
    fingerprint: String,
    keys: Vec<String>,
    cached: Vec<Option<Vec<f32>>>,
}

impl EmbedState {
    /// Nothing embedded yet. Records that arrive without embeddings get the ones this
    /// browser computed for them before, when it has all of them.
    pub fn new(app: AppState) -> Self {
        let this = Self {
            app,
            last: RwSignal::new(None),
            request: StoredValue::new(None),
        };
        Effect::new(move |prev: Option<Option<String>>| {
            let key = app.records_key.get();
            if prev.as_ref() != Some(&key) && key.as_deref().is_some_and(|k| k.ends_with("/0")) {
                this.attach_cached_embeddings();
            }
            key
        });
        this
    }
}

/// CoTs hashed per task: a slice of them stays far under 50 ms on the page at any size.
const KEYS_PER_TASK: usize = 4000;

impl EmbedState {
    /// The CoTs of the open data set with their cache keys and fingerprint; the keys are
    /// made a slice per task.
    async fn texts(self) -> Option<(String, Vec<String>, Vec<String>)> {
        let (fingerprint, texts) = self.app.session.with_untracked(|s| {
            let s = s.as_ref()?;
            let texts: Vec<String> = s.dataset.records().iter().map(|r| r.cot.clone()).collect();
            Some((s.dataset.fingerprint().to_string(), texts))
        })?;
        let mut keys = Vec::with_capacity(texts.len());
        for slice in texts.chunks(KEYS_PER_TASK) {
            keys.extend(slice.iter().map(|t| cache_key(t)));
            browser::yield_now().await;
        }
        Some((fingerprint, texts, keys))
    }

    /// Embeds every CoT of the open data set (cached vectors first, the rest in the model
    /// worker) and attaches the vectors to the records.
    pub fn embed(self) {
        spawn_local(async move {
            let Some((fingerprint, texts, keys)) = self.texts().await else {
                return;
            };
            let cached = match persist::load_vectors(&keys).await {
                Ok(c) => c,
                Err(e) => {
                    web_sys::console::warn_1(&format!("embedding cache unreadable: {e}").into());
                    vec![None; keys.len()]
                }
            };
            let missing: Vec<String> = texts
                .into_iter()
                .zip(&cached)
                .filter(|(_, c)| c.is_none())
                .map(|(t, _)| t)
                .collect();
            let pending = |id, started| Pending {
                id,
                started,
                fingerprint: fingerprint.clone(),
                keys: keys.clone(),
                cached: cached.clone(),
            };
            if missing.is_empty() {
                self.request.set_value(Some(pending(0, 0.0)));
                self.attach_vectors(0, &[]);
                return;
            }
            let job = ModelJob::Embed(EmbedJob {
                workers: browser::model_workers(missing.len()),
                texts: missing,
                model: browser::MINILM.into(),
                backend: browser::model_backend(),
                batch: browser::MINILM_BATCH,
            });
            let started = browser::performance_now();
            let id = self.app.jobs.send(
                job,
                Payload::default(),
                Some("loading the embedding model"),
                move |reply| self.on_reply(reply),
            );
            self.request.set_value(Some(pending(id, started)));
        });
    }

    /// Attaches cached vectors to a data set without embeddings, when every CoT has one
    /// (after a reload of records embedded here before). Silent otherwise.
    pub fn attach_cached_embeddings(self) {
        spawn_local(async move {
            let Some((fingerprint, _, keys)) = self.texts().await else {
                return;
            };
            // every CoT needs its vector: without the first one, nothing is read further
            let first = persist::load_vectors(&keys[..keys.len().min(1)]).await;
            if !matches!(first.as_deref(), Ok([Some(_)])) {
                return;
            }
            let Ok(cached) = persist::load_vectors(&keys).await else {
                return;
            };
            if cached.iter().all(Option::is_some) {
                self.request.set_value(Some(Pending {
                    id: 0,
                    started: 0.0,
                    fingerprint,
                    keys,
                    cached,
                }));
                self.attach_vectors(0, &[]);
            }
        });
    }

    /// Whether `id` is the embedding the page waits for.
    fn is_embedding(&self, id: u64) -> bool {
        self.request
            .with_value(|p| p.as_ref().is_some_and(|p| p.id == id))
    }

    fn on_reply(self, reply: ModelReply) {
        let id = reply.id();
        if !self.is_embedding(id) {
            return;
        }
        match reply {
            ModelReply::Embedded { result, .. } => self.on_embedded(id, *result),
            ModelReply::Failed {
                reason: FailReason::Cancelled,
                ..
            } => self.request.set_value(None),
            ModelReply::Failed { message, .. } => self.on_embedding_failed(&message),
            _ => {}
        }
    }

    /// The worker's vectors came back: cache them and attach them to the records.
    fn on_embedded(self, id: u64, result: EmbedResult) {
        if result.dim != DIM || result.vectors.len() != result.rows * DIM {
            self.on_embedding_failed(&format!(
                "{} values for {} texts of {} dimensions",
                result.vectors.len(),
                result.rows,
                result.dim
            ));
            return;
        }
        let started = self
            .request
            .with_value(|p| p.as_ref().map_or(0.0, |p| p.started));
        let vectors = result.vectors.clone();
        let millis = browser::performance_now() - started;
        self.last.set(Some(Arc::new((result, millis))));
        self.attach_vectors(id, &vectors);
    }

    /// Fills the pending request's gaps with `fresh` (in order), caches them, and attaches
    /// the whole matrix to the records it was made for.
    fn attach_vectors(self, id: u64, fresh: &[f32]) {
        let Some(p) = self.request.get_value().filter(|p| p.id == id) else {
            return;
        };
        self.request.set_value(None);
        let n = p.keys.len();
        let mut data = Vec::with_capacity(n * DIM);
        let mut new_items = Vec::new();
        let mut next = fresh.chunks_exact(DIM);
        for (k, c) in p.keys.iter().zip(&p.cached) {
            match c {
                Some(v) if v.len() == DIM => data.extend_from_slice(v),
                _ => {
                    let Some(v) = next.next() else {
                        self.on_embedding_failed("fewer vectors than texts came back");
                        return;
                    };
                    data.extend_from_slice(v);
                    new_items.push((k.clone(), v.to_vec()));
                }
            }
        }
        let Some(emb) = Embeddings::new(n, DIM, data) else {
            return;
        };
        let mut attached = false;
        self.app.session.update(|s| {
            if let Some(s) = s
                .as_mut()
                .filter(|s| s.dataset.fingerprint() == p.fingerprint)
            {
                s.dataset.set_embeddings(Some(emb));
                attached = true;
            }
        });
        if !attached {
            return; // other records were opened meanwhile
        }
        // the worker reads the signatures again with the embeddings
        self.app.attach_in_worker();
        spawn_local(async move {
            let items: Vec<(String, &[f32])> = new_items
                .iter()
                .map(|(k, v)| (k.clone(), v.as_slice()))
                .collect();
            if let Err(e) = persist::save_vectors(&items).await {
                web_sys::console::warn_1(&format!("embeddings not cached: {e}").into());
            }
        });
    }

    /// Embedding failed: say why.
    fn on_embedding_failed(self, message: &str) {
        self.request.set_value(None);
        self.app
            .errors
            .update(|v| v.push(format!("The CoTs could not be embedded: {message}")));
    }

    /// Downloads the records' embeddings as a float32 `.npy` (rows in record order).
    pub fn export_embeddings(self) {
        let file = self.app.session.with_untracked(|s| {
            let s = s.as_ref()?;
            let e = s.dataset.embeddings()?;
            let stem = s
                .dataset
                .name()
                .rsplit_once('.')
                .map_or(s.dataset.name(), |p| p.0);
            Some((
                format!("{stem}-embeddings.npy"),
                crate::core::io::import::write_npy(e),
            ))
        });
        if let Some((name, bytes)) = file {
            if let Err(e) = browser::download_bytes(&name, &bytes) {
                self.app.errors.update(|v| v.push(e.to_string()));
            }
        }
    }
}

/// Whether the data set shown has embeddings (`None` while none is shown).
fn has_embeddings(state: AppState) -> Option<bool> {
    state
        .session
        .with(|s| s.as_ref().map(|s| s.dataset.embeddings().is_some()))
}

/// In the toolbar's "data in" group: embed on this device, for records without vectors.
#[component]
pub fn EmbedButton() -> impl IntoView {
    let state = expect_context::<AppState>();
    let embed = expect_context::<EmbedState>();
    view! {
        <Show when=move || has_embeddings(state) == Some(false)>
            <button class="button" data-testid="embed-button"
                title="Compute all-MiniLM-L6-v2 embeddings in this browser (the model downloads once, ~68 MB; nothing leaves the device)"
                on:click=move |_| embed.embed()>"Embed on this device"</button>
        </Show>
    }
}

/// In the toolbar's "out" group: the vectors as a float32 .npy.
#[component]
pub fn ExportEmbeddingsButton() -> impl IntoView {
    let state = expect_context::<AppState>();
    let embed = expect_context::<EmbedState>();
    view! {
        <Show when=move || has_embeddings(state) == Some(true)>
            <button class="button" data-testid="export-embeddings-button"
                title="Download the embeddings as a float32 .npy (rows in record order)"
                on:click=move |_| embed.export_embeddings()>"Export embeddings"</button>
        </Show>
    }
}

/// Under the record count: what the last embedding run did.
#[component]
pub fn EmbedStatus() -> impl IntoView {
    let embed = expect_context::<EmbedState>();
    let status = move || {
        embed.last.with(|l| {
                l.as_ref().map(|l| {
                    let (r, ms) = &**l;
                    format!(
                    "{} CoTs embedded on {}{} in {:.1} s ({:.0} tokens each{}); model {:.0} MB {}{}",
                    r.rows,
                    r.backend,
                    if r.workers > 1 { format!(" × {} workers", r.workers) } else { String::new() },
                    r.embed_ms / 1000.0,
                    r.tokens as f64 / r.rows.max(1) as f64,
                    if r.truncated > 0 {
                        format!(", {} cut to 256", r.truncated)
                    } else {
                        String::new()
                    },
                    r.model_bytes as f64 / 1e6,
                    if r.cached { "from this browser's cache" } else { "downloaded once" },
                    format!(" · {:.1} s in all", ms / 1000.0)
                        + &r.fallback.as_ref().map(|f| format!(" — {f}")).unwrap_or_default()
                        + &r.pool_problem.as_ref().map(|p| format!(" — {p}")).unwrap_or_default()
                )
                })
            })
    };
    view! {
        <span class="embed-status" data-testid="embed-status">{status}</span>
    }
}
