//! Multiple-choice questions: their options read from the question text, and the final
//! answer of a CoT read as one of them, whatever the phrasing — "The answer is (C)",
//! "Answer: C", "among A through D, the answer is B", `\boxed{C}`, "I'd go with (C)", "C is
//! correct", a closing line that restates an option ("**C. Hanoi**"), the option's *text*
//! alone ("the answer is Hanoi."), a yes/no for True/False or Yes/No options, or the
//! record's `answer` field. An answer that names several options ("(B) and (F)"), or a
//! text whose answer statements name three or more different options (the answer spam of
//! a looping output), is unreadable: `None`, an *unknown* answer, never a wrong one.

use std::sync::OnceLock;

use regex::Regex;

use super::answer::{self, Answer};

/// The options of a multiple-choice question: lower-case letters `a`, `b`, … in order,
/// each with its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// (letter, text) per option, letters consecutive from `a`.
    pub items: Vec<(char, String)>,
}

impl Options {
    /// The option of `letter` (lower case), if the question has it.
    pub fn has(&self, letter: char) -> bool {
        self.items.iter().any(|(c, _)| *c == letter)
    }

    /// The option whose text is `t` (case, punctuation and spacing aside), or the single
    /// option whose text `t` contains as whole words (the longest when one option's text
    /// holds another's).
    pub fn by_text(&self, t: &str) -> Option<char> {
        let t = loose(t);
        if t.is_empty() {
            return None;
        }
        if let Some((c, _)) = self.items.iter().find(|(_, o)| loose(o) == t) {
            return Some(*c);
        }
        let padded = format!(" {t} ");
        let mut hits: Vec<(char, usize)> = self
            .items
            .iter()
            .filter_map(|(c, o)| {
                let o = loose(o);
                (!o.is_empty() && padded.contains(&format!(" {o} "))).then_some((*c, o.len()))
            })
            .collect();
        hits.sort_by_key(|h| std::cmp::Reverse(h.1));
        match hits.as_slice() {
            [(c, _)] => Some(*c),
            // "Amoxicillin-clavulanate" holds "Amoxicillin": the longest, when no other
            // option is as long
            [(c, a), (_, b), ..] if a > b => {
                let longest = self
                    .items
                    .iter()
                    .find(|(x, _)| x == c)
                    .map(|(_, o)| loose(o));
                longest
                    .filter(|l| {
                        hits[1..].iter().all(|(x, _)| {
                            self.items
                                .iter()
                                .find(|(y, _)| y == x)
                                .is_some_and(|(_, o)| l.contains(&loose(o)))
                        })
                    })
                    .map(|_| *c)
            }
            _ => None,
        }
    }

    /// The option a yes/no answer names: the option whose text is "yes"/"true" (or
    /// "no"/"false").
    pub fn by_yes_no(&self, yes: bool) -> Option<char> {
        let words: &[&str] = if yes {
            &["yes", "true"]
        } else {
            &["no", "false"]
        };
        self.items
            .iter()
            .find(|(_, o)| words.contains(&loose(o).as_str()))
            .map(|(c, _)| *c)
    }

    /// An answer as one of the options: a letter the question has, a yes/no that names an
    /// option, a number or text that is an option's text. `None` when it names none.
    pub fn resolve(&self, a: &Answer) -> Option<char> {
        match a {
            Answer::Choice(c) => self.has(*c).then_some(*c),
            Answer::YesNo(b) => self.by_yes_no(*b),
            Answer::Number(x) => self.by_text(&answer::format_number(*x)),
            Answer::Text(t) => self.by_text(t),
        }
    }
}

/// Letters, digits and single spaces, lower case: "Amoxicillin-clavulanate." is
/// "amoxicillin clavulanate".
fn loose(t: &str) -> String {
    t.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The patterns of this module, compiled once.
struct Patterns {
    /// An option line of a question: `A. text`, `(A) text`, `A) text`.
    option_line: Regex,
    /// An inline option mark: `(A) `.
    inline_option: Regex,
    /// Answer cues, each followed by the answer phrase: "the answer is", "answer:", "final:",
    /// "the correct option is", "I'd go with", "my choice is", `\boxed{`, …
    cue: Regex,
    /// A letter at the start of an answer phrase: `(C)`, `C`, `option C`, `**C**`, `\text{C}`.
    leading_letter: Regex,
    /// Another letter right after the first: "(B) and (F)", "A, B, C", "B or D".
    another_letter: Regex,
    /// "C is correct", "(C) is the right answer", "option C seems best".
    letter_is_right: Regex,
    /// A line that restates an option: `C. text`, `(C) text`, `**G. text**`.
    restated: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| {
        let re = |p: &str| Regex::new(p).expect("a valid pattern");
        Patterns {
            option_line: re(r"^\s*\(?([A-J])[.):]\s*(.*?)\s*$"),
            inline_option: re(r"\(([A-J])\)\s*"),
            cue: re(r"(?i)(?:\banswer(?:\s*\((?:yes or no)\))?(?:\s+(?:is|would be|will be|should be|must be)\b|\s*[:=])|\bfinal(?:\s+answer)?\s*[:=]|\b(?:correct|right|best)\s+(?:answer|option|choice|response)(?:\s+(?:is|would be|here is)\b|\s*[:=])|\bi(?:'d|\s+would|\s+will)?\s+(?:go\s+with|choose|pick|select|opt\s+for)\b|\bmy\s+(?:choice|pick|answer)\s+is\b|\bi\s+(?:choose|pick|select)\b|\\boxed\{)"),
            leading_letter: re(r#"^[\s:*"'`_\[{}$]*(?:(?i:option|choice|letter)\s+)?(?:\\text(?:bf)?\{\s*)?(?:\(([A-Ja-j])\)|([A-J]))(?:$|[\s.,;:!)\]}*\\'"])"#),
            another_letter: re(r"^[\s.)}*]*(?:,|\band\b|\bor\b|/|&)\s*(?:either\s+)?\(?[A-J]\)?(?:$|[^\w])"),
            letter_is_right: re(r"(?:^|[^\w(])(?:(?i:option|choice)\s+)?\(?([A-J])\)?(?:\s*[.)]\s*[^\n.]{0,80}?)?\s+(?i:is|seems|looks)\s+(?i:the\s+)?(?i:right|correct|best)(?:\s+(?i:answer|option|choice))?\b"),
            restated: re(r"^[\s*_#>-]*\(?([A-J])[.)]\s+(\S.*?)[\s*_]*$"),
        }
    })
}

/// The options of `question`: the trailing block of lines `A. text` (also `(A) text`,
/// `A) text`) starting at its last `A` line, or an inline list `(A) x (B) y …` ("Answer
/// Choices: (A) shelf (B) board"). At least two options, letters consecutive from A.
/// `None` for a question without options.
pub fn parse(question: &str) -> Option<Options> {
    let line = &patterns().option_line;
    let lines: Vec<&str> = question.lines().collect();
    // the trailing block of option lines (blank lines at the end aside)
    let mut end = lines.len();
    while end > 0 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && line.is_match(lines[start - 1]) {
        start -= 1;
    }
    // from its last `A` line
    let block: Vec<(char, String)> = lines[start..end]
        .iter()
        .filter_map(|l| {
            let c = line.captures(l)?;
            Some((c[1].chars().next()?.to_ascii_lowercase(), c[2].to_string()))
        })
        .collect();
    if let Some(a) = block.iter().rposition(|(c, _)| *c == 'a') {
        let items = block[a..].to_vec();
        if consecutive(&items) {
            return Some(Options { items });
        }
    }
    // inline: "(A) shelf (B) board (C) church"
    let inline = &patterns().inline_option;
    let marks: Vec<(usize, usize, char)> = inline
        .captures_iter(question)
        .filter_map(|c| {
            let m = c.get(0)?;
            Some((
                m.start(),
                m.end(),
                c[1].chars().next()?.to_ascii_lowercase(),
            ))
        })
        .collect();
    let a = marks.iter().rposition(|m| m.2 == 'a')?;
    let marks = &marks[a..];
    let items: Vec<(char, String)> = marks
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let to = marks.get(k + 1).map_or(question.len(), |n| n.0);
            (m.2, question[m.1..to].trim().to_string())
        })
        .collect();
    consecutive(&items).then_some(Options { items })
}

fn consecutive(items: &[(char, String)]) -> bool {
    items.len() >= 2
        && items
            .iter()
            .enumerate()
            .all(|(k, (c, t))| *c as usize == 'a' as usize + k && !t.trim().is_empty())
}

/// The answer phrase after a cue ending at byte `end`: the rest of its line, or the next
/// non-empty line when the cue ends its line.
fn phrase_after(text: &str, end: usize) -> &str {
    let rest = &text[end..];
    let first = rest.lines().next().unwrap_or("");
    if first
        .trim()
        .trim_start_matches([':', '*'])
        .trim()
        .is_empty()
    {
        rest.lines()
            .skip(1)
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("")
    } else {
        first
    }
}

/// The option an answer statement names, or `None` (several options, or none readable):
/// a statement either way, so an earlier one is not taken for it.
fn phrase_option(phrase: &str, opts: &Options) -> Option<char> {
    if let Some(c) = patterns().leading_letter.captures(phrase) {
        let m = c.get(0).expect("match");
        let letter = c.get(1).or(c.get(2)).expect("a letter").as_str();
        let letter = letter
            .chars()
            .next()
            .map_or('?', |c| c.to_ascii_lowercase());
        // the match ends on the delimiter after the letter: look from it
        let after = &phrase[m.end().saturating_sub(1).max(m.start())..];
        if patterns().another_letter.is_match(after)
            || patterns().another_letter.is_match(&phrase[m.end()..])
        {
            return None;
        }
        if opts.has(letter) {
            return Some(letter);
        }
    }
    // the sentence of the phrase: its option text, a yes/no, a number
    let sentence = phrase
        .split_terminator(['\n'])
        .next()
        .unwrap_or("")
        .trim()
        .trim_start_matches([':', '*', ' '])
        .trim_end_matches(['*', ' ']);
    let sentence = sentence.strip_suffix('.').unwrap_or(sentence);
    let unboxed = sentence.split('}').next().unwrap_or(sentence);
    for s in [sentence, unboxed] {
        if let Some(c) = opts.by_text(s) {
            return Some(c);
        }
    }
    match answer::normalize(sentence) {
        Some(Answer::YesNo(b)) => return opts.by_yes_no(b),
        Some(a @ (Answer::Number(_) | Answer::Choice(_))) => {
            if let Some(c) = opts.resolve(&a) {
                return Some(c);
            }
        }
        _ => {}
    }
    if let Some(yes) = answer::leading_yes_no(sentence) {
        return opts.by_yes_no(yes);
    }
    // a statement that names no option ("the answer is not among the options")
    None
}

/// The final answer of a CoT to a multiple-choice question with options `opts`, as a
/// [`Answer::Choice`]; `answer_field` (the record's `answer`) first. `None` when no option
/// can be read (see the module).
pub fn read(cot: &str, answer_field: Option<&str>, opts: &Options) -> Option<Answer> {
    if let Some(f) = answer_field.and_then(answer::normalize) {
        let letter = match &f {
            Answer::Text(t) => patterns()
                .leading_letter
                .captures(t.trim())
                .and_then(|c| c.get(1).or(c.get(2)))
                .and_then(|m| m.as_str().chars().next())
                .map(|c| c.to_ascii_lowercase())
                .filter(|c| opts.has(*c))
                .or_else(|| opts.resolve(&f)),
            _ => opts.resolve(&f),
        };
        return letter.map(Answer::Choice);
    }
    read_text(cot, opts).map(Answer::Choice)
}

fn read_text(cot: &str, opts: &Options) -> Option<char> {
    let text = cot.trim_end();
    // every answer statement: (position, what it names)
    let mut statements: Vec<(usize, Option<char>)> = Vec::new();
    for m in patterns().cue.find_iter(text) {
        statements.push((m.start(), phrase_option(phrase_after(text, m.end()), opts)));
    }
    for c in patterns().letter_is_right.captures_iter(text) {
        let letter = c[1].chars().next().map(|c| c.to_ascii_lowercase());
        if let Some(l) = letter.filter(|l| opts.has(*l)) {
            statements.push((c.get(0).map_or(0, |m| m.start()), Some(l)));
        }
    }
    // answer spam: three or more different options stated
    let mut named: Vec<char> = statements.iter().filter_map(|s| s.1).collect();
    named.sort_unstable();
    named.dedup();
    if named.len() >= 3 {
        return None;
    }
    // the closing line: an option restated ("**G. text**") or an option's text alone
    let lines: Vec<(usize, &str)> = text
        .lines()
        .scan(0usize, |pos, l| {
            let at = *pos;
            *pos += l.len() + 1;
            Some((at, l))
        })
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    if let Some(&(at, last)) = lines.last() {
        let after_statements = statements.last().is_none_or(|s| s.0 < at);
        if after_statements {
            if let Some(c) = patterns().restated.captures(last) {
                let letter = c[1].chars().next().map(|c| c.to_ascii_lowercase());
                if let Some(l) = letter.filter(|l| opts.has(*l)) {
                    let own = opts
                        .items
                        .iter()
                        .find(|(x, _)| *x == l)
                        .map(|(_, t)| loose(t));
                    let said = loose(&c[2]);
                    if own.is_some_and(|o| said.starts_with(&o) || o.starts_with(&said)) {
                        statements.push((at, Some(l)));
                    }
                }
            } else if let Some(l) = opts.by_text(last.trim().trim_matches(['*', '_', '.', ' '])) {
                if loose(last).len()
                    <= 2 + opts
                        .items
                        .iter()
                        .map(|o| loose(&o.1).len())
                        .max()
                        .unwrap_or(0)
                {
                    statements.push((at, Some(l)));
                }
            }
        }
    }
    statements.sort_by_key(|s| s.0);
    statements.last().and_then(|s| s.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(n: usize) -> Options {
        let q = format!(
            "Which city?\n{}",
            ["Paris", "Hanoi", "Rome", "Lima", "Oslo", "Bern"][..n]
                .iter()
                .enumerate()
                .map(|(k, t)| format!("{}. {t}", (b'A' + k as u8) as char))
                .collect::<Vec<_>>()
                .join("\n")
        );
        parse(&q).expect("options")
    }

    #[test]
    fn options_are_read_from_lines_and_inline() {
        let o = opts(4);
        assert_eq!(o.items[1], ('b', "Hanoi".to_string()));
        // a stem with its own numbered lines: the block from the last A line
        let q = "Consider:\nI. one\nII. two\nA. I only\nB. II only\nC. both";
        assert_eq!(parse(q).unwrap().items.len(), 3);
        let q =
            "What are candles good for eliminating? Answer Choices: (A) shelf (B) board (C) dark";
        let o = parse(q).unwrap();
        assert_eq!(o.items[2], ('c', "dark".to_string()));
        assert_eq!(parse("How many apples does Tom have?"), None);
        assert_eq!(parse("A. only one"), None);
        let tf = parse("Is the sky green?\nA. True\nB. False").unwrap();
        assert_eq!(tf.by_yes_no(true), Some('a'));
        assert_eq!(tf.by_yes_no(false), Some('b'));
    }

    #[test]
    fn a_dozen_phrasings_read_the_same_option() {
        let o = opts(6);
        let b = Some(Answer::Choice('b'));
        for text in [
            "Reasoning here. The answer is (B).",
            "Reasoning.\nAnswer: B",
            "Reasoning.\nTherefore, among A through F, the answer is B",
            "Reasoning. So the final answer is $\\boxed{B}$.",
            "Reasoning.\nFinal: B",
            "Reasoning. I'd go with (B).",
            "Reasoning. B is right.",
            "Reasoning. Option B is the correct answer.",
            "Reasoning, so the correct option is:\n\n**B. Hanoi**",
            "Reasoning. The answer is Hanoi.",
            "Reasoning.\n\nHanoi",
            "Reasoning. The correct answer is B) Hanoi.",
            "Reasoning. My choice is b.",
            "Reasoning. I choose option B.",
            "Reasoning. The answer is: (B) Hanoi",
        ] {
            assert_eq!(read(text, None, &o), b, "{text:?}");
        }
        // the answer field wins, in any form
        assert_eq!(read("The answer is (A).", Some("B"), &o), b);
        assert_eq!(read("", Some("(B) Hanoi"), &o), b);
        assert_eq!(read("", Some("Hanoi"), &o), b);
    }

    #[test]
    fn unreadable_answers_are_unknown_not_wrong() {
        let o = opts(6);
        for text in [
            "Reasoning without any conclusion.",
            "The answer is (B) and (F).",
            "The answer is A, B, C.",
            "The answer is not among the options.",
            // an earlier answer is not taken for a later unreadable one
            "The answer is (C). Wait. The answer is not listed.",
            // a loop naming many options
            "The answer is (A). The answer is (B). The answer is (C). The answer is (A). The answer is (B). The answer is (C).",
        ] {
            assert_eq!(read(text, None, &o), None, "{text:?}");
        }
        // a letter the question does not have
        assert_eq!(read("The answer is (H).", None, &opts(4)), None);
    }

    #[test]
    fn yes_no_answers_name_the_true_false_options() {
        let o = parse("Is it?\nA. True\nB. False").unwrap();
        assert_eq!(
            read(
                "So the final answer is no.\nTherefore, the answer (Yes or No) is No",
                None,
                &o
            ),
            Some(Answer::Choice('b'))
        );
        assert_eq!(
            read("Thus the answer is yes.", None, &o),
            Some(Answer::Choice('a'))
        );
        assert_eq!(read("The answer is yes and no.", None, &o), None);
    }

    #[test]
    fn option_text_matches_the_longest_option() {
        let o = parse("Drug?\nA. Amoxicillin\nB. Amoxicillin-clavulanate\nC. Doxycycline").unwrap();
        assert_eq!(o.by_text("B) Amoxicillin-clavulanate"), Some('b'));
        assert_eq!(o.by_text("amoxicillin clavulanate"), Some('b'));
        assert_eq!(o.by_text("Amoxicillin"), Some('a'));
        assert_eq!(o.by_text("Amoxicillin or doxycycline"), None);
    }
}
