//! Consensus among the CoTs of one question (same `question_id`, else same question text):
//! final-answer agreement, intermediate-value overlap, embedding similarity, and where a
//! CoT leaves the path most of its siblings take. No labels involved.

use std::collections::HashMap;

use super::trace::{value_key, Trace};
use crate::core::data::Dataset;

/// Signals of one CoT relative to its siblings.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSignals {
    /// Other CoTs of the same question.
    pub siblings: usize,
    /// Siblings whose final answer equals this one's.
    pub agree: usize,
    /// `agree / siblings`; `None` without siblings (missing, not zero).
    pub agree_share: Option<f64>,
    /// The most common answer of the group (key) and how many CoTs give it, when one
    /// answer is strictly the most common and given at least twice.
    pub plurality: Option<(String, usize)>,
    /// Whether this CoT gives the plurality answer.
    pub is_plurality: bool,
    /// Agreement weighted by the siblings' own soundness: the mean over siblings of their
    /// `quality` when they give the same answer, else 0; `None` without siblings.
    pub weighted_agree: Option<f64>,
    /// Length relative to the group's mean length (1 = average).
    pub relative_length: f64,
    /// Mean `quality` of the whole group (how sound the question's CoTs look overall).
    pub group_quality: f64,
    /// Share of siblings whose final answer or computed values include this CoT's answer;
    /// `None` without siblings.
    pub answer_support: Option<f64>,
    /// Distinct final answers in the group, as a share of its CoTs (1 = all differ).
    pub distinct_share: f64,
    /// Mean Jaccard overlap of computed values with each sibling; `None` without siblings.
    pub value_jaccard_mean: Option<f64>,
    /// Largest such overlap; `None` without siblings.
    pub value_jaccard_max: Option<f64>,
    /// Mean cosine of the embedding to the siblings' (`None` without embeddings/siblings).
    pub embedding_consensus: Option<f64>,
    /// Index of the first equation whose value most siblings never compute (`None`: it
    /// never departs, or has no equations or siblings).
    pub first_departure: Option<usize>,
    /// `first_departure` as a share of the CoT's equations: 1 = never departs.
    pub departure_position: f64,
    /// Entropy of the group's final answers (an unreadable answer is a class of its own),
    /// over ln(group size): 0 = all CoTs give one answer, 1 = all differ. 0 alone.
    pub answer_entropy: f64,
    /// (CoTs giving the most common answer − CoTs giving the second) / group size.
    pub margin: f64,
    /// Share of the siblings whose final answer is unreadable; 0 without siblings.
    pub unread_share: f64,
}

/// Jaccard overlap of two sorted, unique key lists (0 when both are empty).
pub fn jaccard(a: &[i64], b: &[i64]) -> f64 {
    let (mut i, mut j, mut inter) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                inter += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - inter;
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    f64::from(crate::core::base::cosine(a, b))
}

/// `quality[i]` in [0, 1] is a label-free soundness of CoT i alone (see
/// [`super::cot_quality`]), used to weight agreement.
pub fn group_signals(dataset: &Dataset, traces: &[Trace], quality: &[f64]) -> Vec<GroupSignals> {
    let keys: Vec<Option<String>> = traces
        .iter()
        .map(|t| t.answer.as_ref().map(|a| a.key()))
        .collect();
    let values: Vec<Vec<i64>> = traces.iter().map(Trace::computed_keys).collect();
    let emb = dataset.embeddings();
    let mut out: Vec<Option<GroupSignals>> = vec![None; traces.len()];
    for members in dataset.groups().iter() {
        let members: &[usize] = &members.iter().map(|&i| i as usize).collect::<Vec<_>>();
        // The plurality answer of the whole group.
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for &i in members {
            if let Some(k) = &keys[i] {
                *counts.entry(k.as_str()).or_default() += 1;
            }
        }
        let top = counts.values().copied().max().unwrap_or(0);
        let second = {
            let mut c: Vec<usize> = counts.values().copied().collect();
            c.sort_unstable_by(|a, b| b.cmp(a));
            c.get(1).copied().unwrap_or(0)
        };
        let size = members.len() as f64;
        let unread = members.iter().filter(|&&i| keys[i].is_none()).count();
        let answer_entropy = if members.len() < 2 {
            0.0
        } else {
            let h: f64 = counts
                .values()
                .copied()
                .chain((unread > 0).then_some(unread))
                .map(|c| {
                    let q = c as f64 / size;
                    -q * q.ln()
                })
                .sum();
            (h / size.ln()).clamp(0.0, 1.0)
        };
        let margin = (top - second) as f64 / size;
        let distinct_share = counts.len().max(1) as f64 / members.len() as f64;
        // How many CoTs of the group compute each value: (value, count), sorted.
        let mut all: Vec<i64> = members
            .iter()
            .flat_map(|&i| values[i].iter().copied())
            .collect();
        all.sort_unstable();
        let mut group_counts: Vec<(i64, usize)> = Vec::new();
        for v in all {
            match group_counts.last_mut() {
                Some((last, c)) if *last == v => *c += 1,
                _ => group_counts.push((v, 1)),
            }
        }
        let mean_chars =
            members.iter().map(|&i| traces[i].chars as f64).sum::<f64>() / members.len() as f64;
        let group_quality = members.iter().map(|&i| quality[i]).sum::<f64>() / members.len() as f64;
        let plurality = if top >= 2 && counts.values().filter(|&&c| c == top).count() == 1 {
            counts
                .iter()
                .find(|(_, &c)| c == top)
                .map(|(k, &c)| (k.to_string(), c))
        } else {
            None
        };
        for &i in members {
            let sibs: Vec<usize> = members.iter().copied().filter(|&j| j != i).collect();
            let n = sibs.len();
            let agreeing: Vec<usize> = sibs
                .iter()
                .copied()
                .filter(|&j| keys[i].is_some() && keys[i] == keys[j])
                .collect();
            let agree = agreeing.len();
            let weighted = agreeing.iter().map(|&j| quality[j]).sum::<f64>();
            let my_value = traces[i]
                .answer
                .as_ref()
                .and_then(|a| a.number())
                .map(value_key);
            let supported = sibs
                .iter()
                .filter(|&&j| {
                    (keys[i].is_some() && keys[i] == keys[j])
                        || my_value.is_some_and(|v| values[j].binary_search(&v).is_ok())
                })
                .count();
            let jac: Vec<f64> = sibs
                .iter()
                .map(|&j| jaccard(&values[i], &values[j]))
                .collect();
            let embedding_consensus = match (emb, n) {
                (Some(e), n) if n > 0 => Some(
                    sibs.iter()
                        .map(|&j| cosine(e.row(i), e.row(j)))
                        .sum::<f64>()
                        / n as f64,
                ),
                _ => None,
            };
            // Values that at least half of the siblings compute (group counts minus its own).
            let need = n.div_ceil(2).max(1);
            let common = |v: i64| {
                let in_group = group_counts
                    .binary_search_by_key(&v, |p| p.0)
                    .map_or(0, |k| group_counts[k].1);
                let own = usize::from(values[i].binary_search(&v).is_ok());
                in_group - own >= need
            };
            let eqs = &traces[i].equations;
            let first_departure = if n == 0 {
                None
            } else {
                eqs.iter().position(|e| !common(value_key(e.value)))
            };
            let departure_position = match (n, eqs.len(), first_departure) {
                (0, _, _) | (_, 0, _) => 0.5,
                (_, _, None) => 1.0,
                (_, len, Some(k)) => k as f64 / len as f64,
            };
            out[i] = Some(GroupSignals {
                siblings: n,
                agree,
                agree_share: (n > 0).then(|| agree as f64 / n as f64),
                is_plurality: plurality
                    .as_ref()
                    .is_some_and(|(k, _)| keys[i].as_deref() == Some(k.as_str())),
                plurality: plurality.clone(),
                group_quality,
                relative_length: if mean_chars > 0.0 {
                    traces[i].chars as f64 / mean_chars
                } else {
                    1.0
                },
                weighted_agree: (n > 0).then(|| weighted / n as f64),
                answer_support: (n > 0).then(|| supported as f64 / n as f64),
                distinct_share,
                value_jaccard_mean: (n > 0).then(|| jac.iter().sum::<f64>() / n as f64),
                value_jaccard_max: (n > 0).then(|| jac.iter().copied().fold(0.0, f64::max)),
                embedding_consensus,
                first_departure,
                departure_position,
                answer_entropy,
                margin,
                unread_share: if n > 0 {
                    (unread - usize::from(keys[i].is_none())) as f64 / n as f64
                } else {
                    0.0
                },
            });
        }
    }
    out.into_iter()
        .map(|g| g.expect("every record is in a group"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::data::tests::record;
    use crate::core::data::Embeddings;
    use crate::core::signals::signature::trace::{question_numbers, trace};

    fn setup(cots: &[(&str, &str, &str)], emb: Option<Embeddings>) -> (Dataset, Vec<Trace>) {
        let records = cots
            .iter()
            .enumerate()
            .map(|(i, (q, cot, ans))| {
                let mut r = record(&format!("r{i}"), q, cot);
                r.answer = Some(ans.to_string());
                r
            })
            .collect();
        let ds = Dataset::new("t", records, emb);
        let traces = ds
            .records()
            .iter()
            .map(|r| trace(&r.cot, r.answer.as_deref(), &question_numbers(&r.question)))
            .collect();
        (ds, traces)
    }

    fn group_signals(ds: &Dataset, traces: &[Trace]) -> Vec<GroupSignals> {
        super::group_signals(ds, traces, &vec![1.0; traces.len()])
    }

    #[test]
    fn jaccard_cases() {
        assert_eq!(jaccard(&[], &[]), 0.0);
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard(&[1], &[1]), 1.0);
        assert_eq!(jaccard(&[1], &[2]), 0.0);
    }

    #[test]
    fn agreement_plurality_and_departure() {
        let (ds, traces) = setup(
            &[
                ("q", "3 + 4 = 7\n7 * 2 = 14", "14"),
                ("q", "3 + 4 = 7\n7 * 2 = 14", "$14.00"),
                ("q", "3 + 4 = 7\n7 * 3 = 21", "21"),
                ("q", "3 * 4 = 12\n12 + 2 = 14", "14"),
                ("other", "1 + 1 = 2", "2"),
            ],
            None,
        );
        let g = group_signals(&ds, &traces);
        assert_eq!((g[0].siblings, g[0].agree), (3, 2));
        assert!((g[0].agree_share.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(g[0].plurality, Some(("14".to_string(), 3)));
        assert!(g[0].is_plurality && g[1].is_plurality && !g[2].is_plurality);
        assert_eq!(g[2].agree, 0);
        // values {7,14} vs {7,14}: 1; vs {7,21}: 1/3; vs {12,14}: 1/3
        assert!(
            (g[0].value_jaccard_mean.unwrap() - (1.0 + 1.0 / 3.0 + 1.0 / 3.0) / 3.0).abs() < 1e-12
        );
        assert_eq!(g[0].value_jaccard_max, Some(1.0));
        // r2 computes 7 (shared by 2 of 3 siblings), then 21 (by none): departs at equation 1
        assert_eq!(g[2].first_departure, Some(1));
        assert_eq!(g[2].departure_position, 0.5);
        assert_eq!(g[0].first_departure, None);
        assert_eq!(g[0].departure_position, 1.0);
        // a lone CoT: every sibling signal is missing, not zero (r2 disagrees with all
        // three siblings: its agreement is a real 0)
        assert_eq!(
            (g[4].siblings, g[4].agree_share, g[4].plurality.clone()),
            (0, None, None)
        );
        assert_eq!(g[2].agree_share, Some(0.0));
        assert_eq!(
            (
                g[4].value_jaccard_mean,
                g[4].value_jaccard_max,
                g[4].weighted_agree,
                g[4].answer_support
            ),
            (None, None, None, None)
        );
        assert_eq!(g[4].embedding_consensus, None);
    }

    #[test]
    fn ties_have_no_plurality_and_embeddings_give_consensus() {
        let emb = Embeddings::new(2, 2, vec![1.0, 0.0, 0.6, 0.8]).unwrap();
        let (ds, traces) = setup(&[("q", "a", "1"), ("q", "b", "2")], Some(emb));
        let g = group_signals(&ds, &traces);
        assert_eq!(g[0].plurality, None);
        assert!(!g[0].is_plurality);
        assert!((g[0].embedding_consensus.unwrap() - 0.6).abs() < 1e-6);
    }
}
