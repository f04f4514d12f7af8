//! The in-browser timing page (`?timing`): the benchmark suite of [`crate::core::timing`]
//! run in the jobs worker, one job after another, on the same numbers as
//! `cargo bench --bench cluster` builds natively (from the demo's 300 embeddings), so the
//! WebAssembly times sit beside the native ones. `?timing&sizes=1000,5000` runs only
//! those sizes.
//!
//! Below it, [`EmbedBench`]: MiniLM on the demo's 300 CoTs in the model worker, on the CPU
//! with 1, 2, 4… workers (up to this device's cores) and, when asked, on WebGPU, in CoTs/s
//! beside the native figure.

use leptos::prelude::*;

use super::bridge;
use super::browser;
use crate::core::io::import::parse_npy;
use crate::core::timing::{suite, Case};
use crate::worker::protocol::{
    Backend, EmbedJob, EmbedResult, Job, JobsReply, ModelJob, ModelReply, Request,
};

/// One row of the table: a case and what came of it.
#[derive(Clone, PartialEq)]
struct Row {
    case: Case,
    outcome: Option<Result<f64, String>>,
}

/// The base rows the suite's matrices are built from: `(values, rows, dim)`.
type Base = (Vec<f32>, usize, usize);

/// Sizes asked for in the address (`sizes=1000,5000`); all when absent.
fn sizes_asked() -> Option<Vec<usize>> {
    let list = browser::query_value("sizes")?;
    Some(list.split(',').filter_map(|s| s.parse().ok()).collect())
}

fn send(base: &Base, index: usize, case: Case) {
    let req = Request {
        id: index as u64 + 1,
        rows: base.1,
        dim: base.2,
        job: Job::Time(case),
    };
    bridge::submit(&req, &base.0, None, None);
}

/// The whole timing page.
#[component]
pub fn TimingPage() -> impl IntoView {
    let cases: Vec<Case> = match sizes_asked() {
        Some(sizes) => suite()
            .into_iter()
            .filter(|c| sizes.contains(&c.rows))
            .collect(),
        None => suite(),
    };
    let rows = RwSignal::new(
        cases
            .iter()
            .map(|&case| Row {
                case,
                outcome: None,
            })
            .collect::<Vec<_>>(),
    );
    let base: StoredValue<Option<Base>> = StoredValue::new(None);
    let status = RwSignal::new("Loading the demo's embeddings…".to_string());
    let running = RwSignal::new(false);
    let progress = RwSignal::new(0.0f64);

    // The next case without an outcome, sent to the worker; none left: done.
    let next = move || {
        let pending = rows.with_untracked(|r| r.iter().position(|row| row.outcome.is_none()));
        match (pending, base.get_value()) {
            (Some(i), Some(b)) => {
                let case = rows.with_untracked(|r| r[i].case);
                status.set(format!(
                    "Running {} at N = {} ({} of {})…",
                    case.name(),
                    case.rows,
                    i + 1,
                    rows.with_untracked(Vec::len)
                ));
                progress.set(0.0);
                send(&b, i, case);
            }
            (None, _) => {
                running.set(false);
                status.set("Done.".to_string());
            }
            (Some(_), None) => status.set("The demo's embeddings are not loaded.".into()),
        }
    };
    let finish = move |id: u64, outcome: Result<f64, String>| {
        let i = id as usize - 1;
        rows.update(|r| {
            if let Some(row) = r.get_mut(i) {
                row.outcome = Some(outcome);
            }
        });
        next();
    };
    let started = bridge::start::<Job>(move |reply| match reply {
        JobsReply::Timed { id, result } => finish(id, Ok(result.ms)),
        JobsReply::Failed { id, message, .. } if id > 0 => finish(id, Err(message)),
        JobsReply::Progress { fraction, .. } => progress.set(fraction),
        _ => {}
    });
    if let Err(e) = started {
        status.set(e.to_string());
    }
    leptos::task::spawn_local(async move {
        let loaded = browser::fetch_bytes("demo/demo_emb.npy")
            .await
            .map_err(String::from)
            .and_then(|bytes| parse_npy("demo_emb.npy", &bytes).map_err(|e| e.to_string()));
        match loaded {
            Ok(e) => {
                status.set(format!(
                    "Ready: the suite's matrices are built from the demo's {} embeddings ({}-d).",
                    e.rows(),
                    e.dim()
                ));
                base.set_value(Some((e.as_slice().to_vec(), e.rows(), e.dim())));
            }
            Err(e) => status.set(format!("Cannot load the demo's embeddings: {e}")),
        }
    });
    let run = move |_| {
        if running.get_untracked() || base.with_value(Option::is_none) {
            return;
        }
        rows.update(|r| r.iter_mut().for_each(|row| row.outcome = None));
        running.set(true);
        next();
    };
    let done = move || rows.with(|r| r.iter().all(|row| row.outcome.is_some()));

    view! {
        <main class="timing">
            <h1>"cotlabel — timing in this browser"</h1>
            <p>
                "The map's heavy jobs, run in the page's Web Worker (WebAssembly, one thread) on the same numbers as "
                <code>"cargo bench --bench cluster"</code>
                " builds natively: the demo's embeddings, repeated with seeded noise up to N rows. "
                <a href="./">"Back to the app"</a>
            </p>
            <p>
                <button
                    class="button"
                    data-testid="timing-run"
                    prop:disabled=move || running.get()
                    on:click=run
                >
                    "Run the suite"
                </button>
                " "
                <span data-testid="timing-status">{move || status.get()}</span>
            </p>
            <Show when=move || running.get()>
                <progress data-testid="timing-progress" max="1" prop:value=move || progress.get()></progress>
            </Show>
            <table class="timing-table" data-testid="timing-table" data-done=move || done().to_string()>
                <thead>
                    <tr>
                        <th>"job"</th>
                        <th>"N"</th>
                        <th>"WebAssembly (ms)"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || {
                        rows.get()
                            .into_iter()
                            .map(|row| {
                                let ms = match &row.outcome {
                                    Some(Ok(ms)) => format!("{ms:.0}"),
                                    Some(Err(e)) => format!("failed: {e}"),
                                    None => "—".to_string(),
                                };
                                let value = match row.outcome {
                                    Some(Ok(ms)) => ms.to_string(),
                                    _ => String::new(),
                                };
                                view! {
                                    <tr data-testid="timing-row" data-job=row.case.name() data-rows=row.case.rows data-ms=value>
                                        <td>{row.case.name()}</td>
                                        <td>{row.case.rows}</td>
                                        <td class="num">{ms}</td>
                                    </tr>
                                }
                            })
                            .collect_view()
                    }}
                </tbody>
            </table>
            <EmbedBench />
        </main>
    }
}

/// Native MiniLM throughput on the demo's CoTs, `cargo bench --bench embed` (burn-flex, one
/// thread, batch 16) on the project's 2-core machine: the figure the browser's are read
/// beside.
const NATIVE_COTS_PER_S: f64 = 32.4;

/// Texts the WebGPU run embeds: a few batches, since a software adapter spends about a
/// minute compiling its shaders.
const GPU_TEXTS: usize = 32;

/// One run of the embedding benchmark.
#[derive(Clone, PartialEq)]
struct EmbedRun {
    backend: Backend,
    workers: usize,
    outcome: Option<Result<EmbedResult, String>>,
}

impl EmbedRun {
    fn name(&self) -> String {
        match self.backend {
            Backend::Gpu => "WebGPU".into(),
            _ if self.workers == 1 => "CPU, 1 worker".into(),
            _ => format!("CPU, {} workers", self.workers),
        }
    }
}

/// The embedding benchmark: each run is an embed job of the model worker, one after
/// another; the model is downloaded (or read from the cache) by the first.
#[component]
fn EmbedBench() -> impl IntoView {
    let cores = web_sys::window().map_or(1, |w| w.navigator().hardware_concurrency() as usize);
    let runs = RwSignal::new(Vec::<EmbedRun>::new());
    let texts: StoredValue<Option<Vec<String>>> = StoredValue::new(None);
    let status = RwSignal::new(String::new());
    let progress = RwSignal::new(None::<(String, f64)>);
    let with_gpu = RwSignal::new(false);
    let next = move || {
        let pending = runs.with_untracked(|r| r.iter().position(|run| run.outcome.is_none()));
        let Some(i) = pending else {
            progress.set(None);
            status.set("Done.".into());
            return;
        };
        let Some(all) = texts.get_value() else {
            status.set("The demo's CoTs are not loaded.".into());
            return;
        };
        let run = runs.with_untracked(|r| r[i].clone());
        let texts = if run.backend == Backend::Gpu {
            all.into_iter().take(GPU_TEXTS).collect()
        } else {
            all
        };
        status.set(format!("Running {}…", run.name()));
        let req = Request {
            id: i as u64 + 1,
            rows: 0,
            dim: 0,
            job: ModelJob::Embed(EmbedJob {
                texts,
                model: browser::MINILM.into(),
                backend: run.backend,
                batch: browser::MINILM_BATCH,
                workers: run.workers,
            }),
        };
        bridge::submit(&req, &[], None, None);
    };
    let finish = move |id: u64, outcome: Result<EmbedResult, String>| {
        runs.update(|r| {
            if let Some(run) = r.get_mut(id as usize - 1) {
                run.outcome = Some(outcome);
            }
        });
        next();
    };
    let started = bridge::start::<ModelJob>(move |reply| match reply {
        ModelReply::Embedded { id, result } => finish(id, Ok(*result)),
        ModelReply::Failed { id, message, .. } if id > 0 => finish(id, Err(message)),
        ModelReply::Progress {
            stage, fraction, ..
        } => progress.set(Some((stage, fraction))),
        _ => {}
    });
    if let Err(e) = started {
        status.set(e.to_string());
    }
    leptos::task::spawn_local(async move {
        let loaded = browser::fetch_bytes("demo/demo_cots.json")
            .await
            .map_err(String::from)
            .and_then(|b| {
                serde_json::from_slice::<Vec<serde_json::Value>>(&b).map_err(|e| e.to_string())
            });
        match loaded {
            Ok(rows) => texts.set_value(Some(
                rows.iter()
                    .filter_map(|r| r["cot"].as_str().map(str::to_string))
                    .collect(),
            )),
            Err(e) => status.set(format!("Cannot load the demo's CoTs: {e}")),
        }
    });
    let run = move |_| {
        if runs.with_untracked(|r| r.iter().any(|run| run.outcome.is_none())) {
            return; // running
        }
        let mut plan: Vec<EmbedRun> = crate::core::signals::embed::bench_pool_sizes(cores)
            .into_iter()
            .map(|workers| EmbedRun {
                backend: Backend::Cpu,
                workers,
                outcome: None,
            })
            .collect();
        if with_gpu.get_untracked() {
            plan.push(EmbedRun {
                backend: Backend::Gpu,
                workers: 1,
                outcome: None,
            });
        }
        runs.set(plan);
        next();
    };
    let rate = |r: &EmbedResult| r.rows as f64 / (r.embed_ms / 1000.0).max(1e-9);
    let one = move || {
        runs.with(|r| {
            r.iter()
                .find(|run| run.backend == Backend::Cpu && run.workers == 1)
                .and_then(|run| run.outcome.as_ref()?.as_ref().ok().map(rate))
        })
    };
    let done = move || runs.with(|r| !r.is_empty() && r.iter().all(|run| run.outcome.is_some()));
    view! {
        <h2>"Embedding on this device"</h2>
        <p>
            "all-MiniLM-L6-v2 on the demo's 300 CoTs (71 tokens on average) in the model worker, batches of "
            {browser::MINILM_BATCH} ", the model's start excluded (a pool's helpers start inside the time). "
            "This device reports " {cores} " cores. Natively, one thread runs "
            <strong>{format!("{NATIVE_COTS_PER_S:.1} CoTs/s")}</strong>
            " (" <code>"cargo bench --bench embed"</code> ", burn-flex, the project's 2-core machine)."
        </p>
        <p>
            <label>
                <input type="checkbox" data-testid="embed-bench-gpu"
                    on:change=move |ev| with_gpu.set(event_target_checked(&ev)) />
                {format!(" WebGPU too (the first {GPU_TEXTS} CoTs: a software adapter spends about a minute compiling)")}
            </label>
            " "
            <button class="button" data-testid="embed-bench-run" on:click=run>"Run the embedding benchmark"</button>
            " "
            <span data-testid="embed-bench-status">{move || status.get()}</span>
        </p>
        {move || progress.get().map(|(stage, f)| view! {
            <p>{stage} " " <progress max="1" prop:value=f></progress></p>
        })}
        <table class="timing-table" data-testid="embed-bench-table" data-done=move || done().to_string()>
            <thead>
                <tr>
                    <th>"run"</th>
                    <th>"CoTs"</th>
                    <th>"seconds"</th>
                    <th>"CoTs/s"</th>
                    <th>"per worker"</th>
                    <th>"of linear"</th>
                </tr>
            </thead>
            <tbody>
                {move || {
                    let base = one();
                    runs.get()
                        .into_iter()
                        .map(|run| {
                            let name = run.name();
                            let (cots, secs, speed, per, linear, value) = match &run.outcome {
                                Some(Ok(r)) => {
                                    let s = rate(r);
                                    let k = r.workers.max(1) as f64;
                                    (
                                        r.rows.to_string(),
                                        format!("{:.1}", r.embed_ms / 1000.0),
                                        format!("{s:.1}"),
                                        format!("{:.1}", s / k),
                                        base.map_or("—".into(), |b| format!("{:.0} %", 100.0 * s / (b * k))),
                                        format!("{s:.3}"),
                                    )
                                }
                                Some(Err(e)) => (format!("failed: {e}"), String::new(), String::new(), String::new(), String::new(), String::new()),
                                None => ("—".into(), String::new(), String::new(), String::new(), String::new(), String::new()),
                            };
                            let backend = match run.backend {
                                Backend::Gpu => "webgpu",
                                _ => "cpu",
                            };
                            view! {
                                <tr data-testid="embed-bench-row" data-backend=backend data-workers=run.workers data-rate=value>
                                    <td>{name}</td>
                                    <td>{cots}</td>
                                    <td class="num">{secs}</td>
                                    <td class="num">{speed}</td>
                                    <td class="num">{per}</td>
                                    <td class="num">{linear}</td>
                                </tr>
                            }
                        })
                        .collect_view()
                }}
            </tbody>
        </table>
    }
}
