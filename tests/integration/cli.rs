//! The `cotlabel` command line, run as a user runs it (the built binary) on the demo that
//! ships with the page (`static/demo`): label, evaluate, export, bad input, partitions; and
//! the one property partitions rest on: a part of whole questions, given the whole's
//! base-rate shifts, has the priors it has in the whole.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cotlabel::core::export::labelfile::LabelFile;
use cotlabel::core::io::import::{plan_import, InputFile};
use cotlabel::core::signals::signature::{base_rate_shifts, finish, group_signatures, signatures};
use cotlabel::core::{Dataset, Embeddings, Provenance, Verdict};

const RECORDS: &str = "static/demo/demo_cots.json";
const EMBEDDINGS: &str = "static/demo/demo_emb.npy";

fn cotlabel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cotlabel"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the cotlabel binary runs")
}

fn out_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn demo() -> Dataset {
    let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORDS)).unwrap();
    let emb = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(EMBEDDINGS)).unwrap();
    plan_import(
        &[
            InputFile::new("demo_cots.json", bytes),
            InputFile::new("demo_emb.npy", emb),
        ],
        None,
    )
    .unwrap()
    .dataset
    .unwrap()
}

/// A label file with the true verdict of every 37th demo record (9 human labels).
fn human_labels(dir: &Path) -> (PathBuf, Vec<String>) {
    let ds = demo();
    let picked: Vec<_> = ds.records().iter().step_by(37).collect();
    let labels: Vec<String> = picked
        .iter()
        .map(|r| {
            format!(
                r#"{{"id":"{}","label":"{}","provenance":"human"}}"#,
                r.id,
                if r.is_correct.unwrap() { "good" } else { "bad" }
            )
        })
        .collect();
    let path = dir.join("humans.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"format":"cotlabel.labels","version":1,"labels":[{}]}}"#,
            labels.join(",")
        ),
    )
    .unwrap();
    (path, picked.iter().map(|r| r.id.clone()).collect())
}

/// `cotlabel label` on the demo with `humans` and `extra` arguments, written to `out`.
fn label_demo(humans: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "label",
        RECORDS,
        EMBEDDINGS,
        "--labels",
        humans.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "-q",
    ];
    args.extend_from_slice(extra);
    cotlabel(&args)
}

/// The share of `labels` that agree with the demo's `is_correct`.
fn accuracy(labels: &[&(String, cotlabel::core::Label)]) -> f64 {
    let truth: std::collections::HashMap<String, bool> = demo()
        .records()
        .iter()
        .map(|r| (r.id.clone(), r.is_correct.unwrap()))
        .collect();
    let right = labels
        .iter()
        .filter(|(id, l)| (l.verdict == Verdict::Good) == truth[id.as_str()])
        .count();
    right as f64 / labels.len() as f64
}

fn read_label_file(path: &Path) -> LabelFile {
    LabelFile::parse("out", &std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn label_keeps_the_human_labels_and_spreads_them_with_confidence_and_sources() {
    let dir = out_dir("cli-label");
    let (humans, ids) = human_labels(&dir);
    let out = dir.join("labels.json");
    let o = label_demo(&humans, &out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = read_label_file(&out);
    let info = file.dataset.as_ref().unwrap();
    assert_eq!(info.records, 300);
    assert_eq!(info.name, "demo_cots.json");
    assert_eq!(info.fingerprint, demo().fingerprint());
    let human: Vec<&str> = file
        .labels
        .iter()
        .filter(|(_, l)| l.provenance == Provenance::Human)
        .map(|(id, _)| id.as_str())
        .collect();
    let mut sorted = human.clone();
    sorted.sort_unstable();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(sorted, want);
    let machine: Vec<_> = file
        .labels
        .iter()
        .filter(|(_, l)| l.provenance == Provenance::Propagated)
        .collect();
    assert!(machine.len() > 200, "{} propagated labels", machine.len());
    for (_, l) in &machine {
        assert!((0.6..=1.0).contains(&l.confidence), "{l:?}");
        assert!(l.from.iter().all(|f| ids.contains(f)), "{l:?}");
    }
    assert!(machine.iter().any(|(_, l)| !l.from.is_empty()));
    // better than the majority class on the demo (62 % flawed)
    let acc = accuracy(&machine);
    assert!(acc > 0.75, "accuracy {acc}");

    // evaluate scores the same file: the same accuracy
    let o = cotlabel(&[
        "evaluate",
        RECORDS,
        "--labels",
        out.to_str().unwrap(),
        "--json",
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!((v["accuracy"].as_f64().unwrap() - acc).abs() < 1e-9, "{v}");
    assert_eq!(v["scored"].as_u64().unwrap() as usize, machine.len());
    assert_eq!(v["humans"], 9);
    assert!((v["majority"].as_f64().unwrap() - 0.62).abs() < 0.02, "{v}");

    // a second run gives the same labels (times apart)
    let again = dir.join("again.json");
    let o = label_demo(&humans, &again, &[]);
    assert!(o.status.success());
    let strip = |f: LabelFile| -> Vec<_> {
        f.labels
            .into_iter()
            .map(|(id, l)| (id, l.verdict, l.provenance, l.confidence.to_bits(), l.from))
            .collect()
    };
    assert_eq!(strip(read_label_file(&out)), strip(read_label_file(&again)));
}

#[test]
fn export_writes_training_sets_and_refuses_unknown_formats() {
    let dir = out_dir("cli-export");
    let (humans, _) = human_labels(&dir);
    let labels = dir.join("labels.json");
    assert!(label_demo(&humans, &labels, &[]).status.success());
    let sft = dir.join("sft.jsonl");
    let o = cotlabel(&[
        "export",
        RECORDS,
        "--labels",
        labels.to_str().unwrap(),
        "-f",
        "sft-messages",
        "--min-confidence",
        "0.6",
        "-o",
        sft.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&sft).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.len() > 20, "{} rows", rows.len());
    for r in &rows {
        let m = r["messages"].as_array().unwrap();
        assert_eq!(m.last().unwrap()["role"], "assistant");
    }
    let dpo = dir.join("dpo.parquet");
    let o = cotlabel(&[
        "export",
        RECORDS,
        "--labels",
        labels.to_str().unwrap(),
        "-f",
        "dpo",
        "-o",
        dpo.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&dpo).unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));

    let o = cotlabel(&[
        "export",
        RECORDS,
        "--labels",
        labels.to_str().unwrap(),
        "-f",
        "sft",
        "-o",
        sft.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unknown format \"sft\"") && err.contains("sft-messages"),
        "{err}"
    );
}

#[test]
fn bad_input_names_the_file_and_line_and_exits_1() {
    let dir = out_dir("cli-bad");
    let out = dir.join("x.json");
    let o = cotlabel(&[
        "label",
        "fuzz/corpus/jsonl/broken_line3.jsonl",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("broken_line3.jsonl line 3"), "{err}");
    assert!(!out.exists(), "nothing is written on bad input");

    let o = cotlabel(&[
        "label",
        RECORDS,
        "fuzz/corpus/npy/emb3x2_f32.npy",
        "-o",
        "x.json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("emb3x2_f32.npy"), "{err}");

    let o = cotlabel(&["label", "no/such/file.jsonl", "-o", "x.json"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no/such/file.jsonl: cannot read"));

    // wrong arguments: clap's usage error, status 2
    let o = cotlabel(&["label", RECORDS]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--out"));
    let o = cotlabel(&["label", "--help"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("--partitions"));
}

#[test]
fn partitions_keep_every_human_label_and_label_whole_questions() {
    let dir = out_dir("cli-partitions");
    let (humans, ids) = human_labels(&dir);
    let out = dir.join("parts.json");
    let o = label_demo(&humans, &out, &["--partitions", "3"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = read_label_file(&out);
    let human = file
        .labels
        .iter()
        .filter(|(_, l)| l.provenance == Provenance::Human)
        .count();
    assert_eq!(human, ids.len());
    // a label comes only from human labels of its own partition: of its question's
    // neighbours; every source is a human label
    for (_, l) in &file.labels {
        assert!(l.from.iter().all(|f| ids.contains(f)), "{l:?}");
    }
    assert!(file.labels.len() > 100, "{} labels", file.labels.len());
    // partitions labelled one at a time give the same labels as two at once
    let one = dir.join("one-thread.json");
    let o = label_demo(&humans, &one, &["--partitions", "3", "--threads", "1"]);
    assert!(o.status.success());
    let two = dir.join("two-threads.json");
    let o = label_demo(&humans, &two, &["--partitions", "3", "--threads", "2"]);
    assert!(o.status.success());
    let strip = |f: LabelFile| -> Vec<_> {
        f.labels
            .into_iter()
            .map(|(id, l)| (id, l.verdict, l.confidence.to_bits(), l.from))
            .collect()
    };
    assert_eq!(strip(read_label_file(&one)), strip(read_label_file(&two)));
}

/// What partitions rest on: the signatures of a part of whole questions, finished with
/// the whole's base-rate shifts, equal the whole's.
#[test]
fn a_part_of_whole_questions_has_the_priors_of_the_whole() {
    let ds = demo();
    let whole = signatures(&ds);
    let shifts = base_rate_shifts(&group_signatures(&ds));
    // the questions with an even index of first appearance
    let mut order: Vec<&str> = Vec::new();
    for r in ds.records() {
        if !order.contains(&r.group_key()) {
            order.push(r.group_key());
        }
    }
    let keep: Vec<usize> = (0..ds.len())
        .filter(|&i| {
            order
                .iter()
                .position(|q| *q == ds.records()[i].group_key())
                .unwrap()
                % 2
                == 0
        })
        .collect();
    let records = keep.iter().map(|&i| ds.records()[i].clone()).collect();
    let e = ds.embeddings().unwrap();
    let values = keep
        .iter()
        .flat_map(|&i| e.as_slice()[i * e.dim()..(i + 1) * e.dim()].iter().copied())
        .collect();
    let part = Dataset::new(
        "part",
        records,
        Embeddings::new(keep.len(), e.dim(), values),
    );
    let mut sigs = group_signatures(&part);
    finish(&mut sigs, shifts);
    for (k, &i) in keep.iter().enumerate() {
        assert_eq!(
            sigs[k].prior.to_bits(),
            whole[i].prior.to_bits(),
            "record {i}"
        );
        assert_eq!(sigs[k].vector, whole[i].vector, "record {i}");
    }
}

/// `--classify`: the binary-choice model's verdicts join the propagated labels (the page's
/// *Classify* after *Propagate*); human labels stay.
#[cfg(feature = "model")]
#[test]
fn classify_adds_the_classifiers_verdicts_and_keeps_the_human_labels() {
    let dir = out_dir("cli-classify");
    let (humans, ids) = human_labels(&dir);
    let out = dir.join("classified.json");
    let o = label_demo(&humans, &out, &["--classify"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let file = read_label_file(&out);
    let of = |p: Provenance| file.labels.iter().filter(move |(_, l)| l.provenance == p);
    assert_eq!(of(Provenance::Human).count(), ids.len());
    let classified: Vec<_> = of(Provenance::Classifier).collect();
    assert!(
        classified.len() > 100,
        "{} classifier labels",
        classified.len()
    );
    let acc = accuracy(&classified);
    assert!(acc > 0.75, "accuracy {acc} of {}", classified.len());
    for (id, l) in &classified {
        assert!(l.confidence >= 0.6 && l.from.is_empty(), "{id}: {l:?}");
        assert!(!ids.contains(id));
    }
}

#[test]
fn clean_finds_planted_duplicates_broken_traces_and_evaluation_questions() {
    let dir = out_dir("clean");
    let ds = demo();
    let recs = ds.records();
    // four demo CoTs, a copy of the first under another id, a trace cut mid-sentence
    let mut lines: Vec<serde_json::Value> = recs[..4]
        .iter()
        .map(|r| {
            serde_json::json!({"id": r.id, "question_id": r.question_id, "question": r.question,
                "cot": r.cot, "answer": r.answer})
        })
        .collect();
    let mut copy = lines[0].clone();
    copy["id"] = "copy-of-first".into();
    copy["cot"] = format!("  {}", recs[0].cot.to_uppercase()).into();
    lines.push(copy);
    lines.push(serde_json::json!({"id": "cut", "question_id": "other", "question": "How far is it to the next town?",
        "cot": "The town is 12 miles away and we walk 3 miles per hour, so the time is 12 /"}));
    let train = dir.join("train.jsonl");
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&train, text.join("\n")).unwrap();
    let out = cotlabel(&[
        "clean",
        train.to_str().unwrap(),
        "--eval",
        RECORDS,
        "--json",
        "-q",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // the copy joins the first CoT; the file's first is kept (no labels)
    let dups = v["duplicates"].as_array().unwrap();
    assert!(dups
        .iter()
        .any(|c| c[0] == recs[0].id.as_str() && c[1] == "copy-of-first"));
    let broken: Vec<(&str, &str)> = v["broken"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["id"].as_str().unwrap(), b["reason"].as_str().unwrap()))
        .collect();
    assert!(broken.contains(&("cut", "mid_sentence")), "{broken:?}");
    // every demo question is in the evaluation set; the other question is not
    let contaminated = v["contaminated"].as_array().unwrap();
    assert_eq!(contaminated.len(), 5);
    assert!(contaminated
        .iter()
        .all(|c| c["how"] == "exact" && c["eval_id"].is_string()));
    assert!(contaminated.iter().all(|c| c["id"] != "cut"));

    // a training set leaves them out and says so; --keep-flagged keeps them with why
    let labels = dir.join("all-good.json");
    let entries: Vec<String> = lines
        .iter()
        .map(|l| {
            format!(
                r#"{{"id":{},"label":"good","provenance":"human"}}"#,
                l["id"]
            )
        })
        .collect();
    std::fs::write(
        &labels,
        format!(
            r#"{{"format":"cotlabel.labels","version":1,"labels":[{}]}}"#,
            entries.join(",")
        ),
    )
    .unwrap();
    let sft = dir.join("sft.jsonl");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "export",
            train.to_str().unwrap(),
            "--labels",
            labels.to_str().unwrap(),
            "--format",
            "sft-prompt-completion",
            "-o",
            sft.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = cotlabel(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows: Vec<serde_json::Value> = std::fs::read_to_string(&sft)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (rows, String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (rows, said) = run(&[]);
    // the copy and the cut trace are out; without --eval the demo questions stay
    assert_eq!(rows.len(), 4, "{said}");
    assert!(
        said.contains("Left out: 2 labelled CoTs flagged by cleaning (1 duplicates, 1 broken)"),
        "{said}"
    );
    let (rows, _) = run(&["--eval", RECORDS]);
    assert!(rows.is_empty());
    let (rows, _) = run(&["--keep-flagged"]);
    assert_eq!(rows.len(), 6);
    let cut = rows.iter().find(|r| r["id"] == "cut").unwrap();
    assert_eq!(cut["flags"], "broken: mid_sentence");
    let (rows, _) = run(&["--no-clean"]);
    assert_eq!(rows.len(), 6);
    assert!(rows[0].get("flags").is_none());
}
