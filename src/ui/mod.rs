//! The page: a thin leptos layer over [`crate::core`].
//!
//! **Shell** — what every feature reads, and nothing feature-specific:
//! - `state`: [`state::AppState`], the session (records and labels), selection, filter,
//!   counts, notices, the signature table, and the label actions of the keys;
//! - `open`: the first load, imports, "start over"; `dataset`: the data set the jobs
//!   worker holds, as the page receives it; `durable`: labels written as they are given,
//!   shared between tabs; `persist`: IndexedDB;
//! - `jobs`: the one jobs service (ids, status, progress, cancel per worker; each reply
//!   goes to the job that asked); `bridge`: the wire to the two workers; `browser`: files,
//!   downloads, timing marks.
//!
//! **Features** — each keeps its own state, provided as a context of its own by [`App`],
//! and imports only the shell, never another feature (they meet in the shell's signals:
//! `records_key`, `held`, `humans`, `min_confidence`, `machine_written`, `clusters`,
//! `cleaning`):
//! - `map`: the reasoning map ([`map::MapState`]);
//! - `propagation`: label next, propagate, evaluation ([`propagation::PropState`]);
//! - `classify` with `pairwise`: the binary-choice classifier and two CoTs side by side
//!   ([`classify::ClassifyState`], [`pairwise::PairState`]);
//! - `embed`: MiniLM on the device ([`embed::EmbedState`]);
//! - `mapping`: the column-mapping step ([`mapping::MappingState`]);
//! - `steps`: numbered steps, the first wrong step (suggested, marked, spread)
//!   ([`steps::StepsState`]);
//! - `clean`: near-duplicates, evaluation-set questions and broken traces found in the
//!   worker, their counts and filters, why a record is flagged ([`clean::CleanState`]);
//! - `training`: "Export training set…" (flagged rows left out);
//! - `generate`: sibling CoTs sampled from the person's own model over an
//!   OpenAI-compatible endpoint ([`generate::GenState`]).
//!
//! **Views** over the shell: `toolbar`, `list`, `detail`; they show other features'
//! controls through slots that [`App`] fills. `timing` is the separate timing page
//! (`?timing`).

mod bridge;
mod browser;
mod classify;
mod clean;
mod dataset;
mod detail;
mod durable;
mod embed;
mod generate;
mod jobs;
mod list;
mod map;
mod mapping;
mod open;
mod pairwise;
mod persist;
mod propagation;
mod state;
mod steps;
mod team;
mod timing;
mod toolbar;
mod training;

use leptos::prelude::*;

use crate::core::labels::StepMark;
use crate::core::labels::Verdict;
use classify::ClassifyState;
use embed::EmbedState;
use generate::GenState;
use map::MapState;
use mapping::MappingState;
use pairwise::PairState;
use propagation::PropState;
use state::AppState;
use steps::StepsState;

/// What the address asks for: the timing page with `?timing`, else the app.
#[component]
pub fn Root() -> impl IntoView {
    if browser::query_flag("timing") {
        view! { <timing::TimingPage /> }.into_any()
    } else {
        view! { <App /> }.into_any()
    }
}

/// The whole page: the shell, then each feature's state, provided as contexts; the
/// keyboard (contract §3); drag and drop; the layout, which places each feature's views.
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    state.connect_worker();
    let map = MapState::new(state);
    provide_context(map);
    let prop = PropState::new(state);
    provide_context(prop);
    let classifier = ClassifyState::new(state);
    provide_context(classifier);
    let pair = PairState::new(state);
    provide_context(pair);
    provide_context(EmbedState::new(state));
    provide_context(MappingState::new(state));
    let steps = StepsState::new(state);
    provide_context(steps);
    provide_context(GenState::new(state));
    provide_context(team::TeamState::new(state));
    provide_context(clean::CleanState::new(state));
    state.start();

    // Mark the first paint of the records for the end-to-end timing.
    Effect::new(move |done: Option<bool>| {
        if done == Some(true) {
            return true;
        }
        let ready = state.session.with(Option::is_some);
        if ready {
            browser::mark("cotlabel-first-render");
        }
        ready
    });

    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        // an overlay takes the keyboard: Esc closes it, Tab stays inside it, and the
        // labelling keys do nothing under it
        if let Some(name) = state.overlay.get_untracked() {
            if ev.key() == "Escape" {
                state.close_overlay(name);
                ev.prevent_default();
            } else {
                browser::trap_tab(&ev, name);
            }
            return;
        }
        if browser::typing_in_field(&ev) {
            return;
        }
        if steps.picking() {
            // typing a step number after `w`
            steps.key(&ev.key());
            ev.prevent_default();
            return;
        }
        match ev.key().as_str() {
            "j" | "ArrowDown" => state.move_selection(1),
            "k" | "ArrowUp" => state.move_selection(-1),
            "1" => state.label(Verdict::Good),
            "2" => state.label(Verdict::Bad),
            "0" => state.clear(),
            "u" => state.undo(),
            "n" => prop.next(),
            "c" => pair.compare_next(),
            "a" if pair.compare.get_untracked().is_some() => pair.choose(true),
            "b" if pair.compare.get_untracked().is_some() => pair.choose(false),
            "Escape" => pair.compare.set(None),
            "p" => prop.request(),
            "w" => steps.start_pick(),
            "f" => steps.mark(StepMark::AllFine),
            _ => return,
        }
        ev.prevent_default();
    });
    on_cleanup(move || keys.remove());

    let dragging = RwSignal::new(false);
    view! {
        <div
            class="app"
            class:dragging=move || dragging.get()
            on:dragover=move |ev| {
                ev.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=move |ev| {
                ev.prevent_default();
                dragging.set(false);
                let files = browser::file_list(ev.data_transfer().and_then(|d| d.files()));
                state.import(files);
            }
        >
            <toolbar::Toolbar
                data_in=|| view! { <embed::EmbedButton /> <generate::GenerateButton /> }
                out=|| view! { <embed::ExportEmbeddingsButton /> <clean::CleanButton /> <training::TrainingExport /> }
                dataset_status=|| view! { <embed::EmbedStatus /> }
                labelling=|| view! { <team::TeamControls /> <clean::CleanCounts /> }
            />
            <open::LinkConfirm />
            <mapping::MappingPanel />
            <generate::GeneratePanel />
            <main class="panes">
                <div class="left-pane">
                    <team::TeamPanel />
                    <propagation::PropagationBar>
                        <classify::ClassifyControls />
                    </propagation::PropagationBar>
                    <map::ReasoningMap />
                    <list::RecordList />
                </div>
                <detail::Detail
                    buttons=|| view! { <pairwise::CompareButton /> }
                    reasoning=|| view! { <clean::CleanDetail /> <steps::StepView /> }
                >
                    <pairwise::Pairwise />
                </detail::Detail>
            </main>
        </div>
    }
}
