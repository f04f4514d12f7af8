//! The person's own model as a judge: asked per CoT whether its reasoning and final answer
//! are correct, its P(yes) read from the reply's log-probabilities (the OpenAI chat shape,
//! `logprobs.content[k].top_logprobs`, and the legacy shape of `/v1/completions` and of
//! older llama-cpp-python chat replies, `logprobs.top_logprobs[k]`), else from the sampled
//! words of a few replies. Same endpoint and privacy rules as generation
//! ([`crate::core::generate::Endpoint`]).
//!
//! A judge is only as good as the model behind it, so its say is learnt from the person's
//! labels: the CoT's log-odds become `logit(prior) + w·(logit(judge) − mean)`, with `w`
//! fitted to the human labels under a pull to 0 ([`fit`]), and **zero without labels**. A
//! useless judge gets `w ≈ 0` and changes nothing; a good one moves the labels
//! (`tests/integration/shapes.rs` simulates judges of AUROC 0.5, 0.7 and 0.9 on the domain sets).

use serde_json::{json, Value};

use crate::core::base::{logit, sigmoid};
use crate::core::generate::Endpoint;

/// The question put to the judge after the problem and the CoT.
pub const ASK: &str = "Is the reasoning above correct, and is its final answer right? Answer with one word: yes or no.";

/// The chat-completions request judging one CoT: a few tokens, no sampling, with the top
/// log-probabilities of each (a chat model may open with a newline before its yes or no).
pub fn request_body(endpoint: &Endpoint, question: &str, cot: &str) -> Value {
    json!({
        "model": endpoint.model,
        "messages": [
            {"role": "system", "content": "You check the reasoning of solutions. You answer yes or no."},
            {"role": "user", "content": prompt(question, cot)},
        ],
        "temperature": 0.0,
        "max_tokens": 4,
        "logprobs": true,
        "top_logprobs": 10,
        "stream": false,
    })
}

/// [`request_body`] for a server without log-probabilities: the answer word sampled (one
/// of a few samples, [`p_yes_of_samples`]).
pub fn sample_body(endpoint: &Endpoint, question: &str, cot: &str) -> Value {
    let mut body = request_body(endpoint, question, cot);
    body["logprobs"] = false.into();
    if let Some(o) = body.as_object_mut() {
        o.remove("top_logprobs");
    }
    body["temperature"] = 1.0.into();
    body
}

/// The problem, the CoT and [`ASK`].
fn prompt(question: &str, cot: &str) -> String {
    format!("Problem:\n{question}\n\nSolution:\n{cot}\n\n{ASK}")
}

/// The same question as a plain completion (`/v1/completions`) ending in "Answer:", for a
/// model whose chat replies carry no yes or no among their top tokens (small or base
/// models): the next token's top log-probabilities, in the legacy shape.
pub fn completion_body(endpoint: &Endpoint, question: &str, cot: &str) -> Value {
    json!({
        "model": endpoint.model,
        "prompt": format!("{}\nAnswer:", prompt(question, cot)),
        "temperature": 0.0,
        "max_tokens": 2,
        "logprobs": 10,
        "stream": false,
    })
}

/// `yes` / `no` of a token (" Yes", "no.", "YES"), or `None`.
fn yes_no(token: &str) -> Option<bool> {
    match token
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_ascii_lowercase()
        .as_str()
    {
        "yes" | "true" | "correct" => Some(true),
        "no" | "false" | "incorrect" => Some(false),
        _ => None,
    }
}

/// P(yes) among the yes/no tokens of `(token, logprob)` pairs; `None` when neither appears.
fn from_logprobs<'a>(pairs: impl Iterator<Item = (&'a str, f64)>) -> Option<f64> {
    let (mut yes, mut no) = (0.0f64, 0.0f64);
    for (t, lp) in pairs {
        match yes_no(t) {
            Some(true) => yes += lp.exp(),
            Some(false) => no += lp.exp(),
            None => {}
        }
    }
    (yes + no > 0.0).then(|| yes / (yes + no))
}

/// What a judge's reply says: P(yes) from the log-probabilities of the first position
/// whose top tokens include yes or no (OpenAI `choices[0].logprobs.content[k].top_logprobs:
/// [{token, logprob}]`, or the legacy `choices[0].logprobs.top_logprobs[k]: {token:
/// logprob}`), else 1 or 0 from the first word it answered (one sample). `None` when the
/// reply says neither yes nor no.
pub fn p_yes(reply: &Value) -> Option<f64> {
    p_yes_logprobs(reply).or_else(|| {
        let choice = reply.get("choices")?.get(0)?;
        let text = choice
            .get("message")
            .and_then(|m| m.get("content"))
            .or_else(|| choice.get("text"))?
            .as_str()?;
        let first = text.split_whitespace().next()?;
        yes_no(first).map(f64::from)
    })
}

/// [`p_yes`] from log-probabilities only.
pub fn p_yes_logprobs(reply: &Value) -> Option<f64> {
    let lp = reply.get("choices")?.get(0)?.get("logprobs")?;
    if let Some(content) = lp.get("content").and_then(Value::as_array) {
        return content.iter().find_map(|c| {
            let top = c.get("top_logprobs")?.as_array()?;
            from_logprobs(
                top.iter()
                    .filter_map(|e| Some((e.get("token")?.as_str()?, e.get("logprob")?.as_f64()?))),
            )
        });
    }
    lp.get("top_logprobs")?.as_array()?.iter().find_map(|pos| {
        let m = pos.as_object()?;
        from_logprobs(
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_f64()?))),
        )
    })
}

/// P(yes) from several sampled replies (a server without log-probabilities): the share of
/// yes among those that said yes or no, shrunk towards ½ by one pseudo-vote each way.
pub fn p_yes_of_samples(says: &[Option<bool>]) -> Option<f64> {
    let (yes, n) = says
        .iter()
        .flatten()
        .fold((0usize, 0usize), |(y, n), &s| (y + usize::from(s), n + 1));
    (n > 0).then(|| (yes as f64 + 1.0) / (n as f64 + 2.0))
}

/// The judge's weight, learnt from the human labels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JudgeFit {
    /// Weight of the judge's centred log-odds.
    pub weight: f64,
    /// Its posterior variance (the prediction is moderated by it).
    pub variance: f64,
    /// The judge's mean log-odds over every judged CoT (its centre).
    pub centre: f64,
    /// Human labels on judged CoTs it was fitted on.
    pub labels: usize,
}

impl JudgeFit {
    /// No say: weight 0, nothing learnt.
    pub const NONE: Self = Self {
        weight: 0.0,
        variance: 0.0,
        centre: 0.0,
        labels: 0,
    };

    /// A CoT's P(sound) from its `prior` and its judge's P(yes) (`None`: not judged).
    pub fn combine(&self, prior: f64, judge: Option<f64>) -> f64 {
        let Some(j) = judge else { return prior };
        let x = logit(j.clamp(1e-4, 1.0 - 1e-4)) - self.centre;
        let m = logit(prior) + self.weight * x;
        let v = self.variance * x * x;
        sigmoid(m / (1.0 + std::f64::consts::PI * v / 8.0).sqrt())
    }
}

/// Precision of the pull of the weight to 0 (labels' worth: a judge has to earn its say).
pub const PULL: f64 = 2.0;

/// Fits the judge's weight to the human labels: `y ~ σ(logit(prior) + w·x)`, `x` the
/// judge's centred log-odds, `w ~ N(0, 1/PULL)` (MAP by damped Newton; Laplace variance).
/// No label on a judged CoT: [`JudgeFit::NONE`] with its centre.
pub fn fit(prior: &[f64], judge: &[Option<f64>], human: &[Option<bool>]) -> JudgeFit {
    let xs: Vec<f64> = judge
        .iter()
        .flatten()
        .map(|j| logit(j.clamp(1e-4, 1.0 - 1e-4)))
        .collect();
    if xs.is_empty() {
        return JudgeFit::NONE;
    }
    let centre = xs.iter().sum::<f64>() / xs.len() as f64;
    let data: Vec<(f64, f64, f64)> = (0..prior.len())
        .filter_map(|i| {
            let (j, y) = (
                judge.get(i).copied().flatten()?,
                human.get(i).copied().flatten()?,
            );
            Some((
                logit(prior[i]),
                logit(j.clamp(1e-4, 1.0 - 1e-4)) - centre,
                f64::from(y),
            ))
        })
        .collect();
    if data.is_empty() {
        return JudgeFit {
            centre,
            ..JudgeFit::NONE
        };
    }
    let objective = |w: f64| -> f64 {
        data.iter()
            .map(|&(z, x, y)| {
                let p = sigmoid(z + w * x).clamp(1e-12, 1.0 - 1e-12);
                -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
            })
            .sum::<f64>()
            + 0.5 * PULL * w * w
    };
    let mut w = 0.0f64;
    let mut h = PULL;
    for _ in 0..100 {
        let (mut g, mut hh) = (PULL * w, PULL);
        for &(z, x, y) in &data {
            let p = sigmoid(z + w * x);
            g += (p - y) * x;
            hh += p * (1.0 - p) * x * x;
        }
        h = hh;
        let step = g / hh;
        let before = objective(w);
        let tolerance = 1e-9 * (1.0 + before.abs());
        let mut t = 1.0;
        while t > 1e-6 && objective(w - t * step) > before + tolerance {
            t /= 2.0;
        }
        w -= t * step;
        if step.abs() < 1e-10 {
            break;
        }
    }
    JudgeFit {
        weight: w,
        variance: 1.0 / h,
        centre,
        labels: data.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_yes_reads_both_logprob_shapes_and_plain_words() {
        // OpenAI chat completions
        let openai = json!({"choices": [{"message": {"content": "Yes"}, "logprobs": {"content": [
            {"token": "Yes", "logprob": -0.2231, "top_logprobs": [
                {"token": "Yes", "logprob": (0.6f64).ln()},
                {"token": " no", "logprob": (0.2f64).ln()},
                {"token": "Maybe", "logprob": (0.2f64).ln()}]}]}}]});
        assert!((p_yes(&openai).unwrap() - 0.75).abs() < 1e-9);
        // legacy (older llama-cpp-python): a map per position
        let legacy = json!({"choices": [{"text": "no", "logprobs": {"tokens": ["no"],
            "top_logprobs": [{"no": (0.9f64).ln(), "yes": (0.1f64).ln(), "the": -5.0}]}}]});
        assert!((p_yes(&legacy).unwrap() - 0.1).abs() < 1e-9);
        // a chat model that opens with a newline: the first position with yes or no counts
        let late = json!({"choices": [{"logprobs": {"content": [
            {"token": "\n", "logprob": -0.1, "top_logprobs": [{"token": "\n", "logprob": -0.1}]},
            {"token": "No", "logprob": -0.5, "top_logprobs": [
                {"token": "No", "logprob": (0.8f64).ln()}, {"token": "Yes", "logprob": (0.2f64).ln()}]}]}}]});
        assert!((p_yes(&late).unwrap() - 0.2).abs() < 1e-9);
        // (llama-cpp-python's /v1/completions, measured: " yes" -1.12, " Yes" -1.98, " No" -2.69 …)
        let measured = json!({"choices": [{"text": " yes.", "logprobs": {"tokens": [" yes", "."],
            "top_logprobs": [{" yes": -1.119872808456421, " Yes": -1.9801042079925537, " ": -2.2217023372650146,
                              " No": -2.686582326889038, " no": -2.8362443447113037, " YES": -3.134155035018921,
                              " NO": -4.663312911987305}, {".": -1.12}]}}]});
        let (y, n) = (
            (-1.119872808456421f64).exp()
                + (-1.9801042079925537f64).exp()
                + (-3.134155035018921f64).exp(),
            (-2.686582326889038f64).exp()
                + (-2.8362443447113037f64).exp()
                + (-4.663312911987305f64).exp(),
        );
        assert!((p_yes(&measured).unwrap() - y / (y + n)).abs() < 1e-12);
        // no log-probabilities: the word, one sample
        let plain = json!({"choices": [{"message": {"content": "No, the answer is wrong."}}]});
        assert_eq!(p_yes(&plain), Some(0.0));
        let neither = json!({"choices": [{"message": {"content": "Perhaps"}}]});
        assert_eq!(p_yes(&neither), None);
        assert_eq!(p_yes(&json!({"error": "x"})), None);
        assert_eq!(
            p_yes_of_samples(&[Some(true), Some(true), None, Some(false)]),
            Some(0.6)
        );
        assert_eq!(p_yes_of_samples(&[None]), None);
    }

    #[test]
    fn the_request_asks_for_one_token_with_logprobs() {
        let e = Endpoint {
            base_url: "http://127.0.0.1:8080/v1".into(),
            model: "gemma".into(),
            temperature: 0.7,
            max_tokens: 256,
            template: "{question}".into(),
        };
        let b = request_body(&e, "Q?", "step 1");
        assert_eq!(b["max_tokens"], 4);
        assert_eq!(b["logprobs"], true);
        let s = sample_body(&e, "Q?", "step 1");
        assert_eq!(
            (s["logprobs"].clone(), s.get("top_logprobs")),
            (json!(false), None)
        );
        assert_eq!(s["messages"], b["messages"]);
        let c = completion_body(&e, "Q?", "step 1");
        assert_eq!(c["logprobs"], 10);
        assert!(c["prompt"]
            .as_str()
            .unwrap()
            .ends_with("yes or no.\nAnswer:"));
        assert_eq!(b["model"], "gemma");
        let user = b["messages"][1]["content"].as_str().unwrap();
        assert!(user.contains("Q?") && user.contains("step 1") && user.ends_with(ASK));
    }

    #[test]
    fn a_judge_has_no_say_without_labels_and_earns_it_with_them() {
        let n = 200;
        let truth: Vec<bool> = (0..n).map(|i| i % 3 != 0).collect();
        let prior = vec![0.6; n];
        // a perfect judge and a useless one (the same score for every CoT's pair)
        let good: Vec<Option<f64>> = truth
            .iter()
            .map(|&t| Some(if t { 0.9 } else { 0.1 }))
            .collect();
        let useless: Vec<Option<f64>> = (0..n)
            .map(|i| Some(if i % 2 == 0 { 0.9 } else { 0.1 }))
            .collect();
        let none = vec![None; n];
        let f = fit(&prior, &good, &none);
        assert_eq!(f.weight, 0.0);
        assert_eq!(f.combine(0.6, Some(0.9)), 0.6);
        let human: Vec<Option<bool>> = (0..n).map(|i| (i < 30).then_some(truth[i])).collect();
        let f = fit(&prior, &good, &human);
        assert!(f.weight > 0.5, "{f:?}");
        assert!(
            f.combine(0.6, Some(0.9)) > 0.8 && f.combine(0.6, Some(0.1)) < 0.3,
            "{f:?}"
        );
        let f = fit(&prior, &useless, &human);
        assert!(f.weight.abs() < 0.3, "{f:?}");
        // a CoT the judge did not see keeps its prior
        assert_eq!(f.combine(0.6, None), 0.6);
    }
}
