//! The column-mapping step (contract §3: `mapping`, `mapping-apply`): shown when a records
//! file's fields do not say which is the question and which the CoT. It lists the fields
//! with sample values and a proposed mapping (the one used last time for the same field
//! names, when there is one); the person adjusts it, saves or loads it as a JSON file, and
//! imports with it.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::io::mapping::{Mapping, Survey, TARGETS};

use super::browser;
use super::state::AppState;

/// A mapping step in progress: the files dropped, their survey and the mapping shown.
#[derive(Debug, Clone)]
pub struct MappingStep {
    /// The files as dropped (imported again with the mapping).
    pub inputs: Vec<super::browser::PageFile>,
    /// The records file's fields.
    pub survey: Survey,
    /// Whether the mapping shown was remembered from an earlier import.
    pub remembered: bool,
}

const STORAGE_PREFIX: &str = "cotlabel.mapping.";

/// The mapping this browser remembers for a set of field names, if it still fits.
fn remembered(survey: &Survey) -> Option<Mapping> {
    let text = browser::local_get(&format!("{STORAGE_PREFIX}{}", survey.key()))?;
    let m = Mapping::parse("remembered mapping", &text).ok()?;
    m.fields
        .values()
        .all(|f| survey.fields.iter().any(|s| &s.name == f))
        .then_some(m)
}

impl MappingStep {
    /// The step for files whose records file `survey` describes, with the mapping to show.
    pub fn new(inputs: Vec<super::browser::PageFile>, survey: Survey) -> (Self, Mapping) {
        let kept = remembered(&survey);
        let mapping = kept.clone().unwrap_or_else(|| survey.proposed.clone());
        (
            Self {
                inputs,
                survey,
                remembered: kept.is_some(),
            },
            mapping,
        )
    }
}

/// The mapping feature's state (provided as a context of its own).
/// The step's name among the page's overlays ([`AppState::overlay`]).
const OVERLAY: &str = "mapping";

#[derive(Clone, Copy)]
pub struct MappingState {
    /// The step, while a dropped file waits for a mapping.
    pub step: RwSignal<Option<MappingStep>>,
    /// The mapping the step shows.
    pub mapping: RwSignal<Mapping>,
}

impl MappingState {
    /// Opens the step whenever an import finds a records file it cannot read without a
    /// mapping ([`AppState::unmapped`]).
    pub fn new(app: AppState) -> Self {
        let this = Self {
            step: RwSignal::new(None),
            mapping: RwSignal::new(Mapping::new()),
        };
        Effect::new(move |_| {
            let Some(u) = app.unmapped.get() else { return };
            let (step, shown) = MappingStep::new(u.inputs.clone(), u.survey.clone());
            this.mapping.set(shown);
            this.step.set(Some(step));
            app.open_overlay(OVERLAY);
            app.unmapped.set(None);
        });
        // the step is an overlay: closed (Esc, or another overlay opened), the import is
        // cancelled and the page says so
        Effect::new(move |_| {
            if app.overlay.get() != Some(OVERLAY) && this.step.get_untracked().is_some() {
                this.step.set(None);
                app.notice
                    .set(Some("Import cancelled: nothing was imported.".into()));
            }
        });
        // the step closed (applied or cancelled): so is its overlay
        Effect::new(move |_| {
            if this.step.with(Option::is_none) {
                app.close_overlay(OVERLAY);
            }
        });
        this
    }
}

/// The mapping step, while one is open.
#[component]
pub fn MappingPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let MappingState { step, mapping } = expect_context::<MappingState>();
    let problem = RwSignal::new(None::<String>);

    let apply = move |_| {
        let Some(s) = step.get_untracked() else {
            return;
        };
        let m = mapping.get_untracked();
        if let Err(e) = m.check() {
            problem.set(Some(e));
            return;
        }
        browser::local_set(&format!("{STORAGE_PREFIX}{}", s.survey.key()), &m.to_json());
        step.set(None);
        problem.set(None);
        spawn_local(state.run_import(s.inputs, Some(m)));
    };
    let save = move |_| {
        let Some(s) = step.get_untracked() else {
            return;
        };
        let stem = s
            .survey
            .file
            .rsplit_once('.')
            .map_or(s.survey.file.as_str(), |p| p.0)
            .to_string();
        if let Err(e) = browser::download(
            &format!("{stem}.mapping.json"),
            &mapping.get_untracked().to_json(),
        ) {
            problem.set(Some(e.to_string()));
        }
    };
    let load = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let files = browser::file_list(input.files());
        input.set_value("");
        spawn_local(async move {
            match browser::read_files(files) {
                Ok(f) if !f.is_empty() => {
                    let text = match f[0].text().await {
                        Ok(t) => t,
                        Err(e) => return problem.set(Some(e.to_string())),
                    };
                    match Mapping::parse(&f[0].name, &text) {
                        Ok(m) => {
                            mapping.set(m);
                            problem.set(None);
                        }
                        Err(e) => problem.set(Some(e.to_string())),
                    }
                }
                Ok(_) => {}
                Err(e) => problem.set(Some(e[0].to_string())),
            }
        });
    };

    let row = move |target: &'static str| {
        let fields = move || {
            step.with(|s| {
                s.as_ref()
                    .map(|s| s.survey.fields.clone())
                    .unwrap_or_default()
            })
        };
        let current = move || mapping.with(|m| m.fields.get(target).cloned().unwrap_or_default());
        let required = matches!(target, "question" | "cot");
        view! {
            <tr>
                <th>{target}{required.then_some(" *")}</th>
                <td>
                    <select
                        data-testid=format!("mapping-{target}")
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            mapping.update(|m| {
                                if v.is_empty() {
                                    m.fields.remove(target);
                                } else {
                                    m.fields.insert(target.to_string(), v);
                                }
                            });
                        }
                    >
                        <option value="" selected=move || current().is_empty()>"— not in this file —"</option>
                        {move || fields().into_iter().map(|f| {
                            let name = f.name.clone();
                            let selected = { let name = name.clone(); move || current() == name };
                            view! { <option value=name.clone() selected=selected>{format!("{} ({})", name, f.kind)}</option> }
                        }).collect_view()}
                    </select>
                </td>
            </tr>
        }
    };

    view! {
        <Show when=move || step.with(Option::is_some)>
            <section class="mapping" data-testid="mapping" role="dialog" aria-modal="true" aria-label="Map the file's fields" data-overlay=OVERLAY>
                <h2>{move || step.with(|s| s.as_ref().map(|s| format!("Which field is which in {}?", s.survey.file)).unwrap_or_default())}</h2>
                <p class="hint">
                    {move || if step.with(|s| s.as_ref().is_some_and(|s| s.remembered)) {
                        "The mapping you used last time for these fields. "
                    } else {
                        "A proposal from the field names and values. "
                    }}
                    "Fields you do not map stay in each record as they are. * is required."
                </p>
                <div class="mapping-body">
                    <table class="mapping-targets">
                        <tbody>{TARGETS.iter().map(|t| row(t)).collect_view()}</tbody>
                    </table>
                    <table class="mapping-fields">
                        <thead><tr><th>"field"</th><th>"kind"</th><th>"samples"</th></tr></thead>
                        <tbody>
                            {move || step.with(|s| s.as_ref().map(|s| s.survey.fields.iter().map(|f| view! {
                                <tr><td>{f.name.clone()}</td><td>{f.kind.clone()}</td><td class="samples">{f.samples.join(" · ")}</td></tr>
                            }).collect_view()))}
                        </tbody>
                    </table>
                </div>
                <Show when=move || problem.get().is_some()>
                    <p class="mapping-problem" role="alert">{move || problem.get()}</p>
                </Show>
                <div class="mapping-actions">
                    <button class="button primary" data-testid="mapping-apply" on:click=apply>"Import with this mapping"</button>
                    <button class="button" on:click=save title="Save this mapping as a JSON file, to drop with the records next time or use in a pipeline">"Save mapping…"</button>
                    <label class="button file-button">
                        "Load mapping…"
                        <input type="file" accept=".json" data-testid="mapping-load" on:change=load />
                    </label>
                    <button class="button" on:click=move |_| { step.set(None); state.notice.set(Some("Import cancelled: nothing was imported.".into())); }>"Cancel"</button>
                </div>
            </section>
        </Show>
    }
}
