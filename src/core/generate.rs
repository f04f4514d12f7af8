//! Sampling sibling CoTs from a model the person runs, over the OpenAI chat-completions
//! protocol (llama.cpp's `llama-server`, Ollama, vLLM): what the page needs that is not a
//! network call, so it is tested natively.
//!
//! - [`Endpoint`]: base URL, model, sampling settings; [`Endpoint::is_loopback`] decides
//!   whether sending needs the person's confirmation.
//! - [`plan`]: which questions get how many new CoTs (fill each up to N).
//! - [`Endpoint::request_body`]: the chat-completions request for one question, from a
//!   prompt template and the records' own system prompt.
//! - [`SseReader`]: the streamed reply, fed in arbitrary byte pieces, as text deltas,
//!   finish reasons, usage and errors; a stream cut before `[DONE]` is noticed.
//! - [`classify_http`]: an HTTP failure as a [`GenError`] with a message that says what to
//!   do (CORS, 401, 404 model, 429 with its wait, context length).
//! - [`generated_record`]: a finished completion as a record of the data set
//!   (`source: generated`, model, settings, time), its answer read like any CoT's.

use serde_json::{json, Map, Value};

use crate::core::data::{Dataset, Record};
use crate::core::signals::signature::answer;

/// Where and how to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// Base URL, up to and including `/v1` (e.g. `http://127.0.0.1:8080/v1`).
    pub base_url: String,
    /// Model name as the server knows it.
    pub model: String,
    /// Sampling temperature.
    pub temperature: f64,
    /// Most tokens per completion.
    pub max_tokens: u32,
    /// `{question}` is replaced by the question.
    pub template: String,
}

/// The prompt template when the person gives none.
pub const DEFAULT_TEMPLATE: &str =
    "{question}\n\nThink step by step, writing one step per line, then give the final answer \
     on its own line as \"The answer is N.\"";

/// The prompt template for multiple-choice questions (the question lists its options).
pub const OPTIONS_TEMPLATE: &str =
    "{question}\n\nThink step by step, writing one step per line, then give the final answer \
     on its own line as \"The answer is (X).\" where X is the letter of the option.";

/// The prompt template for yes/no questions.
pub const YES_NO_TEMPLATE: &str =
    "{question}\n\nThink step by step, writing one step per line, then give the final answer \
     on its own line as \"The answer is yes.\" or \"The answer is no.\"";

/// The default template that fits a data set: multiple choice when most of its first
/// questions list options, yes/no when most of its answers (the `answer` field or a
/// reference answer) are yes/no/true/false, else [`DEFAULT_TEMPLATE`]. Reads the first 200
/// records only (it runs on the page when a data set opens).
pub fn default_template(dataset: &Dataset) -> &'static str {
    let head = &dataset.records()[..dataset.len().min(200)];
    if head.is_empty() {
        return DEFAULT_TEMPLATE;
    }
    let with_options = head
        .iter()
        .filter(|r| crate::core::signals::signature::options::parse(&r.question).is_some())
        .count();
    if 2 * with_options > head.len() {
        return OPTIONS_TEMPLATE;
    }
    let answers: Vec<String> = head
        .iter()
        .filter_map(|r| r.answer.clone().or_else(|| r.reference_answer()))
        .collect();
    let yes_no = answers
        .iter()
        .filter(|a| {
            matches!(
                a.trim().trim_end_matches('.').to_ascii_lowercase().as_str(),
                "yes" | "no" | "true" | "false"
            )
        })
        .count();
    if !answers.is_empty() && 2 * yes_no > answers.len() {
        return YES_NO_TEMPLATE;
    }
    DEFAULT_TEMPLATE
}

/// Whether `template` is one of the shipped defaults (the person did not write their own,
/// so the page may follow the data set's kind with it).
pub fn is_default_template(template: &str) -> bool {
    [DEFAULT_TEMPLATE, OPTIONS_TEMPLATE, YES_NO_TEMPLATE].contains(&template)
}

impl Default for Endpoint {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8080/v1".into(),
            model: String::new(),
            temperature: 0.8,
            max_tokens: 512,
            template: DEFAULT_TEMPLATE.into(),
        }
    }
}

/// The host of a URL (`http://[::1]:8080/v1` → `[::1]`), lower-cased; `None` when the URL
/// is not http(s).
pub fn host_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next()?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

impl Endpoint {
    /// Whether the endpoint is on this machine: `localhost`, `127.0.0.0/8` or `[::1]`.
    /// Anything else needs the person's confirmation before a question is sent.
    pub fn is_loopback(&self) -> bool {
        match host_of(&self.base_url) {
            None => false,
            Some(h) if h == "localhost" || h == "[::1]" => true,
            Some(h) => {
                let parts: Vec<&str> = h.split('.').collect();
                parts.len() == 4
                    && parts[0] == "127"
                    && parts.iter().all(|p| p.parse::<u8>().is_ok())
            }
        }
    }

    /// `base_url` + `path`, with one slash between them.
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.base_url.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }

    /// The streamed chat-completions request for one question: the records' own system
    /// prompt when they carry one, then the question through the template.
    pub fn request_body(&self, question: &str, system: Option<&str>) -> Value {
        let mut messages = Vec::new();
        if let Some(s) = system.filter(|s| !s.trim().is_empty()) {
            messages.push(json!({"role": "system", "content": s}));
        }
        let user = if self.template.contains("{question}") {
            self.template.replace("{question}", question)
        } else {
            format!("{}\n\n{question}", self.template)
        };
        messages.push(json!({"role": "user", "content": user}));
        json!({
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stream": true,
            "stream_options": {"include_usage": true},
        })
    }
}

/// New CoTs to ask for: for each question (in record order), how many, up to `n` per
/// question counting the CoTs it has. `only` (when given) limits it to the questions of
/// those records.
pub fn plan(dataset: &Dataset, n: usize, only: Option<&[usize]>) -> Vec<(usize, usize)> {
    let groups = dataset.groups();
    let wanted: Option<std::collections::HashSet<usize>> = only.map(|o| {
        o.iter()
            .filter(|&&i| i < dataset.len())
            .map(|&i| groups.group_of(i))
            .collect()
    });
    groups
        .iter()
        .enumerate()
        .filter(|(g, _)| wanted.as_ref().is_none_or(|w| w.contains(g)))
        .filter_map(|(_, members)| {
            let (i, have) = (members[0] as usize, members.len());
            (have < n).then(|| (i, n - have))
        })
        .collect()
}

/// What the stream said, one event at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum SseEvent {
    /// More text of the reply (`content`, or `reasoning_content` put in a `<think>` block).
    Delta(String),
    /// Why the completion ended (`stop`, `length`, …).
    Finish(String),
    /// Tokens used, when the server says.
    Usage {
        /// Prompt tokens.
        prompt: u64,
        /// Completion tokens.
        completion: u64,
    },
    /// An error object in the stream.
    Error(String),
    /// `data: [DONE]`.
    Done,
}

/// Reads a server-sent-event stream fed in pieces of any size (a piece may end inside a
/// line or inside a UTF-8 character).
#[derive(Debug, Default)]
pub struct SseReader {
    pending: Vec<u8>,
    done: bool,
    in_think: bool,
}

impl SseReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `[DONE]` was read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Feeds bytes; returns the events completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(data) = line.strip_prefix("data:") {
                self.data(data.trim_start(), &mut out);
            }
        }
        out
    }

    /// Ends the stream: what was left unread, and whether it ended before `[DONE]`.
    pub fn finish(&mut self) -> (Vec<SseEvent>, bool) {
        let mut out = Vec::new();
        if !self.pending.is_empty() {
            let rest = String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned();
            if let Some(data) = rest.trim().strip_prefix("data:") {
                self.data(data.trim_start(), &mut out);
            }
        }
        if self.in_think {
            out.push(SseEvent::Delta("\n</think>\n".into()));
            self.in_think = false;
        }
        (out, !self.done)
    }

    fn data(&mut self, data: &str, out: &mut Vec<SseEvent>) {
        if data == "[DONE]" {
            self.done = true;
            out.push(SseEvent::Done);
            return;
        }
        let Ok(v) = serde_json::from_str::<Value>(data) else {
            out.push(SseEvent::Error(format!(
                "the stream sent something that is not JSON: {}",
                data.chars().take(120).collect::<String>()
            )));
            return;
        };
        if let Some(e) = v.get("error") {
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| e.to_string(), str::to_string);
            out.push(SseEvent::Error(message));
            return;
        }
        if let Some(choice) = v.get("choices").and_then(|c| c.get(0)) {
            let delta = choice.get("delta").or_else(|| choice.get("message"));
            let reasoning = delta
                .and_then(|d| d.get("reasoning_content"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            if let Some(r) = reasoning {
                if !self.in_think {
                    self.in_think = true;
                    out.push(SseEvent::Delta("<think>\n".into()));
                }
                out.push(SseEvent::Delta(r.to_string()));
            }
            if let Some(c) = delta
                .and_then(|d| d.get("content"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            {
                if self.in_think {
                    self.in_think = false;
                    out.push(SseEvent::Delta("\n</think>\n".into()));
                }
                out.push(SseEvent::Delta(c.to_string()));
            }
            if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
                out.push(SseEvent::Finish(f.to_string()));
            }
        }
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
            out.push(SseEvent::Usage {
                prompt: n("prompt_tokens"),
                completion: n("completion_tokens"),
            });
        }
    }
}

/// Why a request failed, with what to do about it.
#[derive(Debug, Clone, PartialEq)]
pub enum GenError {
    /// No answer at all: nothing listens at the address (or the network is down).
    Unreachable(String),
    /// The server answered, but the browser refused the reply to this page: the server
    /// does not allow the page's origin (CORS).
    Refused(String),
    /// 401 / 403.
    Unauthorized(String),
    /// 404: no such model (or path).
    NotFound(String),
    /// 429: try again after this many seconds.
    RateLimited(f64),
    /// The prompt and the completion do not fit the model's context.
    ContextLength(String),
    /// Any other failure of the server.
    Server(String),
    /// No reply within this many seconds.
    TimedOut(u32),
    /// The page stopped the request (a cancel).
    Aborted,
}

impl GenError {
    /// Whether asking again (after a wait) may work.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            GenError::RateLimited(_) | GenError::Server(_) | GenError::TimedOut(_)
        )
    }

    /// The message for the page.
    pub fn message(&self, endpoint: &Endpoint) -> String {
        match self {
            GenError::Unreachable(detail) => format!(
                "No reply from {}: is the server running, at this address? ({detail})",
                endpoint.base_url
            ),
            GenError::Refused(origin) => format!(
                "{} is running but does not allow this page ({origin}) to read its replies \
                 (CORS). Allow the origin: Ollama: OLLAMA_ORIGINS={origin} ollama serve; \
                 vLLM: vllm serve … --allowed-origins '[\"{origin}\"]'. llama.cpp's \
                 llama-server and llama-cpp-python's server allow every origin, so a proxy \
                 in front of them must pass the CORS headers on.",
                endpoint.base_url
            ),
            GenError::Unauthorized(detail) => format!(
                "{} refused the API key (401/403): check the key, or tick \"remember\" after \
                 entering it again. ({detail})",
                endpoint.base_url
            ),
            GenError::NotFound(detail) => format!(
                "{} has no model `{}` (404): \"Test connection\" lists the ones it serves. \
                 ({detail})",
                endpoint.base_url, endpoint.model
            ),
            GenError::RateLimited(wait) => {
                format!(
                    "{} asks to slow down (429): waiting {wait:.0} s",
                    endpoint.base_url
                )
            }
            GenError::ContextLength(detail) => format!(
                "The question and {} tokens do not fit the model's context: lower \"max \
                 tokens\" or use a model with a longer context. ({detail})",
                endpoint.max_tokens
            ),
            GenError::Server(detail) => format!("{} failed: {detail}", endpoint.base_url),
            GenError::TimedOut(secs) => format!(
                "{} did not answer within {secs} s: is it overloaded, or serving one request \
                 at a time?",
                endpoint.base_url
            ),
            GenError::Aborted => "stopped".into(),
        }
    }
}

/// Why a run gave up one CoT (it goes on with the others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GaveUp {
    /// The model answered with nothing (`twice`: asked again, nothing again).
    Empty {
        /// Asked twice.
        twice: bool,
    },
    /// The stream was cut before its end, twice.
    Cut,
    /// The question and the completion do not fit the model's context (the message).
    Context(String),
}

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GaveUp::Empty { twice: true } => f.write_str("empty completion (twice)"),
            GaveUp::Empty { twice: false } => f.write_str("empty completion"),
            GaveUp::Cut => f.write_str("the stream was cut before its end (twice)"),
            GaveUp::Context(message) => f.write_str(message),
        }
    }
}

/// What gave up CoTs, most frequent first (ties in order of first appearance):
/// `"empty completion (twice)" ×3; …`.
pub fn summarise(gave_up: &[GaveUp]) -> String {
    let mut counts: Vec<(&GaveUp, usize)> = Vec::new();
    for g in gave_up {
        match counts.iter_mut().find(|(k, _)| *k == g) {
            Some(c) => c.1 += 1,
            None => counts.push((g, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    counts
        .iter()
        .map(|(k, n)| {
            if *n > 1 {
                format!("{k} ×{n}")
            } else {
                k.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// An HTTP failure (`status`, its `Retry-After` header and body) as a [`GenError`].
/// `attempt` (from 0) sets the wait of a 429 without `Retry-After`: 1, 2, 4 … 30 s.
pub fn classify_http(status: u16, retry_after: Option<&str>, body: &str, attempt: u32) -> GenError {
    let detail = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("error")
                .map(|e| {
                    e.get("message")
                        .and_then(Value::as_str)
                        .map_or_else(|| e.to_string(), str::to_string)
                })
                .or_else(|| {
                    v.get("detail")
                        .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_string))
                })
        })
        .unwrap_or_else(|| body.chars().take(200).collect());
    let lower = detail.to_ascii_lowercase();
    let context = [
        "context length",
        "context_length",
        "context window",
        "maximum context",
        "exceeds the",
        "too many tokens",
        "n_ctx",
    ]
    .iter()
    .any(|k| lower.contains(k));
    match status {
        401 | 403 => GenError::Unauthorized(detail),
        404 => GenError::NotFound(detail),
        429 => GenError::RateLimited(
            retry_after
                .and_then(|s| s.trim().parse::<f64>().ok())
                .unwrap_or_else(|| f64::from(1u32 << attempt.min(5)).min(30.0)),
        ),
        400 | 413 | 422 if context => GenError::ContextLength(detail),
        _ if context => GenError::ContextLength(detail),
        _ => GenError::Server(format!("HTTP {status}: {detail}")),
    }
}

/// A finished completion of the question of record `like` as a record of the data set:
/// the same question (and `question_id`), the text as its CoT, the answer read from the
/// text, and where it came from (`source: generated`, the model, the sampling settings, the
/// time, the server's `finish_reason`: `length` marks it cut off for cleaning). `None` for
/// an empty completion.
pub fn generated_record(
    like: &Record,
    text: &str,
    finish: Option<&str>,
    endpoint: &Endpoint,
    id: String,
    created_at: &str,
) -> Option<Record> {
    let cot = text.trim();
    if cot.is_empty() {
        return None;
    }
    let found = answer::find_in_text(cot);
    let mut meta = Map::new();
    meta.insert("source".into(), json!(crate::core::data::GENERATED));
    meta.insert("model".into(), json!(endpoint.model));
    meta.insert(
        "sampling".into(),
        json!({"temperature": endpoint.temperature, "max_tokens": endpoint.max_tokens}),
    );
    meta.insert("generated_at".into(), json!(created_at));
    if let Some(f) = finish {
        meta.insert("finish_reason".into(), json!(f));
    }
    if let Some(system) = system_prompt(like) {
        meta.insert("system".into(), json!(system));
    }
    for k in crate::core::data::REFERENCE_ALIASES {
        if let Some(v) = like.meta.get(k) {
            meta.insert(k.to_string(), v.clone());
        }
    }
    Some(Record {
        id,
        question: like.question.clone(),
        cot: cot.to_string(),
        answer: found.map(|a| a.key()),
        question_id: like.question_id.clone(),
        is_correct: None,
        meta,
    })
}

/// The system prompt a record was given, when it came in a chat shape that has one: new
/// CoTs of its question are asked for under the same prompt.
pub fn system_prompt(r: &Record) -> Option<String> {
    if let Some(s) = r.meta.get("system").and_then(Value::as_str) {
        return Some(s.to_string()).filter(|s| !s.trim().is_empty());
    }
    let (context, _) = crate::core::io::shapes::conversation(&r.meta)?;
    context
        .into_iter()
        .find(|(role, _)| role == "system")
        .map(|(_, text)| text)
}

/// An id for a new CoT of the question of record `like`: `<like>-gen<k>`, the smallest
/// k ≥ 1 that `taken` does not hold.
pub fn next_id(like: &str, taken: impl Fn(&str) -> bool) -> String {
    (1u64..)
        .map(|k| format!("{like}-gen{k}"))
        .find(|id| !taken(id))
        .expect("some k is free")
}

/// A generated CoT as this browser keeps it until (and after) it joins the data set: the
/// record, and its embedding once computed (when the data set has embeddings).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stored {
    /// The record ([`generated_record`]).
    pub record: Record,
    /// Its MiniLM vector, when the data set it joins has vectors.
    #[serde(default)]
    pub vector: Option<Vec<f32>>,
}

impl Stored {
    /// As stored (JSON text).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain data")
    }

    /// Read back; a message naming what is wrong otherwise.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let s: Stored =
            serde_json::from_str(text).map_err(|e| format!("a kept generated CoT: {e}"))?;
        if !s.record.is_generated() {
            return Err(format!("kept CoT {} is not marked generated", s.record.id));
        }
        Ok(s)
    }
}

/// Which kept generated CoTs can join `dataset` now: those not in it yet, with their
/// vectors when it has embeddings (in order: the records, then their rows). Those that
/// still need a vector are returned apart, in the order given.
pub fn joinable(
    dataset: &Dataset,
    kept: Vec<Stored>,
) -> (Vec<Record>, Option<Vec<f32>>, Vec<Stored>) {
    let dim = dataset.embeddings().map(|e| e.dim());
    let mut records = Vec::new();
    let mut rows = dim.map(|_| Vec::new());
    let mut waiting = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in kept {
        if dataset.position(&s.record.id).is_some() || !seen.insert(s.record.id.clone()) {
            continue;
        }
        match (dim, &s.vector) {
            (None, _) => records.push(s.record),
            (Some(d), Some(v)) if v.len() == d => {
                rows.as_mut().expect("with dim").extend_from_slice(v);
                records.push(s.record);
            }
            (Some(_), _) => waiting.push(s),
        }
    }
    (records, rows, waiting)
}

/// What a run asks for, kept while it runs so that a stopped run can be resumed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSpec {
    /// Fill each question up to this many CoTs.
    pub samples: usize,
    /// Requests at a time.
    pub concurrency: usize,
    /// Only the questions of these record ids (`None`: every question).
    #[serde(default)]
    pub only: Option<Vec<String>>,
}

/// A run's progress: questions and CoTs done, tokens per second, time left.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Questions in the run.
    pub questions: usize,
    /// Questions with every CoT asked for finished (or given up on).
    pub questions_done: usize,
    /// CoTs asked for.
    pub wanted: usize,
    /// CoTs kept.
    pub kept: usize,
    /// CoTs given up on (empty, failed).
    pub lost: usize,
    /// Completion tokens received (usage when the server says, else one per delta).
    pub tokens: u64,
    /// When the run started (ms).
    pub started_ms: f64,
}

impl Tally {
    /// Tokens per second so far.
    pub fn tokens_per_s(&self, now_ms: f64) -> f64 {
        let secs = (now_ms - self.started_ms) / 1000.0;
        if secs > 0.0 {
            self.tokens as f64 / secs
        } else {
            0.0
        }
    }

    /// Seconds left at the rate so far (`None` before the first CoT is through).
    pub fn seconds_left(&self, now_ms: f64) -> Option<f64> {
        let through = self.kept + self.lost;
        if through == 0 {
            return None;
        }
        let per = (now_ms - self.started_ms).max(0.0) / 1000.0 / through as f64;
        Some(per * self.wanted.saturating_sub(through) as f64)
    }

    /// One line for the page.
    pub fn line(&self, now_ms: f64) -> String {
        let left = match self.seconds_left(now_ms) {
            None => "time left: estimating".to_string(),
            Some(s) if s < 90.0 => format!("about {s:.0} s left"),
            Some(s) => format!("about {:.0} min left", s / 60.0),
        };
        let lost = if self.lost > 0 {
            format!(", {} given up", self.lost)
        } else {
            String::new()
        };
        format!(
            "{} of {} questions done; {} of {} CoTs kept{lost}; {:.1} tokens/s; {left}",
            self.questions_done,
            self.questions,
            self.kept,
            self.wanted,
            self.tokens_per_s(now_ms)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_template_follows_the_data() {
        let rec = |i: usize, q: &str, a: Option<&str>| Record {
            id: i.to_string(),
            question: q.into(),
            cot: "c".into(),
            answer: a.map(str::to_string),
            question_id: None,
            is_correct: None,
            meta: Default::default(),
        };
        let ds = |rs: Vec<Record>| Dataset::new("d", rs, None);
        let mc = ds((0..4)
            .map(|i| {
                rec(
                    i,
                    &format!("Which one {i}?\nA. red\nB. blue\nC. green\nD. white"),
                    None,
                )
            })
            .collect());
        assert_eq!(default_template(&mc), OPTIONS_TEMPLATE);
        let yn = ds((0..4)
            .map(|i| {
                rec(
                    i,
                    &format!("Is {i} even?"),
                    Some(if i % 2 == 0 { "yes" } else { "No." }),
                )
            })
            .collect());
        assert_eq!(default_template(&yn), YES_NO_TEMPLATE);
        let num = ds((0..4)
            .map(|i| rec(i, &format!("What is {i} + 1?"), Some("7")))
            .collect());
        assert_eq!(default_template(&num), DEFAULT_TEMPLATE);
        assert_eq!(default_template(&ds(Vec::new())), DEFAULT_TEMPLATE);
        assert!(is_default_template(OPTIONS_TEMPLATE) && !is_default_template("{question}"));
    }
    use crate::core::data::tests::record;

    #[test]
    fn loopback_hosts_need_no_confirmation_and_others_do() {
        let e = |u: &str| Endpoint {
            base_url: u.into(),
            ..Endpoint::default()
        };
        for u in [
            "http://127.0.0.1:8080/v1",
            "http://localhost:11434/v1",
            "https://LOCALHOST/v1",
            "http://[::1]:8000/v1",
            "http://127.3.2.1/v1",
            "http://user:pw@127.0.0.1:9/v1",
        ] {
            assert!(e(u).is_loopback(), "{u}");
        }
        for u in [
            "http://10.0.0.5:8080/v1",
            "https://api.openai.com/v1",
            "http://127.0.0.1.evil.com/v1",
            "http://localhost.evil.com/v1",
            "http://128.0.0.1/v1",
            "http://[::2]/v1",
            "file:///etc/passwd",
            "127.0.0.1:8080",
            "http://evil.com/?host=127.0.0.1",
            "http://127.0.0.1@evil.com/v1",
        ] {
            assert!(!e(u).is_loopback(), "{u}");
        }
        assert_eq!(
            host_of("http://127.0.0.1@evil.com/v1").as_deref(),
            Some("evil.com")
        );
        assert_eq!(e("http://h:1/v1/").url("/models"), "http://h:1/v1/models");
    }

    #[test]
    fn the_request_carries_the_system_prompt_and_the_templated_question() {
        let e = Endpoint {
            model: "gemma".into(),
            template: "Q: {question}\nA:".into(),
            ..Endpoint::default()
        };
        let body = e.request_body("What is 2+2?", Some("Be brief."));
        assert_eq!(
            body["messages"][0],
            json!({"role": "system", "content": "Be brief."})
        );
        assert_eq!(body["messages"][1]["content"], "Q: What is 2+2?\nA:");
        assert_eq!(
            (body["model"].as_str(), body["stream"].as_bool()),
            (Some("gemma"), Some(true))
        );
        let plain = Endpoint {
            template: "Solve.".into(),
            ..e
        }
        .request_body("x?", None);
        assert_eq!(plain["messages"].as_array().unwrap().len(), 1);
        assert_eq!(plain["messages"][0]["content"], "Solve.\n\nx?");
    }

    #[test]
    fn plans_fill_each_question_up_to_n() {
        let mut recs = vec![
            record("a1", "qa", "c"),
            record("b1", "qb", "c"),
            record("a2", "qa", "c"),
        ];
        recs.push(record("c1", "qc", "c"));
        let ds = Dataset::new("d", recs, None);
        assert_eq!(plan(&ds, 2, None), vec![(1, 1), (3, 1)]);
        assert_eq!(plan(&ds, 4, None), vec![(0, 2), (1, 3), (3, 3)]);
        assert_eq!(plan(&ds, 1, None), vec![]);
        assert_eq!(plan(&ds, 3, Some(&[2])), vec![(0, 1)]);
    }

    #[test]
    fn the_stream_is_read_across_any_cut_of_its_bytes() {
        let stream = concat!(
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"2 + 2 = 4\"}}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"The answer is 4 €.\"}}]}\r\n\r\n",
            ": keep-alive\n\n",
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":9}}\n\n",
            "data: [DONE]\n\n"
        )
        .as_bytes();
        let expected = vec![
            SseEvent::Delta("<think>\n".into()),
            SseEvent::Delta("2 + 2 = 4".into()),
            SseEvent::Delta("\n</think>\n".into()),
            SseEvent::Delta("The answer is 4 €.".into()),
            SseEvent::Finish("stop".into()),
            SseEvent::Usage {
                prompt: 12,
                completion: 9,
            },
            SseEvent::Done,
        ];
        // every split point, including inside the three bytes of €
        for cut in 0..stream.len() {
            let mut r = SseReader::new();
            let mut got = r.feed(&stream[..cut]);
            got.extend(r.feed(&stream[cut..]));
            let (rest, cut_short) = r.finish();
            got.extend(rest);
            assert_eq!(got, expected, "cut at {cut}");
            assert!(!cut_short);
        }
        // a stream that stops early says so, and closes an open think block
        let mut r = SseReader::new();
        r.feed(b"data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\"}}]}\n");
        let (rest, cut_short) = r.finish();
        assert!(cut_short);
        assert_eq!(rest, vec![SseEvent::Delta("\n</think>\n".into())]);
        // errors inside the stream, and lines that are not JSON
        let mut r = SseReader::new();
        let got =
            r.feed(b"data: {\"error\":{\"message\":\"context length exceeded\"}}\ndata: oops\n");
        assert_eq!(got[0], SseEvent::Error("context length exceeded".into()));
        assert!(matches!(&got[1], SseEvent::Error(m) if m.contains("not JSON: oops")));
    }

    #[test]
    fn http_failures_say_what_to_do() {
        let e = Endpoint {
            model: "gemma".into(),
            ..Endpoint::default()
        };
        let c = classify_http(
            404,
            None,
            r#"{"error":{"message":"model 'x' not found"}}"#,
            0,
        );
        assert_eq!(c, GenError::NotFound("model 'x' not found".into()));
        assert!(c.message(&e).contains("no model `gemma`"));
        assert_eq!(
            classify_http(401, None, "nope", 0),
            GenError::Unauthorized("nope".into())
        );
        assert_eq!(
            classify_http(429, Some("7"), "", 0),
            GenError::RateLimited(7.0)
        );
        assert_eq!(classify_http(429, None, "", 3), GenError::RateLimited(8.0));
        assert_eq!(classify_http(429, None, "", 9), GenError::RateLimited(30.0));
        let ctx = classify_http(
            400,
            None,
            r#"{"error":{"message":"This model's maximum context length is 2048 tokens"}}"#,
            0,
        );
        assert!(matches!(ctx, GenError::ContextLength(_)));
        let llama = classify_http(
            400,
            None,
            r#"{"error":{"message":"Requested tokens (2400) exceed context window of 2048"}}"#,
            0,
        );
        assert!(matches!(llama, GenError::ContextLength(_)), "{llama:?}");
        let vllm = classify_http(400, None, r#"{"detail":"prompt exceeds the n_ctx"}"#, 0);
        assert!(matches!(vllm, GenError::ContextLength(_)));
        let s = classify_http(500, None, "boom", 0);
        assert_eq!(s, GenError::Server("HTTP 500: boom".into()));
        assert!(s.retryable() && !ctx.retryable());
        let cors = GenError::Refused("http://127.0.0.1:8123".into()).message(&e);
        assert!(
            cors.contains("OLLAMA_ORIGINS=http://127.0.0.1:8123"),
            "{cors}"
        );
        assert!(
            cors.contains(r#"--allowed-origins '["http://127.0.0.1:8123"]'"#),
            "{cors}"
        );
        assert!(GenError::Unreachable("TypeError".into())
            .message(&e)
            .contains("is the server running"));
    }

    #[test]
    fn ids_stored_entries_and_the_tally() {
        let taken = ["a-gen1", "a-gen2"];
        assert_eq!(next_id("a", |id| taken.contains(&id)), "a-gen3");
        assert_eq!(next_id("b", |_| false), "b-gen1");
        let e = Endpoint::default();
        let r = generated_record(
            &record("a", "q", "c"),
            "1 + 1 = 2",
            None,
            &e,
            "a-gen1".into(),
            "t",
        )
        .unwrap();
        let s = Stored {
            record: r.clone(),
            vector: Some(vec![0.1, -0.25]),
        };
        assert_eq!(Stored::from_json(&s.to_json()).unwrap(), s);
        let plain = Stored {
            record: record("x", "q", "c"),
            vector: None,
        };
        assert!(Stored::from_json(&plain.to_json())
            .unwrap_err()
            .contains("not marked generated"));
        assert!(Stored::from_json("{")
            .unwrap_err()
            .starts_with("a kept generated CoT"));
        let mut t = Tally {
            questions: 3,
            wanted: 6,
            started_ms: 1000.0,
            ..Tally::default()
        };
        assert_eq!(t.seconds_left(5000.0), None);
        assert!(t.line(5000.0).contains("estimating"));
        t.kept = 1;
        t.lost = 1;
        t.tokens = 400;
        // 2 CoTs in 4 s: 4 more take 8 s; 400 tokens in 4 s
        assert_eq!(t.seconds_left(5000.0), Some(8.0));
        assert_eq!(t.tokens_per_s(5000.0), 100.0);
        assert_eq!(
            t.line(5000.0),
            "0 of 3 questions done; 1 of 6 CoTs kept, 1 given up; 100.0 tokens/s; about 8 s left"
        );
        assert_eq!(t.tokens_per_s(1000.0), 0.0);
    }

    #[test]
    fn kept_cots_join_once_and_wait_for_their_vectors() {
        use crate::core::data::Embeddings;
        let e = Endpoint::default();
        let like = record("a", "q", "c");
        let g = |id: &str, v: Option<Vec<f32>>| Stored {
            record: generated_record(&like, "x = 1", None, &e, id.into(), "t").unwrap(),
            vector: v,
        };
        let plain = Dataset::new("d", vec![like.clone()], None);
        let kept = vec![
            g("a-gen1", None),
            g("a-gen2", Some(vec![1.0, 0.0])),
            g("a-gen1", None),
        ];
        let (r, rows, wait) = joinable(&plain, kept.clone());
        assert_eq!(
            r.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["a-gen1", "a-gen2"]
        );
        assert!(rows.is_none() && wait.is_empty());
        let joined = plain.appended(r, None).unwrap();
        assert_eq!(joinable(&joined, kept.clone()).0, vec![]);
        let embedded = plain.with_embeddings(Embeddings::new(1, 2, vec![0.0, 1.0]));
        let (r, rows, wait) = joinable(&embedded, kept);
        assert_eq!(
            r.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["a-gen2"]
        );
        assert_eq!(rows, Some(vec![1.0, 0.0]));
        assert_eq!(
            wait.iter()
                .map(|s| s.record.id.as_str())
                .collect::<Vec<_>>(),
            ["a-gen1"]
        );
        // a vector of the wrong width waits too (it is computed again)
        let (r, _, wait) = joinable(&embedded, vec![g("a-gen3", Some(vec![1.0]))]);
        assert!(r.is_empty() && wait.len() == 1);
    }

    #[test]
    fn a_completion_becomes_a_record_of_its_question() {
        let mut like = record("q1-a", "What is 2 + 3?", "2 + 3 = 5");
        like.question_id = Some("q1".into());
        like.meta.insert("gold_answer".into(), json!("5"));
        let e = Endpoint {
            model: "gemma".into(),
            ..Endpoint::default()
        };
        let r = generated_record(
            &like,
            "  2 + 3 = 6\nThe answer is 6.\n",
            Some("length"),
            &e,
            "q1-gen-1".into(),
            "2026-12-03T05:00:00Z",
        )
        .unwrap();
        assert_eq!(
            (r.question_id.as_deref(), r.answer.as_deref()),
            (Some("q1"), Some("6"))
        );
        assert_eq!(r.cot, "2 + 3 = 6\nThe answer is 6.");
        assert_eq!(r.meta["source"], "generated");
        assert_eq!(r.meta["model"], "gemma");
        assert_eq!(r.meta["gold_answer"], "5");
        assert_eq!(r.meta["sampling"]["temperature"], 0.8);
        // the server stopped it at its token limit: cleaning calls it cut off
        assert_eq!(r.meta["finish_reason"], "length");
        let why = crate::core::clean::broken::reasons(
            &r,
            &crate::core::clean::text::text_word_hashes(&r.cot),
            true,
            &Default::default(),
        );
        assert!(why.contains(&crate::core::clean::broken::Reason::CutOff));
        assert_eq!(r.is_correct, None);
        assert!(generated_record(&like, " \n ", None, &e, "x".into(), "t").is_none());
        // a chat record's system prompt is asked under and kept
        let mut chat = record("c1", "What is 1 + 1?", "1 + 1 = 2");
        chat.meta.insert(
            "messages".into(),
            json!([{"role": "system", "content": "Answer in French."},
                   {"role": "user", "content": "What is 1 + 1?"},
                   {"role": "assistant", "content": "1 + 1 = 2"}]),
        );
        assert_eq!(system_prompt(&chat).as_deref(), Some("Answer in French."));
        assert_eq!(system_prompt(&like), None);
        let g = generated_record(&chat, "Deux.", Some("stop"), &e, "c1-gen1".into(), "t").unwrap();
        assert_eq!(g.meta["system"], "Answer in French.");
        assert_eq!(system_prompt(&g).as_deref(), Some("Answer in French."));
    }

    #[test]
    fn gave_up_cots_are_summarised_most_frequent_first() {
        let cut = GaveUp::Cut;
        let empty = GaveUp::Empty { twice: true };
        let ctx = GaveUp::Context("too long".into());
        assert_eq!(summarise(&[]), "");
        assert_eq!(
            summarise(&[
                ctx.clone(),
                empty.clone(),
                cut.clone(),
                empty.clone(),
                empty,
                cut
            ]),
            "empty completion (twice) ×3; the stream was cut before its end (twice) ×2; too long"
        );
        assert_eq!(
            GaveUp::Empty { twice: false }.to_string(),
            "empty completion"
        );
        let e = Endpoint::default();
        assert!(GenError::TimedOut(600).message(&e).contains("within 600 s"));
        assert!(GenError::TimedOut(1).retryable() && !GenError::Aborted.retryable());
    }
}
