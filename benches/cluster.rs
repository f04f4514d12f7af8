//! Speed of the map's jobs (criterion): k-means k = 8 and 32 (10 starts), HDBSCAN
//! (min_cluster_size 5) and PCA at N = 1k, 5k and 20k × 384, in two groups:
//!
//! - `sklearn/…`: rows of the real GSM8K CoT embeddings (`../shared/data`; past 6,595 the
//!   rows repeat with a small shift), printed beside scikit-learn's one-thread timings
//!   from `baselines.json` as a ratio;
//! - `page/…`: the suite of `cotlabel::core::timing` on the numbers the in-browser timing
//!   page (`?timing`) uses, printed beside the WebAssembly times the end-to-end test saved
//!   in `target/e2e/timing-wasm.json`, when there.
//!
//! Run:
//!
//!     cargo bench --bench cluster              # everything (several minutes)
//!     cargo bench --bench cluster -- sklearn/  # one group; any criterion filter works
#[path = "../tests/integration/support/gsm8k.rs"]
mod gsm8k;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode};

use cotlabel::core::base::Matrix;
use cotlabel::core::io::import::parse_npy;
use cotlabel::core::timing::{self, Case, SIZES};

/// Seconds per run of every case measured, by (group, job name, N).
type Times = BTreeMap<(String, String, usize), Vec<f64>>;

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Measures every case of `suite` on `data(n)`, recording seconds per run in `times`.
fn measure(
    c: &mut Criterion,
    group: &str,
    data: &dyn Fn(usize) -> (Vec<f32>, usize),
    times: &mut Times,
) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for n in SIZES {
        let (values, dim) = data(n);
        let x = Matrix::new(&values, n, dim).expect("rows × dim");
        for case in timing::suite().into_iter().filter(|c| c.rows == n) {
            let mut runs = Vec::new();
            g.bench_with_input(BenchmarkId::new(case.name(), n), &case, |b, case| {
                b.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        timing::run(case, x, &mut |_| true).expect("the job runs");
                    }
                    let spent = t.elapsed();
                    runs.push(spent.as_secs_f64() / iters as f64);
                    spent
                })
            });
            if !runs.is_empty() {
                times.insert((group.to_string(), case.name(), n), runs);
            }
        }
    }
    g.finish();
}

fn ratio(other: Option<f64>, ours: f64) -> (String, String) {
    match other {
        Some(s) => (format!("{s:.3}"), format!("{:.2}×", s / ours)),
        None => ("—".into(), "—".into()),
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let mut times = Times::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));

    // The suite's numbers: the shipped demo's embeddings, as the timing page builds them.
    let demo = parse_npy(
        "demo_emb.npy",
        &std::fs::read(root.join("static/demo/demo_emb.npy")).expect("static/demo/demo_emb.npy"),
    )
    .expect("the demo's embeddings");
    let base = Matrix::new(demo.as_slice(), demo.rows(), demo.dim()).expect("rows × dim");
    measure(
        &mut c,
        "page",
        &|n| (timing::matrix(base, n), demo.dim()),
        &mut times,
    );

    let sklearn = gsm8k::data_dir().map(|dir| {
        let e = parse_npy(
            "gsm8k_cot_emb.npy",
            &std::fs::read(dir.join("gsm8k_cot_emb.npy")).expect("gsm8k_cot_emb.npy"),
        )
        .expect("the GSM8K embeddings");
        let base: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("baselines.json")).expect("baselines.json"),
        )
        .expect("baselines.json");
        let rows = |n: usize| {
            // rows of the real embeddings; past 6,595 the rows repeat with a small shift
            let mut data = Vec::with_capacity(n * e.dim());
            for i in 0..n {
                let shift = (i / e.rows()) as f32 * 1e-3;
                data.extend(e.row(i % e.rows()).iter().map(|v| v + shift));
            }
            (data, e.dim())
        };
        measure(&mut c, "sklearn", &rows, &mut times);
        base
    });
    c.final_summary();

    let line = |job: &str, n: usize, ours: f64, other: (String, String)| {
        println!(
            "{job:<28} {n:>7} {ours:>10.3} {:>12} {:>8}",
            other.0, other.1
        );
    };
    let measured = |group: &str| times.keys().any(|k| k.0 == group);
    if let Some(base) = sklearn.filter(|_| measured("sklearn")) {
        println!("\nGSM8K rows: ours vs scikit-learn (one thread), seconds per run");
        println!(
            "{:<28} {:>7} {:>10} {:>12} {:>8}",
            "job", "N", "ours (s)", "sklearn (s)", "ratio"
        );
        for case in timing::suite() {
            let Some(runs) = times.get(&("sklearn".into(), case.name(), case.rows)) else {
                continue;
            };
            let sk = case
                .sklearn_key()
                .and_then(|k| base["f_timing"]["seconds"][format!("N={}", case.rows)][k].as_f64());
            line(
                &case.name(),
                case.rows,
                median(runs),
                ratio(sk, median(runs)),
            );
        }
        println!("ratio = scikit-learn / ours (> 1: we are faster)");
    }

    // The browser's times of the same cases, saved by the end-to-end test.
    let wasm: Vec<(Case, f64)> = std::fs::read_to_string(root.join("target/e2e/timing-wasm.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<serde_json::Value>>(&t).ok())
        .map(|rows| {
            timing::suite()
                .into_iter()
                .filter_map(|case| {
                    let ms = rows.iter().find(|r| {
                        r["job"] == case.name() && r["rows"].as_u64() == Some(case.rows as u64)
                    })?["ms"]
                        .as_f64()?;
                    Some((case, ms / 1e3))
                })
                .collect()
        })
        .unwrap_or_default();
    println!("\nThe timing page's numbers: native vs WebAssembly (target/e2e/timing-wasm.json), seconds per run");
    println!(
        "{:<28} {:>7} {:>10} {:>12} {:>8}",
        "job", "N", "native (s)", "wasm (s)", "ratio"
    );
    for case in timing::suite() {
        let Some(runs) = times.get(&("page".into(), case.name(), case.rows)) else {
            continue;
        };
        let w = wasm.iter().find(|(c, _)| *c == case).map(|(_, s)| *s);
        line(
            &case.name(),
            case.rows,
            median(runs),
            ratio(w, median(runs)),
        );
    }
    println!(
        "ratio = wasm / native (< 2: within the 2× goal){}",
        if wasm.is_empty() {
            "; no browser times yet: run ./scripts/test (or its e2e step) first"
        } else {
            ""
        }
    );
}
