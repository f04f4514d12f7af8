//! Clean the training data (`core::clean`, run in the jobs worker): near-duplicate CoTs
//! and questions, questions of evaluation sets, broken traces. It runs by itself once the
//! worker holds new records (and once more after the first propagation built the graph,
//! whose neighbours it searches for embedding duplicates), and again from *Clean…* with
//! evaluation files (kept in this tab
//! only: read by the worker for the job, never stored with the data set or its labels) and
//! settings. The counts on the counts line open the list's filters (`duplicates`,
//! `contaminated`, `broken`); the record shown says why it is flagged and lays its
//! duplicate cluster side by side. Training-set exports leave flagged rows out (the shell's
//! [`AppState::cleaning`]).

use std::sync::Arc;

use leptos::prelude::*;

use crate::core::clean::broken::Reason;
use crate::core::clean::{CleanConfig, Findings, MIN_ANSWERED};
use crate::worker::protocol::{CleanJob, Job, JobsReply};

use super::browser::{self, PageFile};
use super::dataset::HeldJob;
use super::state::{AppState, Cleaning, Filter};

/// The dialog's name among the page's overlays.
const OVERLAY: &str = "clean";

/// The cleaning feature's state (provided as a context of its own).
#[derive(Clone, Copy)]
pub struct CleanState {
    app: AppState,
    /// What to look for.
    pub config: RwSignal<CleanConfig>,
    /// Evaluation files (this tab only).
    pub eval: RwSignal<Vec<PageFile>, LocalStorage>,
    job: HeldJob,
}

impl CleanState {
    /// Cleans every new data set once the worker holds it.
    pub fn new(app: AppState) -> Self {
        let this = Self {
            app,
            config: RwSignal::new(CleanConfig::default()),
            eval: RwSignal::new_local(Vec::new()),
            job: HeldJob::new(app, "Cleaning failed"),
        };
        Effect::new(move |prev: Option<Option<String>>| {
            let key = app.records_key.get();
            if key.is_some() && prev.as_ref() != Some(&key) {
                this.request();
            }
            key
        });
        // the first propagation built the graph: look for embedding duplicates among its
        // neighbours (once per data set: the graph is kept)
        Effect::new(move |prev: Option<u64>| {
            let n = app.machine_written.get();
            let again = app.cleaning.with_untracked(|c| {
                c.as_ref().is_some_and(|c| !c.neighbours)
                    && app.records_key.get_untracked().as_deref()
                        == c.as_ref().map(|c| c.key.as_str())
            }) && app
                .session
                .with_untracked(|s| s.as_ref().is_some_and(|s| s.dataset.embeddings().is_some()));
            if prev.is_some_and(|p| p != n) && again {
                this.request();
            }
            n
        });
        this
    }

    /// Sends the cleaning job with the settings and evaluation files as they are.
    pub fn request(self) {
        let app = self.app;
        let config = self.config.get_untracked();
        let files = self.eval.get_untracked();
        let eval: Vec<(String, usize)> = files.iter().map(|f| (f.name.clone(), f.size())).collect();
        let blobs = files.iter().map(|f| f.blob.clone()).collect();
        self.job.run_with_files(
            Some("cleaning"),
            move |key| {
                Job::Clean(CleanJob {
                    key,
                    config,
                    eval: eval.clone(),
                })
            },
            blobs,
            move |reply| {
                if let JobsReply::Cleaned { result, .. } = reply {
                    let Some(key) = app.records_key.get_untracked() else {
                        return;
                    };
                    let n = app
                        .session
                        .with_untracked(|s| s.as_ref().map_or(0, |s| s.dataset.len()));
                    let result = *result;
                    let mut c = Cleaning::new(key, result.findings, result.eval, n, result.ms);
                    c.neighbours = result.neighbours;
                    app.cleaning.set(Some(Arc::new(c)));
                    browser::mark("cotlabel-cleaned");
                }
            },
        );
    }
}

fn show(app: AppState, f: Filter) {
    app.filter.set(f);
    app.close_overlay(OVERLAY);
}

/// The counts on the counts line, each opening its filter.
#[component]
pub fn CleanCounts() -> impl IntoView {
    let app = expect_context::<AppState>();
    move || {
        let c = app.cleaning_now()?;
        let f = &c.findings;
        let extra = f.duplicate_members() - f.duplicates.len();
        let dup_title = format!(
            "CoTs in a near-duplicate cluster: {} clusters, {extra} left out of training sets (one of each is kept)",
            f.duplicates.len()
        );
        Some(view! {
            <span class="clean-counts" data-testid="clean-counts" data-ms=format!("{:.0}", c.ms) data-neighbours=c.neighbours.to_string()>
                "Cleaning: "
                <button class="link" data-testid="clean-count" data-kind="duplicates" data-n=c.count(Cleaning::DUPLICATE)
                    title=dup_title
                    on:click=move |_| show(app, Filter::Duplicates)>
                    {format!("{} duplicates", c.count(Cleaning::DUPLICATE))}
                </button>
                " · "
                <button class="link" data-testid="clean-count" data-kind="contaminated" data-n=c.count(Cleaning::CONTAMINATED)
                    title="CoTs whose question is in an evaluation set (give one in Clean…)"
                    on:click=move |_| show(app, Filter::Contaminated)>
                    {if c.eval.is_empty() {
                        "no eval set".to_string()
                    } else {
                        format!("{} in eval set", c.count(Cleaning::CONTAMINATED))
                    }}
                </button>
                " · "
                <button class="link" data-testid="clean-count" data-kind="broken" data-n=c.count(Cleaning::BROKEN)
                    title="Broken traces: no answer, cut off, loops, trivial, over the token budget"
                    on:click=move |_| show(app, Filter::Broken)>
                    {format!("{} broken", c.count(Cleaning::BROKEN))}
                </button>
            </span>
        })
    }
}

/// Broken traces by reason, most frequent first.
fn by_reason(f: &Findings) -> Vec<(Reason, usize)> {
    let mut out: Vec<(Reason, usize)> = Reason::ALL
        .iter()
        .map(|&r| (r, f.broken.iter().filter(|(_, rs)| rs.contains(&r)).count()))
        .filter(|&(_, n)| n > 0)
        .collect();
    out.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    out
}

/// *Clean…* and its dialog: evaluation files, settings, a run, the findings.
#[component]
pub fn CleanButton() -> impl IntoView {
    let app = expect_context::<AppState>();
    let cs = expect_context::<CleanState>();
    let open = move || app.overlay_open(OVERLAY);
    let set = move |f: &dyn Fn(&mut CleanConfig)| cs.config.update(|c| f(c));
    let pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        match browser::read_files(browser::file_list(input.files())) {
            Ok(files) => cs.eval.update(|e| e.extend(files)),
            Err(errors) => app.errors.set(
                errors
                    .iter()
                    .map(|e| format!("Evaluation set: {e}"))
                    .collect(),
            ),
        }
        input.set_value("");
    };
    view! {
        <button class="button" data-testid="clean-button" on:click=move |_| app.toggle_overlay(OVERLAY)>
            "Clean…"
        </button>
        <Show when=open>
            <section class="clean-panel" role="dialog" aria-modal="true" aria-label="Clean the training data" data-testid="clean-panel" data-overlay=OVERLAY>
                <h2>"Clean the training data"</h2>
                <p class="hint">
                    "Near-duplicates (MinHash over word 3-grams; embedding cosine between neighbours), "
                    "questions of an evaluation set, broken traces. Training-set exports leave them out."
                </p>
                <label>
                    "Evaluation sets "
                    <input type="file" multiple=true data-testid="clean-eval" on:change=pick />
                </label>
                <p class="hint" data-testid="clean-eval-files">
                    {move || {
                        let e = cs.eval.get();
                        if e.is_empty() {
                            "None: records files of a benchmark's test split, in any shape. They stay in this tab: compared with, never added.".to_string()
                        } else {
                            e.iter().map(|f| f.name.clone()).collect::<Vec<_>>().join(", ")
                        }
                    }}
                    <Show when=move || !cs.eval.with(Vec::is_empty)>
                        " "
                        <button class="button small" data-testid="clean-eval-clear" on:click=move |_| cs.eval.set(Vec::new())>"Remove"</button>
                    </Show>
                </p>
                <label>
                    "Shared run of "
                    <select data-testid="clean-ngram" on:change=move |ev| {
                        let n = event_target_value(&ev).parse().unwrap_or(13);
                        set(&|c| c.ngram = n)
                    }>
                        <option value="13" selected=move || cs.config.get().ngram == 13>"13 words"</option>
                        <option value="8" selected=move || cs.config.get().ngram == 8>"8 words"</option>
                    </select>
                </label>
                <label>
                    "Duplicates at Jaccard ≥ "
                    <input type="number" min="30" max="100" step="5" data-testid="clean-threshold"
                        prop:value=move || (cs.config.get().cot_threshold * 100.0).round()
                        on:change=move |ev| {
                            if let Ok(v) = event_target_value(&ev).parse::<f64>() {
                                set(&|c| c.cot_threshold = (v / 100.0).clamp(0.3, 1.0))
                            }
                        }
                    />
                    " %"
                </label>
                <label>
                    "Token budget "
                    <input type="number" min="0" step="256" data-testid="clean-max-tokens"
                        prop:value=move || cs.config.get().broken.max_tokens
                        on:change=move |ev| {
                            let v = event_target_value(&ev).parse::<usize>().unwrap_or(0);
                            set(&|c| c.broken.max_tokens = v)
                        }
                    />
                    " (0: none; tokens ≈ characters / 4)"
                </label>
                <div class="clean-actions">
                    <button class="button primary" data-testid="clean-run" on:click=move |_| cs.request()>"Clean"</button>
                    <button class="button" on:click=move |_| app.close_overlay(OVERLAY)>"Close"</button>
                </div>
                <div data-testid="clean-summary">
                    {move || app.cleaning_now().map(|c| {
                        let f = &c.findings;
                        let f_answers = f.answers_read;
                        let reasons = by_reason(f)
                            .into_iter()
                            .map(|(r, n)| format!("{n} {}", r.describe()))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let eval = if c.eval.is_empty() {
                            "no evaluation set given".to_string()
                        } else {
                            format!(
                                "{} CoTs whose question is in {} ({} questions)",
                                c.count(Cleaning::CONTAMINATED),
                                c.eval.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "),
                                f.eval_questions
                            )
                        };
                        view! {
                            <ul class="clean-findings">
                                <li>{format!(
                                    "{} duplicate clusters ({} CoTs; {} left out of training sets)",
                                    f.duplicates.len(),
                                    f.duplicate_members(),
                                    f.duplicate_members() - f.duplicates.len()
                                )}</li>
                                <li>{format!("{} groups of near-duplicate questions", f.duplicate_questions.len())}</li>
                                <li>{eval}</li>
                                <li>{format!("{} broken traces{}", f.broken.len(), if reasons.is_empty() { String::new() } else { format!(": {reasons}") })}</li>
                                <Show when=move || { f_answers < MIN_ANSWERED }>
                                    <li class="hint">{format!(
                                        "final answers read in {:.0} % of the CoTs: not answer-shaped data, so a missing answer is not counted as broken",
                                        f_answers * 100.0
                                    )}</li>
                                </Show>
                                <li class="hint">{format!(
                                    "{:.1} s in the worker; {}",
                                    c.ms / 1000.0,
                                    if c.neighbours {
                                        "embedding neighbours searched (cosine ≥ 0.99)"
                                    } else {
                                        "embedding neighbours: searched after the first propagation (records with embeddings)"
                                    }
                                )}</li>
                            </ul>
                        }
                    })}
                </div>
            </section>
        </Show>
    }
}

/// Why the record shown is flagged, and its duplicate cluster side by side.
#[component]
pub fn CleanDetail() -> impl IntoView {
    let app = expect_context::<AppState>();
    move || {
        let i = app.selected.get()?;
        let c = app.cleaning_now()?;
        if c.kinds.get(i).copied().unwrap_or(0) == 0 {
            return None;
        }
        // this record alone: the flags of every record cost 100+ ms at 100k, on each label
        let (why, cluster) = app.session.with(|s| {
            let s = s.as_ref()?;
            let recs = s.dataset.records();
            let ids = |j: usize| recs[j].id.clone();
            let trust = |j: usize| {
                s.labels
                    .get(&recs[j].id)
                    .map(|l| (l.is_human(), l.confidence))
            };
            let (flag, cluster) = c.findings.flag_of(i, &ids, &trust);
            let cluster = cluster.map(|cl| {
                let kept = Findings::representative(cl, &trust);
                cl.iter()
                    .map(|&j| {
                        let r = &recs[j as usize];
                        (r.id.clone(), r.cot.clone(), j == kept)
                    })
                    .collect::<Vec<_>>()
            });
            let why = flag
                .map(|f| f.why)
                .unwrap_or_else(|| "kept: the representative of its duplicate cluster".to_string());
            Some((why, cluster))
        })?;
        Some(view! {
            <section class="clean-detail" data-testid="clean-flags">
                <p><strong>"Cleaning: "</strong>{why}</p>
                {cluster.map(|members| {
                    let n = members.len();
                    view! {
                    <div class="duplicate-cluster" data-testid="duplicate-cluster" data-n=n>
                        {members.into_iter().map(|(id, cot, kept)| {
                            let title = format!("{id}{}", if kept { " (kept)" } else { "" });
                            view! {
                            <div class="duplicate-member" data-testid="duplicate-member" data-id=id data-kept=kept.to_string()>
                                <h4>{title}</h4>
                                <pre>{cot}</pre>
                            </div>
                        }}).collect_view()}
                    </div>
                }})}
            </section>
        })
    }
}
