//! The record list, virtualised: a spacer as tall as every row together, and only the rows
//! in view (plus a margin) in the DOM, so 50k records scroll like 50.

use leptos::html;
use leptos::prelude::*;

use super::state::AppState;

/// Height of one row in pixels (the stylesheet gives `.row` the same height).
pub const ROW_HEIGHT: f64 = 76.0;
/// Rows rendered above and below the visible ones.
const OVERSCAN: usize = 8;
/// Characters of question/CoT text shown in a row.
const SNIPPET: usize = 180;

fn snippet(text: &str) -> String {
    crate::core::data::snippet(text, SNIPPET)
}

/// The scrolling list of (filtered) records.
#[component]
pub fn RecordList() -> impl IntoView {
    let state = expect_context::<AppState>();
    let container = NodeRef::<html::Div>::new();
    let scroll_top = RwSignal::new(0.0f64);
    let viewport = RwSignal::new(900.0f64);

    let measure = move || {
        if let Some(el) = container.get_untracked() {
            scroll_top.set(el.scroll_top() as f64);
            viewport.set(el.client_height().max(1) as f64);
        }
    };
    let resize = window_event_listener(leptos::ev::resize, move |_| measure());
    on_cleanup(move || resize.remove());

    // Keep the selected record in view when the keyboard moves it.
    Effect::new(move |_| {
        let Some(sel) = state.selected.get() else {
            return;
        };
        let Ok(pos) = state.visible.with(|v| v.binary_search(&sel)) else {
            return;
        };
        let Some(el) = container.get() else { return };
        let (top, height) = (el.scroll_top() as f64, el.client_height() as f64);
        let row_top = pos as f64 * ROW_HEIGHT;
        if row_top < top {
            el.set_scroll_top(row_top as i32);
        } else if row_top + ROW_HEIGHT > top + height {
            el.set_scroll_top((row_top + ROW_HEIGHT - height) as i32);
        }
        measure();
    });

    let total_height = move || format!("{}px", state.visible.with(Vec::len) as f64 * ROW_HEIGHT);
    let rows = move || {
        let first = ((scroll_top.get() / ROW_HEIGHT) as usize).saturating_sub(OVERSCAN);
        let count = (viewport.get() / ROW_HEIGHT) as usize + 2 * OVERSCAN + 1;
        let selected = state.selected.get();
        let sigs = state.signatures.get();
        state.session.with(|s| {
            let Some(s) = s else { return Vec::new() };
            state.visible.with(|visible| {
                let end = (first + count).min(visible.len());
                visible[first.min(end)..end]
                    .iter()
                    .enumerate()
                    .map(|(k, &i)| {
                        let r = &s.dataset.records()[i];
                        let label = s.labels.get(&r.id);
                        let verdict = label.map_or("none", |l| l.verdict.as_str());
                        let provenance = label.map_or("none", |l| l.provenance.as_str());
                        let badge = match label {
                            None => String::new(),
                            Some(l) if l.is_human() => l.verdict.as_str().to_string(),
                            Some(l) => format!("{} {:.0}%", l.verdict.as_str(), l.confidence * 100.0),
                        };
                        let top = format!("{}px", (first + k) as f64 * ROW_HEIGHT);
                        let hint = sigs.as_ref().filter(|g| i < g.len()).map(|g| {
                            let (agree, siblings) = g.agreement[i];
                            let agree = if siblings > 0 {
                                format!(" · {agree}/{siblings} agree")
                            } else {
                                String::new()
                            };
                            format!("prior {:.0}%{agree}", g.prior[i] * 100.0)
                        });
                        let is_selected = selected == Some(i);
                        view! {
                            <div
                                class="row"
                                class:selected=is_selected
                                role="option"
                                data-testid="record"
                                data-id=r.id.clone()
                                data-label=verdict
                                data-provenance=provenance
                                aria-selected=if is_selected { "true" } else { "false" }
                                style:top=top
                                on:click=move |_| state.selected.set(Some(i))
                            >
                                <div class="row-head">
                                    <span class=format!("badge {verdict} {provenance}")>{badge}</span>
                                    <span class="row-id">{r.id.clone()}</span>
                                    <span class="row-prior">{hint}</span>
                                    <span class="row-answer">
                                        {r.answer.as_ref().map(|a| format!("answer: {}", snippet(a)))}
                                    </span>
                                </div>
                                <div class="row-question">{snippet(&r.question)}</div>
                                <div class="row-cot">{snippet(&r.cot)}</div>
                            </div>
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
    };

    view! {
        <section class="list-pane" aria-label="Records">
            // focusable, so the list scrolls from the keyboard too (j/k move the selection)
            <div class="list" role="listbox" aria-label="Records" tabindex="0" node_ref=container on:scroll=move |_| measure()>
                <div class="spacer" style:height=total_height>
                    {rows}
                </div>
            </div>
            <Show when=move || state.visible.with(Vec::is_empty) && state.session.with(Option::is_some)>
                <p class="empty">"No records match this filter."</p>
            </Show>
        </section>
    }
}
