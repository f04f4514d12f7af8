//! The in-browser timing page (`?timing`): the benchmark suite of [`crate::core::timing`]
//! run in the jobs worker, one job after another, on the same numbers as
//! `cargo bench --bench cluster` builds natively (from the demo's 300 embeddings), so the
//! WebAssembly times sit beside the native ones. `?timing&sizes=1000,5000` runs only
//! those sizes.

use leptos::prelude::*;

use super::bridge::{self, Kind};
use super::browser;
use crate::core::import::parse_npy;
use crate::core::timing::{suite, Case};
use crate::worker::protocol::{Job, Reply, Request};

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
    let search = web_sys::window()?.location().search().ok()?;
    let list = search
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("sizes="))?;
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
    let started = bridge::start(Kind::Jobs, move |reply| match reply {
        Reply::Timed { id, result } => finish(id, Ok(result.ms)),
        Reply::Failed { id, message, .. } if id > 0 => finish(id, Err(message)),
        Reply::Progress { fraction, .. } => progress.set(fraction),
        _ => {}
    });
    if let Err(e) = started {
        status.set(e);
    }
    leptos::task::spawn_local(async move {
        let loaded = browser::fetch_bytes("demo/demo_emb.npy")
            .await
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
        </main>
    }
}
