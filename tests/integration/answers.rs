//! Final-answer extraction across domains (`../shared/data/crossdomain_cots.jsonl`: 300
//! zero-shot CoTs for each of 6 non-arithmetic tasks). The app finds a CoT's final answer
//! with `find_in_text` when its record has no `answer` field; here that answer is compared
//! (by `key()`) with the log's own answer, `normalize(answer)`, per domain, from `cot_raw`
//! (the text with the answer-extraction sentence "Therefore, … the answer is …") and from
//! `cot` (without it, so the answer has to be found in the reasoning itself).
//!
//! Without the data file the test prints `SKIP` and passes, unless `CI=true`, where a
//! missing file is an error.

use std::collections::BTreeMap;
use std::path::Path;

use cotlabel::core::signals::signature::answer::{find_in_text, normalize};

/// Lowest accepted accuracy per domain: (domain, from cot_raw, from cot), a little below
/// what the extraction reaches (printed by the test). From `cot` the answer is often not
/// stated at all (a coin "is heads up", a date, a name), hence the low floors there.
/// `ANSWERS_MISSES=N` prints the first N misses of each domain.
const FLOORS: [(&str, f64, f64); 6] = [
    // measured: cot_raw 1.000 / cot 0.223
    ("coin_flip", 0.97, 0.20),
    // measured: 0.993 / 0.290
    ("commonsensqa", 0.97, 0.26),
    // measured: 1.000 / 0.403
    ("date_understanding", 0.97, 0.37),
    // measured: 1.000 / 0.970
    ("last_letters", 0.97, 0.94),
    // measured: 1.000 / 0.353
    ("shuffled_objects", 0.97, 0.32),
    // measured: 1.000 / 0.163
    ("strategyqa", 0.97, 0.14),
];

#[derive(Default)]
struct Tally {
    n: usize,
    raw_hits: usize,
    cot_hits: usize,
    raw_misses: Vec<(String, String, String)>,
    cot_misses: Vec<(String, String, String)>,
}

fn key_of(a: Option<cotlabel::core::signals::signature::answer::Answer>) -> String {
    a.map(|a| a.key()).unwrap_or_else(|| "<none>".into())
}

fn tail(s: &str, n: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let start = chars.len().saturating_sub(n);
    chars[start..].iter().collect::<String>().replace('\n', "⏎")
}

#[test]
fn crossdomain_extraction_accuracy() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/crossdomain_cots.jsonl");
    let Ok(text) = std::fs::read_to_string(&path) else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{} is missing (CI=true): the cross-domain answer-extraction test cannot run",
                path.display()
            );
        }
        eprintln!(
            "SKIP: {} is absent; the cross-domain answer-extraction test did not run",
            path.display()
        );
        return;
    };

    let mut by_domain: BTreeMap<String, Tally> = BTreeMap::new();
    for (line_no, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let rec: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {}: invalid JSON: {e}", line_no + 1));
        let field = |name: &str| -> &str {
            rec[name]
                .as_str()
                .unwrap_or_else(|| panic!("line {}: no string field `{name}`", line_no + 1))
        };
        let (domain, cot, cot_raw, answer) = (
            field("domain"),
            field("cot"),
            field("cot_raw"),
            field("answer"),
        );
        let expected = key_of(normalize(answer));
        let t = by_domain.entry(domain.to_string()).or_default();
        t.n += 1;
        let from_raw = key_of(find_in_text(cot_raw));
        if from_raw == expected {
            t.raw_hits += 1;
        } else {
            t.raw_misses
                .push((expected.clone(), from_raw, tail(cot_raw, 120)));
        }
        let from_cot = key_of(find_in_text(cot));
        if from_cot == expected {
            t.cot_hits += 1;
        } else {
            t.cot_misses.push((expected, from_cot, tail(cot, 120)));
        }
    }

    let show = std::env::var("ANSWERS_MISSES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    println!("\nfinal-answer extraction: find_in_text(text) vs normalize(answer), by key()");
    println!(
        "{:<20} {:>5} {:>14} {:>14}",
        "domain", "n", "acc (cot_raw)", "acc (cot)"
    );
    let mut failures = Vec::new();
    for (domain, t) in &by_domain {
        let raw = t.raw_hits as f64 / t.n as f64;
        let cot = t.cot_hits as f64 / t.n as f64;
        println!("{domain:<20} {:>5} {raw:>14.3} {cot:>14.3}", t.n);
        for (label, misses) in [("cot_raw", &t.raw_misses), ("cot", &t.cot_misses)] {
            for (exp, got, ctx) in misses.iter().take(show) {
                println!("    miss [{label}] expected {exp:?}, found {got:?}: …{ctx}");
            }
        }
        match FLOORS.iter().find(|(d, ..)| d == domain) {
            Some(&(_, raw_floor, cot_floor)) => {
                if raw < raw_floor {
                    failures.push(format!("{domain}: cot_raw {raw:.3} < floor {raw_floor}"));
                }
                if cot < cot_floor {
                    failures.push(format!("{domain}: cot {cot:.3} < floor {cot_floor}"));
                }
            }
            None => failures.push(format!("{domain}: no floor set for this domain")),
        }
    }
    for (domain, ..) in FLOORS {
        if !by_domain.contains_key(domain) {
            failures.push(format!("{domain}: no records in the data file"));
        }
    }
    assert!(
        failures.is_empty(),
        "extraction accuracy below its floor:\n  {}",
        failures.join("\n  ")
    );
}
