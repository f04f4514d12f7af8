//! The column mapping: which field of a person's file is the question, the CoT, the answer…
//!
//! When a records file names neither `question` nor a CoT field and is none of the training
//! shapes ([`crate::core::io::shapes`]), the import stops with
//! [`crate::core::io::error::ImportError::Unmapped`] carrying a [`Survey`] of its fields (with sample values) and a proposed [`Mapping`]. The page shows
//! it, the person adjusts it, and the import runs again with the mapping: each mapped field
//! is read as its target, every other field stays in the record as it was. A mapping is a
//! small JSON file (`{"format": "cotlabel-mapping", "version": 1, "fields": {…}}`), so a
//! pipeline can repeat it; the page remembers it per set of field names ([`Survey::key`]).
//! Reading a mapping file (`Mapping::parse`) is part of the import
//! ([`crate::core::io::import`]), which owns the errors: this module names none.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The fields a mapping can fill, in the order the page shows them.
pub const TARGETS: [&str; 7] = [
    "question",
    "cot",
    "answer",
    "question_id",
    "reference_answer",
    "is_correct",
    "id",
];

/// Names that usually mean each target (lower case, compared without `_`, `-` and spaces),
/// in order of preference.
const SYNONYMS: [(&str, &[&str]); 7] = [
    (
        "question",
        &[
            "question",
            "problem",
            "prompt",
            "query",
            "instruction",
            "input",
            "task",
            "text",
            "q",
        ],
    ),
    (
        "cot",
        &[
            "cot",
            "reasoning",
            "solution",
            "chainofthought",
            "rationale",
            "response",
            "generatedsolution",
            "generation",
            "output",
            "completion",
            "modeloutput",
            "trace",
            "thinking",
            "explanation",
        ],
    ),
    (
        "answer",
        &[
            "answer",
            "finalanswer",
            "prediction",
            "predictedanswer",
            "modelanswer",
            "pred",
        ],
    ),
    (
        "question_id",
        &[
            "questionid",
            "qid",
            "problemid",
            "promptid",
            "taskid",
            "uid",
            "group",
            "groupid",
        ],
    ),
    (
        "reference_answer",
        &[
            "referenceanswer",
            "goldanswer",
            "groundtruth",
            "expectedanswer",
            "gold",
            "target",
            "reference",
            "correctanswer",
            "label",
            "groundtruthanswer",
        ],
    ),
    (
        "is_correct",
        &[
            "iscorrect",
            "correct",
            "iscorrectanswer",
            "accurate",
            "reward",
            "score",
        ],
    ),
    (
        "id",
        &["id", "recordid", "sampleid", "rowid", "idx", "index", "key"],
    ),
];

/// What a person decided: target → the file's field that holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    /// Always `cotlabel-mapping`.
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Target (one of [`TARGETS`]) → source field.
    pub fields: std::collections::BTreeMap<String, String>,
}

/// One field of a file, as the mapping step shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldInfo {
    /// Its name.
    pub name: String,
    /// JSON kind of its first non-null value: `text`, `number`, `bool`, `list`, `object`.
    pub kind: String,
    /// Up to three sample values, shortened.
    pub samples: Vec<String>,
}

/// The fields of a records file, in first-seen order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Survey {
    /// The file.
    pub file: String,
    /// Its fields.
    pub fields: Vec<FieldInfo>,
    /// A proposal from the names and values.
    pub proposed: Mapping,
}

fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "text",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

impl Survey {
    /// Surveys the first `objects` (up to 200 are looked at).
    pub fn of<'a>(file: &str, objects: impl Iterator<Item = &'a Map<String, Value>>) -> Self {
        let mut fields: Vec<FieldInfo> = Vec::new();
        for obj in objects.take(200) {
            for (k, v) in obj {
                let i = match fields.iter().position(|f| &f.name == k) {
                    Some(i) => i,
                    None => {
                        fields.push(FieldInfo {
                            name: k.clone(),
                            kind: "null".into(),
                            samples: Vec::new(),
                        });
                        fields.len() - 1
                    }
                };
                let f = &mut fields[i];
                if !v.is_null() {
                    if f.kind == "null" {
                        f.kind = kind(v).into();
                    }
                    if f.samples.len() < 3 {
                        f.samples.push(short(v));
                    }
                }
            }
        }
        let proposed = propose(&fields);
        Self {
            file: file.to_string(),
            fields,
            proposed,
        }
    }

    /// The key the page remembers a mapping under: the sorted field names.
    pub fn key(&self) -> String {
        field_set_key(self.fields.iter().map(|f| f.name.as_str()))
    }
}

/// The sorted, `\u{1f}`-joined names of a set of fields.
pub fn field_set_key<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut v: Vec<&str> = names.collect();
    v.sort_unstable();
    v.dedup();
    v.join("\u{1f}")
}

/// Proposes a mapping: each target takes the best-named unused field of a fitting kind
/// (text for question and CoT; the CoT is the longer of two text candidates).
pub fn propose(fields: &[FieldInfo]) -> Mapping {
    let mut m = Mapping::new();
    let mut used: Vec<&str> = Vec::new();
    let fits = |target: &str, f: &FieldInfo| match target {
        "question" | "cot" | "answer" | "question_id" | "id" => {
            matches!(f.kind.as_str(), "text" | "number" | "null")
        }
        "reference_answer" => matches!(f.kind.as_str(), "text" | "number"),
        "is_correct" => matches!(f.kind.as_str(), "bool" | "number" | "text"),
        _ => false,
    };
    for (target, names) in SYNONYMS {
        let best = names.iter().find_map(|n| {
            fields.iter().find(|f| {
                &squash(&f.name) == n && !used.contains(&f.name.as_str()) && fits(target, f)
            })
        });
        if let Some(f) = best {
            used.push(&f.name);
            m.fields.insert(target.to_string(), f.name.clone());
        }
    }
    // No CoT by name: the text field with the longest samples that is not already used.
    if !m.fields.contains_key("cot") {
        let len = |f: &FieldInfo| f.samples.iter().map(|s| s.chars().count()).sum::<usize>();
        if let Some(f) = fields
            .iter()
            .filter(|f| f.kind == "text" && !used.contains(&f.name.as_str()))
            .max_by_key(|f| len(f))
        {
            m.fields.insert("cot".into(), f.name.clone());
        }
    }
    m
}

impl Mapping {
    /// An empty mapping.
    pub fn new() -> Self {
        Self {
            format: "cotlabel-mapping".into(),
            version: 1,
            fields: Default::default(),
        }
    }

    /// The mapping as its JSON file.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a mapping serialises")
    }

    /// Checks targets, empty names and fields used twice.
    pub fn check(&self) -> Result<(), String> {
        let mut seen: Vec<&str> = Vec::new();
        for (t, f) in &self.fields {
            if !TARGETS.contains(&t.as_str()) {
                return Err(format!(
                    "`{t}` is not a field cotlabel reads (it reads {})",
                    TARGETS.join(", ")
                ));
            }
            if f.is_empty() {
                return Err(format!("`{t}` maps to an empty field name"));
            }
            if seen.contains(&f.as_str()) {
                return Err(format!("field `{f}` is mapped to two targets"));
            }
            seen.push(f);
        }
        for required in ["question", "cot"] {
            if !self.fields.contains_key(required) {
                return Err(format!("nothing is mapped to `{required}`"));
            }
        }
        Ok(())
    }

    /// Renames the mapped fields of `obj` to their targets. A field already named as a
    /// target that another field is mapped to is kept under `original_<name>`, so nothing
    /// is lost. A mapped field the object lacks leaves its target absent.
    pub fn apply(&self, obj: &mut Map<String, Value>) {
        // Move the sources out first, so swaps (a ↔ b) work.
        let taken: Vec<(String, Option<Value>)> = self
            .fields
            .iter()
            .filter(|(t, f)| t != f)
            .map(|(t, f)| (t.clone(), obj.shift_remove(f)))
            .collect();
        for (target, value) in taken {
            if let Some(old) = obj.shift_remove(&target) {
                obj.insert(format!("original_{target}"), old);
            }
            if let Some(v) = value {
                obj.insert(target, v);
            }
        }
    }
}

/// Whether `obj` is read without a mapping: it names a question or a CoT (or an alias; a
/// missing one is then reported by line), or is one of the training shapes.
pub fn readable(obj: &Map<String, Value>) -> bool {
    obj.contains_key("question")
        || crate::core::data::COT_ALIASES
            .iter()
            .any(|k| obj.contains_key(*k))
        || crate::core::io::shapes::is_shape(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn proposes_by_name_and_length() {
        let rows = [
            obj(
                json!({"problem_id": 3, "problem": "What is 2+2?", "generated_solution": "2+2=4. The answer is 4.", "expected_answer": "4", "correct": true}),
            ),
            obj(
                json!({"problem_id": 4, "problem": "What is 3+3?", "generated_solution": "3+3=6.", "expected_answer": "6", "correct": false}),
            ),
        ];
        let s = Survey::of("f.jsonl", rows.iter());
        let f = &s.proposed.fields;
        assert_eq!(f["question"], "problem");
        assert_eq!(f["cot"], "generated_solution");
        assert_eq!(f["question_id"], "problem_id");
        assert_eq!(f["reference_answer"], "expected_answer");
        assert_eq!(f["is_correct"], "correct");
        assert!(s.proposed.check().is_ok());
        assert_eq!(s.fields[1].samples, vec!["What is 2+2?", "What is 3+3?"]);
        assert_eq!(
            s.key(),
            "correct\u{1f}expected_answer\u{1f}generated_solution\u{1f}problem\u{1f}problem_id"
        );
    }

    #[test]
    fn the_longest_text_is_the_cot_when_no_name_says_so() {
        let rows = [obj(
            json!({"q": "short?", "body": "a much longer text that reasons", "n": 1}),
        )];
        let m = Survey::of("f", rows.iter()).proposed;
        assert_eq!(m.fields["question"], "q");
        assert_eq!(m.fields["cot"], "body");
    }

    #[test]
    fn apply_renames_keeps_the_rest_and_swaps() {
        let mut m = Mapping::new();
        m.fields.insert("question".into(), "cot".into());
        m.fields.insert("cot".into(), "question".into());
        let mut o = obj(json!({"question": "R", "cot": "Q", "extra": 1}));
        m.apply(&mut o);
        assert_eq!(o["question"], "Q");
        assert_eq!(o["cot"], "R");
        assert_eq!(o["extra"], 1);
        assert!(!o.contains_key("original_question"));

        let mut m = Mapping::new();
        m.fields.insert("id".into(), "uid".into());
        let mut o = obj(json!({"id": 7, "uid": "a"}));
        m.apply(&mut o);
        assert_eq!(o["id"], "a");
        assert_eq!(o["original_id"], 7);
    }

    #[test]
    fn mapping_files_round_trip_and_bad_ones_say_why() {
        let mut m = Mapping::new();
        m.fields.insert("question".into(), "p".into());
        m.fields.insert("cot".into(), "r".into());
        assert_eq!(Mapping::parse("m.json", &m.to_json()).unwrap(), m);
        for (text, says) in [
            (
                r#"{"format":"x","version":1,"fields":{}}"#,
                "not `cotlabel-mapping`",
            ),
            (
                r#"{"format":"cotlabel-mapping","version":2,"fields":{}}"#,
                "version 2",
            ),
            (
                r#"{"format":"cotlabel-mapping","version":1,"fields":{"question":"a","cot":"a"}}"#,
                "two targets",
            ),
            (
                r#"{"format":"cotlabel-mapping","version":1,"fields":{"question":"a","speed":"b"}}"#,
                "`speed`",
            ),
            (
                r#"{"format":"cotlabel-mapping","version":1,"fields":{"question":"a"}}"#,
                "`cot`",
            ),
            ("[1,2", "invalid type"),
        ] {
            let e = Mapping::parse("m.json", text).unwrap_err().to_string();
            assert!(e.starts_with("m.json") && e.contains(says), "{e}");
        }
    }
}
