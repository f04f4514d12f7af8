#![allow(dead_code)] // each test, bench and binary that includes this uses a part of it
//! Loading the real evaluation data of `../shared/data` (shared by the tests, the benches and
//! `src/bin/fit_prior.rs`). `data_dir` returns `None`, after saying so, when the data is
//! absent.

use std::path::{Path, PathBuf};

use cotlabel::core::io::import::{plan_import, InputFile};
use cotlabel::core::{Dataset, Embeddings, Record};

/// `../shared/data` beside the crate, when it holds the GSM8K files. Under `CI=true` a
/// missing folder fails loudly (CI must measure); elsewhere the caller skips.
pub fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.join("gsm8k_cots.jsonl").exists() {
        Some(dir)
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("../shared/data is missing under CI=true: the real-data evaluation cannot run");
    } else {
        eprintln!("SKIP: ../shared/data is absent; the real-data evaluation did not run");
        None
    }
}

fn load(dir: &Path, records: &str, embeddings: &str) -> Dataset {
    let files =
        [records, embeddings].map(|n| InputFile::new(n, std::fs::read(dir.join(n)).expect(n)));
    plan_import(&files, None)
        .expect("the shared data imports")
        .dataset
        .expect("records")
}

/// The records of `ds` for which `keep` holds, with their embedding rows.
pub fn subset(ds: &Dataset, name: &str, keep: impl Fn(&Record) -> bool) -> Dataset {
    let idx: Vec<usize> = (0..ds.len()).filter(|&i| keep(&ds.records()[i])).collect();
    let records = idx.iter().map(|&i| ds.records()[i].clone()).collect();
    let emb = ds.embeddings().map(|e| {
        let data = idx.iter().flat_map(|&i| e.row(i).to_vec()).collect();
        Embeddings::new(idx.len(), e.dim(), data).expect("rows × dim")
    });
    Dataset::new(name, records, emb)
}

/// The 5,276 GSM8K *model* CoTs (human reference solutions left out, as in the reference
/// measurement: a human solution is always right and would be every question's anchor).
pub fn gsm8k_models(dir: &Path) -> Dataset {
    let all = load(dir, "gsm8k_cots.jsonl", "gsm8k_cot_emb.npy");
    subset(&all, "gsm8k model CoTs", |r| {
        r.meta["source"] != "human_reference"
    })
}

/// The 300-CoT demo (75 test-split questions × 4 models), from ../shared/data/demo.
pub fn demo(dir: &Path) -> Dataset {
    load(&dir.join("demo"), "demo_cots.json", "demo_emb.npy")
}

/// The cross-domain CoTs (one per question, six domains).
pub fn crossdomain(dir: &Path) -> Dataset {
    load(dir, "crossdomain_cots.jsonl", "crossdomain_cot_emb.npy")
}

/// The 14 MMLU-Pro categories of `domains/mmlupro.jsonl`.
pub const MMLU_PRO: [&str; 14] = [
    "biology",
    "business",
    "chemistry",
    "computer science",
    "economics",
    "engineering",
    "health",
    "history",
    "law",
    "math",
    "other",
    "philosophy",
    "physics",
    "psychology",
];

/// The six ThoughtSource sets of `domains/thoughtsource.jsonl`.
pub const THOUGHTSOURCE: [&str; 6] = [
    "commonsenseqa",
    "medmcqa",
    "medqa",
    "openbookqa",
    "strategyqa",
    "worldtree",
];

/// A domain file of `../shared/data/domains` (`mmlupro.jsonl`, `thoughtsource.jsonl`):
/// several LLMs' CoTs per question, no embeddings, the gold answer kept as
/// `hidden_gold_answer` (which the app does not read). Under `CI=true` a missing file fails
/// loudly; elsewhere `None`.
pub fn domain_file(dir: &Path, name: &str) -> Option<Dataset> {
    let path = dir.join("domains").join(name);
    if !path.exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{} is missing under CI=true", path.display());
        }
        eprintln!("SKIP: {} is absent", path.display());
        return None;
    }
    let files = [InputFile::new(name, std::fs::read(&path).expect(name))];
    Some(
        plan_import(&files, None)
            .expect("the domain data imports")
            .dataset
            .expect("records"),
    )
}

/// `train` / `test` of a record.
pub fn split(r: &Record) -> &str {
    r.meta.get("split").and_then(|s| s.as_str()).unwrap_or("")
}

/// `ds` without its reference answers (every alias of `reference_answer` left out), so the
/// label-free figures stay measurable on data that carries them.
pub fn without_reference(ds: &Dataset) -> Dataset {
    let records = ds
        .records()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            for k in cotlabel::core::data::REFERENCE_ALIASES {
                r.meta.shift_remove(k);
            }
            r
        })
        .collect();
    Dataset::new(ds.name(), records, ds.embeddings().cloned())
}

/// A small seeded shuffle (SplitMix64), the same on every machine.
pub fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut v = items.to_vec();
    let mut x = seed;
    let mut next = || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..v.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

/// The CoTs of `ds` regrouped into questions of `size` CoTs: each question's CoTs are
/// shuffled (seeded) and cut into groups of `size`; with `all`, every full group is kept
/// (each a question of its own: `question_id` gets `#k`), else only the first one, which
/// is a seeded subsample of `size` CoTs per question. Questions with fewer CoTs are left
/// out.
pub fn reshape(ds: &Dataset, size: usize, seed: u64, all: bool) -> Dataset {
    let mut by_q: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, r) in ds.records().iter().enumerate() {
        by_q.entry(r.group_key()).or_default().push(i);
    }
    let mut keep: Vec<(usize, String)> = Vec::new();
    for (q, members) in &by_q {
        let h = q
            .bytes()
            .fold(seed, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
        let order = shuffled(members, h);
        for (k, chunk) in order.chunks(size).enumerate() {
            if chunk.len() < size || (!all && k > 0) {
                break;
            }
            keep.extend(chunk.iter().map(|&i| (i, format!("{q}#{k}"))));
        }
    }
    keep.sort_unstable();
    let records = keep
        .iter()
        .map(|(i, q)| {
            let mut r = ds.records()[*i].clone();
            r.question_id = Some(q.clone());
            r
        })
        .collect();
    let emb = ds.embeddings().map(|e| {
        let data = keep.iter().flat_map(|(i, _)| e.row(*i).to_vec()).collect();
        Embeddings::new(keep.len(), e.dim(), data).expect("rows × dim")
    });
    Dataset::new(format!("{} ({size} per question)", ds.name()), records, emb)
}

/// The cross-domain CoTs of one domain.
pub fn domain(all: &Dataset, name: &str) -> Dataset {
    subset(all, name, |r| {
        r.meta.get("domain").and_then(|d| d.as_str()) == Some(name)
    })
}

/// The six cross-domain domains.
pub const DOMAINS: [&str; 6] = [
    "strategyqa",
    "commonsensqa",
    "date_understanding",
    "coin_flip",
    "last_letters",
    "shuffled_objects",
];

/// One measured shape: its name, size, share sound, and the scores of the machine labels
/// per (strategy, human labels).
pub struct ShapeResult {
    pub name: String,
    pub cots: usize,
    pub sound: f64,
    pub rows: Vec<(
        cotlabel::core::graph::select::Strategy,
        usize,
        cotlabel::core::metrics::LabelScores,
    )>,
}

impl ShapeResult {
    /// Accuracy of labelling every CoT with the majority class of the whole set.
    pub fn majority(&self) -> f64 {
        self.sound.max(1.0 - self.sound)
    }
}

/// The page's default minimum confidence of a machine label.
pub const MIN_CONFIDENCE: f64 = 0.6;

/// Plays the human on each of `sets` (random picks with each of `seeds`, and "label
/// next") and scores the machine labels at the page's minimum confidence after each of
/// `budgets` labels, every run of a (strategy, budget) pooled before scoring.
pub fn evaluate_shape(
    name: &str,
    sets: &[Dataset],
    budgets: &[usize],
    seeds: &[u64],
) -> ShapeResult {
    let graph = cotlabel::core::graph::GraphConfig::default();
    evaluate_shape_with(name, sets, budgets, seeds, &graph)
}

/// [`evaluate_shape`] over the graph `graph`.
pub fn evaluate_shape_with(
    name: &str,
    sets: &[Dataset],
    budgets: &[usize],
    seeds: &[u64],
    graph: &cotlabel::core::graph::GraphConfig,
) -> ShapeResult {
    use cotlabel::core::graph::propagate::Config;
    use cotlabel::core::graph::select::Strategy;
    use cotlabel::core::metrics::label_scores;
    use cotlabel::core::signals::signature::signatures;
    use cotlabel::core::simulate::{prepare, run_predictions};
    let cfg = Config::default();
    let mut rows = Vec::new();
    let (mut cots, mut sound) = (0usize, 0usize);
    let prepared: Vec<_> = sets
        .iter()
        .map(|ds| {
            let sigs = signatures(ds);
            let prep = prepare(ds, &sigs, graph).expect("graph");
            let truth: Vec<Option<bool>> = ds.records().iter().map(|r| r.is_correct).collect();
            cots += ds.len();
            sound += truth.iter().filter(|t| **t == Some(true)).count();
            (prep, truth)
        })
        .collect();
    for strategy in [Strategy::Random, Strategy::Active] {
        let seeds: &[u64] = if strategy == Strategy::Random {
            seeds
        } else {
            &seeds[..1]
        };
        let mut pooled = vec![(Vec::new(), Vec::new()); budgets.len()];
        for (prep, truth) in &prepared {
            for &seed in seeds {
                let runs =
                    run_predictions(prep, truth, strategy, budgets, &cfg, seed, MIN_CONFIDENCE)
                        .expect("run");
                for (b, (p, t)) in runs.into_iter().enumerate() {
                    pooled[b].0.extend(p);
                    pooled[b].1.extend(t);
                }
            }
        }
        for (b, (p, t)) in pooled.iter().enumerate() {
            rows.push((strategy, budgets[b], label_scores(p, t)));
        }
    }
    ShapeResult {
        name: name.to_string(),
        cots: cots / sets.len().max(1),
        sound: sound as f64 / cots.max(1) as f64,
        rows,
    }
}

/// Every shape of the issue, each as one or more data sets: GSM8K test with 4, 2 and 1 CoTs
/// per question (2 and 4 seeded subsamples, reference answers removed), 1 per question with
/// `reference_answer` (from `gold_answer`), and each cross-domain domain (1 per question),
/// without and with its reference.
pub fn shapes(dir: &Path) -> Vec<(String, Vec<Dataset>)> {
    let with_ref = gsm8k_models(dir);
    let test_ref = subset(&with_ref, "test", |r| split(r) == "test");
    let test = without_reference(&test_ref);
    let subsamples = |ds: &Dataset, size: usize, n: u64| -> Vec<Dataset> {
        (1..=n).map(|seed| reshape(ds, size, seed, false)).collect()
    };
    let mut out = vec![
        (
            "demo (label-free)".to_string(),
            vec![without_reference(&demo(dir))],
        ),
        ("GSM8K test, 4 per question".to_string(), vec![test.clone()]),
        (
            "GSM8K test, 2 per question".to_string(),
            subsamples(&test, 2, 2),
        ),
        (
            "GSM8K test, 1 per question".to_string(),
            subsamples(&test, 1, 4),
        ),
        (
            "GSM8K test, 1 per question + reference".to_string(),
            subsamples(&test_ref, 1, 4),
        ),
    ];
    // a stronger model's data: flawed lone CoTs dropped (seeded) until 72 % are sound, the
    // base rate of the issue's held-out set, which the lone member (fitted at 38 %) misjudges
    let stronger: Vec<Dataset> = subsamples(&test, 1, 4)
        .iter()
        .map(|ds| {
            let flawed: Vec<usize> = (0..ds.len())
                .filter(|&i| ds.records()[i].is_correct == Some(false))
                .collect();
            let sound = ds.len() - flawed.len();
            let keep_flawed = sound * 28 / 72;
            let dropped: std::collections::HashSet<usize> = shuffled(&flawed, 72)
                .into_iter()
                .skip(keep_flawed)
                .collect();
            let kept: std::collections::HashSet<&str> = (0..ds.len())
                .filter(|i| !dropped.contains(i))
                .map(|i| ds.records()[i].id.as_str())
                .collect();
            subset(ds, "stronger", |r| kept.contains(r.id.as_str()))
        })
        .collect();
    out.push((
        "GSM8K test, 1 per question, 72 % sound".to_string(),
        stronger,
    ));
    let cross = crossdomain(dir);
    for d in DOMAINS {
        out.push((d.to_string(), vec![without_reference(&domain(&cross, d))]));
    }
    for d in DOMAINS {
        out.push((format!("{d} + reference"), vec![domain(&cross, d)]));
    }
    out.extend(domain_shapes(dir));
    out
}

/// The test split of every MMLU-Pro category and every ThoughtSource set, each as its own
/// data set (several LLMs' CoTs per question, no embeddings, no reference).
pub fn domain_shapes(dir: &Path) -> Vec<(String, Vec<Dataset>)> {
    let mut out = Vec::new();
    for (file, names, label) in [
        ("mmlupro.jsonl", &MMLU_PRO[..], "MMLU-Pro"),
        ("thoughtsource.jsonl", &THOUGHTSOURCE[..], "ThoughtSource"),
    ] {
        let Some(all) = domain_file(dir, file) else {
            continue;
        };
        let test = subset(&all, "test", |r| split(r) == "test");
        for d in names {
            out.push((format!("{label} {d}"), vec![domain(&test, d)]));
        }
        out.push((
            format!("{label} test, answers rephrased ({} phrasings)", PHRASINGS),
            vec![rephrased(&test)],
        ));
    }
    out
}

/// Phrasings of [`rephrased`].
pub const PHRASINGS: usize = 12;

/// `ds` with each CoT's last answer statement ("The answer is (C).", "Therefore, among A
/// through E, the answer is C) text", "the answer (Yes or No) is No") rewritten into one of
/// [`PHRASINGS`] phrasings the reader was not written for, in turn by record: "Final: C",
/// "I'd go with (C).", "C is right.", the option's text alone, the answer only in the
/// `answer` field, no answer sentence at all, "**C. text**" after "The correct option is:",
/// "My choice is C.", `\boxed{C}`, "So I pick option C.", "C is correct.", "Answer: C".
/// `is_correct` stays: the reasoning and its answer are the same.
pub fn rephrased(ds: &Dataset) -> Dataset {
    use cotlabel::core::signals::signature::options;
    let re = regex::Regex::new(
        r"(?i:(?:therefore,?\s*)?(?:among a through [a-j],\s*)?the answer(?:\s*\(yes or no\))?\s+is:?)\s*\(?([A-J]|(?i:yes|no|true|false))\b\)?[^\n]*",
    )
    .expect("pattern");
    let records = ds
        .records()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.clone();
            let Some(m) = re.find_iter(&r.cot).last() else {
                return r;
            };
            let Some(opts) = options::parse(&r.question) else {
                return r;
            };
            let said = re.captures(&r.cot[m.start()..]).expect("matched")[1].to_ascii_lowercase();
            let letter = match said.as_str() {
                "yes" | "true" => opts.by_yes_no(true),
                "no" | "false" => opts.by_yes_no(false),
                l => l.chars().next().filter(|c| opts.has(*c)),
            };
            let Some(letter) = letter else { return r };
            let text = opts
                .items
                .iter()
                .find(|(c, _)| *c == letter)
                .map_or("", |(_, t)| t.as_str());
            let l = letter.to_ascii_uppercase();
            let new = match i % PHRASINGS {
                0 => format!("Final: {l}"),
                1 => format!("I'd go with ({l})."),
                2 => format!("{l} is right."),
                3 => text.to_string(),
                4 => {
                    r.answer = Some(l.to_string());
                    String::new()
                }
                5 => String::new(),
                6 => format!("The correct option is:\n\n**{l}. {text}**"),
                7 => format!("My choice is {l}."),
                8 => format!("$\\boxed{{{l}}}$"),
                9 => format!("So I pick option {l}."),
                10 => format!("{l} is correct."),
                _ => format!("Answer: {l}"),
            };
            r.cot = format!("{}{}{}", &r.cot[..m.start()], new, &r.cot[m.end()..]);
            r
        })
        .collect();
    Dataset::new(
        format!("{} (rephrased)", ds.name()),
        records,
        ds.embeddings().cloned(),
    )
}
