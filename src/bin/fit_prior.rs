//! Fits the label-free prior's weights on the GSM8K *train* split and prints them as the
//! Rust constants of `src/core/signature/prior.rs`.
//!
//!     cargo run --release --bin fit_prior
#[path = "../../tests/support/gsm8k.rs"]
mod gsm8k;

use cotlabel::core::metrics::auroc;
use cotlabel::core::signature::{prior, signatures, DIM, FEATURES};

fn main() {
    let Some(dir) = gsm8k::data_dir() else {
        std::process::exit(2)
    };
    let ds = gsm8k::gsm8k_models(&dir);
    let sigs = signatures(&ds);
    let train: Vec<usize> = (0..ds.len())
        .filter(|&i| gsm8k::split(&ds.records()[i]) == "train")
        .collect();
    let x: Vec<[f32; DIM]> = train.iter().map(|&i| sigs[i].vector).collect();
    let y: Vec<bool> = train
        .iter()
        .map(|&i| ds.records()[i].is_correct == Some(true))
        .collect();
    let (w, b) = prior::fit(&x, &y, prior::L2);
    let scores: Vec<f64> = x.iter().map(|v| prior::score_with(&w, b, v)).collect();
    eprintln!(
        "fitted on {} train CoTs; train AUROC {:.4}",
        x.len(),
        auroc(&scores, &y).unwrap_or(f64::NAN)
    );
    println!("pub const BIAS: f64 = {b:.6};");
    println!("pub const WEIGHTS: [f64; DIM] = [");
    for (wi, name) in w.iter().zip(FEATURES) {
        println!("    {wi:.6}, // {name}");
    }
    println!("];");
}
