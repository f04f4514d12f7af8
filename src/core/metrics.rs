//! Evaluation metrics against ground truth: AUROC, pair accuracy, adjusted Rand index.

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
}
