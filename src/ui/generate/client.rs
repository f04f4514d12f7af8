//! The endpoint over HTTP: one request (with a timeout, told apart from CORS and a server
//! that is not there), the models it serves, a JSON call, and a CoT judged.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::core::generate::{classify_http, Endpoint, GenError};
use crate::core::signals::judge;

/// A reply whose headers have not come after this long has timed out (a server that
/// serves one request at a time keeps the others waiting: this is generous).
pub(super) const HEADERS_MS: i32 = 600_000;

/// A request to the endpoint (POST with `body`, else GET), with the API key. A request the
/// browser could not make is told apart: a server that answers an opaque request but
/// refuses this page (CORS), or none at all.
pub(super) async fn fetch(
    url: &str,
    body: Option<&str>,
    key: &str,
    abort: Option<&web_sys::AbortController>,
) -> Result<web_sys::Response, GenError> {
    let window = web_sys::window().ok_or_else(|| GenError::Unreachable("no window".into()))?;
    let init = web_sys::RequestInit::new();
    let headers = web_sys::Headers::new().map_err(|e| GenError::Unreachable(js_text(e)))?;
    if let Some(b) = body {
        init.set_method("POST");
        init.set_body(&JsValue::from_str(b));
        let _ = headers.set("Content-Type", "application/json");
    }
    if !key.trim().is_empty() {
        let _ = headers.set("Authorization", &format!("Bearer {}", key.trim()));
    }
    init.set_headers(&headers);
    if let Some(a) = abort {
        init.set_signal(Some(&a.signal()));
    }
    match race(window.fetch_with_str_and_init(url, &init), HEADERS_MS).await {
        Raced::Value(v) => Ok(v.unchecked_into()),
        Raced::TimedOut => {
            if let Some(a) = abort {
                a.abort();
            }
            Err(GenError::TimedOut((HEADERS_MS / 1000) as u32))
        }
        Raced::Failed(e) => {
            if abort.is_some_and(|a| a.signal().aborted()) {
                return Err(GenError::Aborted);
            }
            // did anything answer? an opaque request is not subject to CORS
            let probe = web_sys::RequestInit::new();
            probe.set_mode(web_sys::RequestMode::NoCors);
            let origin = window.location().origin().unwrap_or_default();
            match race(window.fetch_with_str_and_init(url, &probe), 10_000).await {
                Raced::Value(_) => Err(GenError::Refused(origin)),
                _ => Err(GenError::Unreachable(js_text(e))),
            }
        }
    }
}

/// A reply that is not 2xx, as a [`GenError`].
pub(super) async fn http_error(resp: &web_sys::Response, attempt: u32) -> GenError {
    let retry = resp.headers().get("retry-after").ok().flatten();
    let body = match resp.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    classify_http(resp.status(), retry.as_deref(), &body, attempt)
}

/// A promise's outcome, or its time running out.
pub(super) enum Raced {
    Value(JsValue),
    Failed(JsValue),
    TimedOut,
}

/// Awaits `promise` for at most `ms`.
pub(super) async fn race(promise: js_sys::Promise, ms: i32) -> Raced {
    let marker = js_sys::Object::new();
    let window = web_sys::window().expect("a window");
    let handle = Rc::new(Cell::new(None));
    let timer = {
        let marker = marker.clone();
        let handle = handle.clone();
        js_sys::Promise::new(&mut |resolve, _| {
            let marker = marker.clone();
            let f = wasm_bindgen::closure::Closure::once_into_js(move || {
                let _ = resolve.call1(&JsValue::NULL, &marker);
            });
            handle.set(
                window
                    .set_timeout_with_callback_and_timeout_and_arguments_0(f.unchecked_ref(), ms)
                    .ok(),
            );
        })
    };
    let out = JsFuture::from(js_sys::Promise::race(&js_sys::Array::of2(&promise, &timer))).await;
    if let Some(h) = handle.get() {
        window.clear_timeout_with_handle(h);
    }
    match out {
        Ok(v) if js_sys::Object::is(&v, &marker) => Raced::TimedOut,
        Ok(v) => Raced::Value(v),
        Err(e) => Raced::Failed(e),
    }
}

/// POSTs `body` as JSON and reads the JSON reply; a failure as the message the person reads.
pub(super) async fn post_json(
    url: &str,
    body: &serde_json::Value,
    key: &str,
    endpoint: &Endpoint,
) -> Result<serde_json::Value, String> {
    let resp = fetch(url, Some(&body.to_string()), key, None)
        .await
        .map_err(|e| e.message(endpoint))?;
    if !resp.ok() {
        return Err(http_error(&resp, 0).await.message(endpoint));
    }
    let text = JsFuture::from(resp.text().map_err(js_text)?)
        .await
        .map_err(js_text)?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| format!("the reply is not JSON: {e}"))
}

/// The models the endpoint serves (`GET /v1/models`).
pub(super) async fn served_models(endpoint: &Endpoint, key: &str) -> Result<Vec<String>, GenError> {
    let resp = fetch(&endpoint.url("models"), None, key, None).await?;
    if !resp.ok() {
        return Err(http_error(&resp, 0).await);
    }
    let json = resp.json().map_err(|e| GenError::Server(js_text(e)))?;
    JsFuture::from(json)
        .await
        .map(|v| model_ids(&v))
        .map_err(|e| GenError::Server(format!("the model list is not JSON: {}", js_text(e))))
}

/// The model ids of a `/v1/models` reply.
pub(super) fn model_ids(v: &JsValue) -> Vec<String> {
    let Ok(data) = Reflect::get(v, &"data".into()) else {
        return Vec::new();
    };
    js_sys::Array::from(&data)
        .iter()
        .filter_map(|m| Reflect::get(&m, &"id".into()).ok()?.as_string())
        .collect()
}

/// A JavaScript error as text.
pub(super) fn js_text(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// One CoT judged: P(yes) from the log-probabilities of a short chat reply, or of a plain
/// completion ending in "Answer:" (small and base models answer there) — the one that
/// worked for the previous CoT first (`completion_first`) — else from three sampled chat
/// answers (a server without log-probabilities). Returns (P(yes), how).
pub(super) async fn judge_one(
    endpoint: &Endpoint,
    key: &str,
    question: &str,
    cot: &str,
    completion_first: bool,
) -> Result<(f64, JudgedBy), String> {
    let chat = endpoint.url("chat/completions");
    let tries = [
        (
            JudgedBy::Chat,
            chat.clone(),
            judge::request_body(endpoint, question, cot),
        ),
        (
            JudgedBy::Completion,
            endpoint.url("completions"),
            judge::completion_body(endpoint, question, cot),
        ),
    ];
    let order = if completion_first { [1, 0] } else { [0, 1] };
    let mut problem = None;
    for k in order {
        let (how, url, body) = &tries[k];
        match post_json(url, body, key, endpoint).await {
            Ok(v) => {
                if let Some(p) = judge::p_yes_logprobs(&v) {
                    return Ok((p, *how));
                }
            }
            Err(e) => problem = problem.or(Some(e)),
        }
    }
    // no log-probabilities: a few samples of the one-word answer
    let sample = judge::sample_body(endpoint, question, cot);
    let mut says = Vec::new();
    for _ in 0..3 {
        match post_json(&chat, &sample, key, endpoint).await {
            Ok(v) => says.push(judge::p_yes(&v).map(|p| p >= 0.5)),
            Err(e) => problem = Some(e),
        }
    }
    judge::p_yes_of_samples(&says)
        .map(|p| (p, JudgedBy::Samples))
        .ok_or_else(|| problem.unwrap_or_else(|| "the model answered neither yes nor no".into()))
}

/// Where a judge's P(yes) came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JudgedBy {
    Chat,
    Completion,
    Samples,
}
