//! The pairwise view: the selected CoT beside a sibling (another CoT of the same question),
//! the classifier's choice between them with its confidence, and the person's own choice —
//! recorded as a human pair label (contract §2 `pairs`), exported with the labels.
//! Keys: `c` opens it / shows the next sibling, `a` or `b` picks the better one, Esc closes.

use leptos::prelude::*;

use crate::core::labels::Provenance;

use super::browser::now_ms;
use super::classify::ClassifyState;
use super::state::AppState;

/// The pairwise view's state (part of the classifier feature; provided as a context).
#[derive(Clone, Copy)]
pub struct PairState {
    app: AppState,
    /// The sibling shown beside the selected record.
    pub compare: RwSignal<Option<usize>>,
}

impl PairState {
    /// No pair shown; a new selection closes the view (its sibling belonged to the old
    /// record).
    pub fn new(app: AppState) -> Self {
        let this = Self {
            app,
            compare: RwSignal::new(None),
        };
        Effect::new(move |prev: Option<Option<usize>>| {
            let sel = app.selected.get();
            if prev.is_some_and(|p| p != sel) {
                this.compare.set(None);
            }
            sel
        });
        this
    }

    /// The selected record's siblings (same question), in record order: its question
    /// group in the data set's group index, as everywhere else.
    fn siblings(&self) -> Vec<usize> {
        let Some(sel) = self.app.selected.get_untracked() else {
            return Vec::new();
        };
        self.app.session.with_untracked(|s| {
            s.as_ref()
                .filter(|s| sel < s.dataset.len())
                .map_or_else(Vec::new, |s| s.dataset.groups().siblings(sel).collect())
        })
    }

    /// Opens the pairwise view on the next sibling of the selected record.
    pub fn compare_next(self) {
        let sibs = self.siblings();
        if sibs.is_empty() {
            self.app.notice.set(Some(
                "This CoT has no sibling: no other CoT answers its question.".into(),
            ));
            self.compare.set(None);
            return;
        }
        let next = match self.compare.get_untracked() {
            Some(b) => sibs.iter().copied().find(|&i| i > b).unwrap_or(sibs[0]),
            None => sibs[0],
        };
        self.compare.set(Some(next));
    }

    /// The person judges A (the selected record) or B (the sibling shown) the better one.
    pub fn choose(self, a_better: bool) {
        let (Some(a), Some(b)) = (
            self.app.selected.get_untracked(),
            self.compare.get_untracked(),
        ) else {
            return;
        };
        self.app.session.update(|s| {
            let Some(s) = s else { return };
            let records = s.dataset.records();
            let (Some(ra), Some(rb)) = (records.get(a), records.get(b)) else {
                return;
            };
            let (better, worse) = if a_better { (ra, rb) } else { (rb, ra) };
            let question = ra.group_key().to_string();
            let (better, worse) = (better.id.clone(), worse.id.clone());
            s.labels
                .add_human_pair(&question, &better, &worse, now_ms());
        });
    }
}

/// P(A better than B) from the last classification, when it scored that pair.
fn model_choice(classifier: &ClassifyState, a: usize, b: usize) -> Option<f32> {
    classifier.last.with(|l| {
        l.as_ref().and_then(|l| {
            l.0.pair_scores.iter().find_map(|&(i, j, s)| {
                let (i, j) = (i as usize, j as usize);
                if (i, j) == (a, b) {
                    Some(s)
                } else if (i, j) == (b, a) {
                    Some(1.0 - s)
                } else {
                    None
                }
            })
        })
    })
}

/// The two CoTs side by side, the model's choice and the person's.
#[component]
pub fn Pairwise() -> impl IntoView {
    let state = expect_context::<AppState>();
    let pair = expect_context::<PairState>();
    let classifier = expect_context::<ClassifyState>();
    let body = move || {
        let b = pair.compare.get()?;
        let a = state.selected.get()?;
        state.session.with(|s| {
            let s = s.as_ref()?;
            let records = s.dataset.records();
            let (ra, rb) = (records.get(a)?, records.get(b)?);
            let judged = s.labels.pairs().iter().find(|p| {
                p.provenance == Provenance::Human
                    && ((p.better == ra.id && p.worse == rb.id)
                        || (p.better == rb.id && p.worse == ra.id))
            });
            let human = match judged {
                Some(p) if p.better == ra.id => "You chose A.".to_string(),
                Some(_) => "You chose B.".to_string(),
                None => "Which reasons better? Press a or b.".to_string(),
            };
            let model = match model_choice(&classifier, a, b) {
                Some(p) if p >= 0.5 => format!("Model: A, confidence {:.0}%", p * 100.0),
                Some(p) => format!("Model: B, confidence {:.0}%", (1.0 - p) * 100.0),
                None => "Model: press Classify to score this pair.".to_string(),
            };
            let side = |tag: &'static str, r: &crate::core::Record| {
                view! {
                    <div class="pair-side">
                        <div class="pair-tag">{tag} " · " <span class="row-id">{r.id.clone()}</span></div>
                        <pre class="pair-cot">{r.cot.clone()}</pre>
                        <div class="pair-answer">"answer: " {r.answer.clone().unwrap_or_else(|| "—".into())}</div>
                    </div>
                }
            };
            Some(view! {
                <section class="pairwise" data-testid="pairwise">
                    <div class="pair-head">
                        <strong>"Compare"</strong>
                        <span data-testid="pair-model">{model}</span>
                        <span data-testid="pair-human">{human}</span>
                        <button class="button small" on:click=move |_| pair.compare.set(None)>"Close (Esc)"</button>
                    </div>
                    <div class="pair-sides">
                        {side("A", ra)}
                        {side("B", rb)}
                    </div>
                    <div class="pair-buttons">
                        <button class="button good" data-testid="pair-choose-a" on:click=move |_| pair.choose(true)>"A is better " <kbd>"a"</kbd></button>
                        <button class="button good" data-testid="pair-choose-b" on:click=move |_| pair.choose(false)>"B is better " <kbd>"b"</kbd></button>
                        <button class="button" on:click=move |_| pair.compare_next()>"Next sibling " <kbd>"c"</kbd></button>
                    </div>
                </section>
            })
        })
    };
    view! { {body} }
}

/// The button that opens the pairwise view (shown with the label buttons).
#[component]
pub fn CompareButton() -> impl IntoView {
    let pair = expect_context::<PairState>();
    view! {
        <button class="button" data-testid="compare-button" title="This CoT beside another of the same question (key c)" on:click=move |_| pair.compare_next()>
            "Compare " <kbd>"c"</kbd>
        </button>
    }
}
