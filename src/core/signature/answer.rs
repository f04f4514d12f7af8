//! Final answers: found in the text when the record has none, and normalised so that
//! `$1,200.00`, `1200` and `1200 dollars` compare equal, as do `(B)` and `b`, `Yes.` and
//! `yes`, `3/4` and `0.75`, `40%` and `40`.

use super::tokens::{tokenize, Tok};

/// A normalised final answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A number (units, currency, commas and `%` dropped; fractions divided).
    Number(f64),
    /// `yes` or `no` (also true/false).
    YesNo(bool),
    /// A multiple-choice letter, lower case.
    Choice(char),
    /// Anything else: lower case, inner whitespace collapsed, outer punctuation trimmed.
    Text(String),
}

impl Answer {
    /// A stable key for grouping equal answers (numbers rounded to 6 significant digits).
    pub fn key(&self) -> String {
        match self {
            Answer::Number(x) => format_number(*x),
            Answer::YesNo(b) => (if *b { "yes" } else { "no" }).to_string(),
            Answer::Choice(c) => format!("({c})"),
            Answer::Text(t) => t.clone(),
        }
    }

    /// The number, when it is one.
    pub fn number(&self) -> Option<f64> {
        match self {
            Answer::Number(x) => Some(*x),
            _ => None,
        }
    }
}

/// `5` for 5.0, `0.75`, `1234.5`, `3.33333` (6 significant digits, no trailing zeros).
pub fn format_number(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let digits = 6 - (x.abs().log10().floor() as i32 + 1);
    let s = format!("{:.*}", digits.clamp(0, 12) as usize, x);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    s.to_string()
}

/// Whether two numbers are the same answer (relative 1e-6, absolute 1e-9).
pub fn same_number(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 + 1e-6 * a.abs().max(b.abs())
}

/// Normalises an answer as written (a record's `answer` field or text found in the CoT).
/// `None` for an empty answer.
pub fn normalize(raw: &str) -> Option<Answer> {
    let t = raw
        .trim()
        .trim_end_matches(['.', '!', '?', ';', ':'])
        .trim();
    if t.is_empty() {
        return None;
    }
    let lower = t.to_lowercase();
    let bare = lower.trim_matches(|c: char| !c.is_alphanumeric());
    match bare {
        "yes" | "true" => return Some(Answer::YesNo(true)),
        "no" | "false" => return Some(Answer::YesNo(false)),
        _ => {}
    }
    // (B), B), B, b. — a single letter A–J alone, possibly in brackets.
    let letters: Vec<char> = bare.chars().collect();
    if letters.len() == 1
        && ('a'..='j').contains(&letters[0])
        && t.chars().filter(|c| c.is_alphabetic()).count() == 1
    {
        return Some(Answer::Choice(letters[0]));
    }
    if let Some(x) = leading_number(t) {
        return Some(Answer::Number(x));
    }
    Some(Answer::Text(
        lower
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .trim_matches(['"', '\'', '.', ','])
            .to_string(),
    ))
}

/// The number an answer starts with: `$1,200`, `-5 apples`, `3/4 cup`, `40%`, `12 dollars`.
/// `None` when the text has words before its first number or several unrelated numbers.
fn leading_number(t: &str) -> Option<f64> {
    let toks = tokenize(t);
    let mut i = 0;
    let mut sign = 1.0;
    if let Some(Tok::Op('-')) = toks.first().map(|x| x.tok) {
        sign = -1.0;
        i = 1;
    }
    let first = toks.get(i)?.number()?;
    let mut value = first;
    // a fraction: 3/4
    if let (Some(Tok::Op('/')), Some(d)) = (
        toks.get(i + 1).map(|x| x.tok),
        toks.get(i + 2).and_then(|x| x.number()),
    ) {
        if d != 0.0 {
            value = first / d;
            i += 2;
        }
    }
    // After the number only words (units) and punctuation may follow.
    let rest_ok = toks[i + 1..]
        .iter()
        .all(|x| matches!(x.tok, Tok::Word | Tok::Punct(_)));
    rest_ok.then_some(sign * value)
}

/// Finds the final answer stated in a CoT's text: "The answer is …", "#### …", "A: …",
/// "Answer: …", "Therefore … is …", else the last number. `None` when there is nothing.
pub fn find_in_text(text: &str) -> Option<Answer> {
    // ASCII lower case keeps byte offsets, and every marker is ASCII.
    let lower = text.to_ascii_lowercase();
    // Markers, most explicit first; the text after the last occurrence, up to the line end.
    const MARKERS: [&str; 6] = [
        "the answer is",
        "####",
        "answer:",
        "\na:",
        "the final answer is",
        "final answer:",
    ];
    let found = MARKERS
        .iter()
        .find_map(|m| lower.rfind(m).map(|pos| pos + m.len()));
    let found = found.or_else(|| lower.starts_with("a:").then_some(2));
    if let Some(end) = found {
        let tail = text[end..].lines().next().unwrap_or("");
        if let Some(a) = normalize(first_clause(tail.trim().trim_start_matches([':', ' ']))) {
            return Some(a);
        }
    }
    // "Therefore, the answer (Yes or No) is No." → what follows the last " is " of a last line
    // that speaks of the answer.
    if let Some(last) = lower
        .trim_end()
        .lines()
        .last()
        .filter(|l| l.contains("answer"))
    {
        if let Some(pos) = last.rfind(" is ") {
            let offset = lower.trim_end().len() - last.len() + pos + 4;
            if let Some(a) = normalize(first_clause(text[offset..].trim())) {
                return Some(a);
            }
        }
    }
    // Else the last number of the text.
    tokenize(text).iter().rev().find_map(|t| match t.tok {
        Tok::Num { value, .. } => Some(Answer::Number(value)),
        _ => None,
    })
}

fn first_clause(s: &str) -> &str {
    let end = s.find(['\n', ';']).unwrap_or(s.len());
    let s = &s[..end];
    // "18. She ..." → "18"
    match s.find(". ") {
        Some(i) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_table() {
        use Answer::*;
        let cases: &[(&str, Option<Answer>)] = &[
            ("18", Some(Number(18.0))),
            ("$1,200.00", Some(Number(1200.0))),
            ("1200 dollars", Some(Number(1200.0))),
            ("-5", Some(Number(-5.0))),
            ("3/4", Some(Number(0.75))),
            ("40%", Some(Number(40.0))),
            ("12.50.", Some(Number(12.5))),
            ("Yes.", Some(YesNo(true))),
            ("no", Some(YesNo(false))),
            ("True", Some(YesNo(true))),
            ("(B)", Some(Choice('b'))),
            ("C)", Some(Choice('c'))),
            ("d", Some(Choice('d'))),
            ("The Eiffel  Tower.", Some(Text("the eiffel tower".into()))),
            ("between 3 and 5", Some(Text("between 3 and 5".into()))),
            ("05/10/2021", Some(Text("05/10/2021".into()))),
            ("", None),
            ("  . ", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize(raw), *expected, "{raw:?}");
        }
    }

    #[test]
    fn number_keys_compare_equal() {
        assert_eq!(
            normalize("$18.00").unwrap().key(),
            normalize("18").unwrap().key()
        );
        assert_eq!(format_number(10.0 / 3.0), "3.33333");
        assert_eq!(format_number(0.75), "0.75");
        assert_eq!(format_number(-2.0), "-2");
        assert_eq!(format_number(1234567.891), "1234568");
        assert!(same_number(0.1 + 0.2, 0.3));
        assert!(!same_number(76.67, 76.0));
    }

    #[test]
    fn answers_found_in_text() {
        use Answer::*;
        let cases: &[(&str, Option<Answer>)] = &[
            (
                "She sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = $18.\nThe answer is 18.",
                Some(Number(18.0)),
            ),
            ("Natalia sold 48/2 = 24 clips.\n#### 72", Some(Number(72.0))),
            ("48 + 24 = 72\nA: 72", Some(Number(72.0))),
            ("A: (C)", Some(Choice('c'))),
            ("So the answer is (B).", Some(Choice('b'))),
            (
                "Therefore, the answer (Yes or No) is No.",
                Some(YesNo(false)),
            ),
            ("Answer: $1,050", Some(Number(1050.0))),
            (
                "So she makes 9 * 2 = 18 dollars every day.",
                Some(Number(18.0)),
            ),
            ("No numbers and no marker", None),
            ("", None),
            ("İİİ the answer is 7", Some(Number(7.0))),
        ];
        for (text, expected) in cases {
            assert_eq!(find_in_text(text), *expected, "{text:?}");
        }
    }
}
