//! Propagation on real data (`../shared/data`): the accuracy the issue asks for, the
//! references of `baselines.json` reproduced, and properties on any data.
use crate::support::gsm8k;

use cotlabel::core::graph::propagate::{Config, Method};
use cotlabel::core::graph::select::Strategy;
use cotlabel::core::graph::GraphConfig;
use cotlabel::core::signals::signature::signatures;
use cotlabel::core::simulate::{prepare, run};
use cotlabel::core::Dataset;

fn truth(ds: &Dataset) -> Vec<Option<bool>> {
    ds.records().iter().map(|r| r.is_correct).collect()
}

/// Accuracy at 20 labels picked by `strategy` (mean over 3 seeds for random).
fn accuracy_at_20(ds: &Dataset, graph: &GraphConfig, cfg: &Config, strategy: Strategy) -> f64 {
    let sigs = signatures(ds);
    let prep = prepare(ds, &sigs, graph).unwrap();
    let t = truth(ds);
    let seeds: &[u64] = if strategy == Strategy::Random {
        &[0, 1, 2]
    } else {
        &[0]
    };
    seeds
        .iter()
        .map(|&s| run(&prep, &t, strategy, &[20], cfg, s).unwrap()[0].accuracy)
        .sum::<f64>()
        / seeds.len() as f64
}

#[test]
fn twenty_labels_reach_the_goal_on_the_demo_and_the_test_split() {
    let Some(dir) = gsm8k::data_dir() else { return };
    // label-free: the gold answers are left out (with them the answers decide)
    let demo = gsm8k::without_reference(&gsm8k::demo(&dir));
    let all = gsm8k::without_reference(&gsm8k::gsm8k_models(&dir));
    let test = gsm8k::subset(&all, "test", |r| gsm8k::split(r) == "test");
    for (name, ds) in [("demo", &demo), ("test", &test)] {
        for method in [Method::SPREADING, Method::TRUST] {
            let cfg = Config {
                method,
                ..Default::default()
            };
            let active = accuracy_at_20(ds, &GraphConfig::default(), &cfg, Strategy::Active);
            let random = accuracy_at_20(ds, &GraphConfig::default(), &cfg, Strategy::Random);
            eprintln!("{name} {method:?}: active {active:.3}, random {random:.3}");
            // measured: demo 0.868 / 0.854, test 0.863 / 0.868 (active, spreading / trust)
            assert!(active >= 0.85, "{name} {method:?} active: {active}");
            // random picks: 0.845 / 0.836 demo, 0.854 / 0.854 test; the majority class is 0.62
            assert!(random >= 0.82, "{name} {method:?} random: {random}");
        }
    }
}

#[test]
fn embeddings_alone_reproduce_the_reference_failure() {
    // baselines.json: LabelSpreading(knn 7, α 0.2) on MiniLM vectors, random picks, k = 20:
    // 0.589 ± 0.049 on the demo. Without signatures and prior this port lands there too.
    let Some(dir) = gsm8k::data_dir() else { return };
    let demo = gsm8k::demo(&dir);
    let graph = GraphConfig {
        neighbours: 7,
        embedding_weight: 1.0,
        signature_weight: 0.0,
        sibling_weight: 0.0,
        answer_agreement: false,
        ..Default::default()
    };
    let cfg = Config {
        method: Method::Spreading { alpha: 0.2 },
        use_prior: false,
        calibrate: false,
        answer_links: false,
    };
    let acc = accuracy_at_20(&demo, &graph, &cfg, Strategy::Random);
    eprintln!("embedding-only spreading, demo, k=20: {acc:.3}");
    assert!((acc - 0.589).abs() < 0.06, "{acc}");
}
