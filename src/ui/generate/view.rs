//! The feature's views: the "Generate…" button and the panel (endpoint, sampling, the
//! run, the judge, what they did).

use leptos::prelude::*;

use super::super::browser;
use super::settings::Settings;
use super::{GenState, MAX_CONCURRENCY, OVERLAY};

/// Beside the record count: "Generate…", which opens the panel.
#[component]
pub fn GenerateButton() -> impl IntoView {
    let g = expect_context::<GenState>();
    view! {
        <button
            class="button"
            data-testid="generate-open"
            title="Sample more CoTs per question from a model you run (llama.cpp, Ollama, vLLM)"
            on:click=move |_| g.app.toggle_overlay(OVERLAY)
        >
            {move || if g.running() { "Generating…" } else { "Generate…" }}
        </button>
    }
}

/// The panel: endpoint, sampling, the run, what it did.
#[component]
pub fn GeneratePanel() -> impl IntoView {
    let g = expect_context::<GenState>();
    let set = g.settings;
    let text_field =
        move |id: &'static str, get: fn(&Settings) -> String, put: fn(&mut Settings, String)| {
            view! {
                <input
                    type="text"
                    data-testid=id
                    prop:value=move || set.with(get)
                    on:change=move |ev| {
                        let v = event_target_value(&ev);
                        set.update(|s| put(s, v));
                    }
                />
            }
        };
    let number_field = move |id: &'static str,
                             step: &'static str,
                             get: fn(&Settings) -> f64,
                             put: fn(&mut Settings, f64)| {
        view! {
            <input
                type="number"
                step=step
                min="0"
                data-testid=id
                prop:value=move || set.with(get).to_string()
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).trim().parse::<f64>() {
                        if v.is_finite() && v >= 0.0 {
                            set.update(|s| put(s, v));
                        }
                    }
                }
            />
        }
    };
    let live = move || {
        g.live
            .get()
            .into_iter()
            .flatten()
            .map(|c| {
                let tail: String = {
                    let n = c.text.chars().count();
                    c.text.chars().skip(n.saturating_sub(600)).collect()
                };
                view! {
                    <div class="generate-stream">
                        <div class="generate-question">{c.question}</div>
                        <pre>{tail}</pre>
                    </div>
                }
            })
            .collect_view()
    };
    view! {
        <Show when=move || g.app.overlay_open(OVERLAY)>
            <section class="generate" role="dialog" aria-modal="true" aria-label="Generate sibling CoTs" data-testid="generate" data-overlay=OVERLAY>
                <h2>"Generate sibling CoTs from your model"</h2>
                <p class="hint">
                    "An OpenAI-compatible server you run (llama.cpp's llama-server, Ollama, vLLM). \
                     Nothing is sent until you click; a server that is not on this machine needs your \
                     confirmation first."
                </p>
                <div class="generate-grid">
                    <label>"Base URL " {text_field("endpoint-url", |s| s.base_url.clone(), |s, v| s.base_url = v)}</label>
                    <label>"Model " {text_field("endpoint-model", |s| s.model.clone(), |s, v| s.model = v)}</label>
                    <label>
                        "API key "
                        <input
                            type="password"
                            autocomplete="off"
                            data-testid="endpoint-key"
                            prop:value=move || set.with(|s| s.api_key.clone())
                            on:change=move |ev| {
                                let v = event_target_value(&ev);
                                set.update(|s| s.api_key = v);
                            }
                        />
                    </label>
                    <label class="check">
                        <input
                            type="checkbox"
                            data-testid="endpoint-remember"
                            prop:checked=move || set.with(|s| s.remember)
                            on:change=move |ev| set.update(|s| s.remember = event_target_checked(&ev))
                        />
                        " remember the key in this browser"
                    </label>
                    <label>"CoTs per question " {number_field("generate-samples", "1", |s| s.samples as f64, |s, v| s.samples = (v as usize).clamp(1, 64))}</label>
                    <label>"Requests at a time " {number_field("generate-concurrency", "1", |s| s.concurrency as f64, |s, v| s.concurrency = (v as usize).clamp(1, MAX_CONCURRENCY))}</label>
                    <label>"Temperature " {number_field("generate-temperature", "0.1", |s| s.temperature, |s, v| s.temperature = v.min(2.0))}</label>
                    <label>"Max tokens " {number_field("generate-max-tokens", "1", |s| f64::from(s.max_tokens), |s, v| s.max_tokens = (v as u32).clamp(1, 32_768))}</label>
                    <label>
                        "Questions "
                        <select
                            data-testid="generate-scope"
                            on:change=move |ev| {
                                let v = event_target_value(&ev);
                                set.update(|s| s.scope = v);
                            }
                        >
                            {[("all", "every question with fewer"), ("selected", "the selected record's question"), ("shown", "the questions the list shows")]
                                .into_iter()
                                .map(|(v, t)| view! { <option value=v selected=move || set.with(|s| s.scope == v)>{t}</option> })
                                .collect_view()}
                        </select>
                    </label>
                </div>
                <label class="template">
                    "Prompt ({question} is replaced; the records' own system prompt is sent when they have one)"
                    <textarea
                        data-testid="generate-template"
                        rows="3"
                        prop:value=move || set.with(|s| s.template.clone())
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            set.update(|s| s.template = v);
                        }
                    ></textarea>
                </label>
                <div class="generate-actions">
                    <button class="button" data-testid="endpoint-test" on:click=move |_| g.test()>"Test connection"</button>
                    <button
                        class="button primary"
                        data-testid="generate-button"
                        prop:disabled=move || g.running()
                        on:click=move |_| g.generate()
                    >
                        "Generate siblings"
                    </button>
                    <Show when=move || g.running()>
                        <button class="button danger" data-testid="generate-cancel" on:click=move |_| g.cancel()>"Cancel"</button>
                    </Show>
                    <button
                        class="button"
                        data-testid="judge-button"
                        title="Ask your model, per CoT, whether its reasoning and answer are correct; its say is learnt from your labels"
                        on:click=move |_| g.judge()
                    >
                        {move || if g.judging.get() { "Stop judging" } else { "Judge with my model" }}
                    </button>
                    <Show when=move || g.resumable.with(Option::is_some) && !g.running()>
                        <button class="button" data-testid="generate-resume" on:click=move |_| g.resume()>"Resume"</button>
                    </Show>
                    <Show when=move || { g.generated.get() > 0 && !g.running() }>
                        <button
                            class="button danger"
                            data-testid="generate-delete"
                            on:click=move |_| if g.deleting.get_untracked() { g.delete_generated() } else { g.deleting.set(true) }
                        >
                            {move || if g.deleting.get() {
                                format!("Delete {} generated CoTs and their labels? Click again", g.generated.get())
                            } else {
                                format!("Delete generated ({})", g.generated.get())
                            }}
                        </button>
                    </Show>
                </div>
                {move || g.confirm.get().map(|host| view! {
                    <div class="generate-confirm" role="alertdialog" data-testid="generate-confirm">
                        <p>{format!("Your questions will be sent to {host}. Send them?")}</p>
                        <button class="button primary" data-testid="generate-confirm-yes" on:click=move |_| g.answer(true)>"Send"</button>
                        <button class="button" data-testid="generate-confirm-no" on:click=move |_| g.answer(false)>"Do not send"</button>
                    </div>
                })}
                {move || g.models.get().map(|m| match m {
                    Ok(ids) => view! {
                        <p class="generate-models" data-testid="endpoint-models">
                            {format!("The server serves: {}", if ids.is_empty() { "no model".into() } else { ids.join(", ") })}
                        </p>
                    }.into_any(),
                    Err(e) => view! { <p class="error" data-testid="endpoint-models">{e}</p> }.into_any(),
                })}
                {move || g.tally.get().map(|t| view! {
                    <p class="generate-progress" data-testid="generate-progress">{t.line(browser::performance_now())}</p>
                    <progress max=t.wanted.max(1) value=t.kept + t.lost></progress>
                })}
                {move || g.status.get().map(|s| view! { <p data-testid="generate-status">{s}</p> })}
                {move || g.judge_status.get().or_else(|| {
                    let n = g.app.judged_count();
                    (n > 0).then(|| format!(
                        "{n} CoT{} judged by your model, kept in this browser. Its say is learnt from your labels at each propagation (none without labels).",
                        if n == 1 { "" } else { "s" }
                    ))
                }).map(|s| view! { <p data-testid="judge-status">{s}</p> })}
                {move || g.problem.get().map(|s| view! { <p class="error" data-testid="generate-problem">{s}</p> })}
                <div class="generate-live" data-testid="generate-live">{live}</div>
            </section>
        </Show>
    }
}
