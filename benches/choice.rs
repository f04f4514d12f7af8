//! The binary-choice model natively (burn-flex, one process): training epoch time and
//! inference throughput on the GSM8K pairs, beside the PyTorch one-thread timing of
//! ../shared/data/baselines.json. `cargo bench --bench choice`.
#[path = "../tests/integration/support/gsm8k.rs"]
mod gsm8k;

use std::time::Instant;

use cotlabel::core::signals::choice::model::ChoiceConfig;
use cotlabel::core::signals::choice::train::{train, PairSet, TrainConfig};
use cotlabel::core::signals::choice::{features, pairs, score_pairs, Input};
use cotlabel::core::signals::signature::signatures;

fn main() {
    let Some(dir) = gsm8k::data_dir() else { return };
    let ds = gsm8k::gsm8k_models(&dir);
    let sigs = signatures(&ds);
    let base: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("baselines.json")).unwrap())
            .unwrap();
    let torch = base["f_timing"]["binary_choice_sec_per_epoch"]["separate"].as_f64();
    let fit = pairs(&ds, |i| gsm8k::split(&ds.records()[i]) == "train", 7);
    let device = cotlabel::core::cpu_device();
    println!(
        "{:<12} {:>14} {:>16} {:>14}",
        "input", "s / epoch", "PyTorch s/epoch", "pairs/s (infer)"
    );
    for input in [Input::Seed, Input::Full, Input::Signature] {
        let x = features(&ds, &sigs, input).unwrap();
        let width = input.width();
        let cfg = TrainConfig {
            epochs: 3,
            patience: 100,
            ..Default::default()
        };
        let set = PairSet {
            x: &x,
            width,
            train: &fit,
            val: &[],
        };
        let model = ChoiceConfig::new(width).init(&device);
        let t = Instant::now();
        let trained = train(model, &set, &cfg, &device, &mut |_| true);
        let per_epoch = t.elapsed().as_secs_f64() / cfg.epochs as f64;
        let idx: Vec<(usize, usize)> = fit.iter().map(|p| (p.a, p.b)).collect();
        let t = Instant::now();
        let reps = 5;
        for _ in 0..reps {
            std::hint::black_box(score_pairs(&trained.model, &x, width, &idx, &device));
        }
        // each pair is scored in both orders (the symmetric score)
        let pairs_per_s = (reps * idx.len()) as f64 / t.elapsed().as_secs_f64();
        println!(
            "{:<12} {per_epoch:>14.3} {:>16} {pairs_per_s:>14.0}",
            input.name(),
            torch.map_or("—".into(), |s| format!("{s:.3}")),
        );
    }
    println!(
        "\n{} training pairs per epoch (PyTorch: 1,759), batch 64.",
        fit.len()
    );
}
