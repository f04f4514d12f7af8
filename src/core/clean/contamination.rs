//! Benchmark contamination: training questions that also sit in an evaluation set.
//!
//! A training question is contaminated by an evaluation question when, in this order:
//! 1. their words are the same (case, spacing and punctuation aside): `match` is the
//!    question;
//! 2. they share runs of `ngram` words (13 as in GPT-3's and Llama 2's reports, or the
//!    8-word variant) that cover at least a fifth of the evaluation question's runs:
//!    `match` is the first shared run. One shared run is not enough: exam boilerplate
//!    ("which of the following is the most appropriate next step in management") sits in
//!    hundreds of unrelated medical questions (MMLU-Pro against ThoughtSource flagged 41
//!    CoTs of unrelated questions on that phrase alone before this rule);
//! 3. they are near-duplicates: MinHash over word 3-gram shingles, estimated Jaccard at
//!    or above the question threshold: `match` says so with the estimate.
//!
//! The evaluation questions live only in the [`EvalIndex`]: nothing of them joins the data
//! set or its label file.

use std::collections::HashMap;

use super::minhash::{estimate, Hasher};
use super::text::{ngram_hashes, normalized, shingles, word_hashes, words};

/// The least share of an evaluation question's runs a training question must contain.
pub const MIN_SHARE: f64 = 0.2;

/// Evaluation questions kept per run: a run in more is boilerplate, and the share rule
/// above never lets it decide alone.
const PER_GRAM: usize = 64;

/// One evaluation question.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalQuestion {
    /// Its id (the record's `question_id`, else its `id`).
    pub id: String,
    /// Its text.
    pub text: String,
}

/// How a training question matched.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Contamination {
    /// The evaluation question's id.
    pub eval_id: String,
    /// What they share: the question, the shared n-gram, or "near-duplicate (J ≈ x)".
    pub matched: String,
    /// How: `exact`, `ngram` or `near_duplicate`.
    pub how: String,
}

/// Evaluation questions, indexed for lookups.
#[derive(Debug, Clone)]
pub struct EvalIndex {
    ids: Vec<String>,
    exact: HashMap<String, u32>,
    /// Each run's evaluation questions (at most [`PER_GRAM`]).
    grams: HashMap<u64, Vec<u32>>,
    /// Distinct runs of each evaluation question.
    runs: Vec<u32>,
    ngram: usize,
    shingle: usize,
    sigs: Vec<Vec<u32>>,
    bands: Vec<HashMap<u64, Vec<u32>>>,
}

impl EvalIndex {
    /// Indexes `questions` (each distinct text once) for runs of `ngram` words and for
    /// near-duplicates under `hasher` with `shingle`-word shingles.
    pub fn new(questions: &[EvalQuestion], ngram: usize, shingle: usize, hasher: &Hasher) -> Self {
        let mut ix = EvalIndex {
            ids: Vec::new(),
            exact: HashMap::new(),
            grams: HashMap::new(),
            runs: Vec::new(),
            ngram: ngram.max(1),
            shingle,
            sigs: Vec::new(),
            bands: vec![HashMap::new(); hasher.bands()],
        };
        for q in questions {
            let norm = normalized(&q.text);
            if norm.is_empty() || ix.exact.contains_key(&norm) {
                continue;
            }
            let k = ix.ids.len() as u32;
            ix.ids.push(q.id.clone());
            ix.exact.insert(norm, k);
            let wh = word_hashes(&words(&q.text));
            let mut runs = 0;
            if wh.len() >= ix.ngram {
                let mut gs = ngram_hashes(&wh, ix.ngram);
                gs.sort_unstable();
                gs.dedup();
                runs = gs.len() as u32;
                for g in gs {
                    let e = ix.grams.entry(g).or_default();
                    if e.len() < PER_GRAM {
                        e.push(k);
                    }
                }
            }
            ix.runs.push(runs);
            let sig = hasher.sign(&shingles(&q.text, shingle));
            for (b, band) in ix.bands.iter_mut().enumerate() {
                band.entry(hasher.band_key(&sig, b)).or_default().push(k);
            }
            ix.sigs.push(sig);
        }
        ix
    }

    /// Distinct evaluation questions indexed.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Whether `question` matches an evaluation question, and how; `threshold` is the
    /// least estimated Jaccard of a near-duplicate.
    pub fn check(&self, question: &str, hasher: &Hasher, threshold: f64) -> Option<Contamination> {
        let ws = words(question);
        if ws.is_empty() {
            return None;
        }
        if let Some(&k) = self.exact.get(&ws.join(" ")) {
            return Some(Contamination {
                eval_id: self.ids[k as usize].clone(),
                matched: question.trim().to_string(),
                how: "exact".into(),
            });
        }
        let wh = word_hashes(&ws);
        if wh.len() >= self.ngram {
            // shared runs per evaluation question, each run once, and where the first was
            let mut hits: HashMap<u32, (u32, usize)> = HashMap::new();
            let mut seen = std::collections::HashSet::new();
            for (at, g) in ngram_hashes(&wh, self.ngram).into_iter().enumerate() {
                if !seen.insert(g) {
                    continue;
                }
                for &k in self.grams.get(&g).into_iter().flatten() {
                    hits.entry(k).or_insert((0, at)).0 += 1;
                }
            }
            let best = hits
                .into_iter()
                .map(|(k, (n, at))| {
                    (
                        f64::from(n) / f64::from(self.runs[k as usize].max(1)),
                        k,
                        at,
                    )
                })
                .filter(|&(share, _, _)| share >= MIN_SHARE)
                .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
            if let Some((_, k, at)) = best {
                return Some(Contamination {
                    eval_id: self.ids[k as usize].clone(),
                    matched: ws[at..at + self.ngram].join(" "),
                    how: "ngram".into(),
                });
            }
        }
        let sig = hasher.sign(&shingles(question, self.shingle));
        let mut best: Option<(f64, u32)> = None;
        for (b, band) in self.bands.iter().enumerate() {
            for &k in band.get(&hasher.band_key(&sig, b)).into_iter().flatten() {
                let j = estimate(&sig, &self.sigs[k as usize]);
                if j >= threshold && best.is_none_or(|(bj, _)| j > bj) {
                    best = Some((j, k));
                }
            }
        }
        best.map(|(j, k)| Contamination {
            eval_id: self.ids[k as usize].clone(),
            matched: format!("near-duplicate (J ≈ {j:.2})"),
            how: "near_duplicate".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::minhash::MinHashConfig;
    use super::*;

    fn q(id: &str, text: &str) -> EvalQuestion {
        EvalQuestion {
            id: id.into(),
            text: text.into(),
        }
    }

    const JANET: &str = "Janet's ducks lay 16 eggs per day. She eats three for breakfast every \
                         morning and bakes muffins for her friends every day with four.";

    #[test]
    fn exact_ngram_and_near_duplicate_matches() {
        let h = Hasher::new(&MinHashConfig::default());
        let ix = EvalIndex::new(
            &[q("gsm8k-1", JANET), q("gsm8k-2", "What is two plus two?")],
            13,
            3,
            &h,
        );
        assert_eq!(ix.len(), 2);
        // the same words, other case and punctuation
        let c = ix.check("what is TWO plus two", &h, 0.7).unwrap();
        assert_eq!((c.eval_id.as_str(), c.how.as_str()), ("gsm8k-2", "exact"));
        // a 13-word run inside a longer, different question
        let c = ix
            .check(
                "Consider this: Janet's ducks lay 16 eggs per day. She eats three for breakfast \
                 every morning. How many are left?",
                &h,
                0.7,
            )
            .unwrap();
        assert_eq!(c.how, "ngram");
        assert_eq!(c.matched.split(' ').count(), 13);
        assert!(c.matched.starts_with("janet s ducks lay 16"));
        // one word changed every 14 words: no 13-gram survives, shingles mostly do
        let edited = JANET.replace("three", "3").replace("friends", "pals");
        let c = ix.check(&edited, &h, 0.5).unwrap();
        assert_eq!(c.how, "near_duplicate");
        // unrelated
        assert!(ix
            .check("Name the capital of France in one word please.", &h, 0.7)
            .is_none());
        assert!(ix.check("", &h, 0.7).is_none());
    }

    #[test]
    fn one_shared_boilerplate_run_is_not_contamination() {
        let h = Hasher::new(&MinHashConfig::default());
        let tail = "Physical examination shows no abnormalities. Which of the following is the \
                    most appropriate next step in management?";
        let eval = [q(
            "medqa-1",
            &format!(
                "A 15-year-old boy is brought by his mother who found him in his room late at \
                 night several times during the past month, worried about his sleep. {tail}"
            ),
        )];
        let train = format!(
            "A 70-year-old man collapses while running a marathon on a hot day with a \
             temperature of 41 C and dry skin and low blood pressure. {tail}"
        );
        let ix = EvalIndex::new(&eval, 13, 3, &h);
        assert!(ix.check(&train, &h, 0.7).is_none());
        // the same question with a sentence added before it is
        let c = ix
            .check(&format!("Read carefully. {}", eval[0].text), &h, 0.7)
            .unwrap();
        assert_eq!(c.how, "ngram");
    }

    #[test]
    fn the_eight_word_variant_finds_shorter_runs() {
        let h = Hasher::new(&MinHashConfig::default());
        let eval = [q(
            "e",
            "A train leaves the station at noon going west at 60 mph today.",
        )];
        let train = "Quiz: a train leaves the station at noon going west. Where is it?";
        assert!(EvalIndex::new(&eval, 13, 3, &h)
            .check(train, &h, 0.9)
            .is_none());
        let c = EvalIndex::new(&eval, 8, 3, &h)
            .check(train, &h, 0.9)
            .unwrap();
        assert_eq!(c.matched, "a train leaves the station at noon going");
    }
}
