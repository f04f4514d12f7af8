//! Clean the training data: near-duplicates, benchmark contamination and broken traces,
//! found before a training set is written ([`clean`]; jobs worker, `Job::Clean`; the CLI's
//! `cotlabel clean`). Findings are recomputed, never stored in the label file; training
//! sets leave the flagged rows out by default ([`Findings::flags`],
//! [`crate::core::export::trainset::Options::leave_out`]).
//!
//! - [`text`]: words, shingles and n-grams, hashed alike on wasm32 and 64-bit targets.
//! - [`minhash`]: MinHash signatures, LSH banding, union-find.
//! - [`broken`]: why a trace is broken.
//! - [`contamination`]: evaluation questions indexed by n-grams and MinHash.
//!
//! Two CoTs are duplicates when their word-3-gram MinHash estimate reaches the CoT threshold
//! (0.7), or, with embeddings, when they are neighbours in the graph at cosine ≥ 0.99 — in
//! both cases unless both final answers are readable and differ (near-identical CoTs that
//! reach different answers are what preference pairs are made of, not repeats). Duplicates
//! form clusters (union-find); one member is kept: a human-labelled one first, then the most
//! trusted label, then the first in file order. A missing final answer breaks a CoT only in
//! a data set where most answers can be read ([`MIN_ANSWERED`]).

pub mod broken;
pub mod contamination;
pub mod minhash;
pub mod text;

use std::collections::HashMap;

use crate::core::base::cosine;
use crate::core::data::{Dataset, Embeddings};
use broken::{final_answers, reasons, BrokenConfig, Reason};
use contamination::{Contamination, EvalIndex};
use minhash::{candidates, estimate, Hasher, MinHashConfig, UnionFind};

/// What counts as a duplicate, a contamination and a broken trace.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CleanConfig {
    /// Words per shingle.
    pub shingle: usize,
    /// The MinHash signature and its bands.
    pub minhash: MinHashConfig,
    /// Least estimated Jaccard of two duplicate CoTs.
    pub cot_threshold: f64,
    /// Least estimated Jaccard of two duplicate questions (and of a question and an
    /// evaluation question).
    pub question_threshold: f64,
    /// Least embedding cosine of two duplicate CoTs that are graph neighbours (above 1:
    /// embeddings not used).
    pub embedding_cosine: f32,
    /// Words in the run a training and an evaluation question share (13, or 8).
    pub ngram: usize,
    /// Broken traces.
    pub broken: BrokenConfig,
}

impl Default for CleanConfig {
    fn default() -> Self {
        Self {
            shingle: 3,
            minhash: MinHashConfig::default(),
            cot_threshold: 0.7,
            question_threshold: 0.7,
            embedding_cosine: 0.99,
            ngram: 13,
            broken: BrokenConfig::default(),
        }
    }
}

/// How two CoTs were found alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// MinHash of their word shingles.
    Minhash,
    /// Embedding cosine between graph neighbours.
    Embedding,
}

/// Two duplicate CoTs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DuplicatePair {
    /// Record positions, a < b.
    pub a: u32,
    /// See `a`.
    pub b: u32,
    /// The estimated Jaccard (MinHash) or the cosine (embedding).
    pub similarity: f32,
    /// How.
    pub via: Via,
}

/// What cleaning found in a data set (record positions).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Findings {
    /// Clusters of duplicate CoTs, each sorted, ordered by first member.
    pub duplicates: Vec<Vec<u32>>,
    /// The pairs that joined them (a spanning forest of each cluster: a pair whose CoTs
    /// were already joined is not compared).
    pub pairs: Vec<DuplicatePair>,
    /// Clusters of near-duplicate questions, as one record position of each question.
    pub duplicate_questions: Vec<Vec<u32>>,
    /// Records whose question matches an evaluation question.
    pub contaminated: Vec<(u32, Contamination)>,
    /// Broken records and why.
    pub broken: Vec<(u32, Vec<Reason>)>,
    /// Distinct evaluation questions checked against (0: none given).
    pub eval_questions: usize,
    /// Share of the CoTs whose final answer could be read. Under [`MIN_ANSWERED`] the data
    /// set is not answer-shaped (open-ended chat, say) and a missing answer breaks nothing.
    pub answers_read: f64,
}

/// Least share of readable final answers for `no_answer` to count as broken: below it,
/// leaving every unanswered CoT out would empty an open-ended data set.
pub const MIN_ANSWERED: f64 = 0.5;

/// What a training set needs to know of a label to pick a cluster's representative:
/// whether it is human, and its confidence.
pub type Trust = (bool, f64);

/// Why a record stays out of a training set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Flag {
    /// A duplicate of this record (its cluster's representative).
    pub duplicate_of: Option<u32>,
    /// Its question matches an evaluation question.
    pub contaminated: bool,
    /// It is broken.
    pub broken: bool,
    /// In words: "duplicate of gsm8k-1-a; broken: loop".
    pub why: String,
}

impl Findings {
    /// The representative of `cluster`: a human-labelled member first, then the most
    /// trusted label, then the first in file order (`trust(i)`: `None` unlabelled).
    pub fn representative(cluster: &[u32], trust: &dyn Fn(usize) -> Option<Trust>) -> u32 {
        *cluster
            .iter()
            .min_by_key(|&&i| {
                let t = trust(i as usize);
                (
                    !t.is_some_and(|t| t.0),
                    -(t.map_or(-1.0, |t| t.1) * 1e6) as i64,
                    i,
                )
            })
            .expect("a cluster has members")
    }

    /// Every flagged record with why, given how trusted each record's label is and the
    /// records' ids (for "duplicate of …").
    pub fn flags(
        &self,
        ids: &dyn Fn(usize) -> String,
        trust: &dyn Fn(usize) -> Option<Trust>,
    ) -> HashMap<usize, Flag> {
        let mut out: HashMap<usize, Flag> = HashMap::new();
        for c in &self.duplicates {
            let rep = Self::representative(c, trust);
            for &i in c.iter().filter(|&&i| i != rep) {
                out.entry(i as usize).or_default().duplicate_of = Some(rep);
            }
        }
        for (i, _) in &self.contaminated {
            out.entry(*i as usize).or_default().contaminated = true;
        }
        for (i, _) in &self.broken {
            out.entry(*i as usize).or_default().broken = true;
        }
        for (&i, f) in out.iter_mut() {
            f.why = self.why(i as u32, f.duplicate_of, ids);
        }
        out
    }

    /// Why record `i` is flagged, alone (what the page shows for the record selected,
    /// without the flags of every record), and the cluster it is in, if any.
    pub fn flag_of(
        &self,
        i: usize,
        ids: &dyn Fn(usize) -> String,
        trust: &dyn Fn(usize) -> Option<Trust>,
    ) -> (Option<Flag>, Option<&[u32]>) {
        let i32 = i as u32;
        let cluster = self
            .duplicates
            .iter()
            .find(|c| c.binary_search(&i32).is_ok());
        let duplicate_of = cluster
            .map(|c| Self::representative(c, trust))
            .filter(|&rep| rep != i32);
        let contaminated = self
            .contaminated
            .binary_search_by_key(&i32, |(j, _)| *j)
            .is_ok();
        let broken = self.broken.binary_search_by_key(&i32, |(j, _)| *j).is_ok();
        let flag = (duplicate_of.is_some() || contaminated || broken).then(|| Flag {
            duplicate_of,
            contaminated,
            broken,
            why: self.why(i32, duplicate_of, ids),
        });
        (flag, cluster.map(Vec::as_slice))
    }

    fn why(&self, i: u32, duplicate_of: Option<u32>, ids: &dyn Fn(usize) -> String) -> String {
        let mut why = Vec::new();
        if let Some(rep) = duplicate_of {
            why.push(format!("duplicate of {}", ids(rep as usize)));
        }
        if let Ok(k) = self.contaminated.binary_search_by_key(&i, |(j, _)| *j) {
            let c = &self.contaminated[k].1;
            why.push(format!(
                "in the evaluation set ({}: {})",
                c.eval_id, c.matched
            ));
        }
        if let Ok(k) = self.broken.binary_search_by_key(&i, |(j, _)| *j) {
            let r: Vec<&str> = self.broken[k].1.iter().map(|r| r.as_str()).collect();
            why.push(format!("broken: {}", r.join(", ")));
        }
        why.join("; ")
    }

    /// Records in a duplicate cluster (every member).
    pub fn duplicate_members(&self) -> usize {
        self.duplicates.iter().map(Vec::len).sum()
    }
}

/// Embeddings and the neighbour graph over them, for duplicates by cosine.
pub struct Near<'a> {
    /// The records' embeddings.
    pub embeddings: &'a Embeddings,
    /// The neighbours of a record.
    pub neighbours: &'a dyn Fn(usize) -> Vec<usize>,
}

/// Cleans `dataset`: broken traces, duplicate CoTs (MinHash, and `near` embeddings when
/// given), duplicate questions and, with `eval`, contamination. `report(stage, fraction)`
/// between chunks; `None` when it returned false.
pub fn clean(
    dataset: &Dataset,
    eval: Option<&EvalIndex>,
    near: Option<Near>,
    config: &CleanConfig,
    report: &mut dyn FnMut(&str, f64) -> bool,
) -> Option<Findings> {
    let recs = dataset.records();
    let n = recs.len();
    let chunk = 2000;
    let mut f = Findings {
        eval_questions: eval.map_or(0, EvalIndex::len),
        ..Default::default()
    };

    if !report("reading final answers", 0.0) {
        return None;
    }
    let answers = final_answers(recs);
    f.answers_read = answers.iter().filter(|a| a.is_some()).count() as f64 / n.max(1) as f64;
    let mut broken_config = config.broken;
    broken_config.need_answer &= f.answers_read >= MIN_ANSWERED;

    // broken traces and CoT signatures in one pass over the words
    let hasher = Hasher::new(&config.minhash);
    let p = hasher.perms();
    let mut sigs = vec![0u32; n * p];
    for (i, r) in recs.iter().enumerate() {
        if i % chunk == 0 && !report("MinHash and broken traces", i as f64 / n.max(1) as f64) {
            return None;
        }
        let wh = text::text_word_hashes(&r.cot);
        let why = reasons(r, &wh, answers[i].is_some(), &broken_config);
        if !why.is_empty() {
            f.broken.push((i as u32, why));
        }
        hasher.sign_into(
            &text::shingle_set(&wh, config.shingle),
            &mut sigs[i * p..(i + 1) * p],
        );
    }

    // duplicate CoTs
    let differ =
        |a: usize, b: usize| matches!((&answers[a], &answers[b]), (Some(x), Some(y)) if x != y);
    let mut uf = UnionFind::new(n);
    let cands = candidates(&hasher, &sigs, n, |x| report("LSH banding", x))?;
    for (k, &(a, b)) in cands.iter().enumerate() {
        if k % 100_000 == 0 && !report("LSH banding", 1.0) {
            return None;
        }
        let (ai, bi) = (a as usize, b as usize);
        // already in one cluster: this pair would join nothing
        if uf.find(a) == uf.find(b) {
            continue;
        }
        let j = estimate(&sigs[ai * p..(ai + 1) * p], &sigs[bi * p..(bi + 1) * p]);
        if j >= config.cot_threshold && !differ(ai, bi) {
            uf.union(a, b);
            f.pairs.push(DuplicatePair {
                a,
                b,
                similarity: j as f32,
                via: Via::Minhash,
            });
        }
    }
    drop(sigs);
    if let Some(near) = near.filter(|_| config.embedding_cosine <= 1.0) {
        let e = near.embeddings;
        for i in 0..n.min(e.rows()) {
            if i % chunk == 0 && !report("embedding neighbours", i as f64 / n.max(1) as f64) {
                return None;
            }
            for j in (near.neighbours)(i) {
                if j <= i || j >= e.rows() || differ(i, j) {
                    continue;
                }
                let c = cosine(e.row(i), e.row(j));
                if c >= config.embedding_cosine && uf.find(i as u32) != uf.find(j as u32) {
                    uf.union(i as u32, j as u32);
                    f.pairs.push(DuplicatePair {
                        a: i as u32,
                        b: j as u32,
                        similarity: c,
                        via: Via::Embedding,
                    });
                }
            }
        }
    }
    f.duplicates = uf.groups();

    // questions: near-duplicates among them, and contamination
    if !report("questions", 0.0) {
        return None;
    }
    let groups = dataset.groups();
    let firsts: Vec<usize> = groups.iter().map(|m| m[0] as usize).collect();
    let q = firsts.len();
    let mut qsigs = vec![0u32; q * p];
    for (g, &i) in firsts.iter().enumerate() {
        hasher.sign_into(
            &text::shingles(&recs[i].question, config.shingle),
            &mut qsigs[g * p..(g + 1) * p],
        );
    }
    let mut quf = UnionFind::new(q);
    for (a, b) in candidates(&hasher, &qsigs, q, |x| report("questions", 0.5 * x))? {
        let (ai, bi) = (a as usize, b as usize);
        if estimate(&qsigs[ai * p..(ai + 1) * p], &qsigs[bi * p..(bi + 1) * p])
            >= config.question_threshold
        {
            quf.union(a, b);
        }
    }
    f.duplicate_questions = quf
        .groups()
        .into_iter()
        .map(|c| c.iter().map(|&g| firsts[g as usize] as u32).collect())
        .collect();
    if let Some(ix) = eval {
        for (g, members) in groups.iter().enumerate() {
            if g % chunk == 0 && !report("contamination", g as f64 / q.max(1) as f64) {
                return None;
            }
            let question = &recs[members[0] as usize].question;
            if let Some(c) = ix.check(question, &hasher, config.question_threshold) {
                for &i in members {
                    f.contaminated.push((i, c.clone()));
                }
            }
        }
        f.contaminated.sort_by_key(|(i, _)| *i);
    }
    report("contamination", 1.0);
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::contamination::EvalQuestion;
    use super::*;
    use crate::core::data::Record;

    fn rec(id: &str, qid: &str, question: &str, cot: &str) -> Record {
        Record {
            id: id.into(),
            question: question.into(),
            cot: cot.into(),
            answer: None,
            question_id: Some(qid.into()),
            is_correct: None,
            meta: Default::default(),
        }
    }

    const Q1: &str = "Tom has 3 bags with 4 apples in each bag. How many apples does he have?";
    const C1: &str = "Each of the 3 bags holds 4 apples, so Tom has 3 * 4 = 12 apples in all \
                      of his bags together. The answer is 12.";

    fn data() -> Dataset {
        let recs = vec![
            rec("a", "q1", Q1, C1),
            // the same CoT with other spacing and case
            rec("b", "q1", Q1, &C1.to_uppercase().replace(", ", " ,  ")),
            // the same words but a different final answer: not a duplicate
            rec("c", "q1", Q1, &C1.replace("answer is 12", "answer is 13")),
            rec(
                "d",
                "q1",
                Q1,
                "Three bags of four apples each make twelve apples. The answer is 12.",
            ),
            // the same question under another id, and a broken CoT
            rec(
                "e",
                "q2",
                &format!("{Q1} "),
                "Tom has 3 bags of 4 apples, so he has 3 * 4 = 12 and",
            ),
            rec("f", "q3", "What is 7 + 5?", "7 + 5 = 12. The answer is 12."),
        ];
        Dataset::new("t.jsonl", recs, None)
    }

    #[test]
    fn finds_duplicates_broken_traces_and_contamination() {
        let d = data();
        let eval = EvalIndex::new(
            &[EvalQuestion {
                id: "gsm8k-9".into(),
                text: Q1.to_lowercase(),
            }],
            13,
            3,
            &Hasher::new(&MinHashConfig::default()),
        );
        let f = clean(
            &d,
            Some(&eval),
            None,
            &CleanConfig::default(),
            &mut |_, _| true,
        )
        .unwrap();
        assert_eq!(f.duplicates, vec![vec![0, 1]]);
        assert_eq!(f.pairs.len(), 1);
        assert_eq!(f.pairs[0].similarity, 1.0);
        // q1 and q2 are one question
        assert_eq!(f.duplicate_questions, vec![vec![0, 4]]);
        let broken: Vec<(u32, Vec<Reason>)> = f.broken.clone();
        assert_eq!(
            broken,
            vec![(4, vec![Reason::MidSentence]), (5, vec![Reason::Trivial])]
        );
        let contaminated: Vec<u32> = f.contaminated.iter().map(|(i, _)| *i).collect();
        assert_eq!(contaminated, [0, 1, 2, 3, 4]);
        assert_eq!(f.contaminated[0].1.how, "exact");
        assert_eq!(f.eval_questions, 1);

        // the representative: a human label first, then trust, then file order
        assert_eq!(Findings::representative(&[0, 1], &|_| None), 0);
        assert_eq!(
            Findings::representative(&[0, 1], &|i| (i == 1).then_some((false, 0.9))),
            1
        );
        assert_eq!(
            Findings::representative(&[0, 1, 3], &|i| Some((i == 3, 0.5 + i as f64 / 10.0))),
            3
        );
        let ids = |i: usize| d.records()[i].id.clone();
        let flags = f.flags(&ids, &|i| (i == 1).then_some((true, 1.0)));
        assert_eq!(flags[&0].duplicate_of, Some(1));
        assert!(!flags.contains_key(&1) || flags[&1].duplicate_of.is_none());
        assert!(flags[&0]
            .why
            .starts_with("duplicate of b; in the evaluation set (gsm8k-9"));
        assert_eq!(flags[&5].why, "broken: trivial");
        // one record alone says the same as all of them
        let trust = |i: usize| (i == 1).then_some((true, 1.0));
        for i in 0..d.len() {
            let (one, cluster) = f.flag_of(i, &ids, &trust);
            assert_eq!(one.as_ref(), flags.get(&i), "record {i}");
            assert_eq!(cluster.is_some(), i < 2);
        }
    }

    #[test]
    fn embedding_neighbours_join_paraphrases() {
        let mut recs = data().records().to_vec();
        recs.truncate(4);
        let e = Embeddings::new(4, 2, vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.001, 0.999, 0.02]).unwrap();
        let d = Dataset::new("t", recs, Some(e.clone()));
        let all = |i: usize| (0..4).filter(|&j| j != i).collect::<Vec<_>>();
        let near = Near {
            embeddings: &e,
            neighbours: &all,
        };
        let f = clean(
            &d,
            None,
            Some(near),
            &CleanConfig::default(),
            &mut |_, _| true,
        )
        .unwrap();
        // d is a paraphrase of a (cosine 0.9998); c reaches another answer
        assert_eq!(f.duplicates, vec![vec![0, 1, 3]]);
        assert!(f.pairs.iter().any(|p| p.via == Via::Embedding && p.b == 3));
        assert!(f.contaminated.is_empty());
    }

    #[test]
    fn open_ended_data_without_answers_is_not_all_broken() {
        let recs = (0..4)
            .map(|k| {
                rec(
                    &format!("r{k}"),
                    &format!("q{k}"),
                    &format!("Write a short note number {k} to a friend about the weekend."),
                    &format!(
                        "Dear {}, the weekend was lovely and we walked by the sea for hours.",
                        ["Ann", "Bea", "Cal", "Dot"][k]
                    ),
                )
            })
            .collect();
        let d = Dataset::new("notes", recs, None);
        let f = clean(&d, None, None, &CleanConfig::default(), &mut |_, _| true).unwrap();
        assert_eq!(f.answers_read, 0.0);
        assert!(f.broken.is_empty(), "{:?}", f.broken);
        // answer-shaped data: the one CoT without an answer is broken
        let f = clean(&data(), None, None, &CleanConfig::default(), &mut |_, _| {
            true
        })
        .unwrap();
        assert!(f.answers_read >= MIN_ANSWERED);
    }

    #[test]
    fn cancelling_stops() {
        let d = data();
        let mut calls = 0;
        let out = clean(&d, None, None, &CleanConfig::default(), &mut |_, _| {
            calls += 1;
            calls < 3
        });
        assert!(out.is_none());
    }
}
