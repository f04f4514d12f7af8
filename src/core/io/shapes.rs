//! The shapes fine-tuning data comes in, read as records: chat `messages` (OpenAI / TRL),
//! ShareGPT `conversations`, Alpaca (`instruction`, `input`, `output`) and TRL
//! `prompt` / `completion` (strings or message lists). The last user turn is the question,
//! the last assistant turn the CoT; a `<think>…</think>` block or a `reasoning_content`
//! field is the CoT, and the text after it is where the final answer is looked for
//! (`\boxed{…}` counts). The original fields stay in the record (`meta`), untouched.

use serde_json::{Map, Value};

use crate::core::signals::signature::answer;

/// A record read from a training shape.
#[derive(Debug, Clone, PartialEq)]
pub struct FromShape {
    /// Which shape it was: `messages`, `conversations`, `alpaca`, `prompt/completion`.
    pub shape: &'static str,
    /// The question (the last user turn, or instruction + input).
    pub question: String,
    /// The CoT.
    pub cot: String,
    /// The final answer found after a reasoning block, normalised (its key).
    pub answer: Option<String>,
}

/// A problem with a training shape: the field and what is wrong.
pub type Problem = (&'static str, String);

/// Reads `obj` as one of the training shapes; `Ok(None)` when it is none of them.
pub fn read(obj: &Map<String, Value>) -> Result<Option<FromShape>, Problem> {
    if let Some(m) = obj.get("messages") {
        let turns = turns("messages", m, "role", "content")?;
        return from_turns("messages", "messages", &turns).map(Some);
    }
    if let Some(c) = obj.get("conversations") {
        let turns = turns("conversations", c, "from", "value")?;
        return from_turns("conversations", "conversations", &turns).map(Some);
    }
    if let (Some(i), Some(o)) = (obj.get("instruction"), obj.get("output")) {
        let instruction = text("instruction", i)?;
        let input = match obj.get("input") {
            None | Some(Value::Null) => String::new(),
            Some(v) => text("input", v)?,
        };
        let question = if input.trim().is_empty() {
            instruction
        } else {
            format!("{instruction}\n\n{input}")
        };
        let (cot, answer) = split_reasoning(&text("output", o)?, None);
        return Ok(Some(FromShape {
            shape: "alpaca",
            question,
            cot,
            answer,
        }));
    }
    if let (Some(p), Some(c)) = (obj.get("prompt"), obj.get("completion")) {
        let question = match p {
            Value::String(s) => s.clone(),
            v => {
                let t = turns("prompt", v, "role", "content")?;
                t.iter()
                    .rev()
                    .find(|t| is_user(&t.role))
                    .map(|t| t.content.clone())
                    .ok_or(("prompt", "has no user turn".to_string()))?
            }
        };
        let (cot, answer) = match c {
            Value::String(s) => split_reasoning(s, None),
            v => {
                let t = turns("completion", v, "role", "content")?;
                let last = t
                    .iter()
                    .rev()
                    .find(|t| is_assistant(&t.role))
                    .ok_or(("completion", "has no assistant turn".to_string()))?;
                split_reasoning(&last.content, last.reasoning.as_deref())
            }
        };
        return Ok(Some(FromShape {
            shape: "prompt/completion",
            question,
            cot,
            answer,
        }));
    }
    Ok(None)
}

/// Whether `obj` has the fields of one of the training shapes [`read`] knows.
pub fn is_shape(obj: &Map<String, Value>) -> bool {
    obj.contains_key("messages")
        || obj.contains_key("conversations")
        || (obj.contains_key("instruction") && obj.contains_key("output"))
        || (obj.contains_key("prompt") && obj.contains_key("completion"))
}

/// A record's conversation as its file had it, for export: the turns before the CoT's reply
/// (system prompt, earlier turns, the question) with roles `system` / `user` / `assistant`,
/// and the reply itself (a separate `reasoning_content` put back as a `<think>` block).
/// `None` when the record came from no training shape, or its turns cannot be read.
pub fn conversation(meta: &Map<String, Value>) -> Option<(Vec<(String, String)>, String)> {
    let role = |r: &str| -> String {
        match r {
            "human" | "user" => "user",
            "gpt" | "model" | "bot" | "assistant" => "assistant",
            "system" => "system",
            other => other,
        }
        .to_string()
    };
    let reply_of = |t: &Turn| match &t.reasoning {
        Some(r) if !r.trim().is_empty() => {
            format!("<think>\n{}\n</think>\n\n{}", r.trim(), t.content)
        }
        _ => t.content.clone(),
    };
    let system = meta
        .get("system")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(|s| ("system".to_string(), s.to_string()));
    let from_list = |t: Vec<Turn>| {
        let a = t.iter().rposition(|t| is_assistant(&t.role))?;
        let mut ctx: Vec<(String, String)> = system.clone().into_iter().collect();
        ctx.extend(t[..a].iter().map(|t| (role(&t.role), t.content.clone())));
        Some((ctx, reply_of(&t[a])))
    };
    if let Some(m) = meta.get("messages") {
        return from_list(turns("messages", m, "role", "content").ok()?);
    }
    if let Some(c) = meta.get("conversations") {
        return from_list(turns("conversations", c, "from", "value").ok()?);
    }
    if let (Some(i), Some(o)) = (meta.get("instruction"), meta.get("output")) {
        let mut q = text("instruction", i).ok()?;
        if let Some(inp) = meta.get("input").and_then(Value::as_str) {
            if !inp.trim().is_empty() {
                q = format!("{q}\n\n{inp}");
            }
        }
        let mut ctx: Vec<(String, String)> = system.into_iter().collect();
        ctx.push(("user".into(), q));
        return Some((ctx, text("output", o).ok()?));
    }
    if let (Some(p), Some(c)) = (meta.get("prompt"), meta.get("completion")) {
        let mut ctx: Vec<(String, String)> = system.into_iter().collect();
        match p {
            Value::String(s) => ctx.push(("user".into(), s.clone())),
            v => ctx.extend(
                turns("prompt", v, "role", "content")
                    .ok()?
                    .iter()
                    .map(|t| (role(&t.role), t.content.clone())),
            ),
        }
        let reply = match c {
            Value::String(s) => s.clone(),
            v => {
                let t = turns("completion", v, "role", "content").ok()?;
                reply_of(t.iter().rev().find(|t| is_assistant(&t.role))?)
            }
        };
        return Some((ctx, reply));
    }
    None
}

struct Turn {
    role: String,
    content: String,
    reasoning: Option<String>,
}

fn is_user(role: &str) -> bool {
    matches!(role, "user" | "human")
}

fn is_assistant(role: &str) -> bool {
    matches!(role, "assistant" | "gpt" | "model" | "bot")
}

/// Text of a field: a string, or a list of `{type: "text", text}` parts (joined).
fn text(field: &'static str, v: &Value) -> Result<String, Problem> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => parts
            .iter()
            .map(|p| match p {
                Value::String(s) => Ok(s.as_str()),
                Value::Object(o) => o
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or((field, "has a content part without `text`".to_string())),
                _ => Err((field, "has a content part that is not text".to_string())),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|p| p.join("")),
        _ => Err((field, "must be text".to_string())),
    }
}

/// The turns of a message list, with the given role and content keys.
fn turns(field: &'static str, v: &Value, role: &str, content: &str) -> Result<Vec<Turn>, Problem> {
    let Value::Array(items) = v else {
        return Err((field, "must be a list of turns".to_string()));
    };
    items
        .iter()
        .enumerate()
        .map(|(k, item)| {
            let Value::Object(o) = item else {
                return Err((field, format!("turn {k} is not an object")));
            };
            let r = o
                .get(role)
                .and_then(Value::as_str)
                .ok_or((field, format!("turn {k} has no `{role}`")))?;
            let c = match o.get(content) {
                None | Some(Value::Null) => String::new(),
                Some(v) => text(field, v)?,
            };
            let reasoning = o
                .get("reasoning_content")
                .and_then(Value::as_str)
                .map(str::to_string);
            Ok(Turn {
                role: r.to_ascii_lowercase(),
                content: c,
                reasoning,
            })
        })
        .collect()
}

fn from_turns(shape: &'static str, field: &'static str, t: &[Turn]) -> Result<FromShape, Problem> {
    let a = t
        .iter()
        .rposition(|t| is_assistant(&t.role))
        .ok_or((field, "has no assistant turn (the CoT)".to_string()))?;
    let question = t[..a]
        .iter()
        .rev()
        .find(|t| is_user(&t.role))
        .map(|t| t.content.clone())
        .ok_or((
            field,
            "has no user turn before the last assistant turn".to_string(),
        ))?;
    let (cot, answer) = split_reasoning(&t[a].content, t[a].reasoning.as_deref());
    Ok(FromShape {
        shape,
        question,
        cot,
        answer,
    })
}

/// The CoT and the final answer of an assistant reply: a `reasoning_content` or a
/// `<think>…</think>` block is the CoT and the answer is looked for after it; otherwise the
/// whole reply is the CoT (its answer is found later, like any CoT's) unless it ends on a
/// `\boxed{…}`.
fn split_reasoning(reply: &str, reasoning: Option<&str>) -> (String, Option<String>) {
    let (cot, after) = match (reasoning, reply.find("<think>"), reply.find("</think>")) {
        (Some(r), _, _) if !r.trim().is_empty() => (r.trim().to_string(), reply),
        (_, open, Some(close)) if open.is_none_or(|o| o < close) => {
            let start = open.map_or(0, |o| o + "<think>".len());
            (
                reply[start..close].trim().to_string(),
                &reply[close + "</think>".len()..],
            )
        }
        _ => return (reply.to_string(), boxed(reply)),
    };
    let answer = boxed(after).or_else(|| answer::find_in_text(after).map(|a| a.key()));
    (cot, answer)
}

/// The key of the last `\boxed{…}` answer in `text`, if any.
fn boxed(text: &str) -> Option<String> {
    text.contains("\\boxed")
        .then(|| answer::normalize_reference(&text[text.rfind("\\boxed")?..]))
        .flatten()
        .map(|a| a.key())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read_json(v: Value) -> Result<Option<FromShape>, Problem> {
        read(v.as_object().expect("an object"))
    }

    #[test]
    fn every_shape() {
        let cases = [
            json!({"messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "What is 2+3?"},
                {"role": "assistant", "content": "2 + 3 = 5. The answer is 5."}]}),
            json!({"conversations": [
                {"from": "human", "value": "What is 2+3?"},
                {"from": "gpt", "value": "2 + 3 = 5. The answer is 5."}]}),
            json!({"instruction": "What is 2+3?", "input": "", "output": "2 + 3 = 5. The answer is 5."}),
            json!({"prompt": "What is 2+3?", "completion": "2 + 3 = 5. The answer is 5."}),
            json!({"prompt": [{"role": "user", "content": "What is 2+3?"}],
                   "completion": [{"role": "assistant", "content": "2 + 3 = 5. The answer is 5."}]}),
        ];
        for c in cases {
            let r = read_json(c.clone())
                .unwrap()
                .unwrap_or_else(|| panic!("{c}"));
            assert_eq!(r.question, "What is 2+3?", "{c}");
            assert_eq!(r.cot, "2 + 3 = 5. The answer is 5.", "{c}");
        }
        let alpaca = read_json(json!({"instruction": "Add.", "input": "2 and 3", "output": "5"}));
        assert_eq!(alpaca.unwrap().unwrap().question, "Add.\n\n2 and 3");
        assert_eq!(read_json(json!({"text": "hello"})), Ok(None));
    }

    #[test]
    fn reasoning_blocks_are_the_cot_and_the_answer_follows() {
        let r = read_json(json!({"messages": [
            {"role": "user", "content": "What is 2+3?"},
            {"role": "assistant", "content": "<think>2 + 3 = 5</think>\nSo the sum is \\boxed{5}."}]}))
        .unwrap()
        .unwrap();
        assert_eq!(
            (r.cot.as_str(), r.answer.as_deref()),
            ("2 + 3 = 5", Some("5"))
        );
        let r = read_json(json!({"messages": [
            {"role": "user", "content": "Is 4 even?"},
            {"role": "assistant", "content": "Yes.", "reasoning_content": "4 = 2 * 2"}]}))
        .unwrap()
        .unwrap();
        assert_eq!(
            (r.cot.as_str(), r.answer.as_deref()),
            ("4 = 2 * 2", Some("yes"))
        );
        // a reply ending on \boxed{} keeps its text as the CoT and the box as its answer
        let r = read_json(json!({"prompt": "q", "completion": "6 * 7 = 42, so \\boxed{42}"}));
        assert_eq!(r.unwrap().unwrap().answer.as_deref(), Some("42"));
    }

    #[test]
    fn conversations_come_back_for_export() {
        let meta = json!({"messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "What is 2+3?"},
            {"role": "assistant", "content": "5.", "reasoning_content": "2 + 3 = 5"}]});
        let (ctx, reply) = conversation(meta.as_object().unwrap()).unwrap();
        let roles: Vec<&str> = ctx.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "user"]);
        assert_eq!(reply, "<think>\n2 + 3 = 5\n</think>\n\n5.");
        let sharegpt = json!({"system": "S", "conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "r"}]});
        let (ctx, reply) = conversation(sharegpt.as_object().unwrap()).unwrap();
        assert_eq!(
            ctx,
            vec![("system".into(), "S".into()), ("user".into(), "q".into())]
        );
        assert_eq!(reply, "r");
        let alpaca = json!({"instruction": "Add.", "input": "2 and 3", "output": "5"});
        let (ctx, reply) = conversation(alpaca.as_object().unwrap()).unwrap();
        assert_eq!(
            (ctx[0].1.as_str(), reply.as_str()),
            ("Add.\n\n2 and 3", "5")
        );
        assert_eq!(conversation(json!({"other": 1}).as_object().unwrap()), None);
    }

    #[test]
    fn broken_shapes_name_the_field() {
        let no_assistant = read_json(json!({"messages": [{"role": "user", "content": "q"}]}));
        assert_eq!(
            no_assistant,
            Err(("messages", "has no assistant turn (the CoT)".to_string()))
        );
        let not_list = read_json(json!({"conversations": "hi"}));
        assert_eq!(not_list.unwrap_err().0, "conversations");
        let no_role = read_json(json!({"messages": [{"content": "q"}]}));
        assert_eq!(
            no_role,
            Err(("messages", "turn 0 has no `role`".to_string()))
        );
        let bad_output = read_json(json!({"instruction": "q", "output": 5}));
        assert_eq!(
            bad_output.unwrap_err(),
            ("output", "must be text".to_string())
        );
    }
}
