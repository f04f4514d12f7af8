//! Training the binary-choice model: Adam, mini-batches of pairs in a seeded order, the
//! model kept from the epoch with the best validation pair accuracy, stopping when it has
//! not improved for `patience` epochs. The same loop trains natively (`src/bin/train.rs`)
//! and in the browser's worker on the user's labels.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::model::ChoiceModel;
use super::{gather, score_pairs, PairIndex, BATCH};
pub use super::{Epoch, Select, TrainConfig};

/// The trained model (on the inference device) and the epoch it was taken from.
pub struct Trained {
    /// The best model.
    pub model: ChoiceModel,
    /// Its epoch (1-based; 0 = the starting weights were never beaten).
    pub epoch: usize,
    /// Its validation pair accuracy.
    pub val_accuracy: Option<f64>,
    /// The starting weights' numbers (epoch 0).
    pub start: Epoch,
    /// Every epoch's numbers.
    pub history: Vec<Epoch>,
    /// Stopped by the caller.
    pub cancelled: bool,
}

impl Trained {
    /// The numbers of the epoch kept ([`Trained::start`] when none beat it).
    pub fn kept(&self) -> Epoch {
        match self.epoch {
            0 => self.start,
            e => self.history[e - 1],
        }
    }
}

/// Share of pairs whose symmetric score picks the right side (ties count ½).
pub fn pair_accuracy(
    model: &ChoiceModel,
    x: &[f32],
    width: usize,
    pairs: &[PairIndex],
    device: &Device,
) -> Option<f64> {
    if pairs.is_empty() {
        return None;
    }
    let idx: Vec<(usize, usize)> = pairs.iter().map(|p| (p.a, p.b)).collect();
    let s = score_pairs(model, x, width, &idx, device);
    let hits: f64 = s
        .iter()
        .zip(pairs)
        .map(|(&s, p)| {
            if s == 0.5 {
                0.5
            } else if (s > 0.5) == p.a_better {
                1.0
            } else {
                0.0
            }
        })
        .sum();
    Some(hits / pairs.len() as f64)
}

/// Mean loss (BCE + CE) of `model` in inference mode over `pairs`; `None` without pairs.
pub fn pair_loss(
    model: &ChoiceModel,
    x: &[f32],
    width: usize,
    pairs: &[PairIndex],
    device: &Device,
) -> Option<f64> {
    if pairs.is_empty() {
        return None;
    }
    let mut total = 0.0f64;
    for chunk in pairs.chunks(BATCH) {
        let a = gather(x, width, chunk.iter().map(|p| p.a), device);
        let b = gather(x, width, chunk.iter().map(|p| p.b), device);
        let y: Vec<i64> = chunk.iter().map(|p| i64::from(p.a_better)).collect();
        let y = Tensor::<1, Int>::from_data(TensorData::new(y, [chunk.len()]), device);
        let loss = model.loss(a, b, y).into_scalar::<f32>();
        total += f64::from(loss) * chunk.len() as f64;
    }
    Some(total / pairs.len() as f64)
}

/// Feature rows and the pairs to learn from and to select on.
#[derive(Debug, Clone, Copy)]
pub struct PairSet<'a> {
    /// Rows, `width` wide.
    pub x: &'a [f32],
    /// Features per row.
    pub width: usize,
    /// Pairs to learn from.
    pub train: &'a [PairIndex],
    /// Pairs to select the epoch on (may be empty: the last epoch is kept).
    pub val: &'a [PairIndex],
}

/// Trains `model` (fresh or pretrained; any device — training runs on its autodiff
/// twin) on `set`. `on_epoch` sees every epoch and returns false to stop.
pub fn train(
    model: ChoiceModel,
    set: &PairSet,
    cfg: &TrainConfig,
    device: &Device,
    on_epoch: &mut dyn FnMut(&Epoch) -> bool,
) -> Trained {
    let PairSet {
        x,
        width,
        train,
        val,
    } = *set;
    let ad = device.clone().autodiff();
    ad.seed(cfg.seed);
    let mut model = model.to_device(&ad).train();
    let mut optim = AdamConfig::new()
        .with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay)))
        .init();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let start = model.valid();
    let first = Epoch {
        epoch: 0,
        loss: pair_loss(&start, x, width, train, device).unwrap_or(f64::NAN),
        val_accuracy: pair_accuracy(&start, x, width, val, device),
        val_loss: pair_loss(&start, x, width, val, device),
    };
    let mut best = (start, first);
    let mut history = Vec::new();
    let mut cancelled = false;
    for epoch in 1..=cfg.epochs {
        order.shuffle(&mut rng);
        let mut total = 0.0f64;
        let mut batches = 0usize;
        for chunk in order.chunks(cfg.batch.max(2)) {
            if chunk.len() < 2 {
                continue; // batch norm needs two rows
            }
            let a = gather(x, width, chunk.iter().map(|&k| train[k].a), &ad);
            let b = gather(x, width, chunk.iter().map(|&k| train[k].b), &ad);
            let y: Vec<i64> = chunk
                .iter()
                .map(|&k| i64::from(train[k].a_better))
                .collect();
            let y = Tensor::<1, Int>::from_data(TensorData::new(y, [chunk.len()]), &ad);
            let loss = model.loss(a, b, y);
            total += f64::from(loss.clone().into_scalar::<f32>());
            batches += 1;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(cfg.lr, model, grads);
        }
        let inference = model.valid();
        let e = Epoch {
            epoch,
            loss: total / batches.max(1) as f64,
            val_accuracy: pair_accuracy(&inference, x, width, val, device),
            val_loss: pair_loss(&inference, x, width, val, device),
        };
        history.push(e);
        let better = match cfg.select {
            Select::Accuracy => e.val_accuracy.zip(best.1.val_accuracy).map(|(v, b)| v > b),
            Select::Loss => e.val_loss.zip(best.1.val_loss).map(|(v, b)| v < b),
        };
        // without validation pairs the last epoch is kept
        if better.unwrap_or(true) {
            best = (inference, e);
        }
        if !on_epoch(&e) {
            cancelled = true;
            break;
        }
        if !val.is_empty() && epoch - best.1.epoch >= cfg.patience {
            break;
        }
    }
    Trained {
        model: best.0.to_device(device),
        epoch: best.1.epoch,
        val_accuracy: best.1.val_accuracy,
        start: first,
        history,
        cancelled,
    }
}
