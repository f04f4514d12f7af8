//! The shipped binary-choice weights on the GSM8K test pairs: they load, and they measure
//! what `weights/choice-signature.json` says (≥ 0.85 pair accuracy, the goal).
#![cfg(feature = "model")]
mod support;
use support::gsm8k;

use burn::prelude::*;
use cotlabel::core::choice::train::pair_accuracy;
use cotlabel::core::choice::{features, load, pairs, Input, WeightsInfo};
use cotlabel::core::signature::signatures;

#[test]
fn shipped_weights_reach_the_goal_on_test_pairs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights");
    let info: WeightsInfo =
        serde_json::from_str(&std::fs::read_to_string(root.join("choice-signature.json")).unwrap())
            .unwrap();
    let bytes = std::fs::read(root.join("choice-signature.bpk")).unwrap();
    assert!(bytes.len() < 2_000_000, "{} bytes", bytes.len());
    #[allow(deprecated)]
    let device = Device::ndarray();
    let model = load(&info, bytes, &device).unwrap();
    let Some(dir) = gsm8k::data_dir() else { return };
    let ds = gsm8k::gsm8k_models(&dir);
    let sigs = signatures(&ds);
    let x = features(&ds, &sigs, Input::Signature).unwrap();
    let test = pairs(&ds, |i| gsm8k::split(&ds.records()[i]) == "test", 12345);
    assert_eq!(test.len(), 462, "the test pairs of baselines.json");
    let acc = pair_accuracy(&model, &x, Input::Signature.width(), &test, &device).unwrap();
    eprintln!("shipped weights: test pair accuracy {acc:.4}");
    assert!(
        (acc - info.test_pair_accuracy).abs() < 1e-9,
        "{acc} vs {}",
        info.test_pair_accuracy
    );
    assert!(acc >= 0.85, "{acc}");
}
