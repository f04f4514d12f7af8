//! Team work: several annotators' labels on one data set, kept side by side.
//!
//! The votes themselves live in the store ([`crate::core::labels::Vote`]): one per annotator
//! per record, merged by [`crate::core::labels::LabelStore::merge_team`]; a record's label is
//! their [`consensus`] (a strict majority; a tie is a conflict, unlabelled until a person
//! settles it with an *adjudicated* label).
//!
//! - [`TeamReport`]: who agrees with whom (Cohen's κ per pair, Fleiss' κ and Krippendorff's
//!   α over all, from [`crate::core::labels::agreement`]), each person against the
//!   consensus, step marks within ±0 and ±1 step, and the questions most disagreed on.

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use crate::core::labels::agreement::{cohen_kappa, fleiss_kappa, krippendorff_alpha};
use crate::core::labels::{consensus, StepMark, Verdict, Vote};

/// Agreement of one pair of annotators.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairAgreement {
    /// One annotator (the first in name order).
    pub a: String,
    /// The other.
    pub b: String,
    /// Records both labelled.
    pub n: usize,
    /// Cohen's κ on them; `None` when undefined (no record in common, one verdict only).
    pub cohen_kappa: Option<f64>,
    /// The share of them both labelled alike.
    pub agreement: Option<f64>,
}

/// One annotator against the team's consensus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonAgreement {
    /// Who.
    pub annotator: String,
    /// Their votes.
    pub votes: usize,
    /// Their votes on records that another annotator labelled too and that have a consensus.
    pub n: usize,
    /// The share of those equal to the consensus.
    pub with_consensus: Option<f64>,
}

/// How far step marks on the same record agree (pairs of annotators who both marked it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StepAgreement {
    /// Pairs of step marks compared.
    pub pairs: usize,
    /// The share naming the same first wrong step (or both none wrong).
    pub exact: Option<f64>,
    /// The share within one step of each other (none wrong counts as past the last step).
    pub within_one: Option<f64>,
}

/// A question whose CoTs the annotators disagreed on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContestedQuestion {
    /// The question.
    pub question_id: String,
    /// Its records with votes of two or more annotators.
    pub compared: usize,
    /// Those where the votes differ.
    pub disagreements: usize,
    /// Those left in conflict (a tie, not settled).
    pub conflicts: usize,
}

/// The team's agreement over every record with votes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamReport {
    /// Every annotator, in name order.
    pub annotators: Vec<String>,
    /// Records with at least one vote.
    pub records: usize,
    /// Records with votes of two or more annotators.
    pub overlap: usize,
    /// Records whose votes have a majority.
    pub consensus: usize,
    /// Records with a tie that nobody settled.
    pub conflicts: usize,
    /// Records a person settled.
    pub adjudicated: usize,
    /// Every pair of annotators, in name order.
    pub pairs: Vec<PairAgreement>,
    /// Fleiss' κ over all annotators.
    pub fleiss_kappa: Option<f64>,
    /// Krippendorff's α (nominal) over all annotators.
    pub krippendorff_alpha: Option<f64>,
    /// Each annotator against the consensus.
    pub people: Vec<PersonAgreement>,
    /// Step marks.
    pub steps: StepAgreement,
    /// The questions with most disagreement (at most ten, most first).
    pub contested: Vec<ContestedQuestion>,
}

/// One record for [`TeamReport::of`].
#[derive(Debug, Clone, Copy)]
pub struct Unit<'a> {
    /// The question the record answers.
    pub question_id: &'a str,
    /// Its votes.
    pub votes: &'a [Vote],
    /// Whether a person settled it.
    pub adjudicated: bool,
}

/// How many contested questions a report lists.
pub const CONTESTED_SHOWN: usize = 10;

impl TeamReport {
    /// The report over `units` (records without votes are left out).
    pub fn of<'a>(units: impl IntoIterator<Item = Unit<'a>>) -> Self {
        let units: Vec<Unit> = units.into_iter().filter(|u| !u.votes.is_empty()).collect();
        let mut annotators: Vec<String> = units
            .iter()
            .flat_map(|u| u.votes.iter().map(|v| v.annotator.clone()))
            .collect();
        annotators.sort_unstable();
        annotators.dedup();
        let column: HashMap<&str, usize> = annotators
            .iter()
            .enumerate()
            .map(|(i, a)| (a.as_str(), i))
            .collect();
        let rows: Vec<Vec<Option<u8>>> = units
            .iter()
            .map(|u| {
                let mut row = vec![None; annotators.len()];
                for v in u.votes {
                    row[column[v.annotator.as_str()]] = Some(u8::from(v.verdict == Verdict::Good));
                }
                row
            })
            .collect();
        let by_annotator: Vec<Vec<Option<u8>>> = (0..annotators.len())
            .map(|j| rows.iter().map(|r| r[j]).collect())
            .collect();
        let mut pairs = Vec::new();
        for i in 0..annotators.len() {
            for j in i + 1..annotators.len() {
                let (a, b) = (&by_annotator[i], &by_annotator[j]);
                let both: Vec<(u8, u8)> = a
                    .iter()
                    .zip(b)
                    .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
                    .collect();
                pairs.push(PairAgreement {
                    a: annotators[i].clone(),
                    b: annotators[j].clone(),
                    n: both.len(),
                    cohen_kappa: cohen_kappa(a, b),
                    agreement: share(both.iter().filter(|(x, y)| x == y).count(), both.len()),
                });
            }
        }
        let mut people: Vec<PersonAgreement> = annotators
            .iter()
            .map(|a| PersonAgreement {
                annotator: a.clone(),
                votes: 0,
                n: 0,
                with_consensus: None,
            })
            .collect();
        let mut agreeing = vec![0usize; annotators.len()];
        let (mut overlap, mut with_consensus, mut conflicts, mut adjudicated) = (0, 0, 0, 0);
        let mut steps = (0usize, 0usize, 0usize);
        let mut contested: HashMap<&str, ContestedQuestion> = HashMap::default();
        for u in &units {
            let c = consensus(u.votes);
            with_consensus += usize::from(c.is_some());
            conflicts += usize::from(c.is_none() && !u.adjudicated);
            adjudicated += usize::from(u.adjudicated);
            for v in u.votes {
                people[column[v.annotator.as_str()]].votes += 1;
            }
            if u.votes.len() < 2 {
                continue;
            }
            overlap += 1;
            let differ = u.votes.iter().any(|v| v.verdict != u.votes[0].verdict);
            let q = contested
                .entry(u.question_id)
                .or_insert_with(|| ContestedQuestion {
                    question_id: u.question_id.to_string(),
                    compared: 0,
                    disagreements: 0,
                    conflicts: 0,
                });
            q.compared += 1;
            q.disagreements += usize::from(differ);
            q.conflicts += usize::from(c.is_none() && !u.adjudicated);
            if let Some(c) = c {
                for v in u.votes {
                    let k = column[v.annotator.as_str()];
                    people[k].n += 1;
                    agreeing[k] += usize::from(v.verdict == c);
                }
            }
            let marks: Vec<StepMark> = u.votes.iter().filter_map(|v| v.step).collect();
            for i in 0..marks.len() {
                for j in i + 1..marks.len() {
                    steps.0 += 1;
                    steps.1 += usize::from(marks[i] == marks[j]);
                    steps.2 += usize::from(within_one(marks[i], marks[j]));
                }
            }
        }
        for (p, a) in people.iter_mut().zip(agreeing) {
            p.with_consensus = share(a, p.n);
        }
        let mut contested: Vec<ContestedQuestion> = contested
            .into_values()
            .filter(|q| q.disagreements > 0)
            .collect();
        contested.sort_by(|x, y| {
            (y.disagreements, y.conflicts, &x.question_id).cmp(&(
                x.disagreements,
                x.conflicts,
                &y.question_id,
            ))
        });
        contested.truncate(CONTESTED_SHOWN);
        Self {
            annotators,
            records: units.len(),
            overlap,
            consensus: with_consensus,
            conflicts,
            adjudicated,
            pairs,
            fleiss_kappa: fleiss_kappa(&rows),
            krippendorff_alpha: krippendorff_alpha(&rows),
            people,
            steps: StepAgreement {
                pairs: steps.0,
                exact: share(steps.1, steps.0),
                within_one: share(steps.2, steps.0),
            },
            contested,
        }
    }
}

fn share(part: usize, of: usize) -> Option<f64> {
    (of > 0).then(|| part as f64 / of as f64)
}

/// Two first-wrong-step marks at most one step apart; "none wrong" sits past every step, so
/// it is within one of nothing but itself (the CoT's length is not known here).
fn within_one(a: StepMark, b: StepMark) -> bool {
    match (a, b) {
        (StepMark::WrongAt(x), StepMark::WrongAt(y)) => x.abs_diff(y) <= 1,
        (x, y) => x == y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::labels::{consensus_step, upsert_vote as upsert, Millis};

    fn vote(who: &str, good: bool, at: Millis) -> Vote {
        Vote {
            annotator: who.into(),
            verdict: if good { Verdict::Good } else { Verdict::Bad },
            updated_at: Some(at),
            step: None,
        }
    }

    #[test]
    fn one_vote_per_annotator_the_newest() {
        let mut votes = Vec::new();
        assert!(upsert(&mut votes, vote("bo", true, 10)));
        assert!(upsert(&mut votes, vote("al", false, 10)));
        assert!(!upsert(&mut votes, vote("bo", false, 5)), "older: kept out");
        assert!(!upsert(&mut votes, vote("bo", true, 10)), "the same");
        assert!(upsert(&mut votes, vote("bo", false, 20)));
        let names: Vec<&str> = votes.iter().map(|v| v.annotator.as_str()).collect();
        assert_eq!(names, ["al", "bo"]);
        assert_eq!(votes[1].verdict, Verdict::Bad);
    }

    #[test]
    fn majority_or_conflict() {
        let (a, b, c) = (vote("a", true, 0), vote("b", false, 0), vote("c", true, 0));
        assert_eq!(consensus(&[a.clone(), b.clone(), c]), Some(Verdict::Good));
        assert_eq!(consensus(&[a.clone(), b.clone()]), None);
        assert_eq!(consensus(&[b]), Some(Verdict::Bad));
        assert_eq!(consensus(&[]), None);
        let marked = |who: &str, k| Vote {
            step: Some(StepMark::WrongAt(k)),
            ..vote(who, false, 0)
        };
        let v = [marked("a", 2), marked("b", 2), marked("c", 3)];
        assert_eq!(consensus_step(&v, Verdict::Bad), Some(StepMark::WrongAt(2)));
        assert_eq!(consensus_step(&v[1..], Verdict::Bad), None, "2 against 3");
        assert_eq!(consensus_step(&v, Verdict::Good), None);
    }

    fn unit<'a>(question_id: &'a str, votes: &'a [Vote]) -> Unit<'a> {
        Unit {
            question_id,
            votes,
            adjudicated: false,
        }
    }

    #[test]
    fn report_by_hand() {
        // r1: a, b, c good; r2: a good, b bad (conflict); r3: a bad, c bad; r4: b only
        let r1 = [vote("a", true, 0), vote("b", true, 0), vote("c", true, 0)];
        let r2 = [vote("a", true, 0), vote("b", false, 0)];
        let r3 = [vote("a", false, 0), vote("c", false, 0)];
        let r4 = [vote("b", false, 0)];
        let r = TeamReport::of([
            unit("q1", &r1),
            unit("q2", &r2),
            unit("q1", &r3),
            unit("q3", &r4),
        ]);
        assert_eq!(r.annotators, ["a", "b", "c"]);
        assert_eq!(
            (r.records, r.overlap, r.consensus, r.conflicts),
            (4, 3, 3, 1)
        );
        // a–b: r1 (1,1), r2 (1,0): agreement ½; a: (1,1) b: (1,0): p_e = ½·1 … κ = 0
        let ab = &r.pairs[0];
        assert_eq!((ab.a.as_str(), ab.b.as_str(), ab.n), ("a", "b", 2));
        assert_eq!(ab.agreement, Some(0.5));
        assert_eq!(ab.cohen_kappa, Some(0.0));
        // a–c: r1 (1,1), r3 (0,0): κ = 1
        assert_eq!(r.pairs[1].cohen_kappa, Some(1.0));
        // b–c: r1 only, one category: undefined
        assert_eq!((r.pairs[2].n, r.pairs[2].cohen_kappa), (1, None));
        // a against the consensus on r1 and r3 (r2 has none): 2 of 2; b: r1 only
        assert_eq!((r.people[0].n, r.people[0].with_consensus), (2, Some(1.0)));
        assert_eq!((r.people[1].votes, r.people[1].n), (3, 1));
        assert_eq!(r.contested.len(), 1);
        assert_eq!(r.contested[0].question_id, "q2");
        assert_eq!(r.contested[0].conflicts, 1);
        let settled = TeamReport::of([Unit {
            adjudicated: true,
            ..unit("q2", &r2)
        }]);
        assert_eq!((settled.conflicts, settled.adjudicated), (0, 1));
    }

    #[test]
    fn step_marks_within_zero_and_one() {
        let marked = |who: &str, m| Vote {
            step: Some(m),
            ..vote(who, false, 0)
        };
        let votes = [
            marked("a", StepMark::WrongAt(2)),
            marked("b", StepMark::WrongAt(3)),
            marked("c", StepMark::WrongAt(3)),
        ];
        let r = TeamReport::of([unit("q", &votes)]);
        // pairs: a–b (±1), a–c (±1), b–c (exact)
        assert_eq!(r.steps.pairs, 3);
        assert_eq!(r.steps.exact, Some(1.0 / 3.0));
        assert_eq!(r.steps.within_one, Some(1.0));
        assert!(!within_one(StepMark::AllFine, StepMark::WrongAt(0)));
    }
}
