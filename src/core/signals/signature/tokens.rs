//! A tokenizer for reasoning text: numbers (with `$`, `%`, thousands commas and decimals),
//! arithmetic operators, parentheses, `=`, words and other punctuation, each with its byte
//! span. It reads any text (any script, any length) in one pass and never fails.

/// One token of a CoT or question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tok {
    /// A number as written: `1,234.5`, `$12`, `40%`, `.5`.
    Num {
        /// Its value (a percent keeps the written value: `40%` is 40 with `percent`).
        value: f64,
        /// Written with a trailing `%`.
        percent: bool,
    },
    /// `+ - * / ^` and `×` `÷` `·` (read as `*` and `/`).
    Op(char),
    /// `(` or `[`.
    Open,
    /// `)` or `]`.
    Close,
    /// `=` (or `≈`).
    Eq,
    /// A run of letters (any script) or apostrophes.
    Word,
    /// Anything else that is not whitespace: `.`, `,`, `:`, `?`, ...
    Punct(char),
}

/// A token with its byte span in the text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
}

impl Token {
    /// The token's text.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }

    /// The value of a number token.
    pub fn number(&self) -> Option<f64> {
        match self.tok {
            Tok::Num { value, .. } => Some(value),
            _ => None,
        }
    }
}

const CURRENCY: [char; 4] = ['$', '€', '£', '¥'];

/// Splits `text` into tokens.
pub fn tokenize(text: &str) -> Vec<Token> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        // ASCII fast path; decode a char only for non-ASCII bytes.
        let (c, w) = if b[i] < 0x80 {
            (b[i] as char, 1)
        } else {
            let c = text[i..].chars().next().expect("i is on a char boundary");
            (c, c.len_utf8())
        };
        if c.is_ascii_whitespace() || (!c.is_ascii() && c.is_whitespace()) {
            i += w;
            continue;
        }
        // A number, with a currency sign directly before it as part of it.
        let number_at = if CURRENCY.contains(&c) {
            Some(i + w)
        } else if c.is_ascii_digit() || (c == '.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            Some(i)
        } else {
            None
        };
        if let Some((value, end, percent)) = number_at.and_then(|from| scan_number(b, from)) {
            out.push(Token {
                tok: Tok::Num { value, percent },
                start: i,
                end,
            });
            i = end;
            continue;
        }
        let tok = match c {
            '+' | '-' | '*' | '/' | '^' => Tok::Op(c),
            '×' | '·' | '∗' => Tok::Op('*'),
            '÷' => Tok::Op('/'),
            '−' | '–' => Tok::Op('-'),
            '(' | '[' => Tok::Open,
            ')' | ']' => Tok::Close,
            '=' | '≈' => Tok::Eq,
            c if c.is_alphabetic() => {
                let mut end = i + w;
                while end < b.len() {
                    if b[end].is_ascii_alphabetic() || b[end] == b'\'' {
                        end += 1;
                        continue;
                    }
                    if b[end] < 0x80 {
                        break;
                    }
                    let n = text[end..].chars().next().expect("char boundary");
                    if n.is_alphabetic() || n == '’' {
                        end += n.len_utf8();
                    } else {
                        break;
                    }
                }
                out.push(Token {
                    tok: Tok::Word,
                    start: i,
                    end,
                });
                i = end;
                continue;
            }
            c => Tok::Punct(c),
        };
        out.push(Token {
            tok,
            start: i,
            end: i + w,
        });
        i += w;
    }
    out
}

/// Reads a number at `i`: digits with optional thousands commas (`1,234`), an optional
/// fraction (`.5`) and an optional `%`. Returns (value, end, percent).
fn scan_number(b: &[u8], start: usize) -> Option<(f64, usize, bool)> {
    // Digits go to a stack buffer (no allocation per number); longer numbers keep their
    // first 60 digits' magnitude via the exponent count.
    let mut buf = [0u8; 64];
    let mut len = 0;
    let mut dropped_int = 0i32; // integer digits beyond the buffer
    let mut push = |d: u8, len: &mut usize, int_part: bool| {
        if *len < 62 {
            buf[*len] = d;
            *len += 1;
        } else if int_part {
            dropped_int += 1;
        }
    };
    let mut i = start;
    while i < b.len() && b[i].is_ascii_digit() {
        push(b[i], &mut len, true);
        i += 1;
    }
    // Thousands separators: a comma followed by exactly three digits.
    while len > 0
        && b.get(i) == Some(&b',')
        && b.len() >= i + 4
        && b[i + 1..i + 4].iter().all(u8::is_ascii_digit)
        && !b.get(i + 4).is_some_and(u8::is_ascii_digit)
    {
        for k in 1..4 {
            push(b[i + k], &mut len, true);
        }
        i += 4;
    }
    if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        push(b'.', &mut len, false);
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            push(b[i], &mut len, false);
            i += 1;
        }
    }
    if len == 0 || (len == 1 && buf[0] == b'.') {
        return None;
    }
    let value: f64 = std::str::from_utf8(&buf[..len]).ok()?.parse().ok()?;
    let value = value * 10f64.powi(dropped_int);
    if !value.is_finite() {
        return None;
    }
    let percent = b.get(i) == Some(&b'%');
    Some((value, if percent { i + 1 } else { i }, percent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nums(text: &str) -> Vec<(f64, bool)> {
        tokenize(text)
            .iter()
            .filter_map(|t| match t.tok {
                Tok::Num { value, percent } => Some((value, percent)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn number_forms() {
        let cases: &[(&str, &[(f64, bool)])] = &[
            ("He has 3 apples.", &[(3.0, false)]),
            ("It costs $1,234.50 now", &[(1234.5, false)]),
            ("€5 and £7", &[(5.0, false), (7.0, false)]),
            (
                "40% of 20 is 8.",
                &[(40.0, true), (20.0, false), (8.0, false)],
            ),
            ("1,2,3", &[(1.0, false), (2.0, false), (3.0, false)]),
            ("12,5000 is odd", &[(12.0, false), (5000.0, false)]),
            ("3/4 of .5", &[(3.0, false), (4.0, false), (0.5, false)]),
            ("It ends at 5.", &[(5.0, false)]),
            ("1,000,000 people", &[(1_000_000.0, false)]),
            ("no numbers here", &[]),
            ("", &[]),
            (
                "$ alone and 99999999999999999999999999999",
                &[(1e29, false)],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(nums(text), *expected, "{text}");
        }
    }

    #[test]
    fn operators_and_spans() {
        let text = "(80 × 2) − 10 = 150 ≈ ok";
        let toks = tokenize(text);
        let kinds: Vec<Tok> = toks.iter().map(|t| t.tok).collect();
        assert_eq!(kinds[0], Tok::Open);
        assert_eq!(kinds[2], Tok::Op('*'));
        assert_eq!(kinds[4], Tok::Close);
        assert_eq!(kinds[5], Tok::Op('-'));
        assert_eq!(kinds[7], Tok::Eq);
        assert_eq!(kinds[9], Tok::Eq);
        assert_eq!(toks[10].text(text), "ok");
        for t in &toks {
            assert!(text.is_char_boundary(t.start) && text.is_char_boundary(t.end));
        }
    }

    #[test]
    fn any_script_any_length() {
        let text = "Пётр купил 3 яблока, 小明有5个苹果。 ١٢ 🙂 = 8";
        let toks = tokenize(text);
        assert!(toks.iter().any(|t| t.tok == Tok::Eq));
        assert_eq!(nums(text), vec![(3.0, false), (5.0, false), (8.0, false)]);
        let long = "7 + 8 = 15. ".repeat(10_000);
        assert_eq!(tokenize(&long).len(), 60_000);
    }
}
