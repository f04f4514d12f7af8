//! The shipped binary-choice weights on the GSM8K test pairs: they load, and they measure
//! what `weights/choice-signature.json` says (≥ 0.85 pair accuracy, the goal).
#![cfg(feature = "model")]
use crate::support::gsm8k;

use cotlabel::core::signals::choice::train::pair_accuracy;
use cotlabel::core::signals::choice::{features, load, pairs, Input, WeightsInfo};
use cotlabel::core::signals::signature::signatures;

#[test]
fn shipped_weights_reach_the_goal_on_test_pairs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights");
    let info: WeightsInfo =
        serde_json::from_str(&std::fs::read_to_string(root.join("choice-signature.json")).unwrap())
            .unwrap();
    let bytes = std::fs::read(root.join("choice-signature.bpk")).unwrap();
    assert!(bytes.len() < 2_000_000, "{} bytes", bytes.len());
    let device = cotlabel::core::cpu_device();
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

/// A person labels half of the demo's questions (every CoT of them, from the ground truth)
/// and fine-tunes the shipped weights on them, for six validation splits. The shipped model
/// is already good on these questions (0.886 pair accuracy on the unlabelled half), so a
/// few dozen pairs rarely teach it more: the validation loss falls on some splits, and
/// where it does not the starting weights are kept. What must hold: the weights kept never
/// lose validation loss, and the questions nobody labelled keep their pair accuracy
/// (without replay pairs it fell to 0.72–0.86).
#[test]
fn fine_tuning_on_demo_labels_lowers_held_out_loss() {
    use cotlabel::core::signals::choice::train::{pair_loss, train, PairSet, TrainConfig};
    use cotlabel::core::signals::choice::{fine_tune_set, score_pairs, sibling_pairs};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let info: WeightsInfo = serde_json::from_str(
        &std::fs::read_to_string(root.join("weights/choice-signature.json")).unwrap(),
    )
    .unwrap();
    let bytes = std::fs::read(root.join("weights/choice-signature.bpk")).unwrap();
    let ds = gsm8k::demo(&root.join("static"));
    let sigs = signatures(&ds);
    let x = features(&ds, &sigs, Input::Signature).unwrap();
    let width = Input::Signature.width();
    let g = ds.groups();
    let human: Vec<i8> = ds
        .records()
        .iter()
        .enumerate()
        .map(|(i, r)| match (g.group_of(i) % 2, r.is_correct) {
            (0, Some(c)) => i8::from(c),
            _ => -1,
        })
        .collect();
    let device = cotlabel::core::cpu_device();
    let model = load(&info, bytes, &device).unwrap();
    let sib = sibling_pairs(g);
    let scores = score_pairs(&model, &x, width, &sib, &device);
    let mut improved = 0;
    for seed in 0..6 {
        let set = fine_tune_set(g, &human, &[], &sib, &scores, seed).unwrap();
        let unseen = pairs(&ds, |i| g.group_of(i) % 2 == 1, 2);
        let before = pair_accuracy(&model, &x, width, &unseen, &device).unwrap();
        let before_loss = pair_loss(&model, &x, width, &unseen, &device).unwrap();
        let cfg = TrainConfig {
            seed,
            ..TrainConfig::fine_tune()
        };
        let pair_set = PairSet {
            x: &x,
            width,
            train: &set.train,
            val: &set.val,
        };
        let t = train(model.clone(), &pair_set, &cfg, &device, &mut |_| true);
        let after = pair_accuracy(&t.model, &x, width, &unseen, &device).unwrap();
        let after_loss = pair_loss(&t.model, &x, width, &unseen, &device).unwrap();
        let (start, best) = (t.start.val_loss.unwrap(), t.kept().val_loss.unwrap());
        eprintln!(
            "fine-tuning on {} human + {} replay pairs ({} validation): validation loss \
         {start:.4} -> {best:.4} (epoch {}); unlabelled questions: pair accuracy \
         {before:.4} -> {after:.4}, loss {before_loss:.4} -> {after_loss:.4}",
            set.human,
            set.train.len() - set.human,
            set.val.len(),
            t.epoch
        );
        assert!(best <= start, "{start} -> {best}");
        assert!(after >= before - 0.02, "{before} -> {after}");
        improved += usize::from(t.epoch > 0 && best < start);
    }
    assert!(
        improved >= 2,
        "validation loss fell on {improved} of 6 splits"
    );
}
