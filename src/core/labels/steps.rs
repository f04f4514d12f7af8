//! Process labels: a CoT cut into numbered steps, the first wrong step suggested with its
//! reason, a person's step mark spread to sibling CoTs along shared reasoning, and the
//! stepwise rows a process reward model trains on (`trainset`).
//!
//! - [`segment`]: the steps of a CoT as the person sees them: lines, then sentences;
//!   a list marker (`1.`, `a)`, `Step 2:`) stays with its line, abbreviations and
//!   decimals do not end a sentence, `<think>` tags are not steps.
//! - [`Process`]: a CoT's steps with its equations (from [`trace`]) placed in them.
//! - [`suggest`]: the earliest of three label-free reasons for a first wrong step:
//!   arithmetic that does not check, the step where the CoT leaves the values its agreeing
//!   siblings share, a final answer that is not the last computed value.
//! - [`spread`]: a person's mark at step j of CoT A says A's values before j are right and
//!   its values at j wrong. A sibling that computes one of those wrong values the same way
//!   (the same numbers and operators) is wrong at the step where it first does; one whose
//!   first values are A's verified ones is fine up to the last of them. Human marks are
//!   never overwritten. (The same value from another computation is not spread: on the
//!   demo, correct siblings compute small wrong values such as 9 or 50 legitimately.)

use std::collections::HashSet;

use rustc_hash::FxHashMap;

use crate::core::data::{Dataset, Record};
use crate::core::labels::{Label, LabelStore, SpreadStep, StepMark, StepVerdict, Verdict};
use crate::core::signals::signature::answer::{self, Answer};
use crate::core::signals::signature::trace::{question_numbers, trace, value_key, Step, Trace};

const ABBREVIATIONS: [&str; 12] = [
    "e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "approx", "no", "fig", "eq",
];

/// Whether `line[..dot]` (the text of a line before a `.` or `)`) is a list marker:
/// `1`, `12`, `a`, `iv`, `Step 3`, possibly after `-`/`*`/`#` bullets and spaces.
fn is_list_marker(before: &str) -> bool {
    let t = before.trim_start_matches(|c: char| c.is_whitespace() || "-*#".contains(c));
    let t = t
        .strip_prefix("Step ")
        .or_else(|| t.strip_prefix("step "))
        .unwrap_or(t);
    !t.is_empty()
        && t.len() <= 4
        && (t.bytes().all(|b| b.is_ascii_digit())
            || (t.len() == 1 && t.bytes().all(|b| b.is_ascii_alphabetic()))
            || t.bytes().all(|b| b"ivx".contains(&b)))
}

/// The steps of a CoT, as byte ranges: its lines, each cut after `.`, `!` or `?` followed
/// by a space, except after a list marker that opens the line or an abbreviation. Blank
/// lines and lines that are only a `<think>` / `</think>` tag are not steps.
pub fn segment(cot: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut push = |s: usize, e: usize| {
        let piece = &cot[s..e];
        let t = piece.trim();
        if t.is_empty() || t == "<think>" || t == "</think>" {
            return;
        }
        let lead = piece.len() - piece.trim_start().len();
        steps.push(Step {
            start: s + lead,
            end: s + lead + t.len(),
        });
    };
    let mut line_start = 0;
    for line in cot.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        let b = body.as_bytes();
        let mut start = 0;
        for i in 0..b.len() {
            if !matches!(b[i], b'.' | b'!' | b'?') {
                continue;
            }
            if !b.get(i + 1).is_some_and(u8::is_ascii_whitespace) {
                continue; // "3.5", "...", end of line (the line ends the step anyway)
            }
            let before = &body[start..i];
            if b[i] == b'.' {
                if i > 0 && b[i - 1] == b'.' {
                    continue; // an ellipsis
                }
                let word = before
                    .rsplit(|c: char| c.is_whitespace() || c == '(')
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if ABBREVIATIONS.contains(&word.as_str()) {
                    continue;
                }
                if start == 0 && is_list_marker(before) {
                    continue;
                }
            }
            push(line_start + start, line_start + i + 1);
            start = i + 1;
        }
        push(line_start + start, line_start + body.len());
        line_start += line.len();
    }
    steps
}

/// The step that holds byte `at` (the last step starting at or before it).
fn step_at(steps: &[Step], at: usize) -> usize {
    steps.iter().rposition(|s| s.start <= at).unwrap_or(0)
}

/// A CoT read for process labels: its steps and its equations placed in them.
#[derive(Debug, Clone, PartialEq)]
pub struct Process {
    /// Steps, as [`segment`] cuts them.
    pub steps: Vec<Step>,
    /// The structure [`trace`] reads (equations, numbers, final answer).
    pub trace: Trace,
    /// The step of each equation of `trace`.
    pub eq_step: Vec<usize>,
    /// The question's numbers, as value keys.
    pub question: HashSet<i64>,
    /// What each equation computes from: its left side's numbers (value keys, sorted) and
    /// operators. Two equations with the same are the same computation.
    pub calc: Vec<(Vec<i64>, Vec<char>)>,
    /// The question's reference answer, when the record carries one.
    pub reference: Option<Answer>,
}

impl Process {
    /// Reads a CoT: `answer` is its record's answer field, `question` the question text.
    pub fn read(cot: &str, answer: Option<&str>, question: &str) -> Self {
        let question = question_numbers(question);
        let trace = trace(cot, answer, &question);
        let steps = segment(cot);
        let eq_step = trace
            .equations
            .iter()
            .map(|e| step_at(&steps, e.start))
            .collect();
        let calc = trace
            .equations
            .iter()
            .map(|e| {
                let mut nums: Vec<i64> = trace
                    .numbers
                    .iter()
                    .filter(|n| n.start >= e.start && n.end <= e.end)
                    .map(|n| value_key(n.value))
                    .collect();
                nums.pop(); // the value after `=`
                nums.sort_unstable();
                (nums, e.ops.clone())
            })
            .collect();
        Self {
            steps,
            trace,
            eq_step,
            question,
            calc,
            reference: None,
        }
    }

    /// Reads a record's CoT, with its question's reference answer when it has one.
    pub fn of(r: &Record) -> Self {
        Self {
            reference: r
                .reference_answer()
                .and_then(|a| answer::normalize_reference(&a)),
            ..Self::read(&r.cot, r.answer.as_deref(), &r.question)
        }
    }

    /// Whether its final answer matches the reference answer (`None`: no reference).
    fn matches_reference(&self) -> Option<bool> {
        let g = self.reference.as_ref()?;
        Some(
            self.trace
                .answer
                .as_ref()
                .is_some_and(|a| answer::matches_reference(a, g)),
        )
    }

    /// The text of each step.
    pub fn texts<'a>(&self, cot: &'a str) -> Vec<&'a str> {
        self.steps.iter().map(|s| &cot[s.start..s.end]).collect()
    }

    /// The final answer's key, when one was found.
    fn answer_key(&self) -> Option<String> {
        self.trace.answer.as_ref().map(|a| a.key())
    }

    /// The value keys computed at each equation, in order.
    fn values(&self) -> impl Iterator<Item = (usize, i64)> + '_ {
        self.trace
            .equations
            .iter()
            .zip(&self.eq_step)
            .map(|(e, &s)| (s, value_key(e.value)))
    }
}

/// Why a step is suggested as the first wrong one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// An equation in it whose arithmetic does not check.
    WrongArithmetic,
    /// Where the CoT first computes a value that its agreeing siblings do not share (its
    /// answer differs from theirs).
    LeavesSiblings,
    /// The final answer is not the last value the CoT computed.
    AnswerNotLastValue,
}

impl Reason {
    /// Every reason, in order of precedence on the same step.
    pub const ALL: [Reason; 3] = [
        Reason::WrongArithmetic,
        Reason::LeavesSiblings,
        Reason::AnswerNotLastValue,
    ];

    /// A short name (file columns, test output).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::WrongArithmetic => "wrong-arithmetic",
            Reason::LeavesSiblings => "leaves-siblings",
            Reason::AnswerNotLastValue => "answer-not-last-value",
        }
    }
}

/// A suggested first wrong step.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// The step (0-based).
    pub step: usize,
    /// Why.
    pub reason: Reason,
    /// Why, in a sentence for the person.
    pub why: String,
}

fn show(x: f64) -> String {
    crate::core::signals::signature::answer::format_number(x)
}

/// Every reason found for CoT `i` of a question group, one suggestion per reason (its
/// earliest step), in step order. No labels involved.
pub fn suggestions(group: &[Process], i: usize) -> Vec<Suggestion> {
    let p = &group[i];
    let mut out = Vec::new();
    if let Some((k, e)) = p
        .trace
        .equations
        .iter()
        .enumerate()
        .find(|(_, e)| e.correct == Some(false))
    {
        out.push(Suggestion {
            step: p.eq_step[k],
            reason: Reason::WrongArithmetic,
            why: format!(
                "the arithmetic does not check: the left side is {}, not {}",
                e.lhs.map(show).unwrap_or_default(),
                show(e.value)
            ),
        });
    }
    if let Some(s) = leaves_siblings(group, i) {
        out.push(s);
    }
    let last = p.trace.equations.last();
    let answer = p.trace.answer.as_ref().and_then(|a| a.number());
    if let (Some(e), Some(a)) = (last, answer) {
        if value_key(e.value) != value_key(a) && !p.steps.is_empty() {
            // the step that states the answer: the last one that mentions it, else the last
            let written = show(a);
            let cot_step = p
                .trace
                .numbers
                .iter()
                .rev()
                .find(|n| value_key(n.value) == value_key(a))
                .map_or(p.steps.len() - 1, |n| step_at(&p.steps, n.start));
            out.push(Suggestion {
                step: cot_step.max(*p.eq_step.last().unwrap_or(&0)),
                reason: Reason::AnswerNotLastValue,
                why: format!(
                    "the final answer {written} is not the last value computed ({})",
                    show(e.value)
                ),
            });
        }
    }
    out.sort_by_key(|s| (s.step, s.reason));
    out
}

/// The suggested first wrong step of CoT `i`: the earliest of [`suggestions`].
pub fn suggest(group: &[Process], i: usize) -> Option<Suggestion> {
    suggestions(group, i).into_iter().next()
}

/// The step where CoT `i` first computes a value that at most half of its agreeing
/// siblings compute. With a reference answer, the agreeing siblings are those that reach
/// it (at least one), and only a CoT that misses it is suggested. Without one, they are
/// the other CoTs that give the most common answer among them (at least two, strictly
/// most common), and only a CoT whose own answer differs from theirs is suggested.
fn leaves_siblings(group: &[Process], i: usize) -> Option<Suggestion> {
    let (agreed, agreeing): (String, Vec<HashSet<i64>>) = match group[i].matches_reference() {
        Some(true) => return None,
        Some(false) => {
            let agreeing: Vec<HashSet<i64>> = group
                .iter()
                .enumerate()
                .filter(|(j, p)| *j != i && p.matches_reference() == Some(true))
                .map(|(_, p)| p.values().map(|(_, v)| v).collect())
                .collect();
            if agreeing.is_empty() {
                return None;
            }
            (group[i].reference.as_ref()?.key(), agreeing)
        }
        None => {
            let mine = group[i].answer_key();
            let mut counts: Vec<(String, usize)> = Vec::new();
            for (j, p) in group.iter().enumerate() {
                let Some(k) = p.answer_key().filter(|_| j != i) else {
                    continue;
                };
                match counts.iter_mut().find(|(a, _)| *a == k) {
                    Some((_, c)) => *c += 1,
                    None => counts.push((k, 1)),
                }
            }
            let top = counts.iter().map(|c| c.1).max()?;
            if top < 2 || counts.iter().filter(|c| c.1 == top).count() != 1 {
                return None;
            }
            let agreed = counts.iter().find(|c| c.1 == top)?.0.clone();
            if mine.as_deref() == Some(agreed.as_str()) {
                return None;
            }
            let agreeing = group
                .iter()
                .enumerate()
                .filter(|(j, p)| *j != i && p.answer_key().as_deref() == Some(agreed.as_str()))
                .map(|(_, p)| p.values().map(|(_, v)| v).collect())
                .collect();
            (agreed, agreeing)
        }
    };
    let need = agreeing.len().div_ceil(2);
    let p = &group[i];
    let (step, v) = p.values().find(|(_, v)| {
        !p.question.contains(v) && agreeing.iter().filter(|s| s.contains(v)).count() < need
    })?;
    Some(Suggestion {
        step,
        reason: Reason::LeavesSiblings,
        why: format!(
            "it computes {} here, which {} of the {} CoTs that reach {agreed} do not",
            show(v as f64 / 1e4),
            agreeing.len() - agreeing.iter().filter(|s| s.contains(&v)).count(),
            agreeing.len()
        ),
    })
}

/// Confidence of a wrong step spread to a sibling that reached it along the marked CoT's
/// verified values; [`SPREAD_WRONG_OTHER_PATH`] when it got there another way.
pub const SPREAD_WRONG_SAME_PATH: f64 = 0.9;
/// See [`SPREAD_WRONG_SAME_PATH`].
pub const SPREAD_WRONG_OTHER_PATH: f64 = 0.7;
/// Confidence of a "fine up to step k" spread from a verified prefix.
pub const SPREAD_FINE: f64 = 0.85;

/// Spreads the person's step marks within one question group. `marks[j]` is CoT j's human
/// step mark, `good[j]` whether a person labelled it good (a wrong step is never spread
/// onto it), `ids[j]` its id. Returns a spread label for each CoT without a mark (`None`
/// where nothing spreads, or where marks disagree about it).
pub fn spread(
    group: &[Process],
    marks: &[Option<StepMark>],
    good: &[bool],
    ids: &[&str],
) -> Vec<Option<SpreadStep>> {
    // what each mark says: values verified right, values known wrong
    struct Evidence<'a> {
        id: &'a str,
        verified: HashSet<i64>,
        /// The wrong values with the computations that gave them.
        wrong: Vec<(i64, &'a (Vec<i64>, Vec<char>))>,
    }
    let mut evidence = Vec::new();
    for (a, mark) in marks.iter().enumerate() {
        let Some(mark) = mark else { continue };
        let p = &group[a];
        let cut = match mark {
            StepMark::WrongAt(j) => *j,
            StepMark::AllFine => usize::MAX,
        };
        let verified: HashSet<i64> = p.values().filter(|(s, _)| *s < cut).map(|x| x.1).collect();
        let wrong = p
            .values()
            .zip(&p.calc)
            .filter(|((s, v), _)| *s == cut && !verified.contains(v) && !p.question.contains(v))
            .map(|((_, v), c)| (v, c))
            .collect();
        evidence.push(Evidence {
            id: ids[a],
            verified,
            wrong,
        });
    }
    // a value that a CoT marked all fine computes is not wrong
    let fine_values: HashSet<i64> = marks
        .iter()
        .enumerate()
        .filter(|(_, m)| **m == Some(StepMark::AllFine))
        .flat_map(|(a, _)| group[a].values().map(|x| x.1))
        .collect();
    let mut out = vec![None; group.len()];
    for (b, p) in group.iter().enumerate() {
        if marks[b].is_some() || evidence.is_empty() {
            continue;
        }
        let mut wrong: Option<(usize, f64, Vec<String>)> = None;
        let mut fine: Option<(usize, Vec<String>)> = None;
        for ev in &evidence {
            // the first equation of b that computes a wrong value the same way
            let hit = p.values().enumerate().find(|(k, (_, v))| {
                !fine_values.contains(v)
                    && ev.wrong.iter().any(|(w, c)| w == v && *c == &p.calc[*k])
            });
            if let Some((k, (step, _))) = hit {
                let same_path = p
                    .values()
                    .take(k)
                    .all(|(_, v)| ev.verified.contains(&v) || p.question.contains(&v));
                let c = if same_path {
                    SPREAD_WRONG_SAME_PATH
                } else {
                    SPREAD_WRONG_OTHER_PATH
                };
                match &mut wrong {
                    Some((s, conf, from)) if *s == step => {
                        *conf = conf.max(c);
                        from.push(ev.id.to_string());
                    }
                    Some((s, _, _)) if *s < step => {}
                    _ => wrong = Some((step, c, vec![ev.id.to_string()])),
                }
            }
            // the longest run of b's first values that the mark verified
            let prefix: Vec<usize> = p
                .values()
                .take_while(|(_, v)| ev.verified.contains(v))
                .map(|x| x.0)
                .collect();
            if let Some(&last) = prefix.last() {
                // the step is fine only when all its equations are verified
                let whole = p.values().filter(|(s, _)| *s == last).count()
                    == prefix.iter().filter(|&&s| s == last).count();
                let through = if whole {
                    Some(last)
                } else {
                    last.checked_sub(1)
                };
                if let Some(t) = through {
                    match &mut fine {
                        Some((s, from)) if *s == t => from.push(ev.id.to_string()),
                        Some((s, _)) if *s > t => {}
                        _ => fine = Some((t, vec![ev.id.to_string()])),
                    }
                }
            }
        }
        out[b] = match (wrong, fine) {
            // marks that disagree about b: say nothing
            (Some((w, ..)), Some((f, _))) if f >= w => None,
            (Some(_), _) if good[b] => None,
            (Some((w, c, from)), _) => Some(SpreadStep {
                verdict: StepVerdict::WrongAt(w),
                confidence: c,
                from,
            }),
            (None, Some((f, from))) => Some(SpreadStep {
                verdict: StepVerdict::FineThrough(f),
                confidence: SPREAD_FINE,
                from,
            }),
            (None, None) => None,
        };
    }
    out
}

/// Spreads every step mark of a data set within its question group; the spread labels
/// by record id. Only the groups that hold a mark are read (the data set's group index
/// finds them; no pass over the records).
pub fn spread_dataset(dataset: &Dataset, store: &LabelStore) -> FxHashMap<String, SpreadStep> {
    let mut out = FxHashMap::default();
    let records = dataset.records();
    let marked: HashSet<usize> = store
        .humans()
        .filter(|(_, l)| l.step.is_some())
        .filter_map(|(id, _)| dataset.position(id))
        .map(|i| dataset.groups().group_of(i))
        .collect();
    for &g in &marked {
        let members: Vec<usize> = dataset
            .groups()
            .members(g)
            .iter()
            .map(|&i| i as usize)
            .collect();
        let group: Vec<Process> = members.iter().map(|&i| Process::of(&records[i])).collect();
        let labels: Vec<Option<&Label>> =
            members.iter().map(|&i| store.get(&records[i].id)).collect();
        let marks: Vec<Option<StepMark>> = labels
            .iter()
            .map(|l| l.filter(|l| l.is_human()).and_then(|l| l.step))
            .collect();
        let good: Vec<bool> = labels
            .iter()
            .map(|l| l.is_some_and(|l| l.is_human() && l.verdict == Verdict::Good))
            .collect();
        let ids: Vec<&str> = members.iter().map(|&i| records[i].id.as_str()).collect();
        for (k, s) in spread(&group, &marks, &good, &ids).into_iter().enumerate() {
            if let Some(s) = s {
                out.insert(ids[k].to_string(), s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(cot: &str) -> Vec<&str> {
        segment(cot).iter().map(|s| &cot[s.start..s.end]).collect()
    }

    #[test]
    fn segments_lines_sentences_lists_and_think_tags() {
        assert_eq!(
            texts("He buys 3 bags. Each has 4.5 kg! So 3 * 4.5 = 13.5 kg.\nThe answer is 13.5"),
            vec![
                "He buys 3 bags.",
                "Each has 4.5 kg!",
                "So 3 * 4.5 = 13.5 kg.",
                "The answer is 13.5"
            ]
        );
        // numbered and lettered lists keep their marker; blank lines are not steps
        assert_eq!(
            texts("1. Add 2 and 3. That is 5.\n\n2. Double it: 10.\na) check\nStep 3. Done"),
            vec![
                "1. Add 2 and 3.",
                "That is 5.",
                "2. Double it: 10.",
                "a) check",
                "Step 3. Done"
            ]
        );
        // abbreviations, decimals and ellipses do not end a sentence
        assert_eq!(
            texts("Use e.g. the 2.5 rate... then stop. Fine"),
            vec!["Use e.g. the 2.5 rate... then stop.", "Fine"]
        );
        // one line with no sentence end is one step; think tags are not steps
        assert_eq!(texts("<think>\n3 + 4 = 7\n</think>"), vec!["3 + 4 = 7"]);
        assert_eq!(
            texts("no punctuation at all"),
            vec!["no punctuation at all"]
        );
        assert!(texts("  \n\n ").is_empty());
        // multi-byte text keeps byte ranges on character boundaries
        assert_eq!(
            texts("Café costs €3. Then 2 × 3 = 6."),
            vec!["Café costs €3.", "Then 2 × 3 = 6."]
        );
    }

    fn group(cots: &[(&str, &str)]) -> Vec<Process> {
        cots.iter()
            .map(|(cot, ans)| {
                Process::read(cot, Some(ans), "Tom has 3 bags of 4 apples and eats 2.")
            })
            .collect()
    }

    #[test]
    fn suggests_the_first_wrong_arithmetic_and_the_answer_that_does_not_follow() {
        let g = group(&[
            (
                "He has 3 * 4 = 12 apples.\nHe eats 2, so 12 - 2 = 11.\nThe answer is 11.",
                "11",
            ),
            ("3 * 4 = 12.\n12 - 2 = 10.\nSo he has 12.", "12"),
        ]);
        let s = suggest(&g, 0).unwrap();
        assert_eq!((s.step, s.reason), (1, Reason::WrongArithmetic));
        assert!(s.why.contains("left side is 10, not 11"), "{}", s.why);
        let s = suggest(&g, 1).unwrap();
        assert_eq!((s.step, s.reason), (2, Reason::AnswerNotLastValue));
        assert!(
            s.why.contains("12 is not the last value computed (10)"),
            "{}",
            s.why
        );
    }

    #[test]
    fn suggests_where_a_cot_leaves_its_agreeing_siblings() {
        let g = group(&[
            ("3 * 4 = 12 apples.\n12 - 2 = 10 left.", "10"),
            ("Bags: 3 * 4 = 12.\nAfter eating: 12 - 2 = 10.", "10"),
            ("3 + 4 = 7 apples.\n7 - 2 = 5 left.", "5"),
            ("3 * 4 = 12 apples.\n12 + 2 = 14.", "14"),
        ]);
        // r2 computes 7 at step 0, which neither agreeing sibling does
        let s = suggest(&g, 2).unwrap();
        assert_eq!((s.step, s.reason), (0, Reason::LeavesSiblings));
        assert!(
            s.why
                .contains("computes 7 here, which 2 of the 2 CoTs that reach 10"),
            "{}",
            s.why
        );
        // r3 shares 12, leaves at 14
        assert_eq!(
            suggest(&g, 3).map(|s| (s.step, s.reason)),
            Some((1, Reason::LeavesSiblings))
        );
        // the agreeing CoTs get nothing
        assert_eq!(suggest(&g, 0), None);
        // two CoTs only: a lone disagreeing sibling says nothing about who is wrong
        assert_eq!(suggest(&g[2..], 0), None);
        // …unless the reference answer says which one is right
        let with_ref: Vec<Process> = g[2..]
            .iter()
            .chain(&g[..1])
            .cloned()
            .map(|mut p| {
                p.reference = answer::normalize_reference("10");
                p
            })
            .collect();
        let s = suggest(&with_ref, 0).unwrap();
        assert_eq!((s.step, s.reason), (0, Reason::LeavesSiblings));
        assert!(
            s.why.contains("which 1 of the 1 CoTs that reach 10 do not"),
            "{}",
            s.why
        );
        assert_eq!(suggest(&with_ref, 2), None, "it reaches the reference");
    }

    #[test]
    fn a_wrong_step_spreads_to_siblings_that_compute_the_wrong_value() {
        let g = group(&[
            // A: marked wrong at step 1 (12 - 2 = 11 is wrong arithmetic, value 11)
            ("3 * 4 = 12 apples.\n12 - 2 = 11 left.", "11"),
            // B: same path, same wrong value at its step 2
            ("Each bag has 4.\n3 * 4 = 12.\nThen 12 - 2 = 11.", "11"),
            // C: the same wrong computation after a value of its own
            ("3 + 4 = 7.\n12 - 2 = 11.", "11"),
            // D: the verified 12, then something else
            ("3 * 4 = 12.\n12 / 2 = 6.", "6"),
            // E: nothing in common
            ("2 + 2 = 4.", "4"),
            // F: the same wrong computation, but a person said it is good
            ("3 * 4 = 12.\n12 - 2 = 11.", "11"),
            // G: reaches 11 by another computation (right arithmetic): not the same error
            ("3 + 4 = 7.\n7 + 4 = 11.", "11"),
        ]);
        let marks = [
            Some(StepMark::WrongAt(1)),
            None,
            None,
            None,
            None,
            None,
            None,
        ];
        let good = [false, false, false, false, false, true, false];
        let ids = ["a", "b", "c", "d", "e", "f", "g"];
        let s = spread(&g, &marks, &good, &ids);
        assert_eq!(s[0], None, "a marked CoT keeps its own mark");
        let b = s[1].as_ref().unwrap();
        assert_eq!(b.verdict, StepVerdict::WrongAt(2));
        assert_eq!(
            (b.confidence, b.from.clone()),
            (SPREAD_WRONG_SAME_PATH, vec!["a".to_string()])
        );
        let c = s[2].as_ref().unwrap();
        assert_eq!(
            (c.verdict, c.confidence),
            (StepVerdict::WrongAt(1), SPREAD_WRONG_OTHER_PATH)
        );
        let d = s[3].as_ref().unwrap();
        assert_eq!(
            (d.verdict, d.confidence),
            (StepVerdict::FineThrough(0), SPREAD_FINE)
        );
        assert_eq!(s[4], None);
        assert_eq!(s[5], None, "a person's good label is never contradicted");
        assert_eq!(
            s[6], None,
            "the same value from another computation is not the error"
        );
    }

    #[test]
    fn all_fine_marks_verify_every_value_and_conflicting_marks_say_nothing() {
        let g = group(&[
            ("3 * 4 = 12.\n12 - 2 = 10.", "10"),
            ("3 * 4 = 12.\n12 - 2 = 10.\nSo 10 * 1 = 10.", "10"),
            ("3 * 4 = 12.\n12 - 2 = 11.", "11"),
            ("3 * 4 = 12.\n12 - 2 = 11.", "11"),
            ("3 * 4 = 12.", "12"),
        ]);
        // a says all fine; c says its step 0 is wrong (value 12, which a verified)
        let marks = [
            Some(StepMark::AllFine),
            None,
            Some(StepMark::WrongAt(1)),
            None,
            None,
        ];
        let s = spread(&g, &marks, &[false; 5], &["a", "b", "c", "d", "e"]);
        assert_eq!(s[1].as_ref().unwrap().verdict, StepVerdict::FineThrough(2));
        // d: fine through step 0 (a, c verified 12), wrong at 1 (c's 11): consistent
        let d = s[3].as_ref().unwrap();
        assert_eq!(
            (d.verdict, d.from.clone()),
            (StepVerdict::WrongAt(1), vec!["c".to_string()])
        );
        assert_eq!(s[4].as_ref().unwrap().verdict, StepVerdict::FineThrough(0));
        // a mark whose wrong value another mark verified is not spread
        let marks = [
            Some(StepMark::AllFine),
            None,
            Some(StepMark::WrongAt(0)),
            None,
            None,
        ];
        let s = spread(&g, &marks, &[false; 5], &["a", "b", "c", "d", "e"]);
        assert_eq!(s[3].as_ref().unwrap().verdict, StepVerdict::FineThrough(0));
    }

    #[test]
    fn verdicts_give_stepwise_labels() {
        assert_eq!(
            StepVerdict::WrongAt(2).step_labels(4),
            Some(vec![true, true, false, false])
        );
        assert_eq!(StepVerdict::WrongAt(4).step_labels(4), None);
        assert_eq!(StepVerdict::AllFine.step_labels(2), Some(vec![true, true]));
        assert_eq!(StepVerdict::FineThrough(1).step_labels(3), None);
        assert_eq!(StepVerdict::AllFine.earliest_wrong(), Some(-1));
        assert_eq!(StepVerdict::WrongAt(0).earliest_wrong(), Some(0));
        let states: Vec<&str> = (0..3)
            .map(|k| StepVerdict::WrongAt(1).state_of(k))
            .collect();
        assert_eq!(states, ["fine", "wrong", "none"]);
        assert_eq!(StepVerdict::FineThrough(0).state_of(1), "none");
    }
}
