//! The model worker's jobs on the CPU (burn): the binary-choice classifier over sibling
//! pairs and its fine-tuning. Native tools (the CLI, Python, tests) call these
//! synchronously; the browser's model worker ([`super::model_wasm`]) trains through
//! [`train_cpu`] and classifies through [`check_classify`] and [`classified`], scoring on
//! WebGPU when it can.

use super::now_ms;
use super::protocol::{ClassifyJob, ClassifyResult, TrainJob, TrainResult, WorkerError};
use crate::core::data::Groups;
use crate::core::signals::choice::{self, score_pairs, sibling_pairs, win_rates};

/// Checks a classify job's shapes: the numbers must be `rows × width`.
pub fn check_classify(job: &ClassifyJob, rows: usize, data: &[f32]) -> Result<(), WorkerError> {
    let width = job.info.input.width();
    if data.len() != rows * width || job.groups.len() != rows || job.prior.len() != rows {
        return Err(WorkerError::Input(format!(
            "the classifier needs {rows} rows of {width} inputs with a group and a prior each; got {} values, {} groups, {} priors",
            data.len(),
            job.groups.len(),
            job.prior.len()
        )));
    }
    Ok(())
}

/// Turns pair scores into the result: win rates, then P(correct) from the calibration.
pub fn classified(
    job: &ClassifyJob,
    pairs: &[(usize, usize)],
    scores: &[f32],
    backend: &str,
    fallback: Option<String>,
    parity: Option<f64>,
    scoring_ms: f64,
) -> ClassifyResult {
    let n = job.groups.len();
    let w = win_rates(n, pairs, scores);
    let p = w
        .iter()
        .zip(&job.prior)
        .map(|(w, &prior)| job.info.calibration.apply(*w, prior) as f32)
        .collect();
    ClassifyResult {
        p,
        win_rate: w.iter().map(|w| w.map(|w| w as f32)).collect(),
        pairs: pairs.len(),
        pair_scores: pairs
            .iter()
            .zip(scores)
            .map(|(&(i, j), &s)| (i as u32, j as u32, s))
            .collect(),
        backend: backend.to_string(),
        fallback,
        parity,
        scoring_ms,
    }
}

/// The classify job on the CPU, synchronously: `data` is `rows × info.input.width()`
/// model inputs, `weights` the burnpack bytes.
pub fn classify_cpu(
    job: &ClassifyJob,
    rows: usize,
    data: &[f32],
    weights: Vec<u8>,
) -> Result<ClassifyResult, WorkerError> {
    check_classify(job, rows, data)?;
    let device = crate::core::cpu_device();
    let model = choice::load(&job.info, weights, &device).map_err(WorkerError::Model)?;
    let pairs = sibling_pairs(&Groups::from_assignment(&job.groups));
    let scores = score_pairs(&model, data, job.info.input.width(), &pairs, &device);
    Ok(classified(job, &pairs, &scores, "cpu", None, None, 0.0))
}

/// The train job: fine-tunes the weights on the person's labels with replay pairs
/// ([`choice::fine_tune_set`]) on the CPU. `on_epoch(epoch, of)` sees every epoch and
/// returns false to stop (the best weights so far come back).
pub fn train_cpu(
    job: &TrainJob,
    rows: usize,
    data: &[f32],
    weights: Vec<u8>,
    on_epoch: &mut dyn FnMut(&choice::Epoch, usize) -> bool,
) -> Result<TrainResult, WorkerError> {
    let width = job.info.input.width();
    if data.len() != rows * width || job.groups.len() != rows || job.human.len() != rows {
        return Err(WorkerError::Input(format!(
            "training needs {rows} rows of {width} inputs with a group and a label each; got {} values, {} groups, {} labels",
            data.len(),
            job.groups.len(),
            job.human.len()
        )));
    }
    if let Some(&(a, b, _)) = job
        .chosen
        .iter()
        .find(|&&(a, b, _)| a as usize >= rows || b as usize >= rows)
    {
        return Err(WorkerError::Input(format!(
            "a pair choice ({a}, {b}) names a row past {rows}"
        )));
    }
    let device = crate::core::cpu_device();
    let model = choice::load(&job.info, weights, &device).map_err(WorkerError::Model)?;
    let groups = Groups::from_assignment(&job.groups);
    let sibling = sibling_pairs(&groups);
    let scores = score_pairs(&model, data, width, &sibling, &device);
    let chosen: Vec<choice::PairChoice> = job
        .chosen
        .iter()
        .map(|&(a, b, better)| (a as usize, b as usize, better))
        .collect();
    let set = choice::fine_tune_set(
        &groups,
        &job.human,
        &chosen,
        &sibling,
        &scores,
        job.config.seed,
    )
    .map_err(WorkerError::Input)?;
    let t0 = now_ms();
    let pair_set = choice::train::PairSet {
        x: data,
        width,
        train: &set.train,
        val: &set.val,
    };
    let epochs = job.config.epochs;
    let trained = choice::train::train(model, &pair_set, &job.config, &device, &mut |e| {
        on_epoch(e, epochs)
    });
    let kept = trained.kept();
    let mut info = job.info.clone();
    info.epoch = trained.epoch;
    info.fine_tuned = Some(choice::FineTuned {
        human_pairs: set.human,
        replay_pairs: set.train.len() - set.human,
        val_pairs: set.val.len(),
        val_loss_before: trained.start.val_loss,
        val_loss_after: kept.val_loss,
        epoch: trained.epoch,
        at: 0,
    });
    Ok(TrainResult {
        info,
        start: trained.start,
        cancelled: trained.cancelled,
        millis: now_ms() - t0,
        weights: choice::save(&trained.model).map_err(WorkerError::Model)?,
        history: trained.history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::protocol::{ModelJob, Request};

    /// The shipped classifier weights and their description.
    fn shipped() -> (choice::WeightsInfo, Vec<u8>) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights");
        let info = serde_json::from_str(
            &std::fs::read_to_string(root.join("choice-signature.json")).unwrap(),
        )
        .unwrap();
        (
            info,
            std::fs::read(root.join("choice-signature.bpk")).unwrap(),
        )
    }

    #[test]
    fn classify_scores_siblings_with_the_shipped_weights() {
        use crate::core::signals::choice::Input;
        use crate::worker::protocol::Backend;
        let (info, bytes) = shipped();
        let width = Input::Signature.width();
        // questions {0, 1, 2} and {3, 4}; 5 alone
        let groups = vec![7, 7, 7, 9, 9, 11];
        let data: Vec<f32> = (0..6 * width)
            .map(|k| ((k * 13) % 10) as f32 / 10.0)
            .collect();
        let job = |groups: Vec<u32>| ClassifyJob {
            info: info.clone(),
            prior: vec![0.5; groups.len()],
            groups,
            backend: Backend::Cpu,
            parity: false,
        };
        let result = classify_cpu(&job(groups.clone()), 6, &data, bytes.clone()).unwrap();
        assert_eq!(result.pairs, 3 + 1);
        assert_eq!(result.backend, "cpu");
        assert!(result.win_rate[5].is_none());
        // no sibling pair, no classifier label: only 5 is left unjudged
        assert_eq!(result.judged(5), None);
        assert_eq!(result.unjudged(), 1);
        assert!((0..5).all(|i| result.judged(i).is_some()));
        // win rates of a pair of siblings sum to 1 (the score is symmetric)
        let (a, b) = (result.win_rate[3].unwrap(), result.win_rate[4].unwrap());
        assert!((a + b - 1.0).abs() < 1e-5, "{a} {b}");
        assert!(result.p.iter().all(|p| (0.0..=1.0).contains(p)));
        // wrong shapes are refused with a sentence
        let bad = classify_cpu(&job(groups), 5, &data, bytes).unwrap_err();
        assert!(
            matches!(bad, WorkerError::Input(ref m) if m.contains("needs 5 rows")),
            "{bad:?}"
        );
        // the jobs worker cannot read it: its requests are of the other enum
        let req = Request {
            id: 4,
            rows: 6,
            dim: width,
            job: ModelJob::Classify(job(vec![1; 6])),
        };
        let text = serde_json::to_string(&req).unwrap();
        assert!(serde_json::from_str::<Request>(&text).is_err());
        assert!(serde_json::from_str::<Request<ModelJob>>(&text).is_ok());
    }

    #[test]
    fn train_fine_tunes_on_human_labels_and_reports_epochs() {
        use crate::core::signals::choice::{Input, TrainConfig};
        let (info, bytes) = shipped();
        let width = Input::Signature.width();
        // 8 questions of 3 CoTs; the first feature tells sound (1) from flawed (0)
        let rows = 24;
        let groups: Vec<u32> = (0..rows as u32).map(|i| i / 3).collect();
        let human: Vec<i8> = (0..rows).map(|i| i8::from(i % 3 == 0)).collect();
        let data: Vec<f32> = (0..rows)
            .flat_map(|i| {
                (0..width).map(move |k| match k {
                    0 => f32::from(u8::from(i % 3 == 0)),
                    _ => ((i * 7 + k * 3) % 10) as f32 / 10.0,
                })
            })
            .collect();
        let job = |human: Vec<i8>, chosen: Vec<(u32, u32, bool)>| TrainJob {
            info: info.clone(),
            groups: groups.clone(),
            human,
            chosen,
            config: TrainConfig {
                epochs: 3,
                ..TrainConfig::fine_tune()
            },
        };
        let mut seen = Vec::new();
        let result = train_cpu(
            &job(human.clone(), vec![(1, 2, true)]),
            rows,
            &data,
            bytes.clone(),
            &mut |e, of| {
                seen.push((e.epoch, of));
                true
            },
        )
        .unwrap();
        assert_eq!(seen, vec![(1, 3), (2, 3), (3, 3)]);
        assert_eq!(result.history.len(), 3);
        let f = result.info.fine_tuned.clone().unwrap();
        // 16 pointwise pairs + the choice, split by question: 2 of 8 questions validate
        assert_eq!(f.human_pairs + f.val_pairs, 17);
        assert!(f.val_pairs >= 4, "{f:?}");
        assert!(f.val_loss_after <= f.val_loss_before, "{f:?}");
        // the weights that come back load and keep the shape
        let loaded = choice::load(
            &result.info,
            result.weights.clone(),
            &crate::core::cpu_device(),
        );
        assert!(loaded.is_ok());
        // stopping after the first epoch returns what was kept so far
        let stopped = train_cpu(
            &job(human, vec![]),
            rows,
            &data,
            bytes.clone(),
            &mut |_, _| false,
        )
        .unwrap();
        assert!(stopped.cancelled && stopped.history.len() == 1);
        // nothing to learn from, or a pair choice past the rows, says so
        let none = train_cpu(
            &job(vec![-1; rows], vec![]),
            rows,
            &data,
            bytes.clone(),
            &mut |_, _| true,
        )
        .unwrap_err();
        assert!(
            matches!(none, WorkerError::Input(ref m) if m.contains("0 pair(s)")),
            "{none:?}"
        );
        let past = train_cpu(
            &job(vec![-1; rows], vec![(3, 99, true)]),
            rows,
            &data,
            bytes,
            &mut |_, _| true,
        )
        .unwrap_err();
        assert!(
            matches!(past, WorkerError::Input(ref m) if m.contains("past 24")),
            "{past:?}"
        );
    }
}
