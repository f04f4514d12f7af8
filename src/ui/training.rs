//! "Export training set…" (contract §3: `training-*`): which labels count, a format (SFT,
//! preference pairs, KTO) and a file type, a count of rows and pairs before writing, and the
//! download. The file is written in slices of [`SLICE`] rows, each its own task (a Parquet
//! row group, or a part of the JSONL text), with progress and cancel, so a 50k-row set
//! never blocks the page. Rows cleaning flagged (`clean`) are left out unless the person
//! keeps them; the count says how many.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::export::trainset::{self, FileType, Format, Options};
use crate::core::io::parquet::ParquetSink;

use super::browser;
use super::state::AppState;

/// The dialog's name among the page's overlays ([`AppState::overlay`]).
const OVERLAY: &str = "training-export";

/// Rows written per task.
const SLICE: usize = 1_000;

/// The button and, when open, the dialog.
#[component]
pub fn TrainingExport() -> impl IntoView {
    let state = expect_context::<AppState>();
    let open = move || state.overlay_open(OVERLAY);
    let format = RwSignal::new(Format::SftMessages);
    let file_type = RwSignal::new(FileType::Jsonl);
    let human_only = RwSignal::new(false);
    let min_confidence = RwSignal::new(80.0_f64);
    let max_pairs = RwSignal::new(4_usize);
    let keep_flagged = RwSignal::new(false);
    let progress = RwSignal::new(None::<(usize, usize)>);
    let cancelled = RwSignal::new(false);

    let options = move || Options {
        format: format.get(),
        human_only: human_only.get(),
        min_confidence: (min_confidence.get() / 100.0).clamp(0.5, 1.0),
        max_pairs_per_question: max_pairs.get().max(1),
        keep_flagged: keep_flagged.get(),
    };
    let summary = Memo::new(move |_| {
        if !open() {
            return String::new();
        }
        let o = options();
        let cleaning = state.cleaning_now();
        state.session.with(|s| {
            s.as_ref()
                .map(|s| {
                    let flags = cleaning.as_ref().map(|c| c.flags(s));
                    let summary =
                        trainset::plan_clean(&s.dataset, &s.labels, &o, flags.as_ref()).summary();
                    if cleaning.is_none() {
                        format!("{summary} Cleaning has not finished on these records: nothing is left out yet.")
                    } else {
                        summary
                    }
                })
                .unwrap_or_default()
        })
    });
    let download = move |_| {
        if progress.get_untracked().is_some() {
            return;
        }
        cancelled.set(false);
        spawn_local(write(
            state,
            options(),
            file_type.get_untracked(),
            progress,
            cancelled,
        ));
    };

    view! {
        <button class="button" data-testid="training-export-button" on:click=move |_| state.toggle_overlay(OVERLAY)>
            "Export training set…"
        </button>
        <Show when=open>
            <section class="training-export" role="dialog" aria-modal="true" aria-label="Export a training set" data-testid="training-export" data-overlay=OVERLAY>
                <h2>"Export a training set"</h2>
                <label>
                    "Format "
                    <select data-testid="training-format" on:change=move |ev| {
                        if let Some(f) = Format::parse(&event_target_value(&ev)) { format.set(f) }
                    }>
                        {Format::ALL.iter().map(|f| view! {
                            <option value=f.as_str() selected=move || format.get() == *f>{f.title()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>
                    "Labels "
                    <select data-testid="training-include" on:change=move |ev| human_only.set(event_target_value(&ev) == "human")>
                        <option value="all" selected=move || !human_only.get()>"yours and the app's"</option>
                        <option value="human" selected=move || human_only.get()>"only yours"</option>
                    </select>
                </label>
                <label class:disabled=move || human_only.get()>
                    "the app's at ≥ "
                    <input type="number" min="50" max="100" step="1" data-testid="training-min-confidence"
                        prop:value=move || min_confidence.get()
                        prop:disabled=move || human_only.get()
                        on:input=move |ev| { if let Ok(v) = event_target_value(&ev).parse::<f64>() { min_confidence.set(v) } }
                    />
                    " % confidence"
                </label>
                <Show when=move || format.get().is_pairs()>
                    <label>
                        "at most "
                        <input type="number" min="1" max="100" step="1" data-testid="training-max-pairs"
                            prop:value=move || max_pairs.get()
                            on:input=move |ev| { if let Ok(v) = event_target_value(&ev).parse::<usize>() { max_pairs.set(v) } }
                        />
                        " pairs per question"
                    </label>
                </Show>
                <label>
                    <input type="checkbox" data-testid="training-keep-flagged"
                        prop:checked=move || keep_flagged.get()
                        on:change=move |ev| keep_flagged.set(event_target_checked(&ev))
                    />
                    " keep rows cleaning flagged (duplicates, evaluation-set questions, broken traces; a flags column says why)"
                </label>
                <label>
                    "File "
                    <select data-testid="training-filetype" on:change=move |ev| {
                        if let Some(f) = FileType::parse(&event_target_value(&ev)) { file_type.set(f) }
                    }>
                        <option value="jsonl">"JSONL"</option>
                        <option value="parquet">"Parquet"</option>
                    </select>
                </label>
                <p class="training-summary" data-testid="training-summary">{move || summary.get()}</p>
                <div class="training-actions">
                    <button class="button primary" data-testid="training-download" on:click=download
                        prop:disabled=move || progress.get().is_some()>
                        "Download"
                    </button>
                    <Show when=move || progress.get().is_some()>
                        <progress max="1" data-testid="training-progress"
                            prop:value=move || progress.get().map_or(0.0, |(d, t)| d as f64 / t.max(1) as f64)></progress>
                        <button class="button small" on:click=move |_| cancelled.set(true)>"Cancel"</button>
                    </Show>
                    <button class="button" on:click=move |_| state.close_overlay(OVERLAY)>"Close"</button>
                </div>
            </section>
        </Show>
    }
}

/// Writes the training set in slices and offers it as a download.
async fn write(
    state: AppState,
    options: Options,
    file_type: FileType,
    progress: RwSignal<Option<(usize, usize)>>,
    cancelled: RwSignal<bool>,
) {
    let started = browser::performance_now();
    let cleaning = state.cleaning_now();
    let Some((plan, name, fingerprint)) = state.session.with_untracked(|s| {
        s.as_ref().map(|s| {
            let flags = cleaning.as_ref().map(|c| c.flags(s));
            (
                trainset::plan_clean(&s.dataset, &s.labels, &options, flags.as_ref()),
                s.dataset.name().to_string(),
                s.dataset.fingerprint().to_string(),
            )
        })
    }) else {
        return;
    };
    if plan.is_empty() {
        state
            .notice
            .set(Some(format!("Nothing to export: {}", plan.summary())));
        return;
    }
    let total = plan.len();
    progress.set(Some((0, total)));
    let mut parts: Vec<String> = Vec::new();
    let mut sink: Option<ParquetSink> = None;
    let mut start = 0;
    let failed = |e: String| {
        progress.set(None);
        state.errors.set(vec![format!("Export failed: {e}")]);
    };
    while start < total {
        browser::yield_now().await;
        if cancelled.get_untracked() {
            progress.set(None);
            state.notice.set(Some(
                "Training-set export cancelled: nothing was written.".into(),
            ));
            return;
        }
        let end = (start + SLICE).min(total);
        // The records may change between slices (an import): stop rather than mix sets.
        let table = state.session.with_untracked(|s| {
            s.as_ref()
                .filter(|s| s.dataset.fingerprint() == fingerprint)
                .map(|s| plan.table(&s.dataset, start..end))
        });
        let Some(table) = table else {
            return failed("the data set changed while writing".into());
        };
        match file_type {
            FileType::Jsonl => parts.push(table.to_jsonl()),
            FileType::Parquet => {
                let written = match &mut sink {
                    Some(s) => s.write(&table),
                    None => ParquetSink::new(&table).and_then(|mut s| {
                        let r = s.write(&table);
                        sink = Some(s);
                        r
                    }),
                };
                if let Err(e) = written {
                    return failed(e);
                }
            }
        }
        progress.set(Some((end, total)));
        start = end;
    }
    browser::yield_now().await;
    let filename = trainset::file_name(&name, options.format, file_type, &browser::today());
    let result = match file_type {
        FileType::Jsonl => browser::download_text_parts(&filename, &parts, "application/jsonl")
            .map_err(String::from),
        FileType::Parquet => sink
            .expect("a non-empty plan writes a row group")
            .finish()
            .and_then(|bytes| Ok(browser::download_bytes(&filename, &bytes)?)),
    };
    progress.set(None);
    match result {
        Ok(()) => {
            let secs = (browser::performance_now() - started) / 1000.0;
            browser::mark("cotlabel-training-export");
            state.notice.set(Some(format!(
                "Wrote {filename} in {secs:.1} s — {}",
                plan.summary()
            )));
        }
        Err(e) => state.errors.set(vec![format!("Export failed: {e}")]),
    }
}
