//! Broken traces: CoTs that should not be trained on whatever their label, each with the
//! reason found.
//!
//! | reason | when |
//! |---|---|
//! | `empty` | no text but whitespace |
//! | `trivial` | fewer than [`BrokenConfig::min_words`] words (8): a bare answer, no reasoning |
//! | `cut_off` | the generation stopped at its token limit (`finish_reason: length`, kept on CoTs sampled here) |
//! | `unclosed_think` | a `<think>` with no `</think>` after it |
//! | `mid_sentence` | the text ends on a dangling connector: `,` `:` `;` `(` `[` `{` `=` `+` `-` `/` `\` `^` or a lower-case function word ("of", "the", "and", …) |
//! | `loop` | repeated word 10-grams cover more than half the text (data-juicer's `word_repetition_filter`, `rep_len` 10, `max_ratio` 0.5) and one of them comes 3 times or more (a sentence said twice is not a loop) |
//! | `no_answer` | no final answer can be read (the signatures' reader: the record's `answer`, else the text; the options of a multiple-choice question) |
//! | `over_budget` | more tokens than the person's budget (estimated as ⌈characters / 4⌉, the usual rule for BPE tokenisers on English; off unless set) |
//!
//! Measured in the README ("Clean training data"): on MMLU-Pro the `loop` and `no_answer`
//! CoTs are never correct there (by construction of its `is_correct`).

use std::collections::HashMap;

use super::text::ngram_hashes;
use crate::core::data::Record;
use crate::core::signals::signature::answer::{self, Answer};
use crate::core::signals::signature::options;

/// Why a CoT is broken.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// No text.
    Empty,
    /// Too few words to be reasoning.
    Trivial,
    /// Stopped at the token limit.
    CutOff,
    /// `<think>` never closed.
    UnclosedThink,
    /// Ends mid-sentence.
    MidSentence,
    /// Repeats itself.
    Loop,
    /// No readable final answer.
    NoAnswer,
    /// Longer than the budget.
    OverBudget,
}

impl Reason {
    /// Every reason, in the order they are reported.
    pub const ALL: [Reason; 8] = [
        Reason::Empty,
        Reason::Trivial,
        Reason::CutOff,
        Reason::UnclosedThink,
        Reason::MidSentence,
        Reason::Loop,
        Reason::NoAnswer,
        Reason::OverBudget,
    ];

    /// Its name in files (`cut_off`).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Empty => "empty",
            Reason::Trivial => "trivial",
            Reason::CutOff => "cut_off",
            Reason::UnclosedThink => "unclosed_think",
            Reason::MidSentence => "mid_sentence",
            Reason::Loop => "loop",
            Reason::NoAnswer => "no_answer",
            Reason::OverBudget => "over_budget",
        }
    }

    /// In words, for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Reason::Empty => "empty",
            Reason::Trivial => "no reasoning (a few words)",
            Reason::CutOff => "cut off at the token limit",
            Reason::UnclosedThink => "<think> never closed",
            Reason::MidSentence => "ends mid-sentence",
            Reason::Loop => "repeats itself",
            Reason::NoAnswer => "no readable final answer",
            Reason::OverBudget => "over the token budget",
        }
    }
}

/// What counts as broken.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BrokenConfig {
    /// Fewer words than this is trivial.
    pub min_words: usize,
    /// Word n-grams whose repeats measure a loop.
    pub loop_ngram: usize,
    /// Share of the text's n-grams that are repeats above which it loops.
    pub loop_share: f64,
    /// Token budget (0: none).
    pub max_tokens: usize,
    /// Whether a CoT without a readable final answer is broken.
    pub need_answer: bool,
}

impl Default for BrokenConfig {
    fn default() -> Self {
        Self {
            min_words: 8,
            loop_ngram: 10,
            loop_share: 0.5,
            max_tokens: 0,
            need_answer: true,
        }
    }
}

/// Lower-case words a sentence does not end on.
const DANGLING: [&str; 30] = [
    "the", "a", "an", "of", "to", "and", "or", "but", "is", "are", "was", "were", "be", "by",
    "with", "for", "in", "on", "at", "from", "that", "which", "as", "than", "then", "so",
    "because", "if", "into", "its",
];

/// The estimated token count of `text`: ⌈characters / 4⌉.
pub fn token_estimate(text: &str) -> usize {
    text.chars().count().div_ceil(4)
}

/// The share of a text's word `n`-grams that occur more than once (counting every
/// occurrence) and the most times one occurs; (0, 0) for a text of fewer than 2n words.
pub fn repeated_share(word_hashes: &[u64], n: usize) -> (f64, u32) {
    if word_hashes.len() < 2 * n.max(1) {
        return (0.0, 0);
    }
    let grams = ngram_hashes(word_hashes, n);
    let mut count: HashMap<u64, u32> = HashMap::with_capacity(grams.len());
    for &g in &grams {
        *count.entry(g).or_default() += 1;
    }
    let repeated: u32 = count.values().filter(|&&c| c > 1).sum();
    let most = count.values().copied().max().unwrap_or(0);
    (f64::from(repeated) / grams.len() as f64, most)
}

/// Whether `text` ends on a dangling connector.
fn ends_mid_sentence(text: &str) -> bool {
    let t = text.trim_end();
    let Some(last) = t.chars().last() else {
        return false;
    };
    if matches!(
        last,
        ',' | ':' | ';' | '(' | '[' | '{' | '=' | '+' | '-' | '/' | '\\' | '^'
    ) {
        return true;
    }
    let word: String = t
        .chars()
        .rev()
        .take_while(|c| c.is_alphabetic())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    // lower case as written: "Answer: A" ends on a letter, not on "a"
    DANGLING.contains(&word.as_str())
}

/// Whether a `<think>` is left open.
fn unclosed_think(text: &str) -> bool {
    match (text.rfind("<think>"), text.rfind("</think>")) {
        (Some(open), Some(close)) => open > close,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The final answers of `records`, as the signatures read them (the record's `answer`,
/// else the text; one of the options of a multiple-choice question), keyed
/// ([`Answer::key`]).
pub fn final_answers(records: &[Record]) -> Vec<Option<String>> {
    let mut choices: HashMap<&str, Option<options::Options>> = HashMap::new();
    records
        .iter()
        .map(|r| {
            let opts = choices
                .entry(r.question.as_str())
                .or_insert_with(|| options::parse(&r.question));
            let a: Option<Answer> = match opts {
                Some(o) => options::read(&r.cot, r.answer.as_deref(), o),
                None => r
                    .answer
                    .as_deref()
                    .and_then(answer::normalize)
                    .or_else(|| answer::find_in_text(&r.cot)),
            };
            a.map(|a| a.key())
        })
        .collect()
}

/// Why `r` is broken (empty when it is not), given its words' hashes
/// ([`super::text::text_word_hashes`] of its CoT) and whether its final answer is readable.
pub fn reasons(r: &Record, wh: &[u64], readable: bool, config: &BrokenConfig) -> Vec<Reason> {
    let text = r.cot.as_str();
    if text.trim().is_empty() {
        return vec![Reason::Empty];
    }
    let mut out = Vec::new();
    if wh.len() < config.min_words {
        out.push(Reason::Trivial);
    }
    if r.meta.get("finish_reason").and_then(|v| v.as_str()) == Some("length") {
        out.push(Reason::CutOff);
    }
    if unclosed_think(text) {
        out.push(Reason::UnclosedThink);
    }
    if ends_mid_sentence(text) {
        out.push(Reason::MidSentence);
    }
    let (share, most) = repeated_share(wh, config.loop_ngram);
    if share > config.loop_share && most >= 3 {
        out.push(Reason::Loop);
    }
    if config.need_answer && !readable {
        out.push(Reason::NoAnswer);
    }
    if config.max_tokens > 0 && token_estimate(text) > config.max_tokens {
        out.push(Reason::OverBudget);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::text::{text_word_hashes, word_hashes, words};
    use super::*;
    use serde_json::json;

    fn rec(cot: &str) -> Record {
        Record {
            id: "r".into(),
            question: "How many?".into(),
            cot: cot.into(),
            answer: None,
            question_id: None,
            is_correct: None,
            meta: Default::default(),
        }
    }

    fn why(cot: &str, readable: bool) -> Vec<Reason> {
        reasons(
            &rec(cot),
            &text_word_hashes(cot),
            readable,
            &BrokenConfig::default(),
        )
    }

    const FINE: &str = "She has 3 boxes of 4 pens, so 3 * 4 = 12 pens. The answer is 12.";

    #[test]
    fn table_of_reasons() {
        assert!(why(FINE, true).is_empty());
        assert_eq!(why("  \n", false), [Reason::Empty]);
        assert_eq!(why("The answer is 12.", true), [Reason::Trivial]);
        assert_eq!(
            why(
                "<think>She has 3 boxes of 4 pens so 3 * 4 = 12 pens and then",
                true
            ),
            [Reason::UnclosedThink, Reason::MidSentence]
        );
        assert!(why(&format!("<think>x</think> {FINE}"), true).is_empty());
        assert_eq!(
            why(
                "She has 3 boxes of 4 pens, so the total is 3 * 4 = 12 pens, which",
                true
            ),
            [Reason::MidSentence]
        );
        assert_eq!(
            why(
                "She has 3 boxes of 4 pens, so the total is 3 * 4 = 12 pens. Then 12 +",
                true
            ),
            [Reason::MidSentence]
        );
        // "Answer: A" ends on a capital letter, not on the word "a"
        assert!(why("All the other options are wrong here. Answer: A", true).is_empty());
        let looping = format!(
            "Let me see. {}",
            "The genotype of the offspring is inherited. ".repeat(12)
        );
        assert_eq!(why(&looping, false), [Reason::Loop, Reason::NoAnswer]);
        assert_eq!(why(FINE, false), [Reason::NoAnswer]);
        // said twice is emphasis, not a loop; markdown bold is a finished sentence
        let twice = "Both parents must be heterozygous for the silver fur to appear at all. ";
        assert!(why(&format!("{twice}{twice}The answer is (C)."), true).is_empty());
        assert!(why(
            "So the correct option is:\n\n**G. The starch is hydrolysed.**",
            true
        )
        .is_empty());
    }

    #[test]
    fn cut_off_and_budget() {
        let mut r = rec(FINE);
        r.meta.insert("finish_reason".into(), json!("length"));
        let c = BrokenConfig {
            max_tokens: 10,
            ..Default::default()
        };
        let wh = text_word_hashes(FINE);
        assert_eq!(
            reasons(&r, &wh, true, &c),
            [Reason::CutOff, Reason::OverBudget]
        );
        assert_eq!(token_estimate(FINE), FINE.len().div_ceil(4));
        r.meta.insert("finish_reason".into(), json!("stop"));
        assert!(reasons(&r, &wh, true, &BrokenConfig::default()).is_empty());
    }

    #[test]
    fn repeated_share_counts_every_occurrence() {
        let h = |t: &str| word_hashes(&words(t));
        // 6 words, 2-grams: ab bc ca ab bc → ab ×2, bc ×2 of 5 → 4/5
        let (share, most) = repeated_share(&h("a b c a b c"), 2);
        assert!((share - 0.8).abs() < 1e-12 && most == 2);
        assert_eq!(repeated_share(&h("a b c d e f"), 2), (0.0, 1));
        assert_eq!(repeated_share(&h("a a a"), 2), (0.0, 0)); // fewer than 2n words
    }

    #[test]
    fn answers_are_read_as_the_signatures_read_them() {
        let mut mc = rec("B is right because of the rule. The answer is (B).");
        mc.question = "Which?\nA. one\nB. two\nC. three".into();
        let mut given = rec("no statement here at all");
        given.answer = Some("12".into());
        let a = final_answers(&[rec(FINE), mc, given, rec("I do not know what to say")]);
        assert_eq!(
            a,
            [
                Some("12".into()),
                Some("(b)".into()),
                Some("12".into()),
                None
            ]
        );
    }
}
