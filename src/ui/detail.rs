//! The selected record in full: question, reasoning, answer, other fields, its label and
//! the label buttons (the same actions as the keys 1, 2, 0, u).

use leptos::prelude::*;

use crate::core::export::labelfile::format_time;
use crate::core::labels::{Provenance, Verdict};
use crate::core::signals::signature::table::in_group;
use crate::core::signals::signature::{Siblings, Signature};

use super::state::AppState;

/// The detail pane of the selected record.
#[component]
pub fn Detail(
    /// Buttons of other features shown beside the label buttons.
    #[prop(into)]
    buttons: ViewFn,
    /// The reasoning of the selected record, as the step feature shows it.
    #[prop(into)]
    reasoning: ViewFn,
    /// Views of other features shown above the record (the pairwise view).
    children: Children,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let body = move || {
        let sel = state.selected.get()?;
        state.session.with(|s| {
            let s = s.as_ref()?;
            let r = s.dataset.records().get(sel)?;
            let label = s.labels.get(&r.id).cloned();
            let position = format!("{} of {}", sel + 1, s.dataset.len());
            let votes = s.labels.votes(&r.id).map(<[_]>::to_vec).unwrap_or_default();
            let label_text = match &label {
                None if !votes.is_empty() => {
                    "Not labelled: the votes are tied — press 1 or 2 to settle".to_string()
                }
                None => "Not labelled".to_string(),
                Some(l) if l.provenance == Provenance::Adjudicated => format!(
                    "{} — settled by {}{}",
                    l.verdict.as_str(),
                    l.annotator.as_deref().unwrap_or("you"),
                    l.updated_at.map(|t| format!(", {}", format_time(t))).unwrap_or_default()
                ),
                Some(l) if l.is_human() && !votes.is_empty() => {
                    format!("{} — the team's consensus", l.verdict.as_str())
                }
                Some(l) if l.is_human() => format!(
                    "{} — {}{}",
                    l.verdict.as_str(),
                    l.annotator.as_ref().map_or("your label".to_string(), |a| format!("label by {a}")),
                    l.updated_at.map(|t| format!(", {}", format_time(t))).unwrap_or_default()
                ),
                Some(l) => format!(
                    "{} — {} label, confidence {:.0}%{}",
                    l.verdict.as_str(),
                    l.provenance.as_str(),
                    l.confidence * 100.0,
                    if l.from.is_empty() { "" } else { ", from your labels of" }
                ),
            };
            // The human labels a propagated label came from: click to open one.
            let sources: Vec<(String, Option<usize>)> = label
                .as_ref()
                .map(|l| l.from.iter().map(|id| (id.clone(), s.dataset.position(id))).collect())
                .unwrap_or_default();
            let sources = sources
                .into_iter()
                .map(|(id, pos)| {
                    view! {
                        <button
                            class="link source"
                            data-testid="label-source"
                            title="Open this record"
                            on:click=move |_| state.selected.set(pos)
                        >
                            {id}
                        </button>
                    }
                })
                .collect_view();
            let verdict = label.as_ref().map_or("none", |l| l.verdict.as_str());
            // the full signature of this record, read from its question group
            let sig = state
                .signatures
                .with(|g| g.as_ref().and_then(|g| in_group(&s.dataset, g, sel)));
            let signals = sig.as_ref().map(signals_view);
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
                    {reasoning.run()}
                    <h2>"Answer"</h2>
                    <p class="answer" data-testid="record-answer">{answer_line(r.answer.as_deref(), sig.as_ref())}</p>
                    <div class=format!("label-state {verdict}") data-testid="label-state">{label_text} {sources}</div>
                    {(!votes.is_empty()).then(|| view! {
                        <ul class="votes" data-testid="votes" aria-label="The team's votes">
                            {votes.iter().map(|v| view! {
                                <li class=format!("vote {}", v.verdict.as_str()) data-annotator=v.annotator.clone()>
                                    {v.annotator.clone()}": "{v.verdict.as_str()}
                                    {v.step.map(|m| match m {
                                        crate::core::labels::StepMark::WrongAt(k) => format!(" (step {} wrong)", k + 1),
                                        crate::core::labels::StepMark::AllFine => " (all steps fine)".to_string(),
                                    })}
                                </li>
                            }).collect_view()}
                        </ul>
                    })}
                    {signals}
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
                {buttons.run()}
                <span class="keys-help">
                    <kbd>"j"</kbd>"/"<kbd>"k"</kbd>" next / previous"
                </span>
            </div>
            {children()}
            {body}
        </section>
    }
}

/// The record's one final answer, with where it came from: the record's `answer` field,
/// or the reasoning's text when the field is absent (as the signature reads it).
fn answer_line(field: Option<&str>, sig: Option<&Signature>) -> String {
    let read = sig.and_then(|s| {
        s.trace
            .answer
            .as_ref()
            .map(|a| (a.key(), s.trace.answer_from_text))
    });
    match (field.map(str::trim).filter(|f| !f.is_empty()), read) {
        (_, Some((a, true))) => format!("{a} (read from the reasoning)"),
        (Some(f), Some(_)) => format!("{f} (the record's answer field)"),
        (None, Some((a, false))) => a,
        (Some(f), None) => format!("{f} (the record's answer field; not read as an answer)"),
        (None, None) => "none found in the record or its reasoning".to_string(),
    }
}

/// What the reasoning signature says, in words.
fn signals_view(sig: &Signature) -> impl IntoView {
    let g = &sig.group;
    let t = &sig.trace;
    let answer = match &t.answer {
        None => "no final answer found".to_string(),
        Some(a) if t.answer_from_text => format!("{} (read from the text)", a.key()),
        Some(a) => a.key(),
    };
    let agreement = if g.siblings == 0 {
        "no other CoT answers this question".to_string()
    } else {
        let plurality = g
            .plurality
            .as_ref()
            .map(|(k, c)| format!("; most common answer {k} ({c} of {})", g.siblings + 1))
            .unwrap_or_default();
        format!("{} of {} other CoTs agree{plurality}", g.agree, g.siblings)
    };
    let c = &sig.cot;
    let arithmetic = match (c.checked_equations, c.wrong_equations) {
        (0, _) => "no arithmetic to check".to_string(),
        (1, 0) => "the one equation checks".to_string(),
        (n, 0) => format!("all {n} equations check"),
        (n, w) => format!("{w} of {n} equations wrong"),
    };
    let values = match (g.value_jaccard_mean, g.value_jaccard_max) {
        (Some(mean), Some(max)) => format!(
            "{:.0}% shared with siblings (best {:.0}%){}",
            mean * 100.0,
            max * 100.0,
            g.first_departure
                .map(|k| format!("; leaves their path at equation {}", k + 1))
                .unwrap_or_default()
        ),
        _ => "— (no sibling to compare with)".to_string(),
    };
    let reference = match (&sig.reference, sig.matches_reference) {
        (Some(r), Some(true)) => format!("{} — the final answer matches it", r.key()),
        (Some(r), _) => format!("{} — the final answer does not match it", r.key()),
        _ => "none in the data".to_string(),
    };
    let prior = format!("{:.0}%", sig.prior * 100.0);
    let member = match &sig.unscored {
        // no member speaks: say why (its label waits for human labels)
        Some(why) => format!("none — {why}; its label waits for your labels"),
        None => format!(
            "{}{}",
            sig.shape.name(),
            if sig.shape.siblings == Siblings::None {
                ": sibling signals are missing, only the CoT's own signals speak"
            } else {
                ""
            }
        ),
    };
    view! {
        <section class="signals" data-testid="signals">
            <h2>"Reasoning signature"</h2>
            <dl>
                <dt>"Prior (no labels)"</dt>
                <dd data-testid="prior">
                    <span class="meter"><span style:width=format!("{:.0}%", sig.prior * 100.0)></span></span>
                    {prior}
                </dd>
                <dt>"Prior member"</dt><dd data-testid="prior-member">{member}</dd>
                <dt>"Final answer"</dt><dd data-testid="extracted-answer">{answer}</dd>
                <dt>"Reference answer"</dt><dd data-testid="reference-answer">{reference}</dd>
                <dt>"Agreement"</dt><dd data-testid="answer-agreement">{agreement}</dd>
                <dt>"Arithmetic"</dt><dd>{arithmetic}</dd>
                <dt>"Intermediate values"</dt><dd>{values}</dd>
                <dt>"Question quantities used"</dt><dd>{format!("{:.0}%", c.question_coverage * 100.0)}</dd>
            </dl>
        </section>
    }
}
