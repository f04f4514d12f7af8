//! Reasoning signatures: each CoT's logical structure and its consensus with the other CoTs
//! of the same question, turned into signals, a fixed-order vector, a distance and a
//! label-free prior score. Measured on GSM8K (`tests/integration/signatures.rs`), these carry the
//! correctness signal that sentence embeddings do not.
//!
//! - `tokens`: numbers, operators and words with byte spans.
//! - `expr`: the arithmetic evaluator for the left side of `expr = value`.
//! - [`answer`]: final answers found and normalised.
//! - [`options`]: a multiple-choice question's options, and the option a CoT answers.
//! - [`trace`]: steps, equations (checked), number roles; per-CoT signals.
//! - [`group`]: agreement and consensus among CoTs of one question.
//! - [`prior`]: the label-free prior score and its fitting.
//! - [`general`]: the domain-general member, for CoTs with siblings and non-numeric answers.
//! - [`table`]: what the page keeps of them (the worker that reads them holds the rest).

pub mod answer;
mod expr;
pub mod general;
pub mod group;
pub mod options;
pub mod prior;
pub mod table;
mod tokens;
pub mod trace;

use std::collections::{HashMap, HashSet};

use crate::core::data::Dataset;

pub use group::GroupSignals;
pub use prior::{Shape, Siblings};
pub use trace::{CotSignals, Trace};

/// Length of the signature vector.
pub const DIM: usize = 33;

/// What each component of the signature vector is, in order. Every component is in [0, 1].
pub const FEATURES: [&str; DIM] = [
    "arithmetic_validity",  // share of checkable equations that check (1 if none)
    "wrong_arithmetic",     // 1 if any equation's arithmetic is wrong
    "question_coverage",    // share of the question's numbers the CoT uses
    "unexplained_share",    // share of the CoT's numbers that come from nowhere
    "steps",                // min(steps, 20) / 20
    "answer_is_last_value", // 1 yes, 0 no, 0.5 unknown
    "length",               // ln(1 + chars) / ln(1 + 4000), at most 1
    "agree_share",          // share of siblings with the same final answer
    "is_plurality",         // 1 if the answer is the group's strict plurality answer
    "value_jaccard_mean",   // mean overlap of computed values with siblings
    "value_jaccard_max",    // best overlap with one sibling
    "embedding_consensus",  // (1 + mean cosine to siblings) / 2; 0.5 without
    "departure_position",   // where it leaves the siblings' common values (1 = never)
    "has_siblings",         // 1 if other CoTs answer the same question
    "has_answer",           // 1 if a final answer was found
    "answer_is_integer",    // 1 integer, 0 other number, 0.5 not a number
    "answer_support",       // share of siblings that give or compute this answer
    "plurality_share",      // CoTs giving the group's plurality answer / group size
    "distinct_share",       // distinct answers in the group / group size
    "question_size",        // min(numbers in the question, 10) / 10
    "unanimous",            // 1 if every sibling gives the same answer
    "alone",                // 1 if no sibling gives the same answer
    "answer_magnitude",     // min(log10(1 + |answer|) / 6, 1); 0.5 not a number
    "equations",            // min(equations, 10) / 10
    "chain_coherence",      // share of intermediate results used again later
    "answer_in_question",   // 1 if the answer is one of the question's numbers; 0.5 not a number
    "weighted_agree",       // agreement weighted by the agreeing siblings' own soundness
    "group_quality",        // mean soundness of every CoT of the question
    "agree_x_values",       // agree_share × value_jaccard_mean
    "question_length",      // ln(1 + question chars) / ln(1 + 2000), at most 1
    "answer_positive",      // 1 if the answer is a number > 0, 0 if ≤ 0, 0.5 not a number
    "repeated_steps",       // share of steps repeating an earlier one word for word
    "relative_length",      // length / the group's mean length, halved, at most 1
];

/// 1 when the final answer is a whole number, 0 another number, ½ not a number.
fn integer_answer(t: &Trace) -> f64 {
    t.answer
        .as_ref()
        .and_then(answer::Answer::number)
        .map_or(0.5, |x| f64::from(x == x.trunc()))
}

/// Soundness of a CoT read from itself alone, in [0, 1]: the mean of its arithmetic
/// validity, question coverage, integer answer (½ when not a number) and answer = last
/// value (½ when unknown). Weights agreement in [`group::group_signals`].
pub fn cot_quality(cot: &CotSignals, t: &Trace) -> f64 {
    (cot.arithmetic_validity
        + cot.question_coverage
        + integer_answer(t)
        + cot.answer_is_last_value.map_or(0.5, f64::from))
        / 4.0
}

/// A CoT's reasoning signature.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    /// Its structure.
    pub trace: Trace,
    /// Signals of the CoT alone.
    pub cot: CotSignals,
    /// Signals relative to its siblings.
    pub group: GroupSignals,
    /// The fixed-order vector ([`FEATURES`]); sibling signals are ½ without siblings.
    pub vector: [f32; DIM],
    /// What it has to be judged by: siblings and a reference answer.
    pub shape: Shape,
    /// The question's reference answer, normalised, when the record carries one.
    pub reference: Option<answer::Answer>,
    /// Whether the final answer matches the reference (`None`: no reference).
    pub matches_reference: Option<bool>,
    /// The prior of its shape's member without the reference, in [0, 1] (what the
    /// binary-choice model reads).
    pub label_free_prior: f64,
    /// The prior that the reasoning is sound, in [0, 1]: its shape's member, with the
    /// reference when there is one. No human label involved.
    pub prior: f64,
    /// Why no member scores it (its prior is then ½ and its label waits for human labels):
    /// an unreadable answer, a lone non-numeric answer, features outside what the member
    /// was fitted on. `None` when a member speaks.
    pub unscored: Option<String>,
}

fn vector(
    cot: &CotSignals,
    g: &GroupSignals,
    t: &Trace,
    qnums: &HashSet<i64>,
    question_chars: usize,
) -> [f32; DIM] {
    let question_numbers = qnums.len();
    let answer_value = t.answer.as_ref().and_then(answer::Answer::number);
    let b = f64::from;
    let integer = integer_answer(t);
    let group_size = (g.siblings + 1) as f64;
    // sibling signals are missing without siblings: ½ here, and no weight in the lone
    // member of the prior
    let m = |x: Option<f64>| x.unwrap_or(0.5);
    let v = [
        cot.arithmetic_validity,
        b(cot.wrong_equations > 0),
        cot.question_coverage,
        cot.unexplained_share,
        cot.steps.min(20) as f64 / 20.0,
        cot.answer_is_last_value.map_or(0.5, b),
        ((1.0 + cot.chars as f64).ln() / (4001f64).ln()).min(1.0),
        m(g.agree_share),
        b(g.is_plurality),
        m(g.value_jaccard_mean),
        m(g.value_jaccard_max),
        g.embedding_consensus.map_or(0.5, |c| (1.0 + c) / 2.0),
        g.departure_position,
        b(g.siblings > 0),
        b(t.answer.is_some()),
        integer,
        m(g.answer_support),
        g.plurality
            .as_ref()
            .map_or(0.0, |p| p.1 as f64 / group_size),
        g.distinct_share,
        question_numbers.min(10) as f64 / 10.0,
        b(g.siblings > 0 && g.agree == g.siblings),
        b(g.siblings > 0 && g.agree == 0),
        answer_value.map_or(0.5, |x| ((1.0 + x.abs()).log10() / 6.0).min(1.0)),
        t.equations.len().min(10) as f64 / 10.0,
        cot.chain_coherence,
        answer_value.map_or(0.5, |x| b(qnums.contains(&trace::value_key(x)))),
        m(g.weighted_agree),
        g.group_quality,
        m(g.agree_share.zip(g.value_jaccard_mean).map(|(a, v)| a * v)),
        ((1.0 + question_chars as f64).ln() / (2001f64).ln()).min(1.0),
        answer_value.map_or(0.5, |x| b(x > 0.0)),
        cot.repeated_steps,
        g.relative_length / 2.0,
    ];
    let mut v = v.map(|x| x.clamp(0.0, 1.0) as f32);
    if g.siblings == 0 {
        for (k, x) in v.iter_mut().enumerate() {
            if prior::is_sibling_feature(k) && FEATURES[k] != "has_siblings" {
                *x = 0.5;
            }
        }
    }
    v
}

/// The signatures of every record, in record order: [`group_signatures`], then the data
/// set's base-rate shifts ([`base_rate_shifts`]) applied by [`finish`].
pub fn signatures(dataset: &Dataset) -> Vec<Signature> {
    let mut sigs = group_signatures(dataset);
    let shifts = base_rate_shifts(&sigs);
    finish(&mut sigs, shifts);
    sigs
}

/// The signatures before the data set's base-rate shift: everything of a CoT that depends
/// only on the CoTs of its own question. A data set split by question (a Ray `map_groups`,
/// one CLI partition) gives the same values as the whole; `prior` is the label-free prior
/// before the shift.
pub fn group_signatures(dataset: &Dataset) -> Vec<Signature> {
    // CoTs of one question share its text: read its numbers once.
    let mut questions: HashMap<&str, HashSet<i64>> = HashMap::new();
    for r in dataset.records() {
        questions
            .entry(&r.question)
            .or_insert_with(|| trace::question_numbers(&r.question));
    }
    let qnums: Vec<&HashSet<i64>> = dataset
        .records()
        .iter()
        .map(|r| &questions[r.question.as_str()])
        .collect();
    // multiple-choice questions: their options, read once per question
    let mut choices: HashMap<&str, Option<options::Options>> = HashMap::new();
    for r in dataset.records() {
        choices
            .entry(&r.question)
            .or_insert_with(|| options::parse(&r.question));
    }
    let traces: Vec<Trace> = dataset
        .records()
        .iter()
        .zip(&qnums)
        .map(|(r, q)| {
            let mut t = trace::trace(&r.cot, r.answer.as_deref(), q);
            if let Some(opts) = &choices[r.question.as_str()] {
                // the answer is one of the options, or unknown
                t.answer = options::read(&r.cot, r.answer.as_deref(), opts);
            }
            t
        })
        .collect();
    let cots: Vec<CotSignals> = traces
        .iter()
        .zip(&qnums)
        .map(|(t, q)| t.signals(q))
        .collect();
    let quality: Vec<f64> = cots
        .iter()
        .zip(&traces)
        .map(|(c, t)| cot_quality(c, t))
        .collect();
    let groups = group::group_signals(dataset, &traces, &quality);
    let family = prior::Family::shipped();
    let sigs: Vec<Signature> = traces
        .into_iter()
        .zip(cots)
        .zip(groups)
        .enumerate()
        .map(|(i, ((trace, cot), group))| {
            let r = &dataset.records()[i];
            let vector = vector(&cot, &group, &trace, qnums[i], r.question.chars().count());
            let reference = r
                .reference_answer()
                .and_then(|a| answer::normalize_reference(&a));
            let known = trace.answer.is_some();
            // an unreadable answer is unknown: nothing to compare with the reference
            let matches_reference = reference.as_ref().filter(|_| known).map(|g| {
                trace
                    .answer
                    .as_ref()
                    .is_some_and(|a| answer::matches_reference(a, g))
            });
            let has_reference = matches_reference.is_some();
            let multiple_choice = choices[r.question.as_str()].is_some();
            let numeric =
                !multiple_choice && trace.answer.as_ref().is_some_and(|a| a.number().is_some());
            let (shape, label_free_prior, unscored) = if !known {
                (
                    Shape::of(group.siblings, false, false),
                    0.5,
                    Some("its final answer could not be read: unknown, not wrong".to_string()),
                )
            } else if numeric {
                let shape = Shape::of(group.siblings, has_reference, true);
                match family.outside(shape.siblings, &vector) {
                    // outside where the numeric member was fitted: it does not speak
                    Some(why) => (
                        Shape::of(group.siblings, has_reference, false),
                        0.5,
                        Some(why),
                    ),
                    None => (shape, family.label_free(shape, &vector), None),
                }
            } else {
                let unfitted = Shape::of(group.siblings, has_reference, false);
                match family.general() {
                    _ if group.siblings == 0 => (
                        unfitted,
                        0.5,
                        Some(
                            "a lone CoT with a non-numeric answer: no sibling to agree with".into(),
                        ),
                    ),
                    None => (unfitted, 0.5, Some("no general member is shipped".into())),
                    Some(m) => {
                        let gv = general::vector(&group, &trace, &cot);
                        match m.outside(&gv) {
                            Some(why) => (unfitted, 0.5, Some(why)),
                            None => (
                                Shape::general(group.siblings, has_reference),
                                m.score(&gv, &domain_of(r)),
                                None,
                            ),
                        }
                    }
                }
            };
            Signature {
                trace,
                cot,
                group,
                vector,
                shape,
                reference,
                matches_reference,
                label_free_prior,
                prior: label_free_prior,
                unscored,
            }
        })
        .collect();
    sigs
}

/// The shapes whose label-free prior is moved to the data set's own base rate: lone CoTs
/// and pairs (their members carry the base rate of the data they were fitted on).
pub const SHIFTED: [Siblings; 2] = [Siblings::None, Siblings::One];

/// The record's domain: its `domain`, `category` or `subject` field when that is text ("" when
/// none); the general member is calibrated per domain it was fitted on.
pub fn domain_of(r: &crate::core::data::Record) -> String {
    ["domain", "category", "subject"]
        .iter()
        .find_map(|k| r.meta.get(*k).and_then(|v| v.as_str()))
        .unwrap_or("")
        .to_string()
}

/// The log-odds shift of each of [`SHIFTED`] for a data set, estimated from the label-free
/// priors of its CoTs of that shape (no labels; [`prior::base_rate_shift`]). It needs every
/// CoT of the data set: distributed, it is the one step that gathers (one number per CoT).
/// The general member is not shifted: its per-domain calibration was fitted with it (an
/// estimate from its own scores, tried, moved law and chemistry by −2 to −4 log-odds and
/// labelled them worse than the majority class).
pub fn base_rate_shifts(sigs: &[Signature]) -> [f64; 2] {
    let p: Vec<(Siblings, f64)> = sigs
        .iter()
        .filter(|s| s.shape.fitted)
        .map(|s| (s.shape.siblings, s.label_free_prior))
        .collect();
    shifts_of(&p)
}

/// [`base_rate_shifts`] from (siblings, label-free prior) of the fitted CoTs.
pub fn shifts_of(p: &[(Siblings, f64)]) -> [f64; 2] {
    let family = prior::Family::shipped();
    SHIFTED.map(|siblings| {
        let Some(fitted) = family.base_rate(siblings) else {
            return 0.0;
        };
        let of: Vec<f64> = p
            .iter()
            .filter(|(s, _)| *s == siblings)
            .map(|(_, p)| *p)
            .collect();
        prior::base_rate_shift(&of, fitted)
    })
}

/// Applies the data set's `shifts` ([`base_rate_shifts`]) to signatures from
/// [`group_signatures`] and sets each CoT's prior (with its reference answer, when any).
pub fn finish(sigs: &mut [Signature], shifts: [f64; 2]) {
    for s in sigs {
        (s.label_free_prior, s.prior) = finished_prior(
            s.shape.siblings,
            s.shape.fitted,
            s.label_free_prior,
            s.matches_reference,
            shifts,
        );
    }
}

/// One CoT's [`finish`] from what a row of group signatures keeps: its label-free prior
/// moved by the data set's shift (when its shape is fitted and shifted), and its prior
/// (that, with the reference member). Returns (label-free prior, prior).
pub fn finished_prior(
    siblings: Siblings,
    fitted: bool,
    label_free_prior: f64,
    matches_reference: Option<bool>,
    shifts: [f64; 2],
) -> (f64, f64) {
    let mut p = label_free_prior;
    if fitted {
        if let Some(k) = SHIFTED.iter().position(|&x| x == siblings) {
            p = crate::core::base::sigmoid(crate::core::base::logit(p) + shifts[k]);
        }
    }
    (
        p,
        prior::Family::shipped().with_reference(siblings, p, matches_reference),
    )
}

/// What the labels of CoTs without siblings rest on, in a sentence for the page; `None`
/// when every CoT has a sibling.
pub fn no_sibling_notice(shapes: &[Shape]) -> Option<String> {
    let (mut lone, mut with_reference, mut unfitted) = (0usize, 0usize, 0usize);
    for s in shapes.iter().filter(|s| s.siblings == Siblings::None) {
        lone += 1;
        with_reference += usize::from(s.reference);
        unfitted += usize::from(!s.fitted && !s.reference);
    }
    if lone == 0 {
        return None;
    }
    let (cots, have) = if lone == 1 {
        ("CoT", "has")
    } else {
        ("CoTs", "have")
    };
    let mut t = format!(
        "{lone} {cots} {have} no sibling (no other CoT answers the same question), so answer \
         agreement is unavailable: their labels rest on your labels and weak single-CoT signals"
    );
    if with_reference > 0 {
        t.push_str(&format!(
            "; {with_reference} of them carry a reference answer, and whether the final answer matches it decides most of their label"
        ));
    }
    if unfitted > 0 {
        t.push_str(&format!(
            "; {unfitted} give yes/no, option or text answers (or none readable), which no label-free member can judge alone: they stay unlabelled until your labels settle how many are sound"
        ));
    }
    t.push_str(
        ". Generate… samples more CoTs per question from your own model: with siblings, their answers' agreement speaks",
    );
    Some(t)
}

fn edit_similarity(a: &[char], b: &[char]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    1.0 - prev[b.len()] as f64 / a.len().max(b.len()) as f64
}

/// Structural distance in [0, 1] between two CoTs: one minus the mean of (a) the Jaccard
/// overlap of their computed values, (b) whether they give the same final answer, (c) the
/// edit similarity of their operator sequences. 0 = same values, answer and operations.
pub fn distance(a: &Signature, b: &Signature) -> f64 {
    let values = group::jaccard(&a.trace.computed_keys(), &b.trace.computed_keys());
    let same_answer = match (&a.trace.answer, &b.trace.answer) {
        (Some(x), Some(y)) if x.key() == y.key() => 1.0,
        _ => 0.0,
    };
    let ops = edit_similarity(&a.trace.op_sequence(), &b.trace.op_sequence());
    1.0 - (values + same_answer + ops) / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::data::tests::record;

    fn ds(cots: &[(&str, &str)]) -> Dataset {
        let records = cots
            .iter()
            .enumerate()
            .map(|(i, (cot, a))| {
                let mut r = record(
                    &format!("r{i}"),
                    "Tom has 3 apples and buys 4 more, then doubles them.",
                    cot,
                );
                r.answer = Some(a.to_string());
                r
            })
            .collect();
        Dataset::new("t", records, None)
    }

    #[test]
    fn vectors_are_in_range_and_distance_is_a_dissimilarity() {
        let d = ds(&[
            ("3 + 4 = 7\n7 * 2 = 14", "14"),
            ("3 + 4 = 7\n7 * 2 = 14", "14"),
            ("3 * 4 = 12\n12 - 2 = 9", "9"),
            ("", ""),
        ]);
        let s = signatures(&d);
        for sig in &s {
            assert!(
                sig.vector.iter().all(|x| (0.0..=1.0).contains(x)),
                "{:?}",
                sig.vector
            );
            assert!((0.0..=1.0).contains(&sig.prior));
        }
        assert_eq!(distance(&s[0], &s[1]), 0.0);
        assert!(distance(&s[0], &s[2]) > 0.5);
        assert!((distance(&s[0], &s[2]) - distance(&s[2], &s[0])).abs() < 1e-12);
        assert_eq!(s[2].vector[1], 1.0, "wrong arithmetic flagged");
        assert_eq!(s[3].vector[14], 0.0, "no answer");
        // sound, agreeing CoTs score above the wrong one
        assert!(s[0].prior > s[2].prior);
        // the CoT without an answer is unknown: no member scores it
        assert!(s[3]
            .unscored
            .as_deref()
            .is_some_and(|w| w.contains("could not be read")));
        assert_eq!((s[3].prior, s[3].shape.fitted), (0.5, false));
    }

    #[test]
    fn lone_cots_are_missing_signals_not_disagreeing_ones() {
        // r0 and r1 share a question and disagree; r2 is alone
        let mut records: Vec<_> = [("q1", "3 + 4 = 7", "7"), ("q1", "3 + 4 = 8", "8")]
            .iter()
            .enumerate()
            .map(|(i, (q, cot, a))| {
                let mut r = record(&format!("r{i}"), "Tom has 3 apples and 4 pears.", cot);
                r.question_id = Some(q.to_string());
                r.answer = Some(a.to_string());
                r
            })
            .collect();
        let mut lone = record("r2", "Tom has 3 apples and 4 pears.", "3 + 4 = 7");
        lone.question_id = Some("q2".into());
        lone.answer = Some("7".into());
        records.push(lone.clone());
        let s = signatures(&Dataset::new("t", records, None));
        let agree = FEATURES.iter().position(|f| *f == "agree_share").unwrap();
        assert_eq!(
            s[1].vector[agree], 0.0,
            "a sibling that disagrees is a real 0"
        );
        assert_eq!(s[2].vector[agree], 0.5, "no sibling is missing: ½");
        assert_eq!(s[2].group.agree_share, None);
        assert_eq!(s[2].shape, Shape::of(0, false, true));
        assert_eq!(s[0].shape, Shape::of(1, false, true));
        // the lone member reads no sibling signal: moving them changes nothing
        let family = prior::Family::shipped();
        let mut v = s[2].vector;
        for k in (0..DIM).filter(|&k| prior::is_sibling_feature(k)) {
            v[k] = 0.0;
        }
        assert_eq!(family.label_free(s[2].shape, &v), s[2].prior);
        // the lone CoT is not scored as one that disagrees with every sibling
        assert!(s[2].prior > s[1].prior, "{} vs {}", s[2].prior, s[1].prior);
        // a vector far from where the member was fitted: no score, and why
        let mut far = s[2].vector;
        for k in prior::Support::members(0) {
            far[k] = if far[k] > 0.5 { 0.0 } else { 1.0 };
        }
        assert!(family
            .outside(Siblings::None, &far)
            .is_some_and(|w| w.contains("own signals")));
        assert_eq!(family.outside(Siblings::None, &s[2].vector), None);
        // the notice counts it, and only it
        let shapes: Vec<Shape> = s.iter().map(|s| s.shape).collect();
        let notice = no_sibling_notice(&shapes).expect("one lone CoT");
        assert!(notice.starts_with("1 CoT has no sibling"), "{notice}");
        assert!(
            notice.ends_with("their answers' agreement speaks"),
            "{notice}"
        );
        assert_eq!(no_sibling_notice(&shapes[..2]), None);
    }

    #[test]
    fn reference_answers_decide_and_non_numeric_answers_abstain() {
        let mk = |id: &str, ans: &str, reference: Option<serde_json::Value>| {
            let mut r = record(id, "Is the sky blue? Tom has 3 apples.", "3 + 4 = 7");
            r.question_id = Some(id.to_string());
            r.answer = Some(ans.to_string());
            if let Some(v) = reference {
                r.meta.insert("gold_answer".into(), v);
            }
            r
        };
        let d = Dataset::new(
            "t",
            vec![
                mk("a", "7", Some("$7.00".into())),
                mk("b", "8", Some("\\boxed{7}".into())),
                mk("c", "yes", None),
                mk("d", "7", Some(serde_json::Value::Bool(true))),
            ],
            None,
        );
        let s = signatures(&d);
        assert_eq!(s[0].matches_reference, Some(true));
        assert_eq!(s[1].matches_reference, Some(false));
        assert!(
            s[0].prior > 0.95 && s[1].prior < 0.05,
            "{} {}",
            s[0].prior,
            s[1].prior
        );
        // the label-free prior stays what it was without the reference
        assert!((0.0..=1.0).contains(&s[0].label_free_prior));
        // a yes/no answer: no fitted member, no label-free signal
        assert!(!s[2].shape.fitted && s[2].prior == 0.5);
        // a reference that is not text counts as absent
        assert_eq!(
            (s[3].reference.clone(), s[3].matches_reference),
            (None, None)
        );
        let shapes: Vec<Shape> = s.iter().map(|s| s.shape).collect();
        let notice = no_sibling_notice(&shapes).unwrap();
        assert!(
            notice.contains("2 of them carry a reference answer"),
            "{notice}"
        );
        assert!(notice.contains("1 give yes/no"), "{notice}");
    }

    #[test]
    fn edit_similarity_cases() {
        assert_eq!(edit_similarity(&[], &[]), 1.0);
        assert_eq!(edit_similarity(&['+'], &[]), 0.0);
        assert_eq!(edit_similarity(&['+', '*'], &['+', '*']), 1.0);
        assert_eq!(edit_similarity(&['+', '*'], &['+', '/']), 0.5);
    }
}
