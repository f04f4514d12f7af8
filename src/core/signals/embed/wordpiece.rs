//! The BERT uncased tokenizer of all-MiniLM-L6-v2, written to match Hugging Face
//! `tokenizers` (`BertNormalizer` + `BertPreTokenizer` + `WordPiece`) id for id.
//!
//! Steps, in HF's order:
//! 0. the added tokens (`[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`) are matched exactly,
//!    case-sensitively, in the raw text; the text between them goes through 1–6;
//! 1. clean: drop U+0000, U+FFFD and control characters (Cc, Cf, Co other than `\t\n\r`),
//!    then map whitespace to `' '`;
//! 2. put spaces around CJK ideographs;
//! 3. strip accents (NFD, then drop nonspacing marks), 4. lowercase;
//! 5. split on whitespace, and split off every punctuation character as its own word;
//! 6. WordPiece: a word over 100 characters is `[UNK]`; otherwise greedy longest match from
//!    the left (`##` before non-initial pieces), and a word with an unmatched part is one
//!    `[UNK]`.
//!
//! The Unicode tables come from `unicode_categories` 0.1.1 and
//! `unicode-normalization-alignments` 0.1.12, the crates (and so the Unicode versions) HF
//! `tokenizers` uses: newer tables classify ~500 code points differently. Checked against
//! HF `tokenizers` 0.23.3 on 318k texts (every CoT of the shared data, multi-script fuzz
//! strings and every code point up to U+31FFF) with no mismatch.

use rustc_hash::FxHashMap;
use unicode_categories::UnicodeCategories;
use unicode_normalization_alignments::UnicodeNormalization;

/// Longest word (in characters) WordPiece splits; a longer one is `[UNK]`.
const MAX_WORD_CHARS: usize = 100;

/// The vocabulary and the ids of the special tokens.
#[derive(Debug, Clone)]
pub(super) struct WordPiece {
    vocab: FxHashMap<String, u32>,
    /// The added tokens present in the vocabulary, matched in the raw text.
    specials: Vec<(&'static str, u32)>,
    pub(super) unk: u32,
    pub(super) cls: u32,
    pub(super) sep: u32,
    pub(super) pad: u32,
}

/// The added tokens of the model's tokenizer.json (`normalized: false`).
const ADDED: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

impl WordPiece {
    /// Reads a `vocab.txt` (one token per line, the id is the line number).
    pub(super) fn from_vocab(vocab_txt: &str) -> Result<Self, String> {
        let mut vocab = FxHashMap::default();
        for (i, line) in vocab_txt.lines().enumerate() {
            let id =
                u32::try_from(i).map_err(|_| "the vocabulary has too many lines".to_string())?;
            // the first occurrence wins, as in HF's reader
            vocab.entry(line.to_string()).or_insert(id);
        }
        if vocab.is_empty() {
            return Err("the vocabulary is empty (expected vocab.txt, one token per line)".into());
        }
        let id = |tok: &str| {
            vocab.get(tok).copied().ok_or_else(|| {
                format!("the vocabulary lacks the special token {tok} (is this a BERT vocab.txt?)")
            })
        };
        let (pad, unk, cls, sep) = (id("[PAD]")?, id("[UNK]")?, id("[CLS]")?, id("[SEP]")?);
        let specials = ADDED
            .iter()
            .filter_map(|&t| vocab.get(t).map(|&id| (t, id)))
            .collect();
        Ok(Self {
            vocab,
            specials,
            unk,
            cls,
            sep,
            pad,
        })
    }

    /// The ids of `text` without `[CLS]`/`[SEP]` and untruncated.
    pub(super) fn tokenize(&self, text: &str, out: &mut Vec<u32>) {
        let mut seg_start = 0;
        let mut i = 0;
        // added tokens are matched in the raw text, before normalisation
        while let Some(off) = text[i..].find('[') {
            i += off;
            let rest = &text[i..];
            match self.specials.iter().find(|(t, _)| rest.starts_with(t)) {
                Some(&(tok, id)) => {
                    self.tokenize_plain(&text[seg_start..i], out);
                    out.push(id);
                    i += tok.len();
                    seg_start = i;
                }
                None => i += 1, // '[' is one byte
            }
        }
        self.tokenize_plain(&text[seg_start..], out);
    }

    /// Steps 1–6 on a stretch of text without added tokens.
    fn tokenize_plain(&self, seg: &str, out: &mut Vec<u32>) {
        if seg.is_empty() {
            return;
        }
        let norm = normalize(seg);
        let mut word = String::new();
        for c in norm.chars() {
            if c.is_whitespace() {
                self.flush(&mut word, out);
            } else if is_punctuation(c) {
                self.flush(&mut word, out);
                let mut b = [0u8; 4];
                self.wordpiece(c.encode_utf8(&mut b), out);
            } else {
                word.push(c);
            }
        }
        self.flush(&mut word, out);
    }

    fn flush(&self, word: &mut String, out: &mut Vec<u32>) {
        if !word.is_empty() {
            self.wordpiece(word, out);
            word.clear();
        }
    }

    /// Greedy longest-match-first WordPiece of one word.
    fn wordpiece(&self, word: &str, out: &mut Vec<u32>) {
        if word.chars().count() > MAX_WORD_CHARS {
            out.push(self.unk);
            return;
        }
        let mark = out.len();
        let mut start = 0;
        let mut buf = String::with_capacity(word.len() + 2);
        while start < word.len() {
            let mut end = word.len();
            let mut hit = None;
            while start < end {
                buf.clear();
                if start > 0 {
                    buf.push_str("##");
                }
                buf.push_str(&word[start..end]);
                if let Some(&id) = self.vocab.get(buf.as_str()) {
                    hit = Some(id);
                    break;
                }
                // step back one character (start < end, so there is one)
                end -= word[start..end]
                    .chars()
                    .next_back()
                    .map_or(1, char::len_utf8);
            }
            match hit {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(mark);
                    out.push(self.unk);
                    return;
                }
            }
        }
    }
}

fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// Cc, Cf or Co (not Cn or Cs), other than `\t\n\r`.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

fn is_chinese_char(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B920..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

/// Steps 1–4: clean, space out CJK, strip accents, lowercase (in HF's order: the accents
/// go before lowercasing).
fn normalize(s: &str) -> String {
    let mut t = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '\0' || c == '\u{FFFD}' || is_control(c) {
            continue;
        }
        let c = if is_whitespace(c) { ' ' } else { c };
        if is_chinese_char(c) {
            t.push(' ');
            t.push(c);
            t.push(' ');
        } else {
            t.push(c);
        }
    }
    let mut out = String::with_capacity(t.len());
    for (c, _) in t.nfd() {
        if !c.is_mark_nonspacing() {
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small vocabulary (ids are the positions; the specials need only be present).
    const VOCAB: &[&str] = &[
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cafe", "naive", "resume", "uber",
        "-", "strasse", "!", ".", ",", "'", "s", "let", "think", "step", "by", "东", "京", "a",
        "##b", "##c", "ab", "x", "=", "1", "2", "un", "##aff", "##able", "(", ")", "hello",
        "world", "ß", "##ß",
    ];

    fn wp() -> WordPiece {
        WordPiece::from_vocab(&VOCAB.join("\n")).unwrap()
    }

    fn id(t: &str) -> u32 {
        VOCAB.iter().position(|v| *v == t).unwrap() as u32
    }

    fn ids(text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        wp().tokenize(text, &mut out);
        out
    }

    #[test]
    fn table_of_cases() {
        let u = "[UNK]";
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("   \t\n ", &[]),
            ("the", &["the"]),
            ("THE", &["the"]),
            // accents: NFD, nonspacing marks dropped, then lowercased
            ("Café naïve RÉSUMÉ", &["cafe", "naive", "resume"]),
            ("Über-strasse", &["uber", "-", "strasse"]),
            ("Über-straße", &["uber", "-", u]), // ß has no decomposition: "straße" is unknown
            // punctuation is its own word, whatever surrounds it
            (
                "let's think step by step.",
                &["let", "'", "s", "think", "step", "by", "step", "."],
            ),
            ("hello,world!", &["hello", ",", "world", "!"]),
            ("(x=12)", &["(", "x", "=", u, ")"]), // "1" + "##2": no "##2", so the word is [UNK]
            ("[mask]", &[u, u, u]),               // lowercase: no added token; "[" is unknown
            // CJK ideographs are split one by one, even inside a word
            ("东京", &["东", "京"]),
            ("the东京the", &["the", "东", "京", "the"]),
            // WordPiece continuation pieces; a word with an unmatched part is one [UNK]
            ("unaffable", &["un", "##aff", "##able"]),
            ("abc", &["ab", "##c"]),
            ("abz", &[u]),
            ("zzz the", &[u, "the"]),
            // control and format characters vanish (Cc, Cf), U+FFFD too
            ("th\u{0}e", &["the"]),
            ("th\u{7}e", &["the"]),
            ("th\u{200B}e", &["the"]),
            ("the\u{FFFD}", &["the"]),
            ("the\u{0B}the", &[u]), // \x0B is Cc: dropped before whitespace, so "thethe"
            // other whitespace splits
            (
                "the\u{3000}the\u{a0}the\r\nthe",
                &["the", "the", "the", "the"],
            ),
            // added tokens are matched in the raw text, case-sensitively
            ("the[MASK]the", &["the", "[MASK]", "the"]),
            ("[CLS][SEP]", &["[CLS]", "[SEP]"]),
        ];
        for (text, want) in cases {
            let want: Vec<u32> = want.iter().map(|t| id(t)).collect();
            assert_eq!(ids(text), want, "{text:?}");
        }
    }

    #[test]
    fn a_word_over_100_characters_is_unk() {
        let w = wp();
        let word = |n: usize| format!("a{}", "b".repeat(n - 1));
        // longest match first: "ab", then "##b" 98 times
        assert_eq!(
            ids(&word(100)),
            [vec![id("ab")], vec![id("##b"); 98]].concat()
        );
        assert_eq!(ids(&word(101)), vec![w.unk]);
        // characters, not bytes: 100 "ß" are 200 bytes and still one word
        assert_eq!(
            ids(&"ß".repeat(100)),
            [vec![id("ß")], vec![id("##ß"); 99]].concat()
        );
        assert_eq!(ids(&"ß".repeat(101)), vec![w.unk]);
    }

    #[test]
    fn a_long_text_is_tokenized_whole() {
        let text = "the ".repeat(25_000); // 100k characters
        assert_eq!(text.chars().count(), 100_000);
        let got = ids(&text);
        assert_eq!(got.len(), 25_000);
        assert!(got.iter().all(|&t| t == id("the")));
    }

    #[test]
    fn the_vocabulary_must_hold_the_specials() {
        assert!(WordPiece::from_vocab("").unwrap_err().contains("empty"));
        let err = WordPiece::from_vocab("[PAD]\n[UNK]\n[SEP]\nthe").unwrap_err();
        assert!(err.contains("[CLS]"), "{err}");
        let err = WordPiece::from_vocab("[PAD]\n[CLS]\n[SEP]").unwrap_err();
        assert!(err.contains("[UNK]"), "{err}");
        let w = wp();
        assert_eq!((w.pad, w.unk, w.cls, w.sep), (0, 1, 2, 3));
    }
}
