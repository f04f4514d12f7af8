//! The page: a thin leptos layer over [`crate::core`].
//!
//! - [`App`]: layout, keyboard (contract §3), drag and drop.
//! - `toolbar`: import, export, counts, filter, messages.
//! - `list`: the virtualised record list (renders only the rows in view).
//! - `detail`: the selected record, readable in full, with the label buttons.
//! - `map`: the reasoning map; `propagation`: label next, propagate, evaluation;
//!   `classify`: the binary-choice classifier (model worker); `pairwise`: two CoTs side
//!   by side and the person's choice.
//! - `mapping`: the column-mapping step; `training`: "Export training set…".
//! - `timing`: the in-browser timing page (`?timing`).
//! - `state`: signals and actions; `dataset`: the data set the jobs worker holds, as the
//!   page receives it; `durable`: labels written as they are given, shared
//!   between tabs; `persist`: IndexedDB; `browser`: files, downloads.

mod bridge;
mod browser;
mod classify;
mod dataset;
mod detail;
mod durable;
mod embed;
mod list;
mod map;
mod mapping;
mod pairwise;
mod persist;
mod propagation;
mod state;
mod timing;
mod toolbar;
mod training;

use leptos::prelude::*;

use crate::core::labels::Verdict;
use state::AppState;

/// What the address asks for: the timing page with `?timing`, else the app.
#[component]
pub fn Root() -> impl IntoView {
    if browser::query_flag("timing") {
        view! { <timing::TimingPage /> }.into_any()
    } else {
        view! { <App /> }.into_any()
    }
}

/// The whole page.
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    state.start();
    state.track_records();
    state.start_worker();
    state.track_propagation();

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
        if browser::typing_in_field(&ev) {
            return;
        }
        match ev.key().as_str() {
            "j" | "ArrowDown" => state.move_selection(1),
            "k" | "ArrowUp" => state.move_selection(-1),
            "1" => state.label(Verdict::Good),
            "2" => state.label(Verdict::Bad),
            "0" => state.clear(),
            "u" => state.undo(),
            "n" => state.next(),
            "c" => state.compare_next(),
            "a" if state.compare.get_untracked().is_some() => state.choose(true),
            "b" if state.compare.get_untracked().is_some() => state.choose(false),
            "Escape" => state.compare.set(None),
            "p" => state.request_propagation(),
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
            <toolbar::Toolbar />
            <mapping::MappingPanel />
            <main class="panes">
                <div class="left-pane">
                    <propagation::PropagationBar />
                    <map::ReasoningMap />
                    <list::RecordList />
                </div>
                <detail::Detail />
            </main>
        </div>
    }
}
