//! The logical structure of one CoT: its steps, its equations (`expr = value`, checked),
//! every number with its role, and its final answer — plus the per-CoT signals read off it.

use std::collections::HashSet;

use super::answer::{self, Answer};
use super::expr;
use super::tokens::{tokenize, Tok, Token};

/// A step: a line, or a sentence of a line. Byte range in the CoT.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
}

/// `lhs = value` as written in a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Equation {
    /// Index of its step.
    pub step: usize,
    /// Byte range from the left side's first token (or `=`) to the value's end.
    pub start: usize,
    /// See `start`.
    pub end: usize,
    /// The value after `=` as written (a percent keeps its written value).
    pub value: f64,
    /// The left side's value, when it is arithmetic.
    pub lhs: Option<f64>,
    /// Operators of the left side, in order.
    pub ops: Vec<char>,
    /// Whether the arithmetic checks (up to the rounding the value is written with);
    /// `None` when the left side is not arithmetic (`Total = 18`).
    pub correct: Option<bool>,
}

/// What a number in a CoT is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A quantity of the question.
    Question,
    /// The result of an equation (where it is computed, or used later).
    Computed,
    /// A small or common constant (1–10, 12, 24, 60, 100, ...).
    Constant,
    /// None of the above: appears without explanation.
    Unexplained,
}

/// One number of the CoT.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NumberUse {
    /// Its value as written.
    pub value: f64,
    /// Byte range.
    pub start: usize,
    /// Byte range end.
    pub end: usize,
    /// Its role.
    pub role: Role,
}

/// The structure of one CoT.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Steps in order.
    pub steps: Vec<Step>,
    /// Equations in order.
    pub equations: Vec<Equation>,
    /// Numbers in order.
    pub numbers: Vec<NumberUse>,
    /// The final answer, normalised.
    pub answer: Option<Answer>,
    /// Whether the answer was read from the text (the record had none).
    pub answer_from_text: bool,
    /// Length in characters.
    pub chars: usize,
    /// Steps that repeat an earlier step word for word.
    pub repeated_steps: usize,
}

/// Per-CoT signals read off a trace (no other CoT involved).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CotSignals {
    /// Share of checkable equations whose arithmetic is right (1 when there are none).
    pub arithmetic_validity: f64,
    /// Number of equations whose arithmetic is wrong.
    pub wrong_equations: usize,
    /// Number of checkable equations.
    pub checked_equations: usize,
    /// Share of the question's quantities the CoT uses (1 when the question has none).
    pub question_coverage: f64,
    /// Share of the CoT's numbers that are unexplained.
    pub unexplained_share: f64,
    /// Number of steps.
    pub steps: usize,
    /// Whether the final answer equals the last computed value (`None`: no numeric answer
    /// or no equation).
    pub answer_is_last_value: Option<bool>,
    /// Length in characters.
    pub chars: usize,
    /// Share of steps that repeat an earlier step word for word (degenerate loops).
    pub repeated_steps: f64,
    /// Share of intermediate results (all equations but the last) used again later in the
    /// text: a coherent chain uses what it computes (1 with fewer than two equations).
    pub chain_coherence: f64,
}

/// Values compared as keys: rounded to 4 decimals (as the reference measurement does).
pub fn value_key(x: f64) -> i64 {
    (x * 1e4).round() as i64
}

const CONSTANTS: [f64; 20] = [
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.0, 24.0, 30.0, 52.0, 60.0, 100.0,
    365.0, 1000.0, 0.5,
];

/// The numbers of a question, as value keys (percent numbers by their written value).
pub fn question_numbers(question: &str) -> HashSet<i64> {
    tokenize(question)
        .iter()
        .filter_map(Token::number)
        .map(value_key)
        .collect()
}

/// Steps: lines, split further after `.`, `!`, `?` followed by whitespace.
fn split_steps(text: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let b = text.as_bytes();
    let mut start = 0;
    let push = |s: usize, e: usize, steps: &mut Vec<Step>| {
        let piece = &text[s..e];
        let lead = piece.len() - piece.trim_start().len();
        let trail = piece.len() - piece.trim_end().len();
        if !piece.trim().is_empty() {
            steps.push(Step {
                start: s + lead,
                end: e - trail,
            });
        }
    };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            push(start, i, &mut steps);
            start = i + 1;
        } else if matches!(c, b'.' | b'!' | b'?')
            && b.get(i + 1)
                .is_some_and(|n| n.is_ascii_whitespace() && *n != b'\n')
        {
            push(start, i + 1, &mut steps);
            start = i + 1;
        }
        i += 1;
    }
    push(start, b.len(), &mut steps);
    steps
}

/// Reads the structure of `cot`. `answer_field` is the record's `answer` (used when it is
/// not empty); `question_nums` the question's numbers ([`question_numbers`]).
pub fn trace(cot: &str, answer_field: Option<&str>, question_nums: &HashSet<i64>) -> Trace {
    let steps = split_steps(cot);
    let toks = tokenize(cot);
    // step index of every token
    let mut tok_step = Vec::with_capacity(toks.len());
    let mut s = 0;
    for t in &toks {
        while s + 1 < steps.len() && t.start >= steps[s].end {
            s += 1;
        }
        tok_step.push(s);
    }
    let mut equations = Vec::new();
    let mut rhs_tokens = vec![false; toks.len()];
    for (e, t) in toks.iter().enumerate() {
        if t.tok != Tok::Eq {
            continue;
        }
        if let Some(eq) = equation_at(cot, &toks, &tok_step, e, &mut rhs_tokens) {
            equations.push(eq);
        }
    }
    let mut computed: Vec<i64> = equations.iter().map(|e| value_key(e.value)).collect();
    computed.sort_unstable();
    let numbers = toks
        .iter()
        .enumerate()
        .filter_map(|(k, t)| {
            let Tok::Num { value, .. } = t.tok else {
                return None;
            };
            let key = value_key(value);
            let role = if rhs_tokens[k] {
                Role::Computed
            } else if question_nums.contains(&key) {
                Role::Question
            } else if computed.binary_search(&key).is_ok() {
                Role::Computed
            } else if CONSTANTS.contains(&value) {
                Role::Constant
            } else {
                Role::Unexplained
            };
            Some(NumberUse {
                value,
                start: t.start,
                end: t.end,
                role,
            })
        })
        .collect();
    let field = answer_field.and_then(answer::normalize);
    let answer_from_text = field.is_none();
    let answer = field.or_else(|| answer::find_in_text(cot));
    let mut seen = HashSet::new();
    let repeated_steps = steps
        .iter()
        .filter(|s| !seen.insert(&cot[s.start..s.end]))
        .count();
    Trace {
        steps,
        equations,
        numbers,
        answer,
        answer_from_text,
        chars: cot.chars().count(),
        repeated_steps,
    }
}

/// The equation whose `=` is token `e`, when a value follows it.
fn equation_at(
    cot: &str,
    toks: &[Token],
    tok_step: &[usize],
    e: usize,
    rhs: &mut [bool],
) -> Option<Equation> {
    let step = tok_step[e];
    // The value: an optional minus, then a number, in the same step.
    let mut r = e + 1;
    let mut sign = 1.0;
    if toks.get(r).map(|t| t.tok) == Some(Tok::Op('-')) {
        sign = -1.0;
        r += 1;
    }
    let rt = toks.get(r).filter(|_| tok_step[r] == step)?;
    let Tok::Num { value, percent } = rt.tok else {
        return None;
    };
    let value = sign * value;
    rhs[r] = true;
    // The left side: walk back over numbers, operators, brackets, units after a number and
    // `x` between numbers; stop at anything else, another `=`, or the step's start.
    let mut first = e;
    while first > 0 && tok_step[first - 1] == step {
        let j = first - 1;
        let ok = match toks[j].tok {
            Tok::Num { .. } | Tok::Op(_) | Tok::Open | Tok::Close => true,
            Tok::Word => j > 0 && tok_step[j - 1] == step && unit_word(cot, toks, j),
            _ => false,
        };
        if !ok {
            break;
        }
        first = j;
    }
    // A dash before a spaced number after a word is a separator, not a sign
    // ("Carrots - 4 carrots x $1.25 = $5"); "-48 + 21" keeps its sign.
    if first < e
        && toks[first].tok == Tok::Op('-')
        && (first == 0 || toks[first - 1].tok == Tok::Word || tok_step[first - 1] != step)
        && cot[toks[first].end..].starts_with(char::is_whitespace)
    {
        first += 1;
    }
    let mut expr_toks: Vec<Token> = Vec::new();
    for k in first..e {
        let t = toks[k];
        match t.tok {
            Tok::Word => {
                let w = t.text(cot);
                let next_is_operand = toks
                    .get(k + 1)
                    .is_some_and(|n| matches!(n.tok, Tok::Num { .. } | Tok::Open));
                if (w == "x" || w == "X") && next_is_operand {
                    expr_toks.push(Token {
                        tok: Tok::Op('*'),
                        ..t
                    });
                }
                // other words are units: dropped
            }
            // "/" before a unit ("$5/glass", "2 GB/minute") is "per": dropped with the unit
            Tok::Op('/') if toks.get(k + 1).is_some_and(|n| n.tok == Tok::Word) => {}
            _ => expr_toks.push(t),
        }
    }
    // The longest suffix that is one expression ("she has 5 + 3 = 8": "5 + 3").
    let mut lhs = None;
    let mut lhs_start = toks[e].start;
    for k in 0..expr_toks.len().min(12) {
        if let Some((v, ops)) = expr::eval(&expr_toks[k..]) {
            lhs = Some((v, ops));
            lhs_start = expr_toks[k].start;
            break;
        }
    }
    let (lhs_value, ops) = match lhs {
        Some((v, ops)) => (Some(v), ops),
        None => (None, Vec::new()),
    };
    // "24 eggs in 1 tray x 2 trays = 48": the arithmetic began before the preposition that
    // stopped the walk, so the part after it cannot be checked on its own.
    let continues_before = first >= 2
        && tok_step[first - 2] == step
        && toks[first - 1].tok == Tok::Word
        && ["in", "of", "at", "with", "by"]
            .iter()
            .any(|w| toks[first - 1].text(cot).eq_ignore_ascii_case(w))
        && (matches!(toks[first - 2].tok, Tok::Num { .. })
            || (first >= 3
                && tok_step[first - 3] == step
                && toks[first - 2].tok == Tok::Word
                && matches!(toks[first - 3].tok, Tok::Num { .. })));
    let correct = match lhs_value {
        Some(v) if !ops.is_empty() && !continues_before => {
            Some(arithmetic_checks(v, value, percent, rt.text(cot)))
        }
        _ => None,
    };
    Some(Equation {
        step,
        start: lhs_start,
        end: rt.end,
        value,
        lhs: lhs_value,
        ops,
        correct,
    })
}

/// Whether the word at `j` is part of a unit inside arithmetic: after a number or `)`
/// ("80 miles"), the second word of a unit ("16 square feet", "2 degrees Celsius"), after
/// "/" or "per" ("$5/glass", "$2.74 per pot"), or "per" itself after a unit.
fn unit_word(cot: &str, toks: &[Token], j: usize) -> bool {
    let operand = |t: &Token| matches!(t.tok, Tok::Num { .. } | Tok::Close);
    let prev = &toks[j - 1];
    if is_function_word(toks[j].text(cot)) {
        return false;
    }
    match prev.tok {
        Tok::Num { .. } | Tok::Close | Tok::Op('/') => true,
        Tok::Word if prev.text(cot).eq_ignore_ascii_case("per") => true,
        Tok::Word => {
            j >= 2
                && (operand(&toks[j - 2]) || toks[j - 2].tok == Tok::Op('/'))
                && !is_function_word(prev.text(cot))
        }
        _ => false,
    }
}

/// Words that end a unit rather than continue it ("3 countries *is* −48 + 21",
/// "24 eggs *in* 1 tray").
fn is_function_word(w: &str) -> bool {
    const WORDS: [&str; 24] = [
        "is", "are", "was", "were", "be", "in", "of", "to", "for", "and", "or", "at", "on", "by",
        "with", "from", "than", "that", "the", "a", "an", "so", "has", "have",
    ];
    WORDS.iter().any(|f| w.eq_ignore_ascii_case(f))
}

/// Whether `lhs` equals the written value up to the rounding it is written with
/// (`230/3 = 76.67` checks; `7 * 8 = 54` does not). A percent value may be meant as its
/// written number or as a fraction (`0.2 * 100 = 20%`, `20% * 50% = 10%`).
fn arithmetic_checks(lhs: f64, value: f64, percent: bool, written: &str) -> bool {
    let decimals = written.split_once('.').map_or(0, |(_, f)| {
        f.chars().take_while(char::is_ascii_digit).count()
    });
    let tol = |v: f64| 0.5 * 10f64.powi(-(decimals as i32)) + 1e-6 * v.abs() + 1e-9;
    let close = |v: f64| (lhs - v).abs() <= tol(v);
    close(value) || (percent && (close(value / 100.0) || (lhs * 100.0 - value).abs() <= tol(value)))
}

/// A piece of a CoT's text for display: plain text, or (part of) an equation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Byte offset.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// Index into [`Trace::equations`], for equation text.
    pub equation: Option<usize>,
}

impl Trace {
    /// Cuts a text of `len` bytes (the CoT this trace was read from) into consecutive
    /// segments that mark each equation; chained equations that share a number are clipped
    /// so that segments never overlap.
    pub fn segments(&self, len: usize) -> Vec<Segment> {
        let mut out = Vec::new();
        let mut pos = 0;
        for (k, e) in self.equations.iter().enumerate() {
            let start = e.start.max(pos);
            if start >= e.end || e.end > len {
                continue;
            }
            if start > pos {
                out.push(Segment {
                    start: pos,
                    end: start,
                    equation: None,
                });
            }
            out.push(Segment {
                start,
                end: e.end,
                equation: Some(k),
            });
            pos = e.end;
        }
        if pos < len {
            out.push(Segment {
                start: pos,
                end: len,
                equation: None,
            });
        }
        out
    }

    /// Computed values (results of equations) as keys, sorted and unique.
    pub fn computed_keys(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.equations.iter().map(|e| value_key(e.value)).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Operators of all equations in order.
    pub fn op_sequence(&self) -> Vec<char> {
        self.equations
            .iter()
            .flat_map(|e| e.ops.iter().copied())
            .collect()
    }

    /// The per-CoT signals.
    pub fn signals(&self, question_nums: &HashSet<i64>) -> CotSignals {
        let checked: Vec<bool> = self.equations.iter().filter_map(|e| e.correct).collect();
        let wrong = checked.iter().filter(|c| !**c).count();
        let mut used: Vec<i64> = self.numbers.iter().map(|n| value_key(n.value)).collect();
        used.sort_unstable();
        let covered = question_nums
            .iter()
            .filter(|q| used.binary_search(q).is_ok())
            .count();
        let unexplained = self
            .numbers
            .iter()
            .filter(|n| n.role == Role::Unexplained)
            .count();
        let answer_is_last_value = match (
            self.answer.as_ref().and_then(Answer::number),
            self.equations.last(),
        ) {
            (Some(a), Some(e)) => Some(answer::same_number(a, e.value)),
            _ => None,
        };
        let intermediate = self.equations.len().saturating_sub(1);
        let reused = self.equations[..intermediate]
            .iter()
            .filter(|e| {
                let key = value_key(e.value);
                self.numbers
                    .iter()
                    .any(|n| n.start >= e.end && value_key(n.value) == key)
            })
            .count();
        CotSignals {
            repeated_steps: if self.steps.is_empty() {
                0.0
            } else {
                self.repeated_steps as f64 / self.steps.len() as f64
            },
            chain_coherence: if intermediate == 0 {
                1.0
            } else {
                reused as f64 / intermediate as f64
            },
            arithmetic_validity: if checked.is_empty() {
                1.0
            } else {
                1.0 - wrong as f64 / checked.len() as f64
            },
            wrong_equations: wrong,
            checked_equations: checked.len(),
            question_coverage: if question_nums.is_empty() {
                1.0
            } else {
                covered as f64 / question_nums.len() as f64
            },
            unexplained_share: if self.numbers.is_empty() {
                0.0
            } else {
                unexplained as f64 / self.numbers.len() as f64
            },
            steps: self.steps.len(),
            answer_is_last_value,
            chars: self.chars,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tr(cot: &str) -> Trace {
        trace(cot, None, &HashSet::new())
    }

    /// (cot, [(lhs text, value, correct)])
    #[test]
    fn equations_table() {
        let cases: &[(&str, &[(&str, f64, Option<bool>)])] = &[
            ("3 + 2 = 5", &[("3 + 2 = 5", 5.0, Some(true))]),
            ("3 * 2 = 5", &[("3 * 2 = 5", 5.0, Some(false))]),
            (
                "She has 16 - 3 - 4 = 9 eggs.",
                &[("16 - 3 - 4 = 9", 9.0, Some(true))],
            ),
            (
                "80 miles + 150 miles = 230 miles",
                &[("80 miles + 150 miles = 230", 230.0, Some(true))],
            ),
            (
                "He pays $600/12 = $50 a month",
                &[("$600/12 = $50", 50.0, Some(true))],
            ),
            ("2 x 3 = 6", &[("2 x 3 = 6", 6.0, Some(true))]),
            (
                "230/3 = 76.67 each",
                &[("230/3 = 76.67", 76.67, Some(true))],
            ),
            ("230/3 = 76.6 each", &[("230/3 = 76.6", 76.6, Some(false))]),
            (
                "20% of the 50 is 0.2 * 50 = 10",
                &[("0.2 * 50 = 10", 10.0, Some(true))],
            ),
            ("0.2 * 100 = 20%", &[("0.2 * 100 = 20%", 20.0, Some(true))]),
            ("Total = 18", &[("= 18", 18.0, None)]),
            (
                "4 * 5 = 20 + 3 = 23",
                &[
                    ("4 * 5 = 20", 20.0, Some(true)),
                    ("20 + 3 = 23", 23.0, Some(true)),
                ],
            ),
            ("<<16-3=13>>13 left", &[("16-3=13", 13.0, Some(true))]),
            ("10 - 15 = -5", &[("10 - 15 = -5", -5.0, Some(true))]),
            (
                "(4 + 6) × 2 = 20",
                &[("(4 + 6) × 2 = 20", 20.0, Some(true))],
            ),
            // units with "/" or "per", and units of two words
            (
                "It costs $5/glass * 16 glasses = $80.",
                &[("$5/glass * 16 glasses = $80", 80.0, Some(true))],
            ),
            (
                "Loan: $20000/year * 25 years = $50000",
                &[("$20000/year * 25 years = $50000", 50000.0, Some(false))],
            ),
            (
                "So 7.5 pounds / .5 pound/toy = 15 toys",
                &[("7.5 pounds / .5 pound/toy = 15", 15.0, Some(true))],
            ),
            (
                "Marigolds: $2.74 per pot * 12 pots = $32.88",
                &[("$2.74 per pot * 12 pots = $32.88", 32.88, Some(true))],
            ),
            (
                "It fell to 2 degrees Celsius - 8 degrees Celsius = 10 degrees",
                &[(
                    "2 degrees Celsius - 8 degrees Celsius = 10",
                    10.0,
                    Some(false),
                )],
            ),
            // a function word ends the left side; a sign stays, a separating dash does not
            (
                "The mean of these 3 countries is -48+21+-3=-30",
                &[("-48+21+-3=-30", -30.0, Some(true))],
            ),
            (
                "Carrots - 4 carrots x $1.25 = $5.0",
                &[("4 carrots x $1.25 = $5.0", 5.0, Some(true))],
            ),
            // the arithmetic began before "in": not checkable from the part after it
            (
                "There are 24 eggs in 1 tray x 2 trays = 48",
                &[("1 tray x 2 trays = 48", 48.0, None)],
            ),
            ("x = the total", &[]),
            ("no numbers at all", &[]),
            ("", &[]),
        ];
        for (cot, expected) in cases {
            let t = tr(cot);
            let got: Vec<(&str, f64, Option<bool>)> = t
                .equations
                .iter()
                .map(|e| (&cot[e.start..e.end], e.value, e.correct))
                .collect();
            assert_eq!(got, *expected, "{cot}");
        }
    }

    #[test]
    fn segments_cover_the_text_without_overlap() {
        let cot = "So 4 * 5 = 20 + 3 = 23, done.";
        let t = tr(cot);
        let segs = t.segments(cot.len());
        let texts: Vec<(&str, Option<usize>)> = segs
            .iter()
            .map(|s| (&cot[s.start..s.end], s.equation))
            .collect();
        assert_eq!(
            texts,
            [
                ("So ", None),
                ("4 * 5 = 20", Some(0)),
                (" + 3 = 23", Some(1)),
                (", done.", None)
            ]
        );
        assert_eq!(tr("").segments(0), []);
        assert_eq!(tr("no math").segments(7).len(), 1);
    }

    #[test]
    fn steps_are_lines_and_sentences() {
        let cot = "First, 3 + 4 = 7. Then 7 * 2 = 14.\n\nSo the answer is 14.";
        let t = tr(cot);
        let steps: Vec<&str> = t.steps.iter().map(|s| &cot[s.start..s.end]).collect();
        assert_eq!(
            steps,
            [
                "First, 3 + 4 = 7.",
                "Then 7 * 2 = 14.",
                "So the answer is 14."
            ]
        );
        assert_eq!(t.equations[1].step, 1);
        assert_eq!(
            tr("2.5 apples. Done").steps.len(),
            2,
            "a decimal point is not a sentence end"
        );
    }

    #[test]
    fn number_roles_and_signals() {
        let question =
            "Janet has 16 eggs. She eats 3 and bakes with 4. She sells the rest for $2 each.";
        let q = question_numbers(question);
        let cot =
            "She has 16 - 3 - 4 = 9 eggs left.\nShe makes 9 * 2 = $18.\nPlus a tip of 37 dollars.";
        let t = trace(cot, Some("$18"), &q);
        let roles: Vec<(f64, Role)> = t.numbers.iter().map(|n| (n.value, n.role)).collect();
        assert_eq!(
            roles,
            [
                (16.0, Role::Question),
                (3.0, Role::Question),
                (4.0, Role::Question),
                (9.0, Role::Computed),
                (9.0, Role::Computed),
                (2.0, Role::Question),
                (18.0, Role::Computed),
                (37.0, Role::Unexplained),
            ]
        );
        let s = t.signals(&q);
        assert_eq!(s.arithmetic_validity, 1.0);
        assert_eq!(s.checked_equations, 2);
        assert_eq!(s.question_coverage, 1.0);
        assert_eq!(s.unexplained_share, 1.0 / 8.0);
        assert_eq!(s.steps, 3);
        assert_eq!(s.answer_is_last_value, Some(true));
        assert_eq!(t.answer, Some(Answer::Number(18.0)));
        assert!(!t.answer_from_text);
    }

    #[test]
    fn wrong_arithmetic_and_answer_mismatch() {
        let t = trace("7 * 8 = 54\n54 + 1 = 55", Some("56"), &HashSet::new());
        let s = t.signals(&HashSet::new());
        assert_eq!(s.wrong_equations, 1);
        assert_eq!(s.arithmetic_validity, 0.5);
        assert_eq!(s.answer_is_last_value, Some(false));
    }

    #[test]
    fn any_text_is_read_without_panic() {
        let huge = "The value 12 + 30 = 42 is here. ".repeat(3200); // ~100k characters
        assert!(huge.len() > 100_000);
        let t = tr(&huge);
        assert_eq!(t.equations.len(), 3200);
        assert_eq!(t.answer, Some(Answer::Number(42.0)));
        for text in [
            "",
            "   \n\n ",
            "Пётр: 2 + 2 = 4. 答案是4。",
            "= = = 5 = =",
            "((((((",
            "1e999 = 1e999",
            "$$$ % = %",
        ] {
            let t = tr(text);
            let _ = t.signals(&question_numbers(text));
        }
        let t = tr("Пётр: 2 + 2 = 4. 答案是4。");
        assert_eq!(t.equations[0].correct, Some(true));
        assert!(t.answer_from_text);
        assert_eq!(tr("").answer, None);
        assert_eq!(tr("").signals(&HashSet::new()).arithmetic_validity, 1.0);
    }
}
