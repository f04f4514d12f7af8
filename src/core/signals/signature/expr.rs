//! A small arithmetic evaluator for the left side of an equation in a CoT.
//!
//! Hand-written rather than taken from a crate (evalexpr, meval): CoT arithmetic comes
//! interleaved with units and currency ("80 miles + 150 miles", "$600/12", "20% * 50",
//! "3 x 4"), so the tokens must be cleaned by [`super::tokens`] first anyway, and what is
//! left is the four operations, powers, parentheses and percent — a few dozen lines.

use super::tokens::{Tok, Token};

/// Evaluates `toks` as one arithmetic expression. Returns the value and the operators used
/// (in order), or `None` when the tokens are not exactly one well-formed expression.
/// Grammar: `sum := prod (('+'|'-') prod)*`, `prod := pow (('*'|'/') pow | implicit '(')*`,
/// `pow := unary ('^' pow)?`, `unary := '-' unary | atom`, `atom := number | '(' sum ')'`.
/// A percent number is its value / 100.
pub fn eval(toks: &[Token]) -> Option<(f64, Vec<char>)> {
    let mut p = Parser {
        toks,
        pos: 0,
        ops: Vec::new(),
        depth: 0,
    };
    let v = p.sum()?;
    (p.pos == toks.len() && v.is_finite()).then_some((v, p.ops))
}

struct Parser<'a> {
    toks: &'a [Token],
    pos: usize,
    ops: Vec<char>,
    depth: usize,
}

/// Deeper nesting than this is not arithmetic a CoT writes; refusing it bounds recursion.
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.pos).map(|t| t.tok)
    }

    fn sum(&mut self) -> Option<f64> {
        let mut v = self.prod()?;
        while let Some(Tok::Op(op @ ('+' | '-'))) = self.peek() {
            self.pos += 1;
            self.ops.push(op);
            let r = self.prod()?;
            v = if op == '+' { v + r } else { v - r };
        }
        Some(v)
    }

    fn prod(&mut self) -> Option<f64> {
        let mut v = self.pow()?;
        loop {
            match self.peek() {
                Some(Tok::Op(op @ ('*' | '/'))) => {
                    self.pos += 1;
                    self.ops.push(op);
                    let r = self.pow()?;
                    v = if op == '*' { v * r } else { v / r };
                }
                // 2(3 + 4)
                Some(Tok::Open) => {
                    self.ops.push('*');
                    v *= self.pow()?;
                }
                _ => return Some(v),
            }
        }
    }

    fn pow(&mut self) -> Option<f64> {
        let base = self.unary()?;
        if let Some(Tok::Op('^')) = self.peek() {
            self.pos += 1;
            self.ops.push('^');
            let exp = self.pow()?;
            return Some(base.powf(exp));
        }
        Some(base)
    }

    fn unary(&mut self) -> Option<f64> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let v = match self.peek()? {
            Tok::Op('-') => {
                self.pos += 1;
                self.unary().map(|v| -v)
            }
            Tok::Op('+') => {
                self.pos += 1;
                self.unary()
            }
            Tok::Num { value, percent } => {
                self.pos += 1;
                Some(if percent { value / 100.0 } else { value })
            }
            Tok::Open => {
                self.pos += 1;
                let v = self.sum()?;
                (self.peek()? == Tok::Close).then(|| {
                    self.pos += 1;
                    v
                })
            }
            _ => None,
        };
        self.depth -= 1;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::super::tokens::tokenize;
    use super::*;

    fn ev(s: &str) -> Option<f64> {
        eval(&tokenize(s)).map(|(v, _)| v)
    }

    #[test]
    fn arithmetic() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1 + 2 * 3", Some(7.0)),
            ("(1 + 2) * 3", Some(9.0)),
            ("2(3 + 4)", Some(14.0)),
            ("10 / 4", Some(2.5)),
            ("2 ^ 3 ^ 2", Some(512.0)),
            ("-3 + 5", Some(2.0)),
            ("$600 / 12", Some(50.0)),
            ("20% * 50", Some(10.0)),
            ("100% - 20%", Some(0.8)),
            ("8 − 3 × 2", Some(2.0)),
            ("1,000 + 24", Some(1024.0)),
            ("5 / 0", None),
            ("(1 + 2", None),
            ("1 + ", None),
            ("", None),
            ("3 4", None),
        ];
        for (s, expected) in cases {
            assert_eq!(ev(s), *expected, "{s}");
        }
        assert_eq!(
            eval(&tokenize("2 * 3 + 4 / 2")).unwrap().1,
            vec!['*', '+', '/']
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let s = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(ev(&s), None);
        let s = "-".repeat(100_000) + "1";
        assert_eq!(ev(&s), None);
    }
}
