//! Fine-tuning data in and training sets out, with real files.
//!
//! - Parquet and JSONL written by pyarrow and Hugging Face `datasets`
//!   (tests/py/make_fixtures.py, run by scripts/test into target/pyfixtures): every codec,
//!   nested chat columns, many row groups, the mapping step, and malformed files.
//! - Every training-set format in both file types, written to target/trainsets with a
//!   manifest, which tests/py/check_trainsets.py then loads with `datasets` and TRL.

use std::path::{Path, PathBuf};

use cotlabel::core::export::trainset::{self, FileType, Format, Options};
use cotlabel::core::io::import::{parse_file, plan_import, plan_import_mapped, InputFile, Parsed};
use cotlabel::core::labels::steps::spread_dataset;
use cotlabel::core::labels::StepMark;
use cotlabel::core::labels::{Label, LabelStore, Provenance, Verdict};
use cotlabel::core::{Dataset, ImportError};
use serde_json::{json, Value};

fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var("COTLABEL_PYFIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/pyfixtures"));
    if dir.join("manifest.json").exists() {
        Some(dir)
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{}/manifest.json is missing under CI=true: run tests/py/make_fixtures.py (scripts/test does)",
            dir.display()
        );
    } else {
        eprintln!("SKIP: no pyarrow / datasets fixtures (scripts/test writes them)");
        None
    }
}

fn file(dir: &Path, name: &str) -> InputFile {
    InputFile::new(name, std::fs::read(dir.join(name)).expect(name))
}

#[test]
fn files_written_by_pyarrow_and_datasets_load() {
    let Some(dir) = fixtures() else { return };
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let mut checked = 0;
    for (name, m) in manifest.as_object().unwrap() {
        if m.get("error").is_some() || m.get("needs_mapping").is_some() {
            continue;
        }
        let parsed = parse_file(&file(&dir, name)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let Parsed::Records {
            records,
            embeddings,
            ..
        } = parsed
        else {
            panic!("{name}: not records")
        };
        assert_eq!(records.len() as u64, m["rows"].as_u64().unwrap(), "{name}");
        assert_eq!(
            records[0].question,
            m["question"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(records[0].cot, m["cot"].as_str().unwrap(), "{name}");
        if let Some(a) = m.get("answer") {
            assert_eq!(records[0].answer.as_deref(), a.as_str(), "{name}");
        }
        if let Some(d) = m.get("embedding_dim") {
            assert_eq!(
                embeddings.expect("embeddings").dim() as u64,
                d.as_u64().unwrap()
            );
        }
        if m.get("shape").and_then(Value::as_str) == Some("messages") {
            // the turns stay in the record, for export
            assert_eq!(records[0].meta["messages"][0]["role"], "system", "{name}");
            assert_eq!(records[0].question_id.as_deref(), Some("q0"), "{name}");
        }
        checked += 1;
    }
    assert!(checked >= 13, "only {checked} fixtures checked");
}

#[test]
fn unnamed_columns_go_through_the_mapping() {
    let Some(dir) = fixtures() else { return };
    let f = file(&dir, "mapped.parquet");
    let err = plan_import(std::slice::from_ref(&f), None).unwrap_err();
    let ImportError::Unmapped { survey, .. } = &err[0] else {
        panic!("{err:?}")
    };
    let proposed = &survey.proposed;
    assert_eq!(proposed.fields["question"], "problem");
    assert_eq!(proposed.fields["cot"], "generated_solution");
    assert_eq!(proposed.fields["question_id"], "problem_id");
    assert_eq!(proposed.fields["reference_answer"], "expected_answer");
    assert_eq!(proposed.fields["is_correct"], "correct");
    let ds = plan_import_mapped(std::slice::from_ref(&f), None, Some(proposed))
        .unwrap()
        .dataset
        .unwrap();
    assert_eq!(ds.len(), 48);
    let r = &ds.records()[0];
    assert_eq!(r.reference_answer().as_deref(), Some("19"));
    assert_eq!(
        (r.is_correct, r.question_id.as_deref()),
        (Some(true), Some("q0"))
    );
    // the same mapping as a file dropped with the records
    let mapping = InputFile::new("map.json", proposed.to_json().into_bytes());
    let again = plan_import(&[f, mapping], None).unwrap().dataset.unwrap();
    assert_eq!(again.records(), ds.records());
}

#[test]
fn malformed_files_name_the_file_and_the_row() {
    let Some(dir) = fixtures() else { return };
    for (name, says) in [
        (
            "bad-truncated.parquet",
            "bad-truncated.parquet (the file): malformed Parquet",
        ),
        (
            "bad-wrong-type.parquet",
            "bad-wrong-type.parquet row 3: field `is_correct` must be true or false, not `perhaps`",
        ),
        (
            "bad-no-assistant.parquet",
            "bad-no-assistant.parquet row 2: field `messages` has no assistant turn",
        ),
        ("bad-empty.parquet", "bad-empty.parquet: the file is empty"),
    ] {
        let e = plan_import(&[file(&dir, name)], None).unwrap_err();
        assert!(e[0].to_string().starts_with(says), "{name}: {}", e[0]);
    }
}

/// 12 questions × 4 chat records; the last of each question has a wrong step.
fn chat_data() -> Dataset {
    let mut lines = String::new();
    for q in 0..12 {
        let (a, b) = (3 + q, 7 + 2 * q);
        for k in 0..4 {
            let total = a * b + i32::from(k == 3);
            let row = json!({
                "id": format!("q{q}-{k}"),
                "question_id": format!("q{q}"),
                "messages": [
                    {"role": "system", "content": "Think step by step."},
                    {"role": "user", "content": format!("What is {a} * {b}?")},
                    {"role": "assistant", "content": format!("<think>{a} * {b} = {total}</think>\nThe answer is {total}.")}
                ]
            });
            lines.push_str(&row.to_string());
            lines.push('\n');
        }
    }
    plan_import(&[InputFile::new("chat.jsonl", lines.into_bytes())], None)
        .unwrap()
        .dataset
        .unwrap()
}

#[test]
fn every_training_format_in_both_file_types() {
    let ds = chat_data();
    let mut store = LabelStore::new();
    for (i, r) in ds.records().iter().enumerate() {
        let sound = !r.id.ends_with("-3");
        let q: usize = r.question_id.as_deref().unwrap()[1..].parse().unwrap();
        if q < 3 {
            let v = if sound { Verdict::Good } else { Verdict::Bad };
            store.set_human(&r.id, v, 0);
        } else if q < 9 {
            let p = if sound { 0.95 } else { 0.03 };
            store.set_machine(
                &r.id,
                Label::machine(p, Provenance::Propagated, 0.5, 0, vec![]).unwrap(),
            );
        } else if i % 2 == 0 {
            store.set_machine(
                &r.id,
                Label::machine(0.7, Provenance::Classifier, 0.5, 0, vec![]).unwrap(),
            );
        }
    }
    store.add_human_pair("q0", "q0-1", "q0-0", 0);
    // step marks on q0..q2: the wrong CoT's one step, and one sound CoT all fine; spread to
    // the other two (the same verified value in their one step: fine through it)
    for q in 0..3 {
        store.set_human_step(&format!("q{q}-3"), StepMark::WrongAt(0), 0);
        store.set_human_step(&format!("q{q}-0"), StepMark::AllFine, 0);
    }
    store.set_spread(spread_dataset(&ds, &store));
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/trainsets");
    std::fs::create_dir_all(&out).unwrap();
    let mut manifest = serde_json::Map::new();
    for format in Format::ALL {
        let o = Options {
            format,
            human_only: false,
            min_confidence: 0.8,
            max_pairs_per_question: 2,
            keep_flagged: false,
        };
        let plan = trainset::plan(&ds, &store, &o);
        let expected = match format {
            // 9 questions × 3 sound (human + propagated at 0.95; the classifier's 0.7 is out)
            Format::SftMessages | Format::SftPromptCompletion => 27,
            Format::Kto => 36,
            // q0: the pick + 1 from labels; q1..q8: 2 from labels each
            Format::Dpo | Format::DpoConversational => 18,
            // q0..q2: 2 marks + 2 spread (fine through their only step) each
            Format::Stepwise | Format::ProcessBench => 12,
        };
        assert_eq!(
            plan.len(),
            expected,
            "{}: {}",
            format.as_str(),
            plan.summary()
        );
        for ft in [FileType::Jsonl, FileType::Parquet] {
            let bytes = plan.write(&ds, ft).unwrap();
            let name = trainset::file_name("chat.jsonl", format, ft, "2026-12-02");
            std::fs::write(out.join(&name), &bytes).unwrap();
            manifest.insert(
                name,
                json!({"format": format.as_str(), "rows": expected, "wrong": if format.is_steps() { 3 } else { 0 },
                       "conversational": matches!(format, Format::SftMessages | Format::DpoConversational)}),
            );
        }
    }
    std::fs::write(
        out.join("manifest.json"),
        serde_json::to_string_pretty(&Value::Object(manifest)).unwrap(),
    )
    .unwrap();
    // the first DPO row is the person's pick, and carries both ids
    let plan = trainset::plan(
        &ds,
        &store,
        &Options {
            format: Format::Dpo,
            max_pairs_per_question: 2,
            ..Options::default()
        },
    );
    let t = plan.table(&ds, 0..1);
    let row = t.row_json(0);
    assert_eq!(
        (
            row["chosen_id"].as_str(),
            row["rejected_id"].as_str(),
            row["pair_source"].as_str()
        ),
        (Some("q0-1"), Some("q0-0"), Some("pick"))
    );
    assert_eq!(row["prompt"], "What is 3 * 7?");
    assert_eq!(
        row["chosen"],
        "<think>3 * 7 = 21</think>\nThe answer is 21."
    );
}
