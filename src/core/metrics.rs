//! Evaluation metrics against ground truth: AUROC, pair accuracy, adjusted Rand index, and
//! the accuracy / macro-F1 / coverage / calibration of predicted labels.

/// Area under the ROC curve of `scores` for the positives in `labels` (Mann–Whitney, tied
/// scores count one half). `None` when one class is absent.
pub fn auroc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // average ranks over ties
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in i..=j {
            ranks[idx[k]] = r;
        }
        i = j + 1;
    }
    let pos = labels.iter().filter(|l| **l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let rank_sum: f64 = ranks
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l)
        .map(|(r, _)| r)
        .sum();
    Some((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos * neg) as f64)
}

/// Share of (better, worse) score pairs where the better one scores higher (ties ½).
pub fn pair_accuracy(pairs: &[(f64, f64)]) -> Option<f64> {
    if pairs.is_empty() {
        return None;
    }
    let hits: f64 = pairs
        .iter()
        .map(|(a, b)| {
            if a > b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            }
        })
        .sum();
    Some(hits / pairs.len() as f64)
}

/// Adjusted Rand index of two partitions (labels are arbitrary integers; −1 is a label like
/// any other). 1 = identical partitions, about 0 = chance agreement.
pub fn adjusted_rand_index(a: &[i64], b: &[i64]) -> f64 {
    use std::collections::HashMap;
    assert_eq!(a.len(), b.len(), "partitions of the same points");
    let n = a.len() as f64;
    let c2 = |x: f64| x * (x - 1.0) / 2.0;
    let mut table: HashMap<(i64, i64), f64> = HashMap::new();
    let mut rows: HashMap<i64, f64> = HashMap::new();
    let mut cols: HashMap<i64, f64> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *table.entry((x, y)).or_default() += 1.0;
        *rows.entry(x).or_default() += 1.0;
        *cols.entry(y).or_default() += 1.0;
    }
    let index: f64 = table.values().map(|&v| c2(v)).sum();
    let sum_a: f64 = rows.values().map(|&v| c2(v)).sum();
    let sum_b: f64 = cols.values().map(|&v| c2(v)).sum();
    let expected = sum_a * sum_b / c2(n).max(1.0);
    let max = (sum_a + sum_b) / 2.0;
    if max == expected {
        1.0
    } else {
        (index - expected) / (max - expected)
    }
}

/// How predicted labels compare with the ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct LabelScores {
    /// Predictions scored (those with both a prediction and a truth).
    pub scored: usize,
    /// Share of the records with a truth that have a prediction.
    pub coverage: f64,
    /// Share of scored predictions that are right.
    pub accuracy: f64,
    /// Mean of the F1 of both classes (a class never predicted nor present is left out).
    pub macro_f1: f64,
    /// Expected calibration error of the confidences (10 equal-width bins over [½, 1]).
    pub ece: f64,
}

/// The machine labels of `store` scored against the records' `is_correct` (human-labelled
/// records are not scored; unlabelled ones lower the coverage), with the share of the
/// majority class among the scored records' truths. `None` when no record has a truth. The
/// page's live evaluation and the CLI's `evaluate` both use it.
pub fn machine_scores(
    dataset: &crate::core::Dataset,
    store: &crate::core::LabelStore,
) -> Option<(LabelScores, f64)> {
    let records = dataset.records();
    if !records.iter().any(|r| r.is_correct.is_some()) {
        return None;
    }
    let mut predicted = Vec::with_capacity(records.len());
    let mut truth = Vec::with_capacity(records.len());
    for r in records {
        let l = store.get(&r.id);
        predicted.push(
            l.filter(|l| !l.is_human())
                .map(|l| (l.verdict == crate::core::Verdict::Good, l.confidence)),
        );
        truth.push(if l.is_some_and(crate::core::Label::is_human) {
            None
        } else {
            r.is_correct
        });
    }
    let (good, all) = truth
        .iter()
        .flatten()
        .fold((0usize, 0usize), |(g, a), &t| (g + usize::from(t), a + 1));
    let majority = if all == 0 {
        0.0
    } else {
        good.max(all - good) as f64 / all as f64
    };
    Some((label_scores(&predicted, &truth), majority))
}

/// Scores `predicted` (verdict `true` = positive, with its confidence) against `truth`.
/// Records without a truth are ignored; records with a truth and no prediction lower the
/// coverage only.
pub fn label_scores(predicted: &[Option<(bool, f64)>], truth: &[Option<bool>]) -> LabelScores {
    let mut with_truth = 0usize;
    let mut table = [[0usize; 2]; 2]; // [truth][predicted]
    let mut bins = [(0usize, 0.0f64, 0.0f64); 10]; // (count, confidence sum, hits)
    for (p, t) in predicted.iter().zip(truth) {
        let Some(t) = t else { continue };
        with_truth += 1;
        let Some((v, conf)) = p else { continue };
        table[usize::from(*t)][usize::from(*v)] += 1;
        let b = (((conf - 0.5) * 20.0).floor().max(0.0) as usize).min(9);
        bins[b].0 += 1;
        bins[b].1 += conf;
        bins[b].2 += f64::from(v == t);
    }
    let scored: usize = table.iter().flatten().sum();
    if scored == 0 {
        return LabelScores {
            coverage: 0.0,
            ..Default::default()
        };
    }
    let f1 = |c: usize| {
        let tp = table[c][c];
        let fp = table[1 - c][c];
        let fn_ = table[c][1 - c];
        (tp + fp + fn_ > 0).then(|| 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64)
    };
    let f1s: Vec<f64> = [0, 1].into_iter().filter_map(f1).collect();
    let ece = bins
        .iter()
        .filter(|b| b.0 > 0)
        .map(|b| (b.1 / b.0 as f64 - b.2 / b.0 as f64).abs() * b.0 as f64)
        .sum::<f64>()
        / scored as f64;
    LabelScores {
        scored,
        coverage: scored as f64 / with_truth as f64,
        accuracy: (table[0][0] + table[1][1]) as f64 / scored as f64,
        macro_f1: f1s.iter().sum::<f64>() / f1s.len().max(1) as f64,
        ece,
    }
}

/// The ECE a perfectly calibrated labeller would show on these predictions: the mean over
/// `draws` simulated truths, each prediction right with the probability of its confidence,
/// scored like [`label_scores`]. With few predictions per bin the ECE of a calibrated
/// labeller is far from zero; this is the floor to read a measured ECE against.
pub fn calibrated_ece(confidences: &[f64], draws: usize, seed: u64) -> f64 {
    use rand::{Rng, SeedableRng};
    if confidences.is_empty() || draws == 0 {
        return 0.0;
    }
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let truth = vec![Some(true); confidences.len()];
    let mut sum = 0.0;
    for _ in 0..draws {
        let predicted: Vec<Option<(bool, f64)>> = confidences
            .iter()
            .map(|&c| Some((rng.random::<f64>() < c, c)))
            .collect();
        sum += label_scores(&predicted, &truth).ece;
    }
    sum / draws as f64
}

/// Mean confidence minus accuracy of the scored predictions: > 0 overconfident, < 0
/// underconfident (the part of the ECE that more data would not shrink).
pub fn confidence_gap(predicted: &[Option<(bool, f64)>], truth: &[Option<bool>]) -> Option<f64> {
    let (mut n, mut conf, mut hits) = (0usize, 0.0, 0.0);
    for (p, t) in predicted.iter().zip(truth) {
        if let (Some((v, c)), Some(t)) = (p, t) {
            n += 1;
            conf += c;
            hits += f64::from(v == t);
        }
    }
    (n > 0).then(|| (conf - hits) / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auroc_known_values() {
        assert_eq!(
            auroc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            Some(0.75)
        );
        assert_eq!(auroc(&[1.0, 1.0], &[true, false]), Some(0.5));
        assert_eq!(auroc(&[0.0, 1.0], &[false, true]), Some(1.0));
        assert_eq!(auroc(&[1.0, 0.0], &[false, true]), Some(0.0));
        assert_eq!(auroc(&[1.0], &[true]), None);
    }

    #[test]
    fn ari_known_values() {
        assert_eq!(adjusted_rand_index(&[0, 0, 1, 1], &[5, 5, 7, 7]), 1.0);
        // scikit-learn: adjusted_rand_score([0, 0, 1, 1], [0, 0, 1, 2]) = 0.5714285714285715
        assert!(
            (adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]) - 0.5714285714285715).abs() < 1e-12
        );
        // adjusted_rand_score([0, 0, 1, 2], [0, 0, 1, 1]) is symmetric
        assert!(
            (adjusted_rand_index(&[0, 0, 1, 2], &[0, 0, 1, 1]) - 0.5714285714285715).abs() < 1e-12
        );
        // adjusted_rand_score([0, 0, 0, 0], [0, 1, 2, 3]) = 0
        assert_eq!(adjusted_rand_index(&[0, 0, 0, 0], &[0, 1, 2, 3]), 0.0);
        // adjusted_rand_score([0, 1, 0, 1], [0, 0, 1, 1]) = -0.5
        assert!((adjusted_rand_index(&[0, 1, 0, 1], &[0, 0, 1, 1]) + 0.5).abs() < 1e-12);
    }

    #[test]
    fn pair_accuracy_counts_ties_half() {
        assert_eq!(
            pair_accuracy(&[(1.0, 0.0), (0.0, 1.0), (0.5, 0.5), (2.0, 1.0)]),
            Some(0.625)
        );
        assert_eq!(pair_accuracy(&[]), None);
    }

    #[test]
    fn label_scores_hand_computed() {
        // truth: T T F F, predicted: T F F (none); confidences 1, 0.75, 0.55
        let pred = [
            Some((true, 1.0)),
            Some((false, 0.75)),
            Some((false, 0.55)),
            None,
        ];
        let truth = [Some(true), Some(true), Some(false), Some(false)];
        let s = label_scores(&pred, &truth);
        assert_eq!(s.scored, 3);
        assert!((s.coverage - 0.75).abs() < 1e-12);
        assert!((s.accuracy - 2.0 / 3.0).abs() < 1e-12);
        // positive class: tp 1, fn 1 → F1 2/3; negative: tp 1, fp 1 → 2/3
        assert!((s.macro_f1 - 2.0 / 3.0).abs() < 1e-12);
        // bins: 1.0 (hit), 0.75 (miss), 0.55 (hit): |1−1| + |0.75−0| + |0.55−1| over 3
        assert!((s.ece - (0.75 + 0.45) / 3.0).abs() < 1e-12, "{}", s.ece);
        assert_eq!(label_scores(&[None], &[Some(true)]).coverage, 0.0);
    }
}
