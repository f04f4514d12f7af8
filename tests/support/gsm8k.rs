#![allow(dead_code)] // each test, bench and binary that includes this uses a part of it
//! Loading the real evaluation data of `../shared/data` (shared by the tests, the benches and
//! `src/bin/fit_prior.rs`). `data_dir` returns `None`, after saying so, when the data is
//! absent.

use std::path::{Path, PathBuf};

use cotlabel::core::import::{plan_import, InputFile};
use cotlabel::core::{Dataset, Embeddings, Record};

/// `../shared/data` beside the crate, when it holds the GSM8K files.
pub fn data_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if dir.join("gsm8k_cots.jsonl").exists() {
        Some(dir)
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

/// `train` / `test` of a record.
pub fn split(r: &Record) -> &str {
    r.meta.get("split").and_then(|s| s.as_str()).unwrap_or("")
}
