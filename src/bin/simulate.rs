//! The labelling simulation: plays the human on `../shared/data` (labels the CoTs each
//! strategy picks with their ground truth), propagates, and prints accuracy and macro-F1
//! of the propagated labels at full coverage per label budget, beside the references of
//! `baselines.json`.
//!
//!     cargo run --release --bin simulate              # the table
//!     cargo run --release --bin simulate -- --shapes  # every shape of data, k = 0/10/20
//!     cargo run --release --bin simulate -- --tune    # the parameter grid on the train split
//!
//! `--knn exact` or `--knn approximate` forces how the graph's neighbours are found (the
//! table and `--shapes`; default: by size, `neighbours::EXACT_BUDGET`).
#[path = "../../tests/integration/support/gsm8k.rs"]
mod gsm8k;

use cotlabel::core::graph::propagate::{Config, Method};
use cotlabel::core::graph::select::Strategy;
use cotlabel::core::graph::GraphConfig;
use cotlabel::core::map::neighbours::Search;
use cotlabel::core::metrics::LabelScores;
use cotlabel::core::signals::signature::signatures;
use cotlabel::core::simulate::{prepare, run};
use cotlabel::core::Dataset;

const BUDGETS: [usize; 5] = [0, 5, 10, 20, 50];
const SEEDS: [u64; 5] = [0, 1, 2, 3, 4];

fn truth(ds: &Dataset) -> Vec<Option<bool>> {
    ds.records().iter().map(|r| r.is_correct).collect()
}

/// Mean (accuracy, macro-F1) per budget over the seeds (one run for deterministic picks).
fn curve(
    ds: &Dataset,
    graph: &GraphConfig,
    cfg: &Config,
    strategy: Strategy,
    budgets: &[usize],
) -> Vec<(f64, f64, f64)> {
    let sigs = signatures(ds);
    let prep = prepare(ds, &sigs, graph).expect("graph");
    let t = truth(ds);
    let seeds: &[u64] = if matches!(strategy, Strategy::Random | Strategy::Medoids) {
        &SEEDS
    } else {
        &SEEDS[..1]
    };
    let runs: Vec<Vec<LabelScores>> = seeds
        .iter()
        .map(|&s| run(&prep, &t, strategy, budgets, cfg, s).expect("run"))
        .collect();
    (0..budgets.len())
        .map(|b| {
            let m = |f: fn(&LabelScores) -> f64| {
                runs.iter().map(|r| f(&r[b])).sum::<f64>() / runs.len() as f64
            };
            (m(|s| s.accuracy), m(|s| s.macro_f1), m(|s| s.ece))
        })
        .collect()
}

struct Variant {
    name: &'static str,
    graph: GraphConfig,
    cfg: Config,
}

fn variants(search: Search) -> Vec<Variant> {
    let g = GraphConfig {
        search,
        ..Default::default()
    };
    let spreading = Config::default();
    let trust = Config {
        method: Method::TRUST,
        ..Default::default()
    };
    let no_answers = GraphConfig {
        sibling_weight: 0.0,
        ..g
    };
    let embedding_only = GraphConfig {
        embedding_weight: 1.0,
        signature_weight: 0.0,
        sibling_weight: 0.0,
        neighbours: 7,
        ..g
    };
    let bare = |method| Config {
        method,
        use_prior: false,
        calibrate: false,
        answer_links: false,
    };
    vec![
        Variant {
            name: "spreading",
            graph: g,
            cfg: spreading,
        },
        Variant {
            name: "trust",
            graph: g,
            cfg: trust,
        },
        Variant {
            name: "spreading, no answer links",
            graph: no_answers,
            cfg: spreading,
        },
        Variant {
            name: "trust, no answer links",
            graph: no_answers,
            cfg: Config {
                answer_links: false,
                ..trust
            },
        },
        Variant {
            name: "spreading, embeddings only, no prior",
            graph: embedding_only,
            cfg: bare(Method::Spreading { alpha: 0.2 }),
        },
        Variant {
            name: "trust, embeddings only, no prior",
            graph: embedding_only,
            cfg: bare(Method::Trust {
                lambda: 50.0,
                prior_weight: 0.0,
            }),
        },
    ]
}

fn table(name: &str, ds: &Dataset, search: Search) {
    println!(
        "\n## {name}: {} CoTs, {} correct",
        ds.len(),
        truth(ds).iter().filter(|t| **t == Some(true)).count()
    );
    print!("| strategy | method |");
    for b in BUDGETS {
        print!(" k={b} acc / F1 |");
    }
    println!(" ECE k=20 |");
    println!("|---|---|{}---|", "---|".repeat(BUDGETS.len()));
    for v in variants(search) {
        for s in Strategy::ALL {
            let c = curve(ds, &v.graph, &v.cfg, s, &BUDGETS);
            print!("| {} | {} |", s.name(), v.name);
            for (acc, f1, _) in &c {
                print!(" {acc:.3} / {f1:.3} |");
            }
            println!(" {:.3} |", c[3].2);
        }
    }
}

fn tune(train: &Dataset) {
    // Seeded random 300-CoT question subsets of the train split, like the demo.
    let questions: Vec<&str> = {
        let mut q: Vec<&str> = train.records().iter().map(|r| r.group_key()).collect();
        q.sort_unstable();
        q.dedup();
        q
    };
    let subsets: Vec<Dataset> = (0..3u64)
        .map(|s| {
            let pick: std::collections::HashSet<&str> =
                cotlabel::core::graph::select::random(questions.len(), 75, 100 + s)
                    .into_iter()
                    .map(|i| questions[i])
                    .collect();
            gsm8k::subset(train, "train subset", |r| pick.contains(r.group_key()))
        })
        .collect();
    let budgets = [10, 20];
    let score = |g: &GraphConfig, c: &Config| -> f64 {
        let mut total = 0.0;
        for ds in &subsets {
            for s in [Strategy::Random, Strategy::Active] {
                total += curve(ds, g, c, s, &budgets)
                    .iter()
                    .map(|x| x.0)
                    .sum::<f64>();
            }
        }
        total / (subsets.len() * 2 * budgets.len()) as f64
    };
    for neighbours in [5, 10, 20] {
        for ew in [0.0f32, 0.25, 1.0] {
            for sw in [0.0f32, 0.5, 1.0, 2.0] {
                let g = GraphConfig {
                    neighbours,
                    embedding_weight: ew,
                    sibling_weight: sw,
                    ..Default::default()
                };
                for alpha in [0.2, 0.5, 0.8] {
                    let c = Config {
                        method: Method::Spreading { alpha },
                        ..Default::default()
                    };
                    println!(
                        "spreading k={neighbours} ew={ew} sw={sw} alpha={alpha}: {:.4}",
                        score(&g, &c)
                    );
                }
            }
        }
    }
    for ew in [0.0f32, 0.25, 1.0] {
        let g = GraphConfig {
            embedding_weight: ew,
            ..Default::default()
        };
        for lambda in [1.0, 3.0, 10.0, 30.0] {
            for prior_weight in [0.1, 0.5, 2.0] {
                let c = Config {
                    method: Method::Trust {
                        lambda,
                        prior_weight,
                    },
                    ..Default::default()
                };
                println!(
                    "trust ew={ew} lambda={lambda} prior_weight={prior_weight}: {:.4}",
                    score(&g, &c)
                );
            }
        }
    }
}

/// The table of the shapes of data: accuracy / macro-F1 / coverage / ECE of the machine
/// labels at the page's minimum confidence, beside the majority class, at k = 0, 10 and 20
/// human labels (random picks pooled over 5 seeds, and "label next").
fn shapes(dir: &std::path::Path, search: Search) {
    let budgets = [0, 10, 20];
    println!(
        "\n## Machine labels on every shape (min. confidence {:.0} %; acc / F1 / coverage / ECE)",
        gsm8k::MIN_CONFIDENCE * 100.0
    );
    print!("| data | CoTs | majority |");
    for s in [Strategy::Random, Strategy::Active] {
        for k in budgets {
            print!(" {} k={k} |", s.name());
        }
    }
    println!();
    println!("|---|---|---|{}", "---|".repeat(2 * budgets.len()));
    for (name, sets) in gsm8k::shapes(dir) {
        let graph = GraphConfig {
            search,
            ..Default::default()
        };
        let r = gsm8k::evaluate_shape_with(&name, &sets, &budgets, &SEEDS, &graph);
        print!("| {} | {} | {:.3} |", r.name, r.cots, r.majority());
        for (_, _, s) in &r.rows {
            if s.scored == 0 {
                print!(" — / — / 0.00 / — |");
            } else {
                print!(
                    " {:.3} / {:.3} / {:.2} / {:.3} |",
                    s.accuracy, s.macro_f1, s.coverage, s.ece
                );
            }
        }
        println!();
    }
}

/// `--priors`: the label-free prior alone (no graph, no labels) on every shape of data:
/// accuracy / coverage / ECE at the page's minimum confidence, the share of CoTs each kind
/// of member scores (numeric, general, none).
fn priors(dir: &std::path::Path) {
    use cotlabel::core::metrics::{calibrated_ece, confidence_gap, label_scores};
    println!("| data | CoTs | majority | prior acc / coverage / ECE | ECE if calibrated | confidence − accuracy | numeric / general / none |");
    println!("|---|---|---|---|---|---|---|");
    for (name, sets) in gsm8k::shapes(dir) {
        let (mut p, mut t, mut kinds) = (Vec::new(), Vec::new(), [0usize; 3]);
        for ds in &sets {
            let sigs = signatures(ds);
            for (s, r) in sigs.iter().zip(ds.records()) {
                let c = s.prior.max(1.0 - s.prior);
                p.push((c >= gsm8k::MIN_CONFIDENCE).then_some((s.prior >= 0.5, c)));
                t.push(r.is_correct);
                kinds[if s.shape.fitted {
                    0
                } else if s.shape.general {
                    1
                } else {
                    2
                }] += 1;
            }
        }
        let sc = label_scores(&p, &t);
        let confs: Vec<f64> = p
            .iter()
            .zip(&t)
            .filter_map(|(p, t)| t.and(p.map(|p| p.1)))
            .collect();
        let floor = calibrated_ece(&confs, 200, 7);
        let gap = confidence_gap(&p, &t).unwrap_or(0.0);
        let sound = t.iter().filter(|x| **x == Some(true)).count() as f64 / t.len().max(1) as f64;
        println!(
            "| {name} | {} | {:.3} | {:.3} / {:.2} / {:.3} | {floor:.3} | {gap:+.3} | {} / {} / {} |",
            t.len(),
            sound.max(1.0 - sound),
            sc.accuracy,
            sc.coverage,
            sc.ece,
            kinds[0],
            kinds[1],
            kinds[2],
        );
    }
}

/// `--ece-noise`: how far the ECE of the prior moves by the draw of questions alone. For each
/// domain of `../shared/data/domains`, the ECE on 200 bootstrap draws (with replacement) of
/// as many train questions as its test split has — train, where the member and its domain calibration were fitted
/// (the most favourable case: there the calibration is right on average) — beside the ECE a
/// calibrated labeller would show on independent CoTs and the ECE measured on test.
fn ece_noise(dir: &std::path::Path) {
    use cotlabel::core::metrics::{calibrated_ece, label_scores};
    use std::collections::BTreeMap;
    println!("| domain | train / test questions, test CoTs | test ECE | train ECE | train ECE on test-sized question sets: median / 90th pct / share > 0.10 | calibrated labeller, independent CoTs |");
    println!("|---|---|---|---|---|---|");
    for file in ["mmlupro.jsonl", "thoughtsource.jsonl"] {
        let Some(all) = gsm8k::domain_file(dir, file) else {
            return;
        };
        let mut names: Vec<String> = all
            .records()
            .iter()
            .filter_map(|r| {
                r.meta
                    .get("domain")
                    .and_then(|d| d.as_str())
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let dom = gsm8k::domain(&all, &name);
            // per question: (prediction, truth) of its CoTs
            let by_question = |split: &str| {
                let part = gsm8k::subset(&dom, split, |r| gsm8k::split(r) == split);
                let mut q: BTreeMap<String, Vec<(Option<(bool, f64)>, Option<bool>)>> =
                    BTreeMap::new();
                for (s, r) in signatures(&part).iter().zip(part.records()) {
                    let c = s.prior.max(1.0 - s.prior);
                    q.entry(r.group_key().to_string()).or_default().push((
                        (c >= gsm8k::MIN_CONFIDENCE).then_some((s.prior >= 0.5, c)),
                        r.is_correct,
                    ));
                }
                q.into_values().collect::<Vec<_>>()
            };
            let (train, test) = (by_question("train"), by_question("test"));
            let score = |qs: &[&Vec<(Option<(bool, f64)>, Option<bool>)>]| {
                let (p, t): (Vec<_>, Vec<_>) = qs.iter().flat_map(|q| q.iter().copied()).unzip();
                label_scores(&p, &t)
            };
            let test_refs: Vec<_> = test.iter().collect();
            let measured = score(&test_refs);
            let train_refs: Vec<_> = train.iter().collect();
            let fitted = score(&train_refs);
            let confs: Vec<f64> = test
                .iter()
                .flatten()
                .filter_map(|(p, t)| t.and(p.map(|p| p.1)))
                .collect();
            let mut eces: Vec<f64> = (0..200u64)
                .map(|seed| {
                    use rand::{Rng, SeedableRng};
                    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
                    let refs: Vec<_> = (0..test.len())
                        .map(|_| &train[rng.random_range(0..train.len())])
                        .collect();
                    score(&refs).ece
                })
                .collect();
            eces.sort_by(f64::total_cmp);
            let over = eces.iter().filter(|&&e| e > 0.10).count() as f64 / eces.len() as f64;
            println!(
                "| {name} | {} / {} / {} | {:.3} | {:.3} | {:.3} / {:.3} / {:.0} % | {:.3} |",
                train.len(),
                test.len(),
                test.iter().map(Vec::len).sum::<usize>(),
                measured.ece,
                fitted.ece,
                eces[eces.len() / 2],
                eces[eces.len() * 9 / 10],
                over * 100.0,
                calibrated_ece(&confs, 200, 7),
            );
        }
    }
}

/// `--knn exact|approximate|auto`.
fn search() -> Search {
    let args: Vec<String> = std::env::args().collect();
    let Some(i) = args.iter().position(|a| a == "--knn") else {
        return Search::Auto;
    };
    match args.get(i + 1).map(String::as_str) {
        Some("exact") => Search::Exact,
        Some("approximate") => Search::Approximate,
        Some("auto") => Search::Auto,
        other => {
            eprintln!("--knn takes exact, approximate or auto, not {other:?}");
            std::process::exit(2)
        }
    }
}

fn main() {
    let search = search();
    let Some(dir) = gsm8k::data_dir() else {
        std::process::exit(2)
    };
    if std::env::args().any(|a| a == "--shapes") {
        shapes(&dir, search);
        return;
    }
    if std::env::args().any(|a| a == "--ece-noise") {
        ece_noise(&dir);
        return;
    }
    if std::env::args().any(|a| a == "--priors") {
        priors(&dir);
        return;
    }
    // label-free: the gold answers are left out (`--shapes` measures them too)
    let all = gsm8k::without_reference(&gsm8k::gsm8k_models(&dir));
    if std::env::args().any(|a| a == "--tune") {
        let train = gsm8k::subset(&all, "train", |r| gsm8k::split(r) == "train");
        tune(&train);
        return;
    }
    let demo = gsm8k::without_reference(&gsm8k::demo(&dir));
    table("demo (300 CoTs, 75 test questions)", &demo, search);
    let test = gsm8k::subset(&all, "test", |r| gsm8k::split(r) == "test");
    table("GSM8K test split, model CoTs", &test, search);
    println!("\nReferences (baselines.json, random picks, k=20, accuracy / macro-F1): demo label spreading on embeddings 0.589 / 0.532, trust 0.593 / 0.539, majority 0.621 / 0.383; GSM8K test 0.543 / 0.502, 0.502 / 0.486, majority 0.624 / 0.384.");
}
