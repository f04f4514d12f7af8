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
    Some(Answer::Text(join_spelled(
        lower
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .trim_matches(['"', '\'', '.', ',']),
    )))
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

/// Normalises a question's known reference answer (a record's `reference_answer`, also
/// called `gold_answer`, `ground_truth` or `expected_answer`) like [`normalize`], after
/// taking off the wrappers references come in: a leading `#### `, "The answer is" or
/// "Answer:"; LaTeX `\boxed{…}` (the last one, nested braces allowed), `$…$`, `\(…\)` and
/// `\[…\]`; `\frac{a}{b}` (also `\dfrac`, `\tfrac`) as `a/b`; `\text{…}` as its text;
/// `\%`, `\$`, `{,}` and `\,`. An option letter with its text, `(B) 42`, is the choice `b`.
/// `None` for an empty reference.
pub fn normalize_reference(raw: &str) -> Option<Answer> {
    let mut s = raw.trim().to_string();
    // Leading markers, possibly several ("#### The answer is 5").
    loop {
        let before = s.len();
        s = strip_prefix_ci(&s, "####");
        s = strip_prefix_ci(&s, "the final answer is");
        s = strip_prefix_ci(&s, "the answer is");
        s = strip_prefix_ci(&s, "final answer:");
        s = strip_prefix_ci(&s, "answer:");
        s = s.trim_start_matches([':', ' ']).trim().to_string();
        if s.len() == before {
            break;
        }
    }
    if let Some(inner) = last_braced(&s, &["\\boxed{", "\\fbox{"]) {
        s = inner;
    }
    s = unlatex(&s);
    let t = s.trim().trim_end_matches(['.', '!', '?', ';']).trim();
    if let Some(c) = leading_option(t) {
        // "(B) 42", "B) 42": the option, whatever its text.
        if t.starts_with('(') || t[1..].starts_with(')') {
            return Some(Answer::Choice(c));
        }
    }
    normalize(t)
}

/// `s` without a case-insensitive ASCII `prefix` (and the spaces after it).
fn strip_prefix_ci(s: &str, prefix: &str) -> String {
    match s.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => s[prefix.len()..].trim().to_string(),
        _ => s.to_string(),
    }
}

/// The content of the last `\boxed{…}` (any of `openers`), braces nested.
fn last_braced(s: &str, openers: &[&str]) -> Option<String> {
    let start = openers
        .iter()
        .filter_map(|o| s.rfind(o).map(|p| p + o.len()))
        .max()?;
    braced_content(s, start).map(|(inner, _)| inner.to_string())
}

/// The text from `start` (just after a `{`) to its matching `}`, and the index after it.
fn braced_content(s: &str, start: usize) -> Option<(&str, usize)> {
    let mut depth = 1;
    for (i, c) in s[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some((&s[start..start + i], start + i + 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// LaTeX of a short answer as plain text: math delimiters dropped, `\frac{a}{b}` → `a/b`,
/// `\text{x}` → `x`, `\%` → `%`, `\$` → `$`, `{,}` and `\,` dropped, `\left(` → `(`, other
/// braces dropped.
fn unlatex(s: &str) -> String {
    let mut s = s.trim().to_string();
    for d in ["$$", "\\(", "\\)", "\\[", "\\]"] {
        s = s.replace(d, "");
    }
    // `$…$` around the whole answer is math, not a dollar sign.
    if s.len() >= 2 && s.starts_with('$') && s.ends_with('$') && !s.ends_with("\\$") {
        s = s[1..s.len() - 1].to_string();
    }
    for (from, to) in [
        ("\\left", ""),
        ("\\right", ""),
        ("\\%", "%"),
        ("\\$", "$"),
        ("{,}", ""),
        ("\\,", ""),
        ("\\!", ""),
        ("\\;", " "),
        ("\\ ", " "),
        ("^\\circ", ""),
        ("^{\\circ}", ""),
        ("\\cdot", "*"),
        ("\\times", "*"),
    ] {
        s = s.replace(from, to);
    }
    // \frac{a}{b} and \text{x}, innermost first, until none is left.
    loop {
        let mut changed = false;
        for cmd in ["\\dfrac{", "\\tfrac{", "\\frac{"] {
            if let Some(p) = s.rfind(cmd) {
                let open = p + cmd.len();
                if let Some((num, after)) = braced_content(&s, open) {
                    if s[after..].starts_with('{') {
                        if let Some((den, end)) = braced_content(&s, after + 1) {
                            let simple =
                                |x: &str| x.chars().all(|c| c.is_alphanumeric() || c == '.');
                            let part = |x: &str| {
                                if simple(x) {
                                    x.to_string()
                                } else {
                                    format!("({x})")
                                }
                            };
                            let frac = format!("{}/{}", part(num), part(den));
                            s = format!("{}{}{}", &s[..p], frac, &s[end..]);
                            changed = true;
                        }
                    }
                }
            }
        }
        for cmd in ["\\text{", "\\textbf{", "\\mathrm{", "\\mbox{", "\\textrm{"] {
            if let Some(p) = s.rfind(cmd) {
                if let Some((inner, end)) = braced_content(&s, p + cmd.len()) {
                    s = format!("{}{}{}", &s[..p], inner, &s[end..]);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    // Grouping braces left over: `{7}`.
    s.replace(['{', '}'], "").trim().to_string()
}

/// Whether a model's `answer` is the `reference` (both normalised): numbers by
/// [`same_number`], yes/no and choices by equality, text by equal text (case, punctuation
/// and spacing aside). A choice also matches a text answer that starts with its letter,
/// `(b) 42` or `b) 42` or `b: 42`, and yes/no a text answer that starts with it (`no, it is not`).
pub fn matches_reference(answer: &Answer, reference: &Answer) -> bool {
    use Answer::*;
    match (answer, reference) {
        (Number(a), Number(b)) => same_number(*a, *b),
        (YesNo(a), YesNo(b)) => a == b,
        (Choice(a), Choice(b)) => a == b,
        (Text(a), Text(b)) => a == b || loose_text(a) == loose_text(b),
        (Text(t), Choice(c)) | (Choice(c), Text(t)) => leading_option(t) == Some(*c),
        (Text(t), YesNo(b)) | (YesNo(b), Text(t)) => leading_yes_no(t) == Some(*b),
        _ => false,
    }
}

/// Text for a loose comparison: letters and digits only, words separated by one space.
fn loose_text(t: &str) -> String {
    t.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The option letter a phrase starts with: `(B)…` (any case), or a letter A–J followed by
/// the end, `)`, `:`, `,`, `.`, `-`, ` (`, or ` or `/` and ` (`A, B, and D` is `a`, the first listed:
/// zero-shot-CoT's answer cleansing takes the first letter too). Lower case letters count
/// only in brackets or as `b)`, `b:`, alone, so that "a town" is no choice.
fn leading_option(t: &str) -> Option<char> {
    let t = t.trim_start();
    let b = t.as_bytes();
    let is_opt = |c: u8| (b'a'..=b'j').contains(&c.to_ascii_lowercase());
    if b.len() >= 3 && b[0] == b'(' && is_opt(b[1]) && b[2] == b')' {
        return Some(b[1].to_ascii_lowercase() as char);
    }
    let first = *b.first()?;
    if !is_opt(first) {
        return None;
    }
    let rest = &t[1..];
    let upper = first.is_ascii_uppercase();
    let ok = rest.is_empty()
        || rest.starts_with([')', ':'])
        || (upper
            && (rest.starts_with([',', '.', ';', '-'])
                || rest.starts_with(" (")
                || rest.starts_with(" or ")
                || rest.starts_with(" and ")));
    ok.then(|| first.to_ascii_lowercase() as char)
}

/// `yes`/`no` (also true/false) at the start of a phrase, alone or before punctuation:
/// "Yes, the coin is still heads up" but not "no more than 5".
pub(super) fn leading_yes_no(t: &str) -> Option<bool> {
    let lower = t.trim_start().to_ascii_lowercase();
    for (word, value) in [
        ("yes", true),
        ("no", false),
        ("true", true),
        ("false", false),
    ] {
        if let Some(rest) = lower.strip_prefix(word) {
            if rest.is_empty() || rest.starts_with([',', '.', ';', ':', '!', '"', '\'']) {
                return Some(value);
            }
        }
    }
    None
}

/// Hedges before an answer phrase: "probably (A)", "most likely Yes", "that …".
const HEDGES: [&str; 10] = [
    "most likely",
    "either",
    "probably",
    "likely",
    "definitely",
    "clearly",
    "option",
    "choice",
    "answer choice",
    "letter",
];

/// The answer in a phrase that follows an answer marker: `normalize` of its first clause,
/// and when that is text, a closer reading: hedges dropped ("probably (A), (B), (C), or
/// (D)" is `a`, the first listed), a leading option letter ("A: Karl", "(D) a town",
/// "B, 03/05/1973"), a leading yes/no ("no, the coin is not heads up"), spelled-out letters
/// ("l r n z" is `lrnz`).
fn phrase_answer(s: &str) -> Option<Answer> {
    let clause = first_clause(s);
    let a = normalize(clause)?;
    if !matches!(a, Answer::Text(_)) {
        return Some(a);
    }
    let mut t = clause.trim();
    // `"n-d-o-a", or "ndoa"`: the first quoted part.
    if let Some(q) = t.strip_prefix('"') {
        if let Some(close) = q.find('"') {
            if close > 0 {
                return normalize(&q[..close]);
            }
        }
    }
    t = t.trim_start_matches(['"', '\'', ' ']);
    loop {
        let before = t.len();
        for h in HEDGES {
            if let Some(head) = t.get(..h.len()) {
                if head.eq_ignore_ascii_case(h) && t[h.len()..].starts_with([' ', ',', ':']) {
                    t = t[h.len()..].trim_start_matches([' ', ',', ':']);
                }
            }
        }
        if t.len() == before {
            break;
        }
    }
    if t.len() != clause.trim().len() {
        match normalize(t) {
            Some(Answer::Text(_)) | None => {}
            Some(b) => return Some(b),
        }
    }
    if let Some(b) = leading_yes_no(t) {
        return Some(Answer::YesNo(b));
    }
    if let Some(c) = leading_option(t) {
        return Some(Answer::Choice(c));
    }
    match a {
        Answer::Text(text) => Some(Answer::Text(join_spelled(&text))),
        other => Some(other),
    }
}

/// "l r n z" or "s-a-n-n" → "lrnz", "sann": two or more single letters separated by spaces
/// or hyphens, joined (a word spelled out).
fn join_spelled(t: &str) -> String {
    let parts: Vec<&str> = t.split([' ', '-']).collect();
    if parts.len() >= 2
        && parts
            .iter()
            .all(|p| p.chars().count() == 1 && p.chars().all(char::is_alphabetic))
    {
        parts.concat()
    } else {
        t.to_string()
    }
}

/// The end of the last "the answer is" or "the answer (Yes or No) is" in `lower`.
fn last_answer_is(lower: &str) -> Option<usize> {
    const M: &str = "the answer is";
    let plain = lower.rfind(M).map(|p| p + M.len());
    // "the answer (yes or no) is", the bracket within one line and 40 bytes.
    let bracketed = lower.rmatch_indices("the answer (").find_map(|(p, m)| {
        let rest = &lower[p + m.len()..];
        let close = rest[..rest.len().min(40)].find(')')?;
        if rest[..close].contains('\n') {
            return None;
        }
        rest[close + 1..]
            .starts_with(" is")
            .then_some(p + m.len() + close + 1 + 3)
    });
    plain.max(bracketed)
}

/// Finds the final answer stated in a CoT's text: "The answer is …" (also "The answer (Yes
/// or No) is …"), "#### …", "A: …", "Answer: …", "Therefore … is …", a closing "So, yes, …"
/// or quoted word, else the last number. `None` when there is nothing.
pub fn find_in_text(text: &str) -> Option<Answer> {
    // ASCII lower case keeps byte offsets, and every marker is ASCII.
    let lower = text.to_ascii_lowercase();
    // Markers, most explicit first; the text after the last occurrence, up to the line end
    // (the next line when the marker ends its line).
    const MARKERS: [&str; 6] = [
        "the answer is",
        "####",
        "answer:",
        "\na:",
        "the final answer is",
        "final answer:",
    ];
    let found = MARKERS.iter().find_map(|m| match *m {
        "the answer is" => last_answer_is(&lower),
        _ => lower.rfind(m).map(|pos| pos + m.len()),
    });
    let found = found.or_else(|| lower.starts_with("a:").then_some(2));
    if let Some(end) = found {
        let mut lines = text[end..].lines();
        let first = lines
            .next()
            .unwrap_or("")
            .trim()
            .trim_start_matches([':', ' ']);
        let tail = if first.is_empty() {
            lines.map(str::trim).find(|l| !l.is_empty()).unwrap_or("")
        } else {
            first
        };
        if let Some(a) = phrase_answer(tail) {
            return Some(a);
        }
    }
    // "Therefore, the answer (Yes or No) is No." → what follows the last " is " of a last line
    // that speaks of the answer ("… would be …" when there is no " is ").
    let trimmed = lower.trim_end();
    let last = trimmed.lines().last().unwrap_or("");
    if last.contains("answer") {
        let base = trimmed.len() - last.len();
        if let Some(pos) = last.rfind(" is ") {
            let after = &last[pos + 4..];
            // "(B), which is the correct answer": the option named before.
            if [
                "the correct answer",
                "the right answer",
                "the best answer",
                "the answer",
            ]
            .iter()
            .any(|p| after.starts_with(p))
            {
                if let Some(c) = last[..pos]
                    .rmatch_indices('(')
                    .find_map(|(i, _)| leading_option(&last[i..]))
                {
                    return Some(Answer::Choice(c));
                }
            }
            match phrase_answer(text[base + pos + 4..].trim()) {
                // "So, to answer the question, yes, the coin is still heads up."
                Some(Answer::Text(t)) => {
                    return closing_sentence(&text[..trimmed.len()]).or(Some(Answer::Text(t)))
                }
                Some(a) => return Some(a),
                None => {}
            }
        } else if let Some(pos) = last.rfind(" be ") {
            match phrase_answer(text[base + pos + 4..].trim()) {
                Some(Answer::Text(t)) if t.chars().any(|c| c.is_ascii_digit()) => {}
                Some(a) => return Some(a),
                None => {}
            }
        }
    }
    if let Some(a) = closing_sentence(&text[..trimmed.len()]) {
        return Some(a);
    }
    // Else the last number of the text.
    tokenize(text).iter().rev().find_map(|t| match t.tok {
        Tok::Num { value, .. } => Some(Answer::Number(value)),
        _ => None,
    })
}

/// A closing sentence that gives the answer without a marker: "So, yes, giraffes need …",
/// "No, it does not.", or ends on one quoted word: `So, we have "esln".`
fn closing_sentence(text: &str) -> Option<Answer> {
    let line = text.lines().last()?.trim();
    let sentence = line
        .trim_end_matches(['.', '!', ' '])
        .rsplit(". ")
        .next()
        .unwrap_or("")
        .trim();
    // A leading yes/no after a connector.
    let mut s = sentence;
    loop {
        let before = s.len();
        for c in [
            "so",
            "therefore",
            "thus",
            "hence",
            "in conclusion",
            "in summary",
            "overall",
            "to answer the question",
            "in short",
        ] {
            if let Some(head) = s.get(..c.len()) {
                if head.eq_ignore_ascii_case(c) && s[c.len()..].starts_with([',', ' ']) {
                    s = s[c.len()..].trim_start_matches([',', ' ']);
                }
            }
        }
        if s.len() == before {
            break;
        }
    }
    if let Some(b) = leading_yes_no(s) {
        return Some(Answer::YesNo(b));
    }
    // A quoted last word: `we get "n-a-e-y".` (letters and hyphens only).
    let q = sentence.trim_end_matches(['.', ' ']);
    if let Some(inner) = q.strip_suffix('"') {
        let word = inner.rsplit('"').next().unwrap_or("");
        let word = join_spelled(&word.to_lowercase());
        if inner.contains('"')
            && !word.is_empty()
            && word.chars().all(|c| c.is_alphabetic() || c == '-')
        {
            return normalize(&word);
        }
    }
    None
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
    #[test]
    fn references_normalised() {
        use Answer::*;
        let cases: &[(&str, Option<Answer>)] = &[
            ("18", Some(Number(18.0))),
            ("#### 72", Some(Number(72.0))),
            ("The answer is 18.", Some(Number(18.0))),
            ("Answer: 18", Some(Number(18.0))),
            ("#### The answer is: 5", Some(Number(5.0))),
            ("\\boxed{42}", Some(Number(42.0))),
            ("$\\boxed{42}$", Some(Number(42.0))),
            ("so \\boxed{3} then \\boxed{7}", Some(Number(7.0))),
            ("\\boxed{\\frac{1}{2}}", Some(Number(0.5))),
            ("\\boxed{{7}}", Some(Number(7.0))),
            ("$18$", Some(Number(18.0))),
            ("\\(18\\)", Some(Number(18.0))),
            ("$\\frac{3}{4}$", Some(Number(0.75))),
            ("\\dfrac{3}{4}", Some(Number(0.75))),
            ("-\\frac{1}{4}", Some(Number(-0.25))),
            ("\\text{18 dollars}", Some(Number(18.0))),
            ("\\boxed{\\text{Paris}}", Some(Text("paris".into()))),
            ("40\\%", Some(Number(40.0))),
            ("$40\\%$", Some(Number(40.0))),
            ("40%", Some(Number(40.0))),
            ("1,200", Some(Number(1200.0))),
            ("1{,}200", Some(Number(1200.0))),
            ("$1,200.00", Some(Number(1200.0))),
            ("\\$18", Some(Number(18.0))),
            ("18 dollars", Some(Number(18.0))),
            ("$18", Some(Number(18.0))),
            ("Yes", Some(YesNo(true))),
            ("no.", Some(YesNo(false))),
            ("True", Some(YesNo(true))),
            ("false", Some(YesNo(false))),
            ("(B)", Some(Choice('b'))),
            ("B)", Some(Choice('b'))),
            ("B", Some(Choice('b'))),
            ("B.", Some(Choice('b'))),
            ("(B) 42", Some(Choice('b'))),
            ("The answer is (C).", Some(Choice('c'))),
            ("\\boxed{B}", Some(Choice('b'))),
            ("The Eiffel Tower", Some(Text("the eiffel tower".into()))),
            ("\"fnel\"", Some(Text("fnel".into()))),
            ("", None),
            ("   ", None),
            ("####", None),
            ("\\boxed{}", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_reference(raw), *expected, "{raw:?}");
        }
    }

    #[test]
    fn answers_match_references() {
        use Answer::*;
        let t = |s: &str| Text(s.to_string());
        let cases: &[(Answer, Answer, bool)] = &[
            (Number(18.0), Number(18.0), true),
            (Number(0.1 + 0.2), Number(0.3), true),
            (Number(18.0), Number(18.5), false),
            (YesNo(true), YesNo(true), true),
            (YesNo(true), YesNo(false), false),
            (Choice('b'), Choice('b'), true),
            (Choice('b'), Choice('c'), false),
            (t("the eiffel tower"), t("the eiffel tower"), true),
            (t("the eiffel-tower"), t("the eiffel tower"), true),
            (t("paris"), t("london"), false),
            (t("(b) 42"), Choice('b'), true),
            (t("b) 42"), Choice('b'), true),
            (t("b: 42"), Choice('b'), true),
            (t("(c) 42"), Choice('b'), false),
            (t("a town"), Choice('a'), false),
            (Choice('b'), t("(b) 42"), true),
            (t("no, it is not"), YesNo(false), true),
            (t("no more than 5"), YesNo(false), false),
            (Number(2.0), Choice('b'), false),
            (Number(1.0), YesNo(true), false),
            (t("18"), Number(18.0), false),
        ];
        for (answer, reference, expected) in cases {
            assert_eq!(
                matches_reference(answer, reference),
                *expected,
                "{answer:?} vs {reference:?}"
            );
        }
        // Through the normalisers.
        let m = |a: &str, r: &str| {
            matches_reference(&normalize(a).unwrap(), &normalize_reference(r).unwrap())
        };
        assert!(m("$18.00", "\\boxed{18}"));
        assert!(m("3/4", "\\frac{3}{4}"));
        assert!(m("(B)", "B"));
        assert!(m("Yes.", "yes"));
        assert!(!m("17", "#### 18"));
    }

    #[test]
    fn cross_domain_answers_found_in_text() {
        use Answer::*;
        let cases: &[(&str, Option<Answer>)] = &[
            ("Therefore, the answer (Yes or No) is: Yes", Some(YesNo(true))),
            (
                "So, the final answer is that the coin is heads up. \nTherefore, the answer (Yes or No) is No.",
                Some(YesNo(false)),
            ),
            ("Therefore, the answer (Yes or No) is:\n\nYes, the Jackson 5 could.", Some(YesNo(true))),
            ("Therefore, the answer (Yes or No) is most likely Yes.", Some(YesNo(true))),
            ("So the answer is no, it was not written before.", Some(YesNo(false))),
            ("So, yes, giraffes require special facilities at zoos.", Some(YesNo(true))),
            ("So, to answer the question, yes, the coin is still heads up.", Some(YesNo(true))),
            (
                "Therefore, among A through E, the answer is probably (A), (B), (C), or (D).",
                Some(Choice('a')),
            ),
            ("Therefore, among A through E, the answer is A.", Some(Choice('a'))),
            ("Therefore, among A through E, the answer is A, B, and D.", Some(Choice('a'))),
            ("Therefore, among A through E, the answer is either C or E.", Some(Choice('c'))),
            ("Therefore, among A through E, the answer is B, chair.", Some(Choice('b'))),
            ("Therefore, among A through E, the answer is (D) a town.", Some(Choice('d'))),
            ("Therefore, among A through E, the answer is D--exhaustion.", Some(Choice('d'))),
            ("Therefore, among A through F, the answer is C: 07/09/1972.", Some(Choice('c'))),
            ("Therefore, the answer is (B) 01/08/1930.", Some(Choice('b'))),
            ("That leaves us with choice (B), which is the correct answer.", Some(Choice('b'))),
            ("So the answer must be (B), \"distant.\"", Some(Choice('b'))),
            ("Therefore, the answer is \"fnenl\".", Some(Text("fnenl".into()))),
            ("Therefore, the answer is \"l r n z.\"", Some(Text("lrnz".into()))),
            ("So the final answer would be \"s-a-n-n\".", Some(Text("sann".into()))),
            ("So the final answer would be \"n-d-o-a\", or \"ndoa\".", Some(Text("ndoa".into()))),
            ("If we put all these letters together, we get \"naey\".", Some(Text("naey".into()))),
            ("The answer is a total of 5 apples", Some(Text("a total of 5 apples".into()))),
            ("No, she has 5 apples left over and 3 more", Some(YesNo(false))),
        ];
        for (text, expected) in cases {
            assert_eq!(find_in_text(text), *expected, "{text:?}");
        }
    }
}
