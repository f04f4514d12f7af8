//! Records, embeddings and the data set (contract §1).

use rustc_hash::FxHashMap as HashMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// One chain of thought (serde: how the worker that read it hands it to the page).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Unique id (given, or `row-<n>` with n the 1-based record number).
    pub id: String,
    /// The prompt the CoT answers.
    pub question: String,
    /// The reasoning text.
    pub cot: String,
    /// The final answer the CoT reached, when given.
    pub answer: Option<String>,
    /// Groups CoTs that answer the same question.
    pub question_id: Option<String>,
    /// Ground truth, when known: for evaluation only, never a human label.
    pub is_correct: Option<bool>,
    /// Every other field of the input record, kept untouched.
    pub meta: Map<String, Value>,
}

/// The `source` of records sampled by cotlabel from the person's model.
pub const GENERATED: &str = "generated";

/// Accepted spellings of the `cot` field, in order of preference.
pub const COT_ALIASES: [&str; 4] = ["cot", "reasoning", "solution", "chain_of_thought"];

/// Fields that carry the question's known reference answer, in order of preference
/// (contract §1): not the CoT's own answer and not `is_correct`. They stay in `meta`.
pub const REFERENCE_ALIASES: [&str; 4] = [
    "reference_answer",
    "gold_answer",
    "ground_truth",
    "expected_answer",
];

impl Record {
    /// The question's reference answer: the first of [`REFERENCE_ALIASES`] that holds a
    /// non-empty text or a number. Other values (and empty text) count as absent.
    pub fn reference_answer(&self) -> Option<String> {
        REFERENCE_ALIASES
            .iter()
            .find_map(|k| match self.meta.get(*k) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
                Some(Value::Number(x)) => Some(x.to_string()),
                _ => None,
            })
    }

    /// Whether the record was sampled by cotlabel from the person's model
    /// (`source: "generated"`, [`crate::core::generate`]).
    pub fn is_generated(&self) -> bool {
        self.meta.get("source").and_then(Value::as_str) == Some(GENERATED)
    }

    /// The key that groups CoTs of one question: `question_id`, else the question text.
    pub fn group_key(&self) -> &str {
        self.question_id.as_deref().unwrap_or(&self.question)
    }

    /// The record as a JSON object in contract field names (meta fields after the known
    /// ones). Reading this object back gives the same record.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut obj = Map::new();
        obj.insert("id".into(), Value::String(self.id.clone()));
        obj.insert("question".into(), Value::String(self.question.clone()));
        obj.insert("cot".into(), Value::String(self.cot.clone()));
        if let Some(a) = &self.answer {
            obj.insert("answer".into(), Value::String(a.clone()));
        }
        if let Some(q) = &self.question_id {
            obj.insert("question_id".into(), Value::String(q.clone()));
        }
        if let Some(c) = self.is_correct {
            obj.insert("is_correct".into(), Value::Bool(c));
        }
        for (k, v) in &self.meta {
            obj.insert(k.clone(), v.clone());
        }
        obj
    }
}

/// A dense row-major matrix of embeddings: row i belongs to record i.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    rows: usize,
    dim: usize,
    data: Vec<f32>,
}

impl Embeddings {
    /// Wraps `data` (row-major, `rows × dim`). Returns `None` when the length does not match.
    pub fn new(rows: usize, dim: usize, data: Vec<f32>) -> Option<Self> {
        (rows.checked_mul(dim)? == data.len()).then_some(Self { rows, dim, data })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Length of each row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
}

/// A loaded data set: records in file order, optional embeddings, an id index and a
/// fingerprint that identifies the records (not the embeddings) across sessions.
#[derive(Debug, Clone)]
pub struct Dataset {
    name: String,
    records: Vec<Record>,
    embeddings: Option<Embeddings>,
    index: HashMap<String, usize>,
    fingerprint: String,
    revision: u64,
    /// The question groups, built on first use ([`Dataset::groups`]).
    groups: std::sync::OnceLock<super::Groups>,
}

/// Equal names, records and embeddings (the revision is not compared).
impl PartialEq for Dataset {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.records == other.records
            && self.embeddings == other.embeddings
    }
}

static REVISIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_revision() -> u64 {
    REVISIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Dataset {
    /// Builds a data set. The caller guarantees unique ids and, when given, one embedding
    /// row per record (the importer checks both and reports where they fail).
    pub fn new(
        name: impl Into<String>,
        records: Vec<Record>,
        embeddings: Option<Embeddings>,
    ) -> Self {
        debug_assert!(embeddings
            .as_ref()
            .is_none_or(|e| e.rows() == records.len()));
        let index: HashMap<String, usize> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        debug_assert_eq!(index.len(), records.len(), "ids must be unique");
        let fingerprint = fingerprint(&records);
        Self {
            name: name.into(),
            records,
            embeddings,
            index,
            fingerprint,
            revision: next_revision(),
            groups: Default::default(),
        }
    }

    /// The question groups of the records (built once, on first use).
    pub fn groups(&self) -> &super::Groups {
        self.groups
            .get_or_init(|| super::Groups::of(self.records.iter().map(Record::group_key)))
    }

    /// Different for every data set built or given new embeddings in this process, and the
    /// same for its clones: what the page keys derived state on (signatures read fields
    /// the fingerprint does not cover, such as a reference answer).
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The same records with other embeddings (or none).
    pub fn with_embeddings(&self, embeddings: Option<Embeddings>) -> Self {
        Self {
            embeddings,
            revision: next_revision(),
            ..self.clone()
        }
    }

    /// Renames the data set (its name is not part of the fingerprint).
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// Gives the records other embeddings (or none) in place: no copy of the records.
    pub fn set_embeddings(&mut self, embeddings: Option<Embeddings>) {
        debug_assert!(embeddings
            .as_ref()
            .is_none_or(|e| e.rows() == self.records.len()));
        self.embeddings = embeddings;
        self.revision = next_revision();
    }

    /// The data set with `more` generated records after its own, and their embedding rows
    /// (`rows`: one per new record, required exactly when the data set has embeddings). The
    /// fingerprint stays the same: generated records are not part of it.
    pub fn appended(&self, more: Vec<Record>, rows: Option<&[f32]>) -> Result<Dataset, String> {
        if let Some(r) = more.iter().find(|r| !r.is_generated()) {
            return Err(format!("record {} is not a generated one", r.id));
        }
        let embeddings = match (&self.embeddings, rows) {
            (None, None) => None,
            (Some(e), Some(rows)) if rows.len() == more.len() * e.dim() => {
                let mut data = Vec::with_capacity(e.as_slice().len() + rows.len());
                data.extend_from_slice(e.as_slice());
                data.extend_from_slice(rows);
                Embeddings::new(e.rows() + more.len(), e.dim(), data)
            }
            (Some(e), Some(rows)) => {
                return Err(format!(
                    "{} embedding values for {} records of {} dimensions",
                    rows.len(),
                    more.len(),
                    e.dim()
                ))
            }
            (Some(_), None) => return Err("the new records need embeddings".into()),
            (None, Some(_)) => return Err("the data set has no embeddings".into()),
        };
        let mut assembly = Assembly::default();
        assembly.reserve(self.records.len() + more.len());
        assembly.push(self.records.clone());
        assembly.push(more);
        let name = self.name.clone();
        assembly
            .finish(name, embeddings, self.fingerprint.clone())
            .ok_or_else(|| "a new record has the id of another".into())
    }

    /// The data set without the generated records `drop` names (others are kept whatever
    /// `drop` says), with their embedding rows; the same fingerprint.
    pub fn without_generated(&self, drop: &dyn Fn(&Record) -> bool) -> Dataset {
        let keep: Vec<usize> = (0..self.records.len())
            .filter(|&i| !(self.records[i].is_generated() && drop(&self.records[i])))
            .collect();
        let embeddings = self.embeddings.as_ref().map(|e| {
            let mut data = Vec::with_capacity(keep.len() * e.dim());
            for &i in &keep {
                data.extend_from_slice(e.row(i));
            }
            Embeddings::new(keep.len(), e.dim(), data).expect("rows of the same width")
        });
        let mut assembly = Assembly::default();
        assembly.push(keep.iter().map(|&i| self.records[i].clone()).collect());
        assembly
            .finish(self.name.clone(), embeddings, self.fingerprint.clone())
            .expect("ids stay unique")
    }

    /// The same data set under another display name.
    pub fn renamed(self, name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..self
        }
    }

    /// Display name (the records file's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The records, in file order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The embeddings, when loaded.
    pub fn embeddings(&self) -> Option<&Embeddings> {
        self.embeddings.as_ref()
    }

    /// Position of the record with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// A stable hash of the records' ids, questions and CoTs (32 hex digits). Labels are kept
    /// per fingerprint, so reloading the same records restores their labels. Generated
    /// records ([`Record::is_generated`]) are left out when the data set has others: CoTs
    /// sampled for a data set belong to it, and keep its labels.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The records as JSON Lines (one object per line, contract field names).
    pub fn records_jsonl(&self) -> String {
        let mut out = String::new();
        for r in &self.records {
            out.push_str(&Value::Object(r.to_json()).to_string());
            out.push('\n');
        }
        out
    }
}

/// Records arriving in pieces from the worker that read them: each piece is indexed as it
/// comes, so no single step on the page walks all of them.
#[derive(Debug, Default)]
pub struct Assembly {
    records: Vec<Record>,
    index: HashMap<String, usize>,
}

impl Assembly {
    /// Appends the next piece, in record order.
    pub fn push(&mut self, piece: Vec<Record>) {
        let start = self.records.len();
        self.index.extend(
            piece
                .iter()
                .enumerate()
                .map(|(k, r)| (r.id.clone(), start + k)),
        );
        self.records.extend(piece);
    }

    /// Records so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Room for `total` records in all, so that pieces arriving one by one never copy the
    /// records or rehash the index.
    pub fn reserve(&mut self, total: usize) {
        let more = total.saturating_sub(self.records.len());
        self.records.reserve_exact(more);
        self.index.reserve(more);
    }

    /// Whether no record came yet.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The data set, under the fingerprint the reader computed for these records (not
    /// hashed again here). `None` when two records share an id.
    pub fn finish(
        self,
        name: impl Into<String>,
        embeddings: Option<Embeddings>,
        fingerprint: String,
    ) -> Option<Dataset> {
        if self.index.len() != self.records.len()
            || embeddings
                .as_ref()
                .is_some_and(|e| e.rows() != self.records.len())
        {
            return None;
        }
        Some(Dataset {
            name: name.into(),
            records: self.records,
            embeddings,
            index: self.index,
            fingerprint,
            revision: next_revision(),
            groups: Default::default(),
        })
    }
}

/// `text` on one line (whitespace runs become one space), cut to `max` characters with `…`.
pub fn snippet(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

fn fingerprint(records: &[Record]) -> String {
    let mut h = Sha256::new();
    let own = records.iter().any(|r| !r.is_generated());
    for r in records.iter().filter(|r| !own || !r.is_generated()) {
        for part in [&r.id, &r.question, &r.cot] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
    }
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn record(id: &str, question: &str, cot: &str) -> Record {
        Record {
            id: id.into(),
            question: question.into(),
            cot: cot.into(),
            answer: None,
            question_id: None,
            is_correct: None,
            meta: Map::new(),
        }
    }

    #[test]
    fn records_assembled_in_pieces_make_the_same_data_set() {
        let mut records: Vec<Record> = (0..7)
            .map(|i| record(&format!("r{i}"), &format!("q{}", i / 2), &format!("c{i}")))
            .collect();
        records[3]
            .meta
            .insert("gold_answer".into(), Value::from(1.5));
        records[4].answer = Some("12".into());
        let whole = Dataset::new("n", records.clone(), Embeddings::new(7, 1, vec![0.5; 7]));
        // through JSON, as the worker sends them
        let json = serde_json::to_string(&records).unwrap();
        let back: Vec<Record> = serde_json::from_str(&json).unwrap();
        let mut a = Assembly::default();
        for piece in back.chunks(3) {
            a.push(piece.to_vec());
        }
        assert_eq!(a.len(), 7);
        let d = a
            .finish(
                "n",
                Embeddings::new(7, 1, vec![0.5; 7]),
                whole.fingerprint().into(),
            )
            .unwrap();
        assert_eq!(d, whole);
        assert_eq!(d.position("r5"), Some(5));
        // a repeated id, or embeddings of another length, are refused
        let mut a = Assembly::default();
        a.push(vec![record("x", "q", "c"), record("x", "q", "d")]);
        assert!(a.finish("n", None, String::new()).is_none());
        let mut a = Assembly::default();
        a.push(vec![record("x", "q", "c")]);
        assert!(a
            .finish("n", Embeddings::new(2, 1, vec![0.0; 2]), String::new())
            .is_none());
    }

    #[test]
    fn embeddings_shape_is_checked() {
        assert!(Embeddings::new(2, 3, vec![0.0; 6]).is_some());
        assert!(Embeddings::new(2, 3, vec![0.0; 5]).is_none());
        assert!(Embeddings::new(usize::MAX, 2, vec![]).is_none());
        let e = Embeddings::new(2, 2, vec![1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(e.row(1), &[3.0, 4.0]);
    }

    #[test]
    fn fingerprint_depends_on_records_not_embeddings() {
        let a = Dataset::new("a", vec![record("1", "q", "c")], None);
        let b = Dataset::new(
            "b",
            vec![record("1", "q", "c")],
            Embeddings::new(1, 1, vec![0.5]),
        );
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 32);
        let c = Dataset::new("a", vec![record("1", "q", "c2")], None);
        assert_ne!(a.fingerprint(), c.fingerprint());
        // Field boundaries matter: ("ab","c") differs from ("a","bc").
        let d = Dataset::new("d", vec![record("1", "ab", "c")], None);
        let e = Dataset::new("e", vec![record("1", "a", "bc")], None);
        assert_ne!(d.fingerprint(), e.fingerprint());
    }

    fn generated(id: &str, question: &str, cot: &str) -> Record {
        let mut r = record(id, question, cot);
        r.meta
            .insert("source".into(), Value::String(GENERATED.into()));
        r
    }

    #[test]
    fn generated_records_join_a_data_set_under_its_fingerprint_and_leave_it() {
        let own = vec![record("1", "q", "c1"), record("2", "q2", "c2")];
        let base = Dataset::new(
            "d",
            own.clone(),
            Embeddings::new(2, 2, vec![1., 0., 0., 1.]),
        );
        let g = vec![
            generated("1-g1", "q", "sampled"),
            generated("2-g1", "q2", "other"),
        ];
        let more = base
            .appended(g.clone(), Some(&[0.5, 0.5, 0.25, 0.75]))
            .unwrap();
        assert_eq!(more.len(), 4);
        assert_eq!(more.fingerprint(), base.fingerprint());
        assert_ne!(more.revision(), base.revision());
        assert_eq!(more.position("2-g1"), Some(3));
        assert_eq!(more.embeddings().unwrap().row(3), &[0.25, 0.75]);
        // built afresh (a worker handed the records), the fingerprint is the same too
        let mut all = own.clone();
        all.extend(g.clone());
        assert_eq!(
            Dataset::new("d", all, None).fingerprint(),
            base.fingerprint()
        );
        // a data set of generated records only is identified by them
        assert_ne!(
            Dataset::new("g", g.clone(), None).fingerprint(),
            Dataset::new("g", vec![g[0].clone()], None).fingerprint()
        );
        // what is refused
        assert!(base
            .appended(vec![record("3", "q", "x")], Some(&[0., 0.]))
            .is_err());
        assert!(base.appended(g.clone(), None).is_err());
        assert!(base.appended(g.clone(), Some(&[0.5])).is_err());
        assert!(base
            .appended(vec![generated("1", "q", "dup")], Some(&[0., 0.]))
            .is_err());
        assert!(base
            .with_embeddings(None)
            .appended(g.clone(), Some(&[0.; 4]))
            .is_err());
        // leaving: only generated records go, with their rows
        let fewer = more.without_generated(&|r: &Record| r.id != "2-g1" || r.id == "1");
        assert_eq!(
            fewer
                .records()
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>(),
            ["1", "2", "2-g1"]
        );
        assert_eq!(fewer.embeddings().unwrap().row(2), &[0.25, 0.75]);
        assert_eq!(fewer.fingerprint(), base.fingerprint());
        let none = more.without_generated(&|_: &Record| true);
        assert_eq!(none, base);
    }

    #[test]
    fn snippet_flattens_and_cuts_on_char_boundaries() {
        assert_eq!(snippet("a\n  b", 10), "a b");
        assert_eq!(snippet("abc", 3), "abc");
        assert_eq!(snippet("abcd", 3), "abc…");
        assert_eq!(snippet(&"é".repeat(300), 180).chars().count(), 181);
    }

    #[test]
    fn group_key_falls_back_to_question() {
        let mut r = record("1", "What is 2+2?", "4");
        assert_eq!(r.group_key(), "What is 2+2?");
        r.question_id = Some("q1".into());
        assert_eq!(r.group_key(), "q1");
    }
}
