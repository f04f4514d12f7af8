//! Step labels: the selected CoT as numbered steps, the suggested first wrong step with
//! its reason, the person's mark (a click on a step; or `w`, the step's number, Enter —
//! Enter alone takes the suggestion; `f` all steps fine; `w 0` clears the mark), and the
//! step labels spread from marks to sibling CoTs (recomputed whenever the marks change).

use std::sync::Arc;

use leptos::prelude::*;

use crate::core::labels::steps::{spread_dataset, suggest, Process, Suggestion};
use crate::core::labels::{SpreadStep, StepMark, StepVerdict};
use crate::core::signals::signature::answer::format_number;

use super::browser::now_ms;
use super::state::AppState;

/// The step feature's state (provided as a context).
#[derive(Clone, Copy)]
pub struct StepsState {
    app: AppState,
    /// While the person types a step number after `w`: the digits so far.
    pub pick: RwSignal<Option<String>>,
    /// Counts recomputations of the spread step labels (what shows them follows it).
    pub spread_rev: RwSignal<u64>,
}

/// The selected record read for its steps: its group's processes, where it is in the
/// group, and what is known of its steps.
struct Selected {
    cot: String,
    group: Vec<Process>,
    at: usize,
    mark: Option<StepMark>,
    spread: Option<SpreadStep>,
    suggestion: Option<Suggestion>,
}

impl StepsState {
    /// Registers the recomputation of spread step labels after every change of the marks.
    pub fn new(app: AppState) -> Self {
        let this = Self {
            app,
            pick: RwSignal::new(None),
            spread_rev: RwSignal::new(0),
        };
        // the person's marks, by id (a change of mark with the same verdict included)
        let marks = Memo::new(move |_| {
            app.session.with(|s| {
                let Some(s) = s else { return Vec::new() };
                let mut m: Vec<(String, StepMark)> = s
                    .labels
                    .humans()
                    .filter_map(|(id, l)| l.step.map(|k| (id.to_string(), k)))
                    .collect();
                m.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                m
            })
        });
        Effect::new(move |_| {
            marks.track();
            app.records_key.track();
            let mut changed = false;
            app.session.update_untracked(|s| {
                if let Some(s) = s {
                    let spread = spread_dataset(&s.dataset, &s.labels);
                    changed = s.labels.set_spread(spread);
                }
            });
            if changed {
                this.spread_rev.update(|n| *n += 1);
            }
        });
        // a new selection ends a step pick
        Effect::new(move |prev: Option<Option<usize>>| {
            let sel = app.selected.get();
            if prev.is_some_and(|p| p != sel) {
                this.pick.set(None);
            }
            sel
        });
        this
    }

    fn selected(&self) -> Option<Selected> {
        let sel = self.app.selected.get_untracked()?;
        self.app.session.with_untracked(|s| {
            let s = s.as_ref()?;
            let records = s.dataset.records();
            let rows: Vec<usize> = (sel < records.len())
                .then(|| {
                    s.dataset
                        .groups()
                        .group_with(sel)
                        .iter()
                        .map(|&j| j as usize)
                        .collect()
                })
                .unwrap_or_else(|| vec![sel]);
            let r = records.get(sel)?;
            let group: Vec<Process> = rows
                .iter()
                .filter_map(|&j| records.get(j))
                .map(Process::of)
                .collect();
            let at = rows.iter().position(|&j| j == sel)?;
            let suggestion = suggest(&group, at);
            let label = s.labels.get(&r.id);
            Some(Selected {
                cot: r.cot.clone(),
                at,
                mark: label.filter(|l| l.is_human()).and_then(|l| l.step),
                spread: s.labels.spread(&r.id).cloned(),
                suggestion,
                group,
            })
        })
    }

    /// The person marks the selected CoT's first wrong step (or none wrong).
    pub fn mark(self, mark: StepMark) {
        let Some(id) = self.app.selected_id() else {
            return;
        };
        let steps = self.selected().map_or(0, |s| s.group[s.at].steps.len());
        if let StepMark::WrongAt(k) = mark {
            if k >= steps {
                self.app.notice.set(Some(format!(
                    "This CoT has {steps} steps: there is no step {}.",
                    k + 1
                )));
                return;
            }
        }
        let mut changed = false;
        self.app.session.update(|s| {
            if let Some(s) = s {
                changed = s.labels.set_human_step(&id, mark, now_ms());
            }
        });
        self.pick.set(None);
        if changed && self.app.advance.get_untracked() {
            self.app.move_selection(1);
        }
    }

    /// The person removes the selected CoT's step mark (its label stays).
    pub fn clear(self) {
        let Some(id) = self.app.selected_id() else {
            return;
        };
        self.app.session.update(|s| {
            if let Some(s) = s {
                s.labels.clear_step(&id, now_ms());
            }
        });
        self.pick.set(None);
    }

    /// Whether the person is typing a step number.
    pub fn picking(self) -> bool {
        self.pick.with_untracked(Option::is_some)
    }

    /// `w`: starts typing the first wrong step's number.
    pub fn start_pick(self) {
        if self.app.selected.get_untracked().is_some() {
            self.pick.set(Some(String::new()));
        }
    }

    /// A key while typing a step number: digits, Backspace, Enter (the number typed, or
    /// the suggested step), Escape. `0` alone clears the mark. A number that no longer
    /// number can extend is taken at once.
    pub fn key(self, key: &str) {
        let Some(mut typed) = self.pick.get_untracked() else {
            return;
        };
        let steps = self.selected().map_or(0, |s| s.group[s.at].steps.len());
        match key {
            "Escape" => return self.pick.set(None),
            "Backspace" => {
                typed.pop();
            }
            "0" if typed.is_empty() => return self.clear(),
            "Enter" if typed.is_empty() => {
                match self.selected().and_then(|s| s.suggestion) {
                    Some(s) => self.mark(StepMark::WrongAt(s.step)),
                    None => {
                        self.app
                            .notice
                            .set(Some("No step is suggested: type the step's number.".into()));
                    }
                }
                return;
            }
            "Enter" => {
                if let Ok(k) = typed.parse::<usize>() {
                    if k >= 1 {
                        return self.mark(StepMark::WrongAt(k - 1));
                    }
                }
                typed.clear();
            }
            d if d.len() == 1 && d.as_bytes()[0].is_ascii_digit() => {
                typed.push_str(d);
                if let Ok(k) = typed.parse::<usize>() {
                    if k >= 1 && k * 10 > steps {
                        return self.mark(StepMark::WrongAt(k - 1));
                    }
                }
            }
            _ => {}
        }
        self.pick.set(Some(typed));
    }
}

/// The selected CoT's steps, numbered, with its step label or the suggestion, and the
/// step buttons.
#[component]
pub fn StepView() -> impl IntoView {
    let steps = expect_context::<StepsState>();
    let app = steps.app;
    let body = move || {
        app.selected.track();
        app.session.track();
        app.signatures.track();
        steps.spread_rev.track();
        let s = Arc::new(steps.selected()?);
        let p = &s.group[s.at];
        let verdict: Option<StepVerdict> = s
            .mark
            .map(Into::into)
            .or(s.spread.as_ref().map(|x| x.verdict));
        let provenance = match (s.mark, &s.spread) {
            (Some(_), _) => "human",
            (None, Some(_)) => "spread",
            _ => "",
        };
        let suggested = s.suggestion.as_ref().map(|x| x.step);
        let segs = p.trace.segments(s.cot.len());
        let items = p
            .steps
            .iter()
            .enumerate()
            .map(|(k, st)| {
                let state = match verdict {
                    Some(v) => v.state_of(k),
                    None if suggested == Some(k) => "suggested",
                    None => "none",
                };
                let pieces = segs
                    .iter()
                    .filter(|g| g.end > st.start && g.start < st.end)
                    .map(|g| {
                        let (a, b) = (g.start.max(st.start), g.end.min(st.end));
                        let text = s.cot[a..b].to_string();
                        match g.equation.map(|e| &p.trace.equations[e]) {
                            Some(e) if e.correct == Some(false) => {
                                let title = format!(
                                    "Wrong arithmetic: the left side is {}, not {}",
                                    e.lhs.map(format_number).unwrap_or_default(),
                                    format_number(e.value)
                                );
                                view! { <mark class="eq wrong" data-testid="wrong-step" title=title>{text}</mark> }.into_any()
                            }
                            Some(e) if e.correct == Some(true) => {
                                view! { <span class="eq ok" title="The arithmetic checks">{text}</span> }.into_any()
                            }
                            _ => view! { <span>{text}</span> }.into_any(),
                        }
                    })
                    .collect_view();
                let title = format!("Step {}: click to mark it as the first wrong step", k + 1);
                view! {
                    <li
                        class=format!("step {state}")
                        data-testid="step"
                        data-index=k.to_string()
                        data-state=state
                        data-provenance=provenance
                        title=title
                        on:click=move |_| steps.mark(StepMark::WrongAt(k))
                    >
                        <span class="step-no">{k + 1}</span>
                        <span class="step-text">{pieces}</span>
                    </li>
                }
            })
            .collect_view();
        let status = status_text(&s, app);
        let has_mark = s.mark.is_some();
        Some(view! {
            <ol class="steps cot" data-testid="steps">{items}</ol>
            <div class="step-status" data-testid="step-status">
                {status}
            </div>
            <div class="step-buttons">
                <button class="button" title="Mark the first wrong step: w, its number, Enter (Enter alone: the suggested step)" on:click=move |_| steps.start_pick()>
                    "First wrong step… " <kbd>"w"</kbd>
                </button>
                <button class="button" title="No step is wrong (key f)" on:click=move |_| steps.mark(StepMark::AllFine)>
                    "All steps fine " <kbd>"f"</kbd>
                </button>
                {has_mark.then(|| view! {
                    <button class="button" title="Remove the step mark; the label stays (w then 0)" on:click=move |_| steps.clear()>
                        "Clear step mark"
                    </button>
                })}
            </div>
        })
    };
    let prompt = move || {
        steps.pick.get().map(|typed| {
            view! {
                <div class="step-pick" data-testid="step-pick" role="status">
                    "First wrong step: type its number, then Enter (Enter alone takes the suggested step; 0 clears the mark; Esc cancels) — "
                    <strong>{if typed.is_empty() { "…".to_string() } else { typed }}</strong>
                </div>
            }
        })
    };
    view! { {body} {prompt} }
}

/// What is known of the selected CoT's steps, in a sentence, with the marked CoTs a spread
/// label came from (click to open one).
fn status_text(s: &Selected, app: AppState) -> AnyView {
    let reason = |x: &Suggestion| format!("step {} — {}", x.step + 1, x.why);
    let suggestion = s.suggestion.as_ref();
    match (s.mark, &s.spread) {
        (Some(StepMark::WrongAt(k)), _) => {
            let agrees = match suggestion {
                Some(x) if x.step == k => " (as suggested)".to_string(),
                Some(x) => format!("; suggested was {}", reason(x)),
                None => String::new(),
            };
            format!("First wrong step: {} — your mark{agrees}.", k + 1).into_any()
        }
        (Some(StepMark::AllFine), _) => "No wrong step — your mark.".into_any(),
        (None, Some(sp)) => {
            let what = match sp.verdict {
                StepVerdict::WrongAt(k) => format!("First wrong step: {}", k + 1),
                StepVerdict::AllFine => "No wrong step".to_string(),
                StepVerdict::FineThrough(k) => format!("Steps 1–{} fine", k + 1),
            };
            let sources = sp
                .from
                .iter()
                .map(|id| {
                    let pos = app
                        .session
                        .with_untracked(|x| x.as_ref().and_then(|x| x.dataset.position(id)));
                    let id = id.clone();
                    view! {
                        <button class="link source" data-testid="step-source" title="Open this record" on:click=move |_| app.selected.set(pos)>
                            {id}
                        </button>
                    }
                })
                .collect_view();
            view! {
                <span>
                    {format!("{what} — spread from your step mark on ")}
                    {sources}
                    {format!(" ({:.0}% confidence).", sp.confidence * 100.0)}
                </span>
            }
            .into_any()
        }
        (None, None) => match suggestion {
            Some(x) => format!("Suggested first wrong step: {}. Press w, then Enter, to mark it.", reason(x)).into_any(),
            None => "No step suggested: the arithmetic checks, and nothing sets it apart from its siblings.".into_any(),
        },
    }
}
