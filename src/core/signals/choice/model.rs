//! The binary-choice model (the seed's architecture, in burn): two CoTs answering the same
//! question in, "is A the better reasoning?" out.
//!
//! - twin processors, one per side: `Linear(D, 256) → ReLU → BatchNorm → Dropout(0.3)`;
//! - a combined head on the 512-wide concatenation: `512 → 256 → 128 → 1` (ReLU, BatchNorm,
//!   Dropout 0.3 between), whose sigmoid is P(A better);
//! - a choice head `512 → 128 → 2` (ReLU, Dropout) trained with cross-entropy beside it.
//!
//! The loss is BCE (on the combined head's logit) + CE (on the choice head). Predictions are
//! made symmetric by averaging both orders: `score(A, B) = ½·(σ(f(A, B)) + 1 − σ(f(B, A)))`,
//! so `score(A, B) = 1 − score(B, A)` exactly.

use burn::nn::loss::{BinaryCrossEntropyLossConfig, CrossEntropyLossConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

/// Sizes of the model.
#[derive(Config, Debug)]
pub struct ChoiceConfig {
    /// Features per CoT (D).
    pub input: usize,
    /// Width of each processor (256 in the seed).
    #[config(default = 256)]
    pub hidden: usize,
    /// Dropout probability.
    #[config(default = 0.3)]
    pub dropout: f64,
}

/// One side's processor: `Linear → ReLU → BatchNorm → Dropout`.
#[derive(Module, Debug)]
pub struct Processor {
    linear: Linear,
    norm: BatchNorm,
    dropout: Dropout,
}

impl Processor {
    fn new(input: usize, hidden: usize, dropout: f64, device: &Device) -> Self {
        Self {
            linear: LinearConfig::new(input, hidden).init(device),
            norm: BatchNormConfig::new(hidden).init(device),
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.dropout
            .forward(self.norm.forward(relu(self.linear.forward(x))))
    }
}

/// The binary-choice model.
#[derive(Module, Debug)]
pub struct ChoiceModel {
    a: Processor,
    b: Processor,
    c1: Linear,
    n1: BatchNorm,
    c2: Linear,
    n2: BatchNorm,
    c3: Linear,
    h1: Linear,
    h2: Linear,
    dropout: Dropout,
}

/// Both heads' outputs for a batch.
pub struct ChoiceOutput {
    /// Combined head: logit of P(A better), `[batch, 1]`.
    pub logit: Tensor<2>,
    /// Choice head: logits of (B better, A better), `[batch, 2]`.
    pub choice: Tensor<2>,
}

impl ChoiceConfig {
    /// A model with fresh weights on `device`.
    pub fn init(&self, device: &Device) -> ChoiceModel {
        let h = self.hidden;
        ChoiceModel {
            a: Processor::new(self.input, h, self.dropout, device),
            b: Processor::new(self.input, h, self.dropout, device),
            c1: LinearConfig::new(2 * h, h).init(device),
            n1: BatchNormConfig::new(h).init(device),
            c2: LinearConfig::new(h, h / 2).init(device),
            n2: BatchNormConfig::new(h / 2).init(device),
            c3: LinearConfig::new(h / 2, 1).init(device),
            h1: LinearConfig::new(2 * h, h / 2).init(device),
            h2: LinearConfig::new(h / 2, 2).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

impl ChoiceModel {
    /// Both heads on a batch of pairs: `a`, `b` are `[batch, D]`.
    pub fn forward(&self, a: Tensor<2>, b: Tensor<2>) -> ChoiceOutput {
        let joint = Tensor::cat(vec![self.a.forward(a), self.b.forward(b)], 1);
        let x = self
            .dropout
            .forward(self.n1.forward(relu(self.c1.forward(joint.clone()))));
        let x = self
            .dropout
            .forward(self.n2.forward(relu(self.c2.forward(x))));
        let logit = self.c3.forward(x);
        let choice = self
            .h2
            .forward(self.dropout.forward(relu(self.h1.forward(joint))));
        ChoiceOutput { logit, choice }
    }

    /// BCE on the combined head + CE on the choice head; `target` is 1 where A is better.
    pub fn loss(&self, a: Tensor<2>, b: Tensor<2>, target: Tensor<1, Int>) -> Tensor<1> {
        let device = a.device();
        let out = self.forward(a, b);
        let batch = target.dims()[0];
        let bce = BinaryCrossEntropyLossConfig::new()
            .with_logits(true)
            .init(&device)
            .forward(out.logit, target.clone().reshape([batch, 1]));
        let ce = CrossEntropyLossConfig::new()
            .init(&device)
            .forward(out.choice, target);
        bce + ce
    }

    /// P(A better) for each pair, symmetric: `½·(σ(f(A, B)) + 1 − σ(f(B, A)))`, `[batch]`.
    pub fn score(&self, a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
        let ab = sigmoid(self.forward(a.clone(), b.clone()).logit);
        let ba = sigmoid(self.forward(b, a).logit);
        let s = (ab - ba + 1.0) / 2.0;
        s.flatten(0, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu() -> Device {
        crate::core::cpu_device()
    }

    fn rows(v: &[[f32; 4]]) -> Tensor<2> {
        let data: Vec<f32> = v.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(data, [v.len(), 4]), &cpu())
    }

    fn small() -> ChoiceModel {
        cpu().seed(3);
        ChoiceConfig::new(4).with_hidden(8).init(&cpu())
    }

    const A: [[f32; 4]; 3] = [
        [1.0, 0.0, 0.5, 0.2],
        [0.0, 1.0, 0.1, 0.9],
        [0.3, 0.3, 0.3, 0.3],
    ];
    const B: [[f32; 4]; 3] = [
        [0.0, 1.0, 0.0, 0.0],
        [0.5, 0.5, 0.5, 0.5],
        [0.9, 0.1, 0.2, 0.8],
    ];

    #[test]
    fn outputs_have_the_expected_shapes() {
        let _rng = crate::core::burn_rng_lock();
        let out = small().forward(rows(&A), rows(&B));
        assert_eq!(out.logit.dims(), [3, 1]);
        assert_eq!(out.choice.dims(), [3, 2]);
        assert_eq!(small().score(rows(&A), rows(&B)).dims(), [3]);
    }

    #[test]
    fn the_score_is_symmetric() {
        let _rng = crate::core::burn_rng_lock();
        let m = small();
        let ab: Vec<f32> = m
            .score(rows(&A), rows(&B))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let ba: Vec<f32> = m
            .score(rows(&B), rows(&A))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (x, y) in ab.iter().zip(&ba) {
            assert!((x + y - 1.0).abs() < 1e-6, "{ab:?} {ba:?}");
            assert!((0.0..=1.0).contains(x));
        }
        // a pair of identical CoTs is a tie
        let same: Vec<f32> = m
            .score(rows(&A), rows(&A))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(same.iter().all(|s| (s - 0.5).abs() < 1e-6), "{same:?}");
    }

    #[test]
    fn loss_is_bce_plus_ce_of_the_two_heads() {
        let _rng = crate::core::burn_rng_lock();
        let m = small();
        let out = m.forward(rows(&A), rows(&B));
        let z: Vec<f32> = out.logit.into_data().try_to_vec::<f32>().unwrap();
        let c: Vec<f32> = out.choice.into_data().try_to_vec::<f32>().unwrap();
        let y = [1i64, 0, 1];
        // by hand: BCE(z, y) = mean(softplus(z) − y·z); CE = mean(logsumexp(c) − c[y])
        let mut bce = 0.0f64;
        let mut ce = 0.0f64;
        for k in 0..3 {
            let (zk, yk) = (z[k] as f64, y[k] as f64);
            bce += (1.0 + zk.exp()).ln() - yk * zk;
            let (c0, c1) = (c[2 * k] as f64, c[2 * k + 1] as f64);
            ce += (c0.exp() + c1.exp()).ln() - if y[k] == 1 { c1 } else { c0 };
        }
        let expected = (bce + ce) / 3.0;
        let target = Tensor::<1, Int>::from_data(TensorData::new(y.to_vec(), [3]), &cpu());
        let got: f32 = m.loss(rows(&A), rows(&B), target).into_scalar();
        assert!((got as f64 - expected).abs() < 1e-5, "{got} vs {expected}");
    }
}
