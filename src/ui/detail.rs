//! The selected record in full: question, reasoning, answer, other fields, its label and
//! the label buttons (the same actions as the keys 1, 2, 0, u).

use leptos::prelude::*;

use crate::core::labelfile::format_time;
use crate::core::labels::Verdict;

use super::state::AppState;

/// The detail pane of the selected record.
#[component]
pub fn Detail() -> impl IntoView {
    let state = expect_context::<AppState>();
    let body = move || {
        let sel = state.selected.get()?;
        state.session.with(|s| {
            let s = s.as_ref()?;
            let r = s.dataset.records().get(sel)?;
            let label = s.labels.get(&r.id).cloned();
            let position = format!("{} of {}", sel + 1, s.dataset.len());
            let label_text = match &label {
                None => "Not labelled".to_string(),
                Some(l) if l.is_human() => format!(
                    "{} — your label{}",
                    l.verdict.as_str(),
                    l.updated_at.map(|t| format!(", {}", format_time(t))).unwrap_or_default()
                ),
                Some(l) => format!(
                    "{} — {} label, confidence {:.0}%{}",
                    l.verdict.as_str(),
                    l.provenance.as_str(),
                    l.confidence * 100.0,
                    if l.from.is_empty() { String::new() } else { format!(", from {}", l.from.join(", ")) }
                ),
            };
            let verdict = label.as_ref().map_or("none", |l| l.verdict.as_str());
            let meta: Vec<(String, String)> = r
                .meta
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect();
            Some(view! {
                <article class="record-detail" data-testid="record-detail" data-id=r.id.clone()>
                    <div class="detail-head">
                        <span class="detail-id">{r.id.clone()}</span>
                        <span class="detail-pos">{position}</span>
                    </div>
                    <h2>"Question"</h2>
                    <p class="question">{r.question.clone()}</p>
                    <h2>"Reasoning"</h2>
                    <pre class="cot">{r.cot.clone()}</pre>
                    <h2>"Answer"</h2>
                    <p class="answer">{r.answer.clone().unwrap_or_else(|| "—".into())}</p>
                    <div class=format!("label-state {verdict}") data-testid="label-state">{label_text}</div>
                    <details class="meta">
                        <summary>"Other fields"</summary>
                        <dl>
                            {r.question_id.clone().map(|q| view! { <dt>"question_id"</dt><dd>{q}</dd> })}
                            {meta.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
                        </dl>
                    </details>
                </article>
            })
        })
    };

    view! {
        <section class="detail-pane" aria-label="Selected record">
            <div class="label-buttons">
                <button class="button good" title="Sound reasoning (key 1)" on:click=move |_| state.label(Verdict::Good)>
                    "Good " <kbd>"1"</kbd>
                </button>
                <button class="button bad" title="Flawed reasoning (key 2)" on:click=move |_| state.label(Verdict::Bad)>
                    "Bad " <kbd>"2"</kbd>
                </button>
                <button class="button" title="Remove the label (key 0)" on:click=move |_| state.clear()>
                    "Clear " <kbd>"0"</kbd>
                </button>
                <button class="button" title="Undo your last action (key u)" on:click=move |_| state.undo()>
                    "Undo " <kbd>"u"</kbd>
                </button>
                <span class="keys-help">
                    <kbd>"j"</kbd>"/"<kbd>"k"</kbd>" next / previous"
                </span>
            </div>
            {body}
        </section>
    }
}
