//! Scoring pairs with the model in batches (synchronously, or reading results
//! asynchronously as WebGPU in a browser requires), and the weights' burnpack records.

use burn::prelude::*;

use super::model::{ChoiceConfig, ChoiceModel};
use super::WeightsInfo;

/// Gathers rows of `x` (`width` wide) into a `[rows.len(), width]` tensor.
pub fn gather(
    x: &[f32],
    width: usize,
    rows: impl Iterator<Item = usize>,
    device: &Device,
) -> Tensor<2> {
    let mut data = Vec::new();
    let mut n = 0;
    for r in rows {
        data.extend_from_slice(&x[r * width..(r + 1) * width]);
        n += 1;
    }
    Tensor::from_data(TensorData::new(data, [n, width]), device)
}

/// Rows per inference batch.
pub const BATCH: usize = 512;

/// P(A better) of each pair, symmetric (the model in inference mode).
pub fn score_pairs(
    model: &ChoiceModel,
    x: &[f32],
    width: usize,
    pairs: &[(usize, usize)],
    device: &Device,
) -> Vec<f32> {
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(BATCH) {
        let a = gather(x, width, chunk.iter().map(|p| p.0), device);
        let b = gather(x, width, chunk.iter().map(|p| p.1), device);
        let s = model.score(a, b).into_data();
        out.extend(s.iter::<f32>());
    }
    out
}

/// [`score_pairs`] reading the results asynchronously, as WebGPU in a browser requires
/// (works on every backend).
pub async fn score_pairs_async(
    model: &ChoiceModel,
    x: &[f32],
    width: usize,
    pairs: &[(usize, usize)],
    device: &Device,
) -> Result<Vec<f32>, String> {
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(BATCH) {
        let a = gather(x, width, chunk.iter().map(|p| p.0), device);
        let b = gather(x, width, chunk.iter().map(|p| p.1), device);
        let s = model
            .score(a, b)
            .into_data_async()
            .await
            .map_err(|e| format!("the model's results could not be read: {e:?}"))?;
        out.extend(s.iter::<f32>());
    }
    Ok(out)
}

/// The model for `info` with the weights in `bytes` (a burnpack record).
pub fn load(info: &WeightsInfo, bytes: Vec<u8>, device: &Device) -> Result<ChoiceModel, String> {
    let model = ChoiceConfig::new(info.input.width())
        .with_hidden(info.hidden)
        .init(device);
    let record = burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
        .map_err(|e| format!("unreadable weights: {e}"))?
        .cast_to_module_dtype();
    model
        .try_load_record(record)
        .map_err(|e| format!("weights that do not fit the model: {e}"))
}

/// The weights of `model` as a burnpack record (f32: 1.8 MB for the full input).
pub fn save(model: &ChoiceModel) -> Result<Vec<u8>, String> {
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| format!("cannot write the weights: {e}"))?;
    Ok(bytes.to_vec())
}

#[cfg(test)]
mod tests {
    use super::super::train::{pair_accuracy, train, PairSet, TrainConfig};
    use super::super::{model, Calibration, Input, PairIndex, WeightsInfo};
    use super::*;

    fn cpu() -> Device {
        crate::core::cpu_device()
    }

    fn info(input: Input, hidden: usize) -> WeightsInfo {
        WeightsInfo {
            input,
            hidden,
            calibration: Calibration {
                a: 1.0,
                c: 0.0,
                b: 0.0,
            },
            test_pair_accuracy: 0.0,
            val_pair_accuracy: 0.0,
            epoch: 0,
            test_accuracy: 0.0,
            test_ece: 0.0,
            seed: 0,
            fine_tuned: None,
        }
    }

    /// Rows whose first feature says which is better; pairs of a good and a bad row.
    fn toy() -> (Vec<f32>, Vec<PairIndex>) {
        let width = Input::Signature.width();
        let mut x = Vec::new();
        for i in 0..40 {
            let good = i % 2 == 0;
            x.push(if good { 0.9 } else { 0.1 });
            x.extend((1..width).map(|k| ((i * 7 + k) % 10) as f32 / 10.0));
        }
        let pairs = (0..20)
            .map(|k| {
                let (g, b) = (2 * k, 2 * k + 1);
                if k % 2 == 0 {
                    PairIndex {
                        a: g,
                        b,
                        a_better: true,
                    }
                } else {
                    PairIndex {
                        a: b,
                        b: g,
                        a_better: false,
                    }
                }
            })
            .collect();
        (x, pairs)
    }

    #[test]
    fn save_then_load_gives_identical_scores() {
        let _rng = crate::core::burn_rng_lock();
        let device = cpu();
        device.seed(5);
        let width = Input::Signature.width();
        let model = model::ChoiceConfig::new(width)
            .with_hidden(16)
            .init(&device);
        let (x, pairs) = toy();
        let idx: Vec<(usize, usize)> = pairs.iter().map(|p| (p.a, p.b)).collect();
        let before = score_pairs(&model, &x, width, &idx, &device);
        let bytes = save(&model).unwrap();
        let loaded = load(&info(Input::Signature, 16), bytes.clone(), &device).unwrap();
        assert_eq!(score_pairs(&loaded, &x, width, &idx, &device), before);
        // weights of another shape, or no weights, say so
        let wrong = load(&info(Input::Signature, 32), bytes, &device).unwrap_err();
        assert!(wrong.contains("do not fit"), "{wrong}");
        let junk = load(
            &info(Input::Signature, 16),
            b"not a record".to_vec(),
            &device,
        )
        .unwrap_err();
        assert!(junk.contains("unreadable"), "{junk}");
    }

    #[test]
    fn training_learns_a_separable_toy_problem() {
        let _rng = crate::core::burn_rng_lock();
        let device = cpu();
        device.seed(1);
        let width = Input::Signature.width();
        let model = model::ChoiceConfig::new(width)
            .with_hidden(16)
            .init(&device);
        let (x, pairs) = toy();
        let cfg = TrainConfig {
            epochs: 40,
            batch: 8,
            patience: 40,
            ..Default::default()
        };
        let mut losses = Vec::new();
        let set = PairSet {
            x: &x,
            width,
            train: &pairs,
            val: &pairs,
        };
        let trained = train(model, &set, &cfg, &device, &mut |e| {
            losses.push(e.loss);
            true
        });
        assert!(losses.last().unwrap() < &losses[0], "{losses:?}");
        assert_eq!(
            pair_accuracy(&trained.model, &x, width, &pairs, &device),
            Some(1.0)
        );
        // stopping from the callback is honoured
        let model = model::ChoiceConfig::new(width)
            .with_hidden(16)
            .init(&device);
        let stopped = train(model, &set, &cfg, &device, &mut |e| e.epoch < 2);
        assert!(stopped.cancelled && stopped.history.len() == 2);
    }
}
