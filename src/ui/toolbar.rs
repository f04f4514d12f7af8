//! The top bar: what is loaded, import and export, counts and filter, and every message.

use leptos::prelude::*;

use super::bridge::Kind;
use super::browser;
use super::durable::SaveState;
use super::state::{AppState, Filter};

/// Header with the data set, one toolbar of actions grouped by what they do (data in, out,
/// start over), counts, filter and messages.
#[component]
pub fn Toolbar(
    /// Controls of other features in the "data in" group (embed, generate).
    #[prop(into)]
    data_in: ViewFn,
    /// Controls of other features in the "out" group (embeddings, training sets).
    #[prop(into)]
    out: ViewFn,
    /// What other features say about the data set, under its record count.
    #[prop(into)]
    dataset_status: ViewFn,
    /// Controls of other features for labelling, on the line of the counts.
    #[prop(into)]
    labelling: ViewFn,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let name = move || {
        state.session.with(|s| {
            s.as_ref()
                .map(|s| s.dataset.name().to_string())
                .unwrap_or_default()
        })
    };
    let count_text = move || {
        state.session.with(|s| match s {
            None => "loading…".to_string(),
            Some(s) => {
                let emb = s
                    .dataset
                    .embeddings()
                    .map(|e| format!(" · {}-d embeddings", e.dim()))
                    .unwrap_or_default();
                let generated = state.generated.get();
                let generated = if generated > 0 {
                    format!(" ({generated} generated here)")
                } else {
                    String::new()
                };
                format!("{} records{generated}{emb}", s.dataset.len())
            }
        })
    };
    let counts = state.counts;
    let save_text = move || match state.durable.save.get() {
        SaveState::Idle => String::new(),
        SaveState::Saving(_) => "Saving…".into(),
        SaveState::Saved => "Saved in this browser".into(),
        SaveState::Failed { unsaved, reason } => format!(
            "Not saved: {}. {unsaved} label change{} kept in this tab; retrying",
            reason.trim_end_matches('.'),
            if unsaved == 1 { " is" } else { "s are" }
        ),
    };
    let confirm = RwSignal::new(false);
    let start_over = move |_| {
        if confirm.get_untracked() {
            confirm.set(false);
            state.start_over();
        } else {
            confirm.set(true);
            set_timeout(
                move || confirm.set(false),
                std::time::Duration::from_secs(5),
            );
        }
    };
    let human = move || counts.get().human;

    view! {
        <header class="toolbar">
            <div class="brand">
                <h1>"cotlabel"</h1>
                <span class="tagline">"Label chain-of-thought data by reasoning pattern. Nothing leaves this browser."</span>
                <a class="tagline" href="?timing" target="_blank" title="Time the map's jobs in this browser">"timing"</a>
            </div>
            <div class="dataset">
                <span class="dataset-name" data-testid="dataset-name">{name}</span>
                <span class="record-count" data-testid="record-count">{count_text}</span>
                {dataset_status.run()}
            </div>
            <div class="actions" role="toolbar" aria-label="Actions">
                <div class="action-group" role="group" aria-label="Data in">
                <label class="button file-button" title="Records (.json, .jsonl, .csv, .parquet; chat, ShareGPT, Alpaca, prompt/completion), embeddings (.npy, .json), label files and mapping files; several at once">
                    "Import files…"
                    <input
                        type="file"
                        multiple
                        accept=".json,.jsonl,.ndjson,.csv,.npy,.parquet"
                        data-testid="import-input"
                        on:change=move |ev| {
                            let input: web_sys::HtmlInputElement = event_target(&ev);
                            let files = browser::file_list(input.files());
                            input.set_value("");
                            state.import(files);
                        }
                    />
                </label>
                <select
                    class="button"
                    data-testid="demo-choice"
                    aria-label="Open a demo"
                    title="Open a shipped demo (its gold answers stay hidden, as in your data without a reference)"
                    on:change=move |ev| {
                        let which = event_target_value(&ev);
                        let select: web_sys::HtmlSelectElement = event_target(&ev);
                        select.set_value("");
                        browser::release_focus(&ev);
                        state.open_demo_choice(&which);
                    }
                >
                    <option value="" selected>"Open a demo…"</option>
                    <option value="gsm8k">"GSM8K (arithmetic)"</option>
                    <option value="mmlu-pro">"MMLU-Pro (14 domains)"</option>
                </select>
                {data_in.run()}
                </div>
                <div class="action-group" role="group" aria-label="Out">
                <button class="button primary" data-testid="export-button" on:click=move |_| state.export()>
                    "Export labels"
                </button>
                {out.run()}
                </div>
                <button
                    class="button danger"
                    data-testid="start-over"
                    title="Delete the labels saved in this browser for this data set and open the demo"
                    on:click=start_over
                >
                    {move || if confirm.get() {
                        format!("Click again: delete {} labels of yours", human())
                    } else {
                        "Start over".to_string()
                    }}
                </button>
            </div>
            <div class="counts">
                <span class="count good" data-testid="count-good">{move || counts.get().good}" good"</span>
                <span class="count bad" data-testid="count-bad">{move || counts.get().bad}" bad"</span>
                <span class="count none" data-testid="count-unlabelled">{move || counts.get().unlabelled}" unlabelled"</span>
                <span class="count human">{move || counts.get().human}" by you"</span>
                <select
                    data-testid="filter"
                    aria-label="Show"
                    on:change=move |ev| {
                        state.filter.set(Filter::from_value(&event_target_value(&ev)));
                        // Give the keys back to the list (a focused menu would take j/k).
                        browser::release_focus(&ev);
                    }
                >
                    {Filter::ALL.iter().map(|(_, value, text)| view! { <option value=*value>{*text}</option> }).collect_view()}
                </select>
                <label class="advance">
                    <input type="checkbox" on:change=move |ev| state.advance.set(event_target_checked(&ev)) />
                    " next after labelling"
                </label>
                {labelling.run()}
                <span
                    class=move || if matches!(state.durable.save.get(), SaveState::Failed { .. }) { "save-status failed" } else { "save-status" }
                    role="status"
                    data-testid="save-status"
                >{save_text}</span>
            </div>
            <For
                each=move || state.jobs.running.get()
                key=|j| (j.id, j.worker as u8)
                let:job
            >
                <JobBar worker=job.worker />
            </For>
            <Show when=move || state.busy.get().is_some()>
                <div class="busy">{move || state.busy.get()}</div>
            </Show>
            <Show when=move || state.restored.get().is_some()>
                <div class="restored" data-testid="restored">{move || state.restored.get()}</div>
            </Show>
            <Show when=move || state.notice.get().is_some()>
                <div class="notice" data-testid="notice">{move || state.notice.get()}</div>
            </Show>
            <Show when=move || !state.errors.get().is_empty()>
                <div class="errors" role="alert">
                    <ul>
                        {move || {
                            state
                                .errors
                                .get()
                                .into_iter()
                                .map(|e| view! { <li data-testid="error">{e}</li> })
                                .collect_view()
                        }}
                    </ul>
                    <Show when=move || state.errors.with(|e| e.len() >= crate::core::io::error::MAX_ERRORS)>
                        <p>"Stopped after the first " {crate::core::io::error::MAX_ERRORS} " errors."</p>
                    </Show>
                    <button class="button small" on:click=move |_| state.errors.set(Vec::new())>"Dismiss"</button>
                </div>
            </Show>
        </header>
    }
}

/// The running job of one worker: what it does, how far it is, and cancel (which stops
/// that worker only).
#[component]
fn JobBar(worker: Kind) -> impl IntoView {
    let state = expect_context::<AppState>();
    let status = move || {
        state
            .jobs
            .running
            .with(|r| r.iter().find(|j| j.worker == worker).cloned())
    };
    let cancel = move |_| {
        state.jobs.cancel(worker);
        state
            .notice
            .set(Some("Cancelled: the background job was stopped.".into()));
    };
    view! {
        <div class="job" data-testid="progress" role="status">
            {move || status().map(|j| format!("{} — {:.0}%", j.stage, j.fraction * 100.0))}
            <progress max="1" prop:value=move || status().map_or(0.0, |j| j.fraction)></progress>
            <button class="button small" data-testid="cancel-button" on:click=cancel>
                "Cancel"
            </button>
        </div>
    }
}
