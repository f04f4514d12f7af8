//! Propagation speed on the GSM8K model CoTs (384-d embeddings + signatures), beside
//! scikit-learn's one-thread timings from ../shared/data/baselines.json (`LabelSpreading`
//! with a 7-NN graph, built inside; exact 10-NN search). `cargo bench --bench propagate`.
//! The harness's accuracy table is `cargo run --release --bin simulate`
//! (its output: benches/simulate-output.md).
#[path = "../tests/integration/support/gsm8k.rs"]
mod gsm8k;

use std::time::Instant;

use cotlabel::core::graph::propagate::{Config, Method};
use cotlabel::core::graph::select::{queue, random};
use cotlabel::core::graph::GraphConfig;
use cotlabel::core::signals::signature::signatures;
use cotlabel::core::simulate::prepare;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() {
    let Some(dir) = gsm8k::data_dir() else { return };
    let all = gsm8k::gsm8k_models(&dir);
    let base: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("baselines.json")).unwrap())
            .unwrap();
    let sk = |n: usize, key: &str| {
        base["f_timing"]["seconds"][format!("N={n}")][key]
            .as_f64()
            .map_or("—".to_string(), |s| format!("{s:.4}"))
    };
    println!(
        "{:<40} {:>6} {:>10} {:>12}",
        "job", "N", "ours (s)", "sklearn (s)"
    );
    for n in [1000usize, 5000] {
        let ds = gsm8k::subset(&all, "first n", {
            let ids: std::collections::HashSet<String> =
                all.records().iter().take(n).map(|r| r.id.clone()).collect();
            move |r| ids.contains(&r.id)
        });
        let sigs = signatures(&ds);
        let cfg = GraphConfig::default();
        let build = time(3, || prepare(&ds, &sigs, &cfg).unwrap());
        println!(
            "{:<40} {n:>6} {build:>10.4} {:>12}",
            "graph: 10-NN, 417-d + sibling links",
            sk(n, "exact_knn10_sklearn_brute")
        );
        let prep = prepare(&ds, &sigs, &cfg).unwrap();
        let truth: Vec<Option<bool>> = ds.records().iter().map(|r| r.is_correct).collect();
        let mut human = vec![None; n];
        for i in random(n, 20, 0) {
            human[i] = truth[i];
        }
        for (name, method) in [
            ("propagate: spreading, 20 labels", Method::SPREADING),
            ("propagate: trust, 20 labels", Method::TRUST),
        ] {
            let c = Config {
                method,
                ..Default::default()
            };
            let t = time(5, || prep.propagate(&human, &c));
            let reference = if method == Method::SPREADING {
                sk(n, "label_spreading_knn7")
            } else {
                "—".into()
            };
            println!("{name:<40} {n:>6} {t:>10.4} {reference:>12}");
        }
        let prop = prep.propagate(&human, &Config::default());
        let t = time(5, || queue(&prep.graph, &prop, &human));
        println!("{:<40} {n:>6} {t:>10.4} {:>12}", "active queue", "—");
    }
    println!("\nsklearn's LabelSpreading time includes its own 7-NN graph; ours is split: the graph is built once per data set, each propagation reuses it.");
}
