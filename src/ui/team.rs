//! Team work in the page: who labels in this browser (a name kept here and stamped on every
//! human label), and — once several people's label files were dropped together — how far
//! they agree (`agreement`: κ per pair, Fleiss' κ, Krippendorff's α, each person against the
//! consensus, step marks, the questions most disagreed on) with the conflicts to settle.
//! Merging the files is the import's (`core::labels::session`); settling a conflict is
//! labelling it (a decision, provenance `adjudicated`).

use std::sync::Arc;

use leptos::prelude::*;

use crate::core::labels::share::{split, Share};
use crate::core::labels::team::{TeamReport, Unit};
use crate::core::labels::Provenance;

use super::browser;
use super::state::{share_key, AppState, Filter, OpenShare};

/// Where this browser keeps the annotator's name.
const NAME_KEY: &str = "cotlabel.annotator";

/// The team feature's state (provided as a context of its own).
#[derive(Clone, Copy)]
pub struct TeamState {
    app: AppState,
    /// The agreement over the votes of the data set shown; `None` without votes.
    pub report: Memo<Option<Arc<TeamReport>>>,
}

impl TeamState {
    /// Reads the name kept in this browser and keeps the label store stamping it.
    pub fn new(app: AppState) -> Self {
        app.annotator
            .set(browser::local_get(NAME_KEY).filter(|n| !n.trim().is_empty()));
        // every store the page holds (a new data set, a restore) labels with the name
        Effect::new(move |_| {
            let name = app.annotator.get();
            let stale = app.session.with(|s| {
                s.as_ref()
                    .is_some_and(|s| s.labels.annotator() != name.as_deref())
            });
            if stale {
                app.session.update_untracked(|s| {
                    if let Some(s) = s {
                        s.labels.set_annotator(name.clone());
                    }
                });
            }
        });
        // the share kept open for these records, after a reload or on other records
        Effect::new(move |_| {
            app.records_key.track();
            let kept = app.session.with_untracked(|s| {
                let ds = &s.as_ref()?.dataset;
                let text = browser::local_get(&share_key(ds.fingerprint()))?;
                let share = Share::parse("share", &text).ok()?;
                share.mismatch(ds).is_none().then_some(share)
            });
            let kept = kept.map(|s| Arc::new(OpenShare::new(s)));
            if app.share.get_untracked() != kept {
                app.share.set(kept);
            }
        });
        let report = Memo::new(move |_| {
            app.session.with(|s| {
                let s = s.as_ref()?;
                s.labels.all_votes().next()?;
                let records = s.dataset.records();
                Some(Arc::new(TeamReport::of(records.iter().filter_map(|r| {
                    Some(Unit {
                        question_id: r.group_key(),
                        votes: s.labels.votes(&r.id)?,
                        adjudicated: s
                            .labels
                            .get(&r.id)
                            .is_some_and(|l| l.provenance == Provenance::Adjudicated),
                    })
                }))))
            })
        });
        Self { app, report }
    }

    fn set_name(&self, name: String) {
        let name = name.trim().to_string();
        browser::local_set(NAME_KEY, &name);
        self.app.annotator.set((!name.is_empty()).then_some(name));
    }
}

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), |x| format!("{x:.2}"))
}

/// The name field and *Split the work…* (beside the data set's name in the toolbar).
#[component]
pub fn TeamControls() -> impl IntoView {
    let team = expect_context::<TeamState>();
    let app = team.app;
    view! {
        <span class="team-controls">
            <label class="annotator">
                "Annotator "
                <input
                    data-testid="annotator"
                    type="text"
                    placeholder="your name"
                    autocomplete="name"
                    prop:value=move || app.annotator.get().unwrap_or_default()
                    on:change=move |ev| team.set_name(event_target_value(&ev))
                />
            </label>
            <SplitWork app=app />
        </span>
    }
}

/// The share open and, with the team's votes, the agreement panel (nothing otherwise).
#[component]
pub fn TeamPanel() -> impl IntoView {
    let team = expect_context::<TeamState>();
    let app = team.app;
    let report = team.report;
    view! {
        <Show when=move || app.share.with(Option::is_some) || report.with(Option::is_some)>
            <div class="team">
                {move || app.share.get().map(|o| view! { <ShareProgress open=o app=app /> })}
                {move || report.get().map(|r| view! { <Agreement report=r app=app /> })}
            </div>
        </Show>
    }
}

/// *Split the work…*: shares of whole questions with an overlap, one file each to hand out.
#[component]
fn SplitWork(app: AppState) -> impl IntoView {
    let open = RwSignal::new(false);
    let shares = RwSignal::new(3usize);
    let overlap = RwSignal::new(10.0f64);
    let seed = RwSignal::new((browser::now_ms() as u64) % 1_000_000);
    let made = Memo::new(move |_| {
        if !open.get() {
            return None;
        }
        let (n, o, seed) = (shares.get(), overlap.get() / 100.0, seed.get());
        app.session.with(|s| {
            s.as_ref()
                .map(|s| split(&s.dataset, n, o, seed).map_err(|e| e.to_string()))
        })
    });
    let download = move |s: &Share| {
        if let Err(e) = browser::download_bytes(&s.file_name(), s.to_json().as_bytes()) {
            app.errors
                .set(vec![format!("Could not offer {}: {e}", s.file_name())]);
        }
    };
    view! {
        <button
            class="button"
            data-testid="split-work"
            aria-expanded=move || open.get().to_string()
            title="Divide the data set into shares of whole questions for several annotators"
            on:click=move |_| open.update(|o| *o = !*o)
        >
            "Split the work…"
        </button>
        <Show when=move || open.get()>
            <div class="split-work" data-testid="split-form">
                <label>"Shares "
                    <input data-testid="split-shares" type="number" min="1" max="50"
                        prop:value=move || shares.get().to_string()
                        on:change=move |ev| if let Ok(n) = event_target_value(&ev).parse() { shares.set(n) } />
                </label>
                <label>" in two shares: "
                    <input data-testid="split-overlap" type="number" min="0" max="100" step="5"
                        prop:value=move || overlap.get().to_string()
                        on:change=move |ev| if let Ok(x) = event_target_value(&ev).parse() { overlap.set(x) } />
                    " % of the questions"
                </label>
                <label>" seed "
                    <input data-testid="split-seed" type="number" min="0"
                        prop:value=move || seed.get().to_string()
                        on:change=move |ev| if let Ok(x) = event_target_value(&ev).parse() { seed.set(x) } />
                </label>
                {move || match made.get() {
                    None => ().into_any(),
                    Some(Err(e)) => view! { <p class="problem">{e}</p> }.into_any(),
                    Some(Ok(list)) => view! {
                        <ul class="shares">
                            {list.into_iter().map(|s| {
                                let text = format!("Share {} of {}: {} questions, {} CoTs", s.share, s.shares, s.questions, s.ids.len());
                                let n = s.share;
                                view! {
                                    <li>
                                        {text}" "
                                        <button class="button" data-testid="share-download" data-share=n on:click=move |_| download(&s)>
                                            "Download"
                                        </button>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                        <p class="hint">"Send each person their file: dropping it on this page, with the records, opens their share. Their label files, dropped together here, are merged."</p>
                    }.into_any(),
                }}
            </div>
        </Show>
    }
}

/// The share open: how far this person is through it.
#[component]
fn ShareProgress(open: Arc<OpenShare>, app: AppState) -> impl IntoView {
    let o = open.clone();
    let done = Memo::new(move |_| {
        app.session.with(|s| {
            s.as_ref().map_or(0, |s| {
                o.share
                    .ids
                    .iter()
                    .filter(|id| s.labels.get(id).is_some_and(|l| l.is_human()))
                    .count()
            })
        })
    });
    let (share, of, total) = (open.share.share, open.share.shares, open.share.ids.len());
    view! {
        <p class="share-progress" data-testid="share-progress" data-done=move || done.get() data-total=total>
            {move || format!("Your share {share} of {of}: {} of {total} CoTs labelled", done.get())}
            " "
            <button class="button" data-testid="share-close" on:click=move |_| app.open_share(None)>
                "Show all records"
            </button>
        </p>
    }
}

#[component]
fn Agreement(report: Arc<TeamReport>, app: AppState) -> impl IntoView {
    let alpha = report
        .krippendorff_alpha
        .map_or_else(String::new, |a| format!("{a}"));
    let r = report.clone();
    let pairs = report
        .pairs
        .iter()
        .map(|p| {
            view! {
                <tr
                    data-testid="agreement-pair"
                    data-a=p.a.clone()
                    data-b=p.b.clone()
                    data-kappa=p.cohen_kappa.map_or_else(String::new, |k| format!("{k}"))
                    data-n=p.n
                >
                    <td>{p.a.clone()}" – "{p.b.clone()}</td>
                    <td>{num(p.cohen_kappa)}</td>
                    <td>{p.n}</td>
                    <td>{num(p.agreement)}</td>
                </tr>
            }
        })
        .collect_view();
    let people = report
        .people
        .iter()
        .map(|p| {
            view! {
                <tr data-testid="agreement-person" data-annotator=p.annotator.clone()>
                    <td>{p.annotator.clone()}</td>
                    <td>{p.votes}</td>
                    <td>{num(p.with_consensus)}" of "{p.n}</td>
                </tr>
            }
        })
        .collect_view();
    let contested = report
        .contested
        .iter()
        .map(|q| {
            view! {
                <li>
                    {q.question_id.clone()}": "{q.disagreements}" of "{q.compared}" CoTs disagree"
                    {(q.conflicts > 0).then(|| format!(" ({} to settle)", q.conflicts))}
                </li>
            }
        })
        .collect_view();
    let steps = (r.steps.pairs > 0).then(|| {
        format!(
            "Step marks: {} pairs, same first wrong step {}, within one step {}.",
            r.steps.pairs,
            num(r.steps.exact),
            num(r.steps.within_one)
        )
    });
    view! {
        <section class="agreement" data-testid="agreement" data-alpha=alpha aria-label="Agreement between annotators">
            <p>
                {format!(
                    "{} annotators, {} records with votes ({} by two or more): {} with a consensus, {} settled. ",
                    r.annotators.len(), r.records, r.overlap, r.consensus, r.adjudicated
                )}
                "Krippendorff's α " <strong>{num(r.krippendorff_alpha)}</strong>
                ", Fleiss' κ " {num(r.fleiss_kappa)} ". "
                <button
                    class="button"
                    data-testid="show-conflicts"
                    disabled=r.conflicts == 0
                    title="List the records whose votes are tied: label one (1 / 2) to settle it"
                    on:click=move |ev| {
                        app.filter.set(Filter::Conflicts);
                        browser::release_focus(&ev);
                    }
                >
                    {format!("{} conflicts to settle", r.conflicts)}
                </button>
            </p>
            <table>
                <thead><tr><th>"pair"</th><th>"Cohen's κ"</th><th>"both labelled"</th><th>"agree"</th></tr></thead>
                <tbody>{pairs}</tbody>
            </table>
            <table>
                <thead><tr><th>"annotator"</th><th>"votes"</th><th>"with the consensus"</th></tr></thead>
                <tbody>{people}</tbody>
            </table>
            {steps.map(|s| view! { <p>{s}</p> })}
            {(!r.contested.is_empty()).then(|| view! {
                <p>"Most disagreed on:"</p>
                <ul class="contested">{contested}</ul>
            })}
        </section>
    }
}
