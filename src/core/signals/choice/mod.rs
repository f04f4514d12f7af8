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

use crate::core::data::{Dataset, Groups, Record};
use crate::core::labels::{Label, LabelStore, Millis, Provenance};
use crate::core::signals::signature::{Signature, DIM};

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
    let vectors: Vec<[f32; crate::core::signals::signature::DIM]> =
        sigs.iter().map(|s| s.vector).collect();
    let prior: Vec<f64> = sigs.iter().map(|s| s.label_free_prior).collect();
    inputs(dataset.embeddings(), &vectors, &prior, input)
}

/// [`features`] from what the page keeps: the embeddings (when `input` reads them), each
/// CoT's signature vector and label-free prior
/// ([`crate::core::signals::signature::table::SignatureTable`]).
pub fn inputs(
    emb: Option<&crate::core::data::Embeddings>,
    vectors: &[[f32; crate::core::signals::signature::DIM]],
    label_free_prior: &[f64],
    input: Input,
) -> Option<Vec<f32>> {
    let need_emb = input != Input::Signature;
    if need_emb && emb.is_none_or(|e| e.dim() != MINILM_DIM || e.rows() != vectors.len()) {
        return None;
    }
    if label_free_prior.len() != vectors.len() {
        return None;
    }
    let mut out = Vec::with_capacity(vectors.len() * input.width());
    for (i, (v, &p)) in vectors.iter().zip(label_free_prior).enumerate() {
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
            out.extend_from_slice(v);
            out.push(p as f32);
        }
    }
    Some(out)
}

/// Settings of `train::train` (the reference's: Adam 1e-3, weight decay 1e-4, batch 64, ≤ 60
/// epochs, model selected on validation accuracy).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Epochs at most.
    pub epochs: usize,
    /// Pairs per batch.
    pub batch: usize,
    /// Learning rate.
    pub lr: f64,
    /// Adam's L2 weight decay.
    pub weight_decay: f32,
    /// Epochs without a better validation accuracy before stopping.
    pub patience: usize,
    /// Seed of the batch order (and of the device's random numbers: dropout).
    pub seed: u64,
    /// What picks the epoch to keep.
    #[serde(default)]
    pub select: Select,
}

/// What picks the epoch to keep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Select {
    /// The highest validation pair accuracy (ties: the earlier epoch).
    #[default]
    Accuracy,
    /// The lowest validation loss: finer than accuracy on the few pairs a person labels.
    Loss,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 60,
            batch: 64,
            lr: 1e-3,
            weight_decay: 1e-4,
            patience: 15,
            seed: 0,
            select: Select::Accuracy,
        }
    }
}

impl TrainConfig {
    /// Fine-tuning pretrained weights on a person's labels (with replay pairs, see
    /// [`fine_tune_set`]): a third of the learning rate, 20 epochs at most, the
    /// epoch with the lowest validation loss kept (the starting weights when none beats
    /// them). Chosen on the demo (`tests/integration/choice.rs`).
    pub fn fine_tune() -> Self {
        Self {
            epochs: 20,
            batch: 32,
            lr: 3e-4,
            weight_decay: 1e-4,
            patience: 5,
            seed: 0,
            select: Select::Loss,
        }
    }
}

/// One epoch's numbers.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Epoch {
    /// 1-based (0: the starting weights, before any step).
    pub epoch: usize,
    /// Mean training loss (BCE + CE; for epoch 0 the starting weights' loss on the
    /// training pairs in inference mode).
    pub loss: f64,
    /// Validation pair accuracy (None without validation pairs).
    pub val_accuracy: Option<f64>,
    /// Validation loss, inference mode (None without validation pairs).
    #[serde(default)]
    pub val_loss: Option<f64>,
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

/// Every (correct, incorrect) pair of CoTs of the same question among `rows` (by
/// `is_correct`), its order drawn by `seed`.
pub fn pairs(dataset: &Dataset, keep: impl Fn(usize) -> bool, seed: u64) -> Vec<PairIndex> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let records = dataset.records();
    let mut out = Vec::new();
    for g in dataset.groups().iter() {
        let g: Vec<usize> = g.iter().map(|&i| i as usize).filter(|&i| keep(i)).collect();
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

/// A person's pair choice: rows `a` and `b` and whether `a` reasons better.
pub type PairChoice = (usize, usize, bool);

/// Training pairs from a person's labels: every (sound, flawed) pair of human-labelled
/// CoTs of the same question (`human`: 1 sound, 0 flawed, −1 none), and the person's own
/// pair choices, which win over a pair the pointwise labels imply for the same two CoTs.
/// Each pair's order is drawn by `seed` (the model must not learn "A is better").
pub fn human_pairs(
    groups: &Groups,
    human: &[i8],
    chosen: &[PairChoice],
    seed: u64,
) -> Vec<PairIndex> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut verdict: rustc_hash::FxHashMap<(usize, usize), bool> = Default::default();
    let mut order = Vec::new();
    let mut add = |better: usize, worse: usize| {
        let key = (better.min(worse), better.max(worse));
        if verdict.insert(key, better == key.0).is_none() {
            order.push(key);
        }
    };
    for g in groups.iter() {
        let label = |v: i8| {
            g.iter()
                .map(|&i| i as usize)
                .filter(move |&i| human.get(i) == Some(&v))
        };
        for good in label(1) {
            for bad in label(0) {
                add(good, bad);
            }
        }
    }
    for &(a, b, a_better) in chosen {
        if a != b {
            if a_better {
                add(a, b)
            } else {
                add(b, a)
            }
        }
    }
    order
        .into_iter()
        .map(|(i, j)| {
            let i_better = verdict[&(i, j)];
            if rng.random::<bool>() {
                PairIndex {
                    a: i,
                    b: j,
                    a_better: i_better,
                }
            } else {
                PairIndex {
                    a: j,
                    b: i,
                    a_better: !i_better,
                }
            }
        })
        .collect()
}

/// Splits pairs into training and validation by question, so validation measures
/// questions the model did not learn from: about `val_share` of the questions that have
/// pairs (at least one) go to validation, drawn by `seed`. With fewer than 4 such
/// questions every pair trains and there is no validation.
pub fn split_by_question(
    pairs: &[PairIndex],
    group_of: &[usize],
    val_share: f64,
    seed: u64,
) -> (Vec<PairIndex>, Vec<PairIndex>) {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut qs: Vec<usize> = pairs.iter().map(|p| group_of[p.a]).collect();
    qs.sort_unstable();
    qs.dedup();
    if qs.len() < 4 {
        return (pairs.to_vec(), Vec::new());
    }
    qs.shuffle(&mut rand::rngs::SmallRng::seed_from_u64(seed));
    let take = ((qs.len() as f64 * val_share).round() as usize).clamp(1, qs.len() - 1);
    let val: rustc_hash::FxHashSet<usize> = qs[..take].iter().copied().collect();
    pairs.iter().partition(|p| !val.contains(&group_of[p.a]))
}

/// What fine-tuning on a person's labels learns from.
#[derive(Debug, Clone, PartialEq)]
pub struct FineTuneSet {
    /// The person's pairs of the training questions, then the replay pairs.
    pub train: Vec<PairIndex>,
    /// The person's pairs of the validation questions.
    pub val: Vec<PairIndex>,
    /// How many of `train` are the person's.
    pub human: usize,
}

/// Pairs to fine-tune on: the person's ([`human_pairs`]), split by question
/// ([`split_by_question`], a quarter for validation), plus *replay* pairs — every other
/// sibling pair the current model is confident about (|P − ½| > 0.3), with its verdict.
/// A few dozen human pairs alone pull a model trained on thousands off course (measured
/// on the demo: pair accuracy on unlabelled questions 0.886 → 0.72–0.86); replaying the
/// model's own confident verdicts keeps it where the person did not speak (0.886 →
/// 0.899), as in learning without forgetting. `scores` are the current model's P(i better
/// than j) for `sibling` (see [`sibling_pairs`]).
pub fn fine_tune_set(
    groups: &Groups,
    human: &[i8],
    chosen: &[PairChoice],
    sibling: &[(usize, usize)],
    scores: &[f32],
    seed: u64,
) -> Result<FineTuneSet, String> {
    let pairs = human_pairs(groups, human, chosen, seed);
    let group_of: Vec<usize> = groups.assignment().iter().map(|&g| g as usize).collect();
    let (mut train, val) = split_by_question(&pairs, &group_of, 0.25, seed);
    if train.len() < 2 {
        return Err(format!(
            "{} pair(s) to learn from: label a sound and a flawed CoT of the same question \
             (or pick the better of two in the pairwise view) for a few questions",
            train.len()
        ));
    }
    let human_n = train.len();
    let labelled: rustc_hash::FxHashSet<(usize, usize)> =
        pairs.iter().map(|p| (p.a.min(p.b), p.a.max(p.b))).collect();
    train.extend(
        sibling
            .iter()
            .zip(scores)
            .filter(|(&(i, j), s)| {
                (**s - 0.5).abs() > 0.3 && !labelled.contains(&(i.min(j), i.max(j)))
            })
            .map(|(&(a, b), &s)| PairIndex {
                a,
                b,
                a_better: s > 0.5,
            }),
    );
    Ok(FineTuneSet {
        train,
        val,
        human: human_n,
    })
}

/// Every unordered pair of siblings (i < j within a group).
pub fn sibling_pairs(groups: &Groups) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for g in groups.iter() {
        for (k, &i) in g.iter().enumerate() {
            for &j in &g[k + 1..] {
                out.push((i as usize, j as usize));
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
    /// Set when these weights were fine-tuned on a person's labels (in the page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_tuned: Option<FineTuned>,
}

/// How weights were fine-tuned on a person's labels.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FineTuned {
    /// The person's pairs trained on.
    pub human_pairs: usize,
    /// The model's own confident verdicts replayed beside them.
    pub replay_pairs: usize,
    /// The person's pairs held out for validation.
    pub val_pairs: usize,
    /// Validation loss of the starting weights.
    pub val_loss_before: Option<f64>,
    /// Validation loss of the weights kept.
    pub val_loss_after: Option<f64>,
    /// The epoch kept (0: the starting weights were kept).
    pub epoch: usize,
    /// When (ms since 1970).
    pub at: i64,
}

/// What the classifier found.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassifyResult {
    /// P(correct) of each CoT (calibrated; from the prior alone for a CoT without siblings).
    pub p: Vec<f32>,
    /// Each CoT's win rate over its siblings (`None`: no sibling).
    pub win_rate: Vec<Option<f32>>,
    /// Pairs scored.
    pub pairs: usize,
    /// Every sibling pair (i, j) with P(i reasons better than j), symmetric.
    pub pair_scores: Vec<(u32, u32, f32)>,
    /// `webgpu` or `cpu`.
    pub backend: String,
    /// Why WebGPU was not used, when it was not.
    pub fallback: Option<String>,
    /// Largest |GPU − CPU| score difference, when asked for.
    pub parity: Option<f64>,
    /// Milliseconds spent scoring pairs (model load and device start excluded).
    pub scoring_ms: f64,
}

impl ClassifyResult {
    /// The classifier's P(correct) of CoT `i` when it could judge it: only a CoT with a
    /// sibling to compare with gets a verdict (`None` without one: no classifier label).
    pub fn judged(&self, i: usize) -> Option<f64> {
        self.win_rate
            .get(i)
            .copied()
            .flatten()
            .and(self.p.get(i).map(|&p| f64::from(p)))
    }

    /// CoTs the classifier could not judge (no sibling).
    pub fn unjudged(&self) -> usize {
        self.win_rate.iter().filter(|w| w.is_none()).count()
    }

    /// Writes the classifier's labels into `store` (the earlier classifier labels go): a
    /// CoT it judged at `min_confidence` or more gets one, unless a person labelled it or
    /// its answer is outside what the model was trained on (`fitted[i]` false: a yes/no,
    /// option or text answer, as for the label-free prior). The page and the CLI write
    /// through here.
    pub fn write_labels(
        &self,
        store: &mut LabelStore,
        records: &[Record],
        fitted: &[bool],
        min_confidence: f64,
        now: Millis,
    ) {
        store.clear_machine(Provenance::Classifier);
        for (i, r) in records.iter().enumerate() {
            // a CoT without a sibling has nothing to be compared with: no verdict
            let Some(p) = self.judged(i) else { continue };
            if !fitted.get(i).copied().unwrap_or(true) {
                continue;
            }
            if let Some(label) =
                Label::machine(p, Provenance::Classifier, min_confidence, now, Vec::new())
            {
                store.set_machine(&r.id, label);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_pairs_from_labels_and_choices() {
        // question {0,1,2}: 0 sound, 1 and 2 flawed; question {3,4}: 3 sound, 4 unlabelled;
        // question {5,6}: a pair choice says 6 is better than 5
        let groups = Groups::from_assignment(&[0, 0, 0, 1, 1, 2, 2]);
        let human = [1, 0, 0, 1, -1, -1, -1];
        let pairs = human_pairs(&groups, &human, &[(5, 6, false), (1, 2, true)], 7);
        let mut seen: Vec<(usize, usize)> = pairs
            .iter()
            .map(|p| if p.a_better { (p.a, p.b) } else { (p.b, p.a) })
            .collect();
        seen.sort_unstable();
        // (better, worse): 0 > 1, 0 > 2, the choice 1 > 2, the choice 6 > 5
        assert_eq!(seen, vec![(0, 1), (0, 2), (1, 2), (6, 5)]);
        // both orders occur (the order is drawn)
        let ordered = human_pairs(
            &Groups::from_assignment(&[0; 40]),
            &[[1i8, 0]; 20].concat(),
            &[],
            3,
        );
        assert_eq!(ordered.len(), 400);
        let a_first = ordered.iter().filter(|p| p.a_better).count();
        assert!((100..300).contains(&a_first), "{a_first}");
        // a choice overrides the pointwise labels for the same two CoTs
        let flipped = human_pairs(&groups, &human, &[(1, 0, true)], 7);
        let p = flipped
            .iter()
            .find(|p| p.a.min(p.b) == 0 && p.a.max(p.b) == 1)
            .unwrap();
        assert_eq!(p.a_better, p.a == 1);
    }

    #[test]
    fn split_by_question_keeps_questions_whole() {
        let group_of: Vec<usize> = (0..40).map(|i| i / 4).collect();
        let groups = Groups::from_assignment(&(0..40).map(|i| i / 4).collect::<Vec<u32>>());
        let human: Vec<i8> = (0..40).map(|i| (i % 2) as i8).collect();
        let pairs = human_pairs(&groups, &human, &[], 1);
        let (train, val) = split_by_question(&pairs, &group_of, 0.2, 1);
        assert_eq!(train.len() + val.len(), pairs.len());
        assert_eq!(val.len(), 2 * 4, "2 of 10 questions, 4 pairs each");
        let vq: Vec<usize> = val.iter().map(|p| group_of[p.a]).collect();
        assert!(train.iter().all(|p| !vq.contains(&group_of[p.a])));
        // too few questions: no validation
        let (t, v) = split_by_question(&pairs[..8], &group_of, 0.2, 1);
        assert_eq!((t.len(), v.len()), (8, 0));
    }

    #[test]
    fn fine_tune_set_adds_confident_replay_pairs() {
        let groups = Groups::from_assignment(&(0..16).map(|i| i / 2).collect::<Vec<u32>>());
        let human: Vec<i8> = (0..16)
            .map(|i| if i < 12 { (i % 2) as i8 } else { -1 })
            .collect();
        let sibling = sibling_pairs(&groups);
        // confident on questions 0, 6 (0.9, 0.1), unsure on the others
        let scores: Vec<f32> = (0..8)
            .map(|g| match g {
                0 => 0.9,
                6 => 0.1,
                _ => 0.6,
            })
            .collect();
        let set = fine_tune_set(&groups, &human, &[], &sibling, &scores, 4).unwrap();
        // six human pairs: 2 questions validate, 4 train; question 6 replays; question 0
        // has a human pair, so its model verdict does not replay
        assert_eq!((set.human, set.val.len(), set.train.len()), (4, 2, 5));
        assert_eq!(
            set.train[4],
            PairIndex {
                a: 12,
                b: 13,
                a_better: false
            }
        );
        let few = fine_tune_set(&groups, &[-1; 16], &[], &sibling, &scores, 4).unwrap_err();
        assert!(few.contains("0 pair(s)"), "{few}");
    }

    #[test]
    fn win_rates_and_calibration_by_hand() {
        // group {0, 1, 2}: P(0 > 1) = 0.8, P(0 > 2) = 0.6, P(1 > 2) = 0.5; 3 alone
        let pairs = [(0, 1), (0, 2), (1, 2)];
        let w = win_rates(4, &pairs, &[0.8, 0.6, 0.5]);
        assert!((w[0].unwrap() - 0.7).abs() < 1e-6);
        assert!((w[1].unwrap() - 0.35).abs() < 1e-6);
        assert!((w[2].unwrap() - 0.45).abs() < 1e-6);
        assert_eq!(w[3], None);
        assert_eq!(
            sibling_pairs(&Groups::from_assignment(&[0, 0, 0, 1])),
            pairs.to_vec()
        );
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
