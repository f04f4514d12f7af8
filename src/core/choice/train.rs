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
use super::{gather, score_pairs, PairIndex};

/// Settings of [`train`] (the reference's: Adam 1e-3, weight decay 1e-4, batch 64, ≤ 60
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
        }
    }
}

/// One epoch's numbers.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Epoch {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss (BCE + CE).
    pub loss: f64,
    /// Validation pair accuracy (None without validation pairs).
    pub val_accuracy: Option<f64>,
}

/// The trained model (on the inference device) and the epoch it was taken from.
pub struct Trained {
    /// The best model.
    pub model: ChoiceModel,
    /// Its epoch (1-based; 0 = the starting weights were never beaten).
    pub epoch: usize,
    /// Its validation pair accuracy.
    pub val_accuracy: Option<f64>,
    /// Every epoch's numbers.
    pub history: Vec<Epoch>,
    /// Stopped by the caller.
    pub cancelled: bool,
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
    let start_acc = pair_accuracy(&start, x, width, val, device);
    let mut best = (start, 0usize, start_acc);
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
        let val_accuracy = pair_accuracy(&inference, x, width, val, device);
        let e = Epoch {
            epoch,
            loss: total / batches.max(1) as f64,
            val_accuracy,
        };
        history.push(e);
        let better = match (val_accuracy, best.2) {
            (Some(v), Some(b)) => v > b,
            (Some(_), None) => true,
            // without validation pairs the last epoch is kept
            (None, _) => true,
        };
        if better {
            best = (inference, epoch, val_accuracy);
        }
        if !on_epoch(&e) {
            cancelled = true;
            break;
        }
        if val_accuracy.is_some() && epoch - best.1 >= cfg.patience {
            break;
        }
    }
    Trained {
        model: best.0.to_device(device),
        epoch: best.1,
        val_accuracy: best.2,
        history,
        cancelled,
    }
}
