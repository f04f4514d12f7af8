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
//!
//! `--general` fits only the domain-general member (`core::signature::general`) on the
//! train splits of `../shared/data/domains` (MMLU-Pro and ThoughtSource: CoTs with
//! siblings and a readable option answer), measures it on their test splits per domain,
//! and keeps every other member of `weights/prior.json` as it is.
#[path = "../../tests/integration/support/gsm8k.rs"]
mod gsm8k;

use std::collections::BTreeMap;

use cotlabel::core::metrics::{auroc, label_scores};
use cotlabel::core::signals::signature::prior::{
    self, FittedMembers, Member, ReferenceMember, Shape,
};
use cotlabel::core::signals::signature::{general, signatures, Signature, DIM};
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
    if std::env::args().any(|a| a == "--general") {
        return fit_general(&dir);
    }
    if std::env::args().any(|a| a == "--support") {
        return fit_support(&dir);
    }
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
        general: None,
        group_support: None,
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
                        cotlabel::core::base::logit(p),
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
                .map(|r| m.score(cotlabel::core::base::sigmoid(r[0]), r[1] > 0.5))
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
        general: shipped().general,
        group_support: shipped().group_support,
    };
    write(&out);
}

/// `--support`: where each numeric member was fitted (GSM8K train reshaped to its shape:
/// 1, 2 and 4 CoTs per question), measured on the test split reshaped the same way; the
/// members' weights stay as they are.
fn fit_support(dir: &std::path::Path) {
    let all = gsm8k::without_reference(&gsm8k::gsm8k_models(dir));
    let split = |name: &str| gsm8k::subset(&all, name, |r| gsm8k::split(r) == name);
    let (train, test) = (split("train"), split("test"));
    let mut out = shipped();
    for size in [1usize, 2, 4] {
        let vectors = |ds: &Dataset| -> Vec<[f32; DIM]> {
            // every CoT with a numeric answer (the support in the file aside: it is what is
            // being measured)
            signatures(&gsm8k::reshape(ds, size, SEED, true))
                .iter()
                .filter(|s| {
                    s.trace
                        .answer
                        .as_ref()
                        .is_some_and(|a| a.number().is_some())
                })
                .map(|s| s.vector)
                .collect()
        };
        let (tr, te) = (vectors(&train), vectors(&test));
        let rows: Vec<Vec<f64>> = tr
            .iter()
            .map(|v| v.iter().map(|&x| f64::from(x)).collect())
            .collect();
        let (mean, std) = mean_std(&rows);
        let named = |xs: &[f64]| -> BTreeMap<String, f64> {
            cotlabel::core::signals::signature::FEATURES
                .iter()
                .zip(xs)
                .map(|(f, x)| (f.to_string(), round6(*x)))
                .collect()
        };
        let mut support = prior::Support {
            mean: named(&mean),
            std: named(&std),
            limit: BTreeMap::new(),
        };
        let d: Vec<[f64; 2]> = tr.iter().map(|v| support.distances(v)).collect();
        for (g, name) in prior::SUPPORT_GROUPS.iter().enumerate() {
            if size == 1 && g == 1 {
                continue; // a lone CoT has no sibling signals
            }
            let q: Vec<f64> = d.iter().map(|x| x[g]).collect();
            support.limit.insert(
                name.to_string(),
                round6(general::quantile(&q, SUPPORT_NUMERIC)),
            );
        }
        let outside = te
            .iter()
            .filter(|v| support.outside(v, size > 1).is_some())
            .count();
        eprintln!(
            "{size} per question: support fitted on {} train CoTs; {outside} of {} test CoTs outside ({:.2} %)",
            tr.len(),
            te.len(),
            100.0 * outside as f64 / te.len().max(1) as f64
        );
        match size {
            1 => out.lone.support = Some(support),
            2 => out.pair.support = Some(support),
            _ => out.group_support = Some(support),
        }
    }
    write(&out);
}

/// The members now in `weights/prior.json`.
fn shipped() -> FittedMembers {
    serde_json::from_str(prior::SHIPPED_JSON).expect("weights/prior.json is valid")
}

/// Writes the members to `weights/prior.json` (or prints them with `--print`).
fn write(out: &FittedMembers) {
    let text = serde_json::to_string_pretty(out).expect("serialises") + "\n";
    if std::env::args().any(|a| a == "--print") {
        print!("{text}");
    } else {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/prior.json");
        std::fs::write(&path, text).expect("writes weights/prior.json");
        eprintln!("wrote {}", path.display());
    }
}

/// Mean and standard deviation (at least 0.02) of each column of `rows`.
fn mean_std(rows: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len().max(1) as f64;
    let d = rows.first().map_or(0, Vec::len);
    let mean: Vec<f64> = (0..d)
        .map(|k| rows.iter().map(|v| v[k]).sum::<f64>() / n)
        .collect();
    let std = (0..d)
        .map(|k| {
            (rows.iter().map(|v| (v[k] - mean[k]).powi(2)).sum::<f64>() / n)
                .sqrt()
                .max(0.02)
        })
        .collect();
    (mean, std)
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
        support: m.support.clone(),
    }
}

/// L2 penalty of the general member.
const L2_GENERAL: f64 = 1e-3;
/// Share of the fitting CoTs inside a numeric member's support: its outliers only (the
/// members are checked on thousands of CoTs of their shape; 99.5 % cost GSM8K 1 % coverage).
const SUPPORT_NUMERIC: f64 = 0.999;
/// Train CoTs a domain needs for a calibration of its own.
const MIN_DOMAIN: usize = 100;
/// L2 penalty of the per-domain scale.
const L2_DOMAIN: f64 = 1e-2;
/// Share of the fitting CoTs a feature group's distance must cover to count as support.
const SUPPORT: f64 = 0.995;

/// The CoTs of `ds` the general member is for, with their vectors and truth.
fn general_rows(ds: &Dataset) -> (Vec<[f64; general::G]>, Vec<bool>, Vec<String>) {
    let sigs = signatures(ds);
    let (mut x, mut y, mut d) = (Vec::new(), Vec::new(), Vec::new());
    for (s, r) in sigs.iter().zip(ds.records()) {
        if s.trace.answer.is_some() && s.group.siblings > 0 && !s.shape.fitted {
            x.push(general::vector(&s.group, &s.trace, &s.cot));
            y.push(r.is_correct == Some(true));
            d.push(
                r.meta
                    .get("domain")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
    (x, y, d)
}

/// How the answer reader does on `ds`, per domain: the share of CoTs whose answer it reads,
/// and the share whose `is_correct` equals "the read answer is the gold one" (the gold is
/// read here, for measuring only; the app never reads `hidden_gold_answer`).
fn reading_report(ds: &Dataset) -> BTreeMap<String, serde_json::Value> {
    let sigs = signatures(ds);
    let mut by: BTreeMap<String, (usize, usize, usize, usize)> = BTreeMap::new();
    for (s, r) in sigs.iter().zip(ds.records()) {
        let d = r
            .meta
            .get("domain")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let gold = r
            .meta
            .get("hidden_gold_answer")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let gold = match gold.to_ascii_lowercase().as_str() {
            "yes" => Some('a'),
            "no" => Some('b'),
            g if g.len() == 1 => g.chars().next(),
            _ => None,
        };
        let read = match &s.trace.answer {
            Some(cotlabel::core::signals::signature::answer::Answer::Choice(c)) => Some(*c),
            _ => None,
        };
        let e = by.entry(d).or_default();
        e.0 += 1;
        e.1 += usize::from(read.is_some());
        e.2 += usize::from((read.is_some() && read == gold) == (r.is_correct == Some(true)));
        e.3 += usize::from(read.is_none() && r.is_correct == Some(true));
    }
    by.into_iter()
        .map(|(d, (n, read, agree, unread_correct))| {
            (
                d,
                json!({"cots": n, "read": round(read as f64 / n as f64),
                       "agrees_with_is_correct": round(agree as f64 / n as f64),
                       "unread_but_correct": unread_correct}),
            )
        })
        .collect()
}

fn fit_general(dir: &std::path::Path) {
    for file in ["mmlupro.jsonl", "thoughtsource.jsonl"] {
        let all = gsm8k::domain_file(dir, file).expect("the domain files");
        for (d, v) in reading_report(&all) {
            eprintln!("reading {d:<20} {v}");
        }
    }
    let mut train = (Vec::new(), Vec::new(), Vec::new());
    let mut test = (Vec::new(), Vec::new(), Vec::new());
    for file in ["mmlupro.jsonl", "thoughtsource.jsonl"] {
        let all = gsm8k::domain_file(dir, file).expect("the domain files");
        for (name, into) in [("train", &mut train), ("test", &mut test)] {
            let part = gsm8k::subset(&all, name, |r| gsm8k::split(r) == name);
            let (x, y, d) = general_rows(&part);
            into.0.extend(x);
            into.1.extend(y);
            into.2.extend(d);
        }
    }
    let rows: Vec<Vec<f64>> = train.0.iter().map(|v| v.to_vec()).collect();
    let (w, b) = prior::fit_rows(&rows, &train.1, L2_GENERAL);
    let n = train.0.len() as f64;
    let (mean, std) = mean_std(&rows);
    let named = |xs: &[f64]| -> BTreeMap<String, f64> {
        general::FEATURES
            .iter()
            .zip(xs)
            .map(|(f, x)| (f.to_string(), round6(*x)))
            .collect()
    };
    let mut m = general::GeneralMember {
        bias: round6(b),
        base_rate: round6(train.1.iter().filter(|&&y| y).count() as f64 / n),
        weights: named(&w),
        mean: named(&mean),
        std: named(&std),
        support: BTreeMap::new(),
        domains: BTreeMap::new(),
        notes: BTreeMap::new(),
    };
    // per domain: Platt scaling of the log-odds on that domain's train CoTs
    let mut names: Vec<&String> = train.2.iter().collect();
    names.sort();
    names.dedup();
    for d in names {
        let idx: Vec<usize> = (0..train.2.len()).filter(|&i| &train.2[i] == d).collect();
        if d.is_empty() || idx.len() < MIN_DOMAIN {
            continue;
        }
        let z: Vec<Vec<f64>> = idx.iter().map(|&i| vec![m.log_odds(&train.0[i])]).collect();
        let y: Vec<bool> = idx.iter().map(|&i| train.1[i]).collect();
        let (a, b) = prior::fit_rows(&z, &y, L2_DOMAIN);
        m.domains.insert(d.clone(), [round6(a[0]), round6(b)]);
    }
    let distances: Vec<[f64; 2]> = train.0.iter().map(|v| m.distances(v)).collect();
    for (g, (name, _)) in general::GROUPS.iter().enumerate() {
        let d: Vec<f64> = distances.iter().map(|x| x[g]).collect();
        m.support
            .insert(name.to_string(), round6(general::quantile(&d, SUPPORT)));
    }
    let score = |x: &[[f64; general::G]], d: &[String]| -> Vec<f64> {
        x.iter().zip(d).map(|(v, d)| m.score(v, d)).collect()
    };
    let (ptr, pte) = (score(&train.0, &train.2), score(&test.0, &test.2));
    let mut notes = BTreeMap::new();
    notes.insert(
        "fitted_on".to_string(),
        json!(format!(
            "train splits of domains/mmlupro.jsonl and domains/thoughtsource.jsonl: CoTs with siblings and a readable non-numeric answer; L2 {L2_GENERAL}; support: the {SUPPORT} quantile of each feature group's mean squared z-score"
        )),
    );
    notes.insert("train".into(), measure(&ptr, &train.1));
    notes.insert("test".into(), measure(&pte, &test.1));
    let mut per_domain = BTreeMap::new();
    let mut names: Vec<&String> = test.2.iter().collect();
    names.sort();
    names.dedup();
    for d in names {
        let idx: Vec<usize> = (0..test.2.len()).filter(|&i| &test.2[i] == d).collect();
        let p: Vec<f64> = idx.iter().map(|&i| pte[i]).collect();
        let y: Vec<bool> = idx.iter().map(|&i| test.1[i]).collect();
        per_domain.insert(d.clone(), measure(&p, &y));
    }
    notes.insert("test_per_domain".into(), json!(per_domain));
    eprintln!("general: train {} test {}", notes["train"], notes["test"]);
    for (d, v) in &per_domain {
        eprintln!("  {d:<20} {v}");
    }
    m.notes = notes;
    let mut out = shipped();
    out.general = Some(m);
    write(&out);
}
