//! Trains the binary-choice model on the GSM8K train split of `../shared/data` for each
//! input (full: embedding + signature + prior; signature + prior; seed: embedding alone),
//! several seeds each, prints the test-split pair accuracy beside the PyTorch reference of
//! `baselines.json`, and writes the shipped weights — the signature model, the best on test
//! pairs in measurement, from the seed with the best *validation* accuracy — to
//! `weights/choice-signature.bpk` with their calibration and numbers (`.json`).
//!
//!     cargo run --release --bin train              # 3 seeds per input
//!     cargo run --release --bin train -- --seeds 5
#[path = "../../tests/integration/support/gsm8k.rs"]
mod gsm8k;

use std::collections::HashSet;
use std::time::Instant;

use cotlabel::core::metrics::label_scores;
use cotlabel::core::signals::choice::model::ChoiceConfig;
use cotlabel::core::signals::choice::train::{pair_accuracy, train, PairSet, TrainConfig};
use cotlabel::core::signals::choice::{
    features, pairs, save, score_pairs, sibling_pairs, win_rates, Calibration, Input, WeightsInfo,
};
use cotlabel::core::signals::signature::signatures;

fn main() {
    let Some(dir) = gsm8k::data_dir() else {
        std::process::exit(2)
    };
    let seeds: usize = std::env::args()
        .skip_while(|a| a != "--seeds")
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let ds = gsm8k::gsm8k_models(&dir);
    let sigs = signatures(&ds);
    let records = ds.records();
    let split = |i: usize| gsm8k::split(&records[i]);
    // validation: 10 % of the train questions, fixed
    let mut train_questions: Vec<&str> = (0..ds.len())
        .filter(|&i| split(i) == "train")
        .map(|i| records[i].group_key())
        .collect();
    train_questions.sort_unstable();
    train_questions.dedup();
    let val_questions: HashSet<&str> = cotlabel::core::graph::select::random(
        train_questions.len(),
        train_questions.len() / 10,
        2024,
    )
    .into_iter()
    .map(|k| train_questions[k])
    .collect();
    let is_val = |i: usize| split(i) == "train" && val_questions.contains(records[i].group_key());
    let fit = pairs(&ds, |i| split(i) == "train" && !is_val(i), 7);
    let val = pairs(&ds, is_val, 8);
    let test = pairs(&ds, |i| split(i) == "test", 12345);
    println!(
        "pairs: {} fit, {} validation ({} questions), {} test",
        fit.len(),
        val.len(),
        val_questions.len(),
        test.len()
    );
    let device = cotlabel::core::cpu_device();
    let base: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("baselines.json")).unwrap())
            .unwrap();
    let reference =
        |k: &str| base["a_binary_choice"][k]["test_pair_accuracy_both_orders"]["mean"].as_f64();
    println!(
        "PyTorch reference (embeddings only, both orders, 5 seeds): separate processors {:?}, shared {:?}",
        reference("separate_processors"),
        reference("shared_processor")
    );
    let siblings = sibling_pairs(ds.groups());
    for input in [Input::Full, Input::Signature, Input::Seed] {
        let x = features(&ds, &sigs, input).expect("the GSM8K set has MiniLM embeddings");
        let width = input.width();
        let mut accs = Vec::new();
        let mut best: Option<(
            f64,
            u64,
            cotlabel::core::signals::choice::model::ChoiceModel,
            usize,
        )> = None;
        for seed in 0..seeds as u64 {
            let cfg = TrainConfig {
                seed,
                ..Default::default()
            };
            let model = ChoiceConfig::new(width).init(&device);
            let t = Instant::now();
            let set = PairSet {
                x: &x,
                width,
                train: &fit,
                val: &val,
            };
            let trained = train(model, &set, &cfg, &device, &mut |_| true);
            let secs = t.elapsed().as_secs_f64() / trained.history.len().max(1) as f64;
            let acc = pair_accuracy(&trained.model, &x, width, &test, &device).unwrap();
            accs.push(acc);
            println!(
                "{:<10} seed {seed}: test pair accuracy {acc:.4} · validation {:.4} at epoch {} of {} · {secs:.2} s/epoch",
                input.name(),
                trained.val_accuracy.unwrap_or(f64::NAN),
                trained.epoch,
                trained.history.len()
            );
            let val_acc = trained.val_accuracy.unwrap_or(0.0);
            if best.as_ref().is_none_or(|b| val_acc > b.0) {
                best = Some((val_acc, seed, trained.model, trained.epoch));
            }
        }
        let mean = accs.iter().sum::<f64>() / accs.len() as f64;
        let sd = if accs.len() > 1 {
            (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (accs.len() - 1) as f64).sqrt()
        } else {
            0.0
        };
        println!(
            "{:<10} mean over {} seeds: {mean:.4} ± {sd:.4}",
            input.name(),
            accs.len()
        );
        let (val_acc, seed, model, epoch) = best.expect("one seed at least");
        let acc = pair_accuracy(&model, &x, width, &test, &device).unwrap();
        {
            let trained_model = &model;
            if input != Input::Seed {
                // calibration on the validation questions' CoTs, checked on the test CoTs
                let s = score_pairs(trained_model, &x, width, &siblings, &device);
                let w = win_rates(ds.len(), &siblings, &s);
                let val_rows: Vec<usize> = (0..ds.len())
                    .filter(|&i| is_val(i) && records[i].is_correct.is_some())
                    .collect();
                let calibration = Calibration::fit(
                    &val_rows.iter().map(|&i| w[i]).collect::<Vec<_>>(),
                    &val_rows
                        .iter()
                        .map(|&i| sigs[i].label_free_prior)
                        .collect::<Vec<_>>(),
                    &val_rows
                        .iter()
                        .map(|&i| records[i].is_correct == Some(true))
                        .collect::<Vec<_>>(),
                );
                let predicted: Vec<Option<(bool, f64)>> = (0..ds.len())
                    .map(|i| {
                        let p = calibration.apply(w[i], sigs[i].label_free_prior);
                        (split(i) == "test").then(|| (p >= 0.5, p.max(1.0 - p)))
                    })
                    .collect();
                let truth: Vec<Option<bool>> = records.iter().map(|r| r.is_correct).collect();
                let scores = label_scores(&predicted, &truth);
                println!(
                    "{:<10} calibrated P(correct) on test CoTs: accuracy {:.4}, ECE {:.4} ({calibration:?})",
                    input.name(),
                    scores.accuracy,
                    scores.ece,
                );
                let info = WeightsInfo {
                    input,
                    hidden: 256,
                    calibration,
                    test_pair_accuracy: acc,
                    val_pair_accuracy: val_acc,
                    epoch,
                    test_accuracy: scores.accuracy,
                    test_ece: scores.ece,
                    seed,
                    fine_tuned: None,
                };
                println!(
                    "{:<10} best on validation: seed {seed} (validation {val_acc:.4}), test pair accuracy {acc:.4}",
                    input.name()
                );
                if input != Input::Signature {
                    continue;
                }
                let bytes = save(trained_model).expect("weights serialise");
                let stem = format!(
                    "{}/weights/choice-{}",
                    env!("CARGO_MANIFEST_DIR"),
                    input.name()
                );
                std::fs::write(format!("{stem}.bpk"), &bytes).unwrap();
                std::fs::write(
                    format!("{stem}.json"),
                    serde_json::to_string_pretty(&info).unwrap() + "\n",
                )
                .unwrap();
                println!("wrote {stem}.bpk ({} bytes) and .json", bytes.len());
            }
        }
    }
}
