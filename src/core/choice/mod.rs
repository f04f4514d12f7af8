//! The binary-choice classifier: which of two CoTs for the same question reasons better.
//!
//! - `model`: the network (burn), its loss and its symmetric score;
//! - `train`: seeded training with early stopping on validation pairs;
//! - `infer`: batched scoring and the weights' burnpack records;
//! - this file (no burn): the model's input per CoT, the training pairs, the per-CoT scores
//!   (win rate over the CoT's siblings) and their calibration, and what ships with the
//!   weights. The burn parts build with the `model` feature (on by default; the page's
//!   own wasm builds leave it off, only the model worker carries burn).
//!
//! Input per CoT: the sentence embedding beside the reasoning-signature vector and the
//! label-free prior ([`Input::Full`]), or the embedding alone ([`Input::Seed`], the seed's model, kept to
//! compare: near chance on real data), or the signature alone ([`Input::Signature`], for data
//! without 384-d MiniLM embeddings).

#[cfg(feature = "model")]
mod infer;
#[cfg(feature = "model")]
pub mod model;
#[cfg(feature = "model")]
pub mod train;

#[cfg(feature = "model")]
pub use infer::{gather, load, save, score_pairs, score_pairs_async, BATCH};

use super::data::Dataset;
use super::signature::{Signature, DIM};

/// What the model reads per CoT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Input {
    /// MiniLM embedding (384) + signature vector + prior.
    Full,
    /// The embedding alone (the seed's model).
    Seed,
    /// The signature vector and prior alone.
    Signature,
}

/// Width of a MiniLM embedding.
pub const MINILM_DIM: usize = 384;

impl Input {
    /// Features per CoT.
    pub fn width(self) -> usize {
        match self {
            Self::Full => MINILM_DIM + DIM + 1,
            Self::Seed => MINILM_DIM,
            Self::Signature => DIM + 1,
        }
    }

    /// The input the shipped weights can read for this data set: the full one with 384-d
    /// embeddings, else the signature alone.
    pub fn for_dataset(dataset: &Dataset) -> Self {
        match dataset.embeddings() {
            Some(e) if e.dim() == MINILM_DIM => Self::Full,
            _ => Self::Signature,
        }
    }

    /// File stem of its shipped weights.
    pub fn name(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Seed => "seed",
            Self::Signature => "signature",
        }
    }
}

/// Feature rows (`n × input.width()`), or `None` when the data set lacks what `input` needs.
pub fn features(dataset: &Dataset, sigs: &[Signature], input: Input) -> Option<Vec<f32>> {
    let emb = dataset.embeddings();
    let need_emb = input != Input::Signature;
    if need_emb && emb.is_none_or(|e| e.dim() != MINILM_DIM) {
        return None;
    }
    let mut out = Vec::with_capacity(dataset.len() * input.width());
    for (i, s) in sigs.iter().enumerate() {
        if need_emb {
            let row = emb.expect("checked").row(i);
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            let k = if norm > 0.0 && norm.is_finite() {
                1.0 / norm
            } else {
                0.0
            };
            out.extend(row.iter().map(|v| v * k));
        }
        if input != Input::Seed {
            out.extend_from_slice(&s.vector);
            out.push(s.prior as f32);
        }
    }
    Some(out)
}

/// A training pair: rows `a` and `b`, and whether `a` is the better (correct) one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairIndex {
    /// Row of CoT A.
    pub a: usize,
    /// Row of CoT B.
    pub b: usize,
    /// A is the correct one.
    pub a_better: bool,
}

/// CoTs of the same question grouped (rows), in first-seen order.
pub fn groups(dataset: &Dataset) -> Vec<Vec<usize>> {
    let mut index: rustc_hash::FxHashMap<&str, usize> = Default::default();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, r) in dataset.records().iter().enumerate() {
        let g = *index.entry(r.group_key()).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[g].push(i);
    }
    out
}

/// Every (correct, incorrect) pair of CoTs of the same question among `rows` (by
/// `is_correct`), its order drawn by `seed`.
pub fn pairs(dataset: &Dataset, keep: impl Fn(usize) -> bool, seed: u64) -> Vec<PairIndex> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let records = dataset.records();
    let mut out = Vec::new();
    for g in groups(dataset) {
        let g: Vec<usize> = g.into_iter().filter(|&i| keep(i)).collect();
        for &good in g.iter().filter(|&&i| records[i].is_correct == Some(true)) {
            for &bad in g.iter().filter(|&&i| records[i].is_correct == Some(false)) {
                out.push(if rng.random::<bool>() {
                    PairIndex {
                        a: good,
                        b: bad,
                        a_better: true,
                    }
                } else {
                    PairIndex {
                        a: bad,
                        b: good,
                        a_better: false,
                    }
                });
            }
        }
    }
    out
}

/// Every unordered pair of siblings (i < j within a group).
pub fn sibling_pairs(groups: &[Vec<usize>]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for g in groups {
        for (k, &i) in g.iter().enumerate() {
            for &j in &g[k + 1..] {
                out.push((i, j));
            }
        }
    }
    out
}

/// Per-CoT win rate: the mean over its siblings of P(it is better). `None` for a CoT
/// without siblings (there is nothing to compare it with).
pub fn win_rates(n: usize, pairs: &[(usize, usize)], scores: &[f32]) -> Vec<Option<f64>> {
    let mut sum = vec![0.0f64; n];
    let mut count = vec![0usize; n];
    for (&(i, j), &s) in pairs.iter().zip(scores) {
        sum[i] += f64::from(s);
        sum[j] += 1.0 - f64::from(s);
        count[i] += 1;
        count[j] += 1;
    }
    sum.into_iter()
        .zip(count)
        .map(|(s, c)| (c > 0).then(|| s / c as f64))
        .collect()
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

/// P(correct) of a CoT from its win rate over its siblings and its label-free prior:
/// `σ(a·logit(win rate) + c·logit(prior) + b)`. A win rate alone cannot tell a question
/// whose CoTs are all right from one whose CoTs are all wrong (both ≈ ½); the prior can.
/// Without siblings the win rate counts as ½.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    /// Weight of the win rate's log-odds.
    pub a: f64,
    /// Weight of the prior's log-odds.
    pub c: f64,
    /// Offset.
    pub b: f64,
}

impl Calibration {
    /// P(correct).
    pub fn apply(&self, win_rate: Option<f64>, prior: f64) -> f64 {
        let z = self.a * win_rate.map_or(0.0, logit) + self.c * logit(prior) + self.b;
        1.0 / (1.0 + (-z).exp())
    }

    /// Logistic regression (Newton, L2 1e-3) on validation CoTs.
    pub fn fit(win_rate: &[Option<f64>], prior: &[f64], y: &[bool]) -> Self {
        let x: Vec<[f64; 3]> = win_rate
            .iter()
            .zip(prior)
            .map(|(w, p)| [w.map_or(0.0, logit), logit(*p), 1.0])
            .collect();
        let mut beta = [1.0, 0.0, 0.0];
        for _ in 0..50 {
            let mut g = [0.0; 3];
            let mut h = [[0.0; 3]; 3];
            for (xi, &yi) in x.iter().zip(y) {
                let z: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
                let p = 1.0 / (1.0 + (-z).exp());
                let w = (p * (1.0 - p)).max(1e-9);
                for r in 0..3 {
                    g[r] += (p - f64::from(yi)) * xi[r];
                    for c in 0..3 {
                        h[r][c] += w * xi[r] * xi[c];
                    }
                }
            }
            let n = x.len().max(1) as f64;
            for r in 0..3 {
                g[r] = g[r] / n + 1e-3 * beta[r];
                for c in 0..3 {
                    h[r][c] /= n;
                }
                h[r][r] += 1e-3;
            }
            let Some(step) = solve3(h, g) else { break };
            for r in 0..3 {
                beta[r] -= step[r];
            }
            if step.iter().all(|s| s.abs() < 1e-10) {
                break;
            }
        }
        Self {
            a: beta[0],
            c: beta[1],
            b: beta[2],
        }
    }
}

/// Solves the 3 × 3 system `h · x = g` (Cramer's rule); `None` when singular.
fn solve3(h: [[f64; 3]; 3], g: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(h);
    if d.abs() < 1e-15 {
        return None;
    }
    let mut out = [0.0; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut m = h;
        for r in 0..3 {
            m[r][k] = g[r];
        }
        *o = det(m) / d;
    }
    Some(out)
}

/// What ships beside the weights: how they were made and what they measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WeightsInfo {
    /// The input the weights read.
    pub input: Input,
    /// Processor width.
    pub hidden: usize,
    /// (Win rate, prior) → P(correct), fitted on the validation questions' CoTs.
    pub calibration: Calibration,
    /// Pair accuracy on the GSM8K test pairs (both orders averaged).
    pub test_pair_accuracy: f64,
    /// Pair accuracy on the validation pairs at the chosen epoch.
    pub val_pair_accuracy: f64,
    /// The chosen epoch.
    pub epoch: usize,
    /// Accuracy of the calibrated P(correct) ≥ ½ on the test CoTs.
    pub test_accuracy: f64,
    /// Its expected calibration error there.
    pub test_ece: f64,
    /// Seed.
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn win_rates_and_calibration_by_hand() {
        // group {0, 1, 2}: P(0 > 1) = 0.8, P(0 > 2) = 0.6, P(1 > 2) = 0.5; 3 alone
        let pairs = [(0, 1), (0, 2), (1, 2)];
        let w = win_rates(4, &pairs, &[0.8, 0.6, 0.5]);
        assert!((w[0].unwrap() - 0.7).abs() < 1e-6);
        assert!((w[1].unwrap() - 0.35).abs() < 1e-6);
        assert!((w[2].unwrap() - 0.45).abs() < 1e-6);
        assert_eq!(w[3], None);
        assert_eq!(sibling_pairs(&[vec![0, 1, 2], vec![3]]), pairs.to_vec());
        let c = Calibration {
            a: 1.0,
            c: 0.0,
            b: 0.0,
        };
        assert!((c.apply(Some(0.7), 0.2) - 0.7).abs() < 1e-9);
        assert!((c.apply(None, 0.2) - 0.5).abs() < 1e-9);
        // the fit follows the prior when the win rate says nothing
        let prior: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { 0.8 } else { 0.2 })
            .collect();
        let y: Vec<bool> = (0..200).map(|i| i % 2 == 0).collect();
        let fit = Calibration::fit(&vec![Some(0.5); 200], &prior, &y);
        assert!(fit.c > 1.0 && fit.apply(Some(0.5), 0.8) > 0.9, "{fit:?}");
    }
}
