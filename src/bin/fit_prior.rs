//! Fits the label-free prior's members on the GSM8K *train* split, each on the train split
//! reshaped to its shape, and writes them with their numbers to `weights/prior.json`.
//!
//!     cargo run --release --no-default-features --bin fit_prior
//!
//! - lone (no sibling): every train model CoT as a question of its own; the sibling
//!   signals are left out (missing, not zero);
//! - pair (one sibling): each question's four model CoTs cut into two pairs (seeded);
//! - several siblings: the original prior (`prior::WEIGHTS`), fitted on the four-CoT groups
//!   and read by the shipped classifier; not refitted here, only measured;
//! - with a reference answer, per sibling count: a logistic model on the label-free
//!   member's log-odds and "the final answer matches the reference".
//!
//! Each member is measured on the test split reshaped the same way (AUROC, ECE, base rate).
//! `--print` prints the JSON instead of writing it.
#[path = "../../tests/support/gsm8k.rs"]
mod gsm8k;

use std::collections::BTreeMap;

use cotlabel::core::metrics::{auroc, label_scores};
use cotlabel::core::signature::prior::{self, FittedMembers, Member, ReferenceMember, Shape};
use cotlabel::core::signature::{signatures, Signature, DIM};
use cotlabel::core::Dataset;
use serde_json::json;

/// L2 penalty of the lone and pair members.
const L2: f64 = 1e-3;
/// L2 penalty of the reference members (a near-separating signal: keep it finite).
const L2_REFERENCE: f64 = 1e-4;
/// The reshaping seed.
const SEED: u64 = 2026;

fn truth(ds: &Dataset) -> Vec<bool> {
    ds.records()
        .iter()
        .map(|r| r.is_correct == Some(true))
        .collect()
}

/// AUROC, ECE (at full coverage) and accuracy of scores against truth.
fn measure(p: &[f64], y: &[bool]) -> serde_json::Value {
    let predicted: Vec<Option<(bool, f64)>> = p
        .iter()
        .map(|&p| Some((p >= 0.5, p.max(1.0 - p))))
        .collect();
    let t: Vec<Option<bool>> = y.iter().map(|&b| Some(b)).collect();
    let s = label_scores(&predicted, &t);
    json!({
        "cots": y.len(),
        "sound": y.iter().filter(|&&b| b).count(),
        "auroc": round(auroc(p, y).unwrap_or(f64::NAN)),
        "accuracy": round(s.accuracy),
        "ece": round(s.ece),
        "mean_p": round(p.iter().sum::<f64>() / p.len().max(1) as f64),
    })
}

fn round(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn fit_member(sigs: &[Signature], y: &[bool], lone: bool) -> Member {
    let x: Vec<[f32; DIM]> = sigs
        .iter()
        .map(|s| {
            let mut v = s.vector;
            if lone {
                for (k, x) in v.iter_mut().enumerate() {
                    if prior::is_sibling_feature(k) {
                        *x = 0.0;
                    }
                }
            }
            v
        })
        .collect();
    let (w, b) = prior::fit(&x, y, L2);
    let base_rate = y.iter().filter(|&&t| t).count() as f64 / y.len().max(1) as f64;
    Member::from_array(&w, b, round6(base_rate))
}

fn main() {
    let Some(dir) = gsm8k::data_dir() else {
        std::process::exit(2)
    };
    let with_ref = gsm8k::gsm8k_models(&dir);
    let all = gsm8k::without_reference(&with_ref);
    let split = |ds: &Dataset, name: &str| gsm8k::subset(ds, name, |r| gsm8k::split(r) == name);
    let (train, test) = (split(&all, "train"), split(&all, "test"));
    let (train_ref, test_ref) = (split(&with_ref, "train"), split(&with_ref, "test"));

    // label-free members: fit on train reshaped, measure on test reshaped
    let mut members: BTreeMap<&str, Member> = BTreeMap::new();
    for (name, size) in [("lone", 1usize), ("pair", 2)] {
        let tr = gsm8k::reshape(&train, size, SEED, true);
        let te = gsm8k::reshape(&test, size, SEED, true);
        let (str_, ste) = (signatures(&tr), signatures(&te));
        let mut m = fit_member(&str_, &truth(&tr), size == 1);
        let fam_score = |sigs: &[Signature], m: &Member| -> Vec<f64> {
            let w = m.array();
            sigs.iter()
                .map(|s| prior::score_with(&w, m.bias, &s.vector))
                .collect()
        };
        let ptr = fam_score(&str_, &m);
        let pte = fam_score(&ste, &m);
        m.notes.insert(
            "fitted_on".into(),
            json!(format!(
                "GSM8K train split, each question's model CoTs cut into groups of {size} (seed {SEED}), L2 {L2}"
            )),
        );
        m.notes.insert("train".into(), measure(&ptr, &truth(&tr)));
        m.notes.insert("test".into(), measure(&pte, &truth(&te)));
        eprintln!(
            "{name}: train {} test {}",
            m.notes["train"], m.notes["test"]
        );
        members.insert(name, m);
    }
    // the several-siblings member, measured on 3 and 4 CoTs per question
    for size in [3usize, 4] {
        let te = gsm8k::reshape(&test, size, SEED, true);
        let sigs = signatures(&te);
        let p: Vec<f64> = sigs.iter().map(|s| prior::score(&s.vector)).collect();
        eprintln!(
            "group member on test, {size} per question: {}",
            measure(&p, &truth(&te))
        );
    }

    // reference members: on the label-free member's log-odds and the match
    let fitted = FittedMembers {
        lone: members["lone"].clone(),
        pair: members["pair"].clone(),
        reference: std::array::from_fn(|_| ReferenceMember {
            bias: 0.0,
            scale: 1.0,
            matched: 0.0,
            notes: BTreeMap::new(),
        }),
    };
    let family = prior::Family::new(&fitted);
    let mut reference = fitted.reference.clone();
    for (k, size) in [1usize, 2, 4].into_iter().enumerate() {
        let rows = |ds: &Dataset| -> (Vec<Vec<f64>>, Vec<bool>) {
            let r = gsm8k::reshape(ds, size, SEED, true);
            let sigs = signatures(&r);
            let x = sigs
                .iter()
                .map(|s| {
                    let p = family.label_free(Shape::of(size - 1, false, true), &s.vector);
                    vec![
                        prior::logit(p),
                        f64::from(s.matches_reference.expect("GSM8K carries gold_answer")),
                    ]
                })
                .collect();
            (x, truth(&r))
        };
        let (xtr, ytr) = rows(&train_ref);
        let (xte, yte) = rows(&test_ref);
        let (w, b) = prior::fit_rows(&xtr, &ytr, L2_REFERENCE);
        let mut m = ReferenceMember {
            bias: round6(b),
            scale: round6(w[0]),
            matched: round6(w[1]),
            notes: BTreeMap::new(),
        };
        let score = |x: &[Vec<f64>]| -> Vec<f64> {
            x.iter()
                .map(|r| m.score(prior::sigmoid(r[0]), r[1] > 0.5))
                .collect()
        };
        let (ptr, pte) = (score(&xtr), score(&xte));
        m.notes.insert(
            "fitted_on".into(),
            json!(format!(
                "GSM8K train split with gold_answer as reference, groups of {size} (seed {SEED}), L2 {L2_REFERENCE}"
            )),
        );
        m.notes.insert("train".into(), measure(&ptr, &ytr));
        m.notes.insert("test".into(), measure(&pte, &yte));
        eprintln!(
            "reference, {size} per question: train {} test {}",
            m.notes["train"], m.notes["test"]
        );
        reference[k] = m;
    }
    let out = FittedMembers {
        lone: round_member(&fitted.lone),
        pair: round_member(&fitted.pair),
        reference,
    };
    let text = serde_json::to_string_pretty(&out).expect("serialises") + "\n";
    if std::env::args().any(|a| a == "--print") {
        print!("{text}");
    } else {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/prior.json");
        std::fs::write(&path, text).expect("writes weights/prior.json");
        eprintln!("wrote {}", path.display());
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn round_member(m: &Member) -> Member {
    Member {
        bias: round6(m.bias),
        base_rate: m.base_rate,
        weights: m
            .weights
            .iter()
            .map(|(k, v)| (k.clone(), round6(*v)))
            .collect(),
        notes: m.notes.clone(),
    }
}
