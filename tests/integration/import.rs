//! Import and validation over hand-written fixtures (tests/fixtures), the shipped demo, and
//! the real GSM8K files in ../shared/data when they are there.

use std::path::Path;

use crate::support::gsm8k;

use cotlabel::core::export::labelfile::LabelFile;
use cotlabel::core::io::import::{
    check_size, parse_npy, plan_import, write_npy, InputFile, MAX_FILE_BYTES,
};
use cotlabel::core::labels::{LabelStore, Verdict};
use cotlabel::core::{Dataset, ImportError, Session};

fn fixture(name: &str) -> InputFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    InputFile::new(
        name,
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
}

fn text(name: &str, body: &str) -> InputFile {
    InputFile::new(name, body.as_bytes().to_vec())
}

fn load(files: &[InputFile]) -> Dataset {
    match plan_import(files, None) {
        Ok(plan) => plan.dataset.expect("records"),
        Err(e) => panic!("{e:?}"),
    }
}

/// The errors of a failing import, as (kind, message).
fn errors(files: &[InputFile], current: Option<&Dataset>) -> Vec<(String, String)> {
    match plan_import(files, current) {
        Ok(_) => panic!(
            "import of {:?} should fail",
            files.iter().map(|f| &f.name).collect::<Vec<_>>()
        ),
        Err(e) => e
            .iter()
            .map(|e| (e.kind().to_string(), e.to_string()))
            .collect(),
    }
}

fn one_error(files: &[InputFile], current: Option<&Dataset>) -> (String, String) {
    let e = errors(files, current);
    assert_eq!(e.len(), 1, "{e:?}");
    e.into_iter().next().unwrap()
}

#[test]
fn three_formats_read_the_same_records() {
    let jsonl = load(&[fixture("records3.jsonl")]);
    let json = load(&[fixture("records3.json")]);
    let csv = load(&[fixture("records3.csv")]);
    for ds in [&jsonl, &json, &csv] {
        assert_eq!(ds.len(), 3);
        let r = &ds.records()[0];
        assert_eq!(r.id, "q1-a");
        assert_eq!(r.question_id.as_deref(), Some("q1"));
        assert_eq!(r.cot, "3 + 2 = 5");
        assert_eq!(r.answer.as_deref(), Some("5"));
        assert_eq!(r.is_correct, Some(true));
        assert_eq!(r.meta["source"], "model-a");
        assert_eq!(ds.records()[1].is_correct, Some(false));
        assert_eq!(ds.records()[2].answer.as_deref(), Some("2.5"));
        assert_eq!(ds.records()[2].question_id, None);
        assert_eq!(ds.records()[2].group_key(), "What is 10 / 4?");
    }
    assert_eq!(jsonl.records()[..2], json.records()[..2]);
    assert_eq!(jsonl.fingerprint(), json.fingerprint());
    // JSON keeps nested meta untouched; CSV keeps a quoted multi-line cell.
    assert_eq!(
        json.records()[2].meta["extra"],
        serde_json::json!({"nested": [1, 2]})
    );
    assert_eq!(csv.records()[2].cot, "First, divide.\nThen: 10 / 4 = 2.5");
    assert_eq!(csv.records()[2].is_correct, None);
    assert_eq!(
        csv.records()[0].meta.get("reasoning"),
        None,
        "the alias is the cot, not meta"
    );
}

#[test]
fn aliases_and_generated_ids() {
    let ds = load(&[text(
        "a.jsonl",
        r#"{"question": "q", "solution": "s1"}
{"question": "q", "chain_of_thought": "s2", "reasoning": "r2"}
{"question": "q", "cot": "s3", "id": 17}"#,
    )]);
    let ids: Vec<&str> = ds.records().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["row-1", "row-2", "17"]);
    assert_eq!(ds.records()[0].cot, "s1");
    // `reasoning` comes before `chain_of_thought` in the alias order; the other is kept as meta.
    assert_eq!(ds.records()[1].cot, "r2");
    assert_eq!(ds.records()[1].meta["chain_of_thought"], "s2");
}

#[test]
fn reference_answers_and_their_aliases() {
    let body = r#"{"question": "q1", "cot": "2 + 2 = 4", "reference_answer": "4"}
{"question": "q2", "cot": "2 + 3 = 5", "gold_answer": 5}
{"question": "q3", "cot": "2 + 3 = 6", "ground_truth": "  "}
{"question": "q4", "cot": "2 + 3 = 5", "expected_answer": true}
{"question": "q5", "cot": "2 + 3 = 5", "answer": "5"}
"#;
    let plan = plan_import(&[text("refs.jsonl", body)], None).expect("imports");
    let ds = plan.dataset.expect("records");
    let refs: Vec<Option<String>> = ds.records().iter().map(|r| r.reference_answer()).collect();
    assert_eq!(
        refs,
        vec![Some("4".into()), Some("5".into()), None, None, None],
        "text and numbers count; empty and non-text values are absent"
    );
    // a non-text reference is a warning naming the file, line and field, not an error
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    let w = plan.warnings[0].to_string();
    assert!(
        w.contains("refs.jsonl") && w.contains("line 4") && w.contains("expected_answer"),
        "{w}"
    );
    // the field stays in the record, untouched, for export
    assert_eq!(
        ds.records()[3].meta["expected_answer"],
        serde_json::json!(true)
    );
    assert_eq!(
        ds.records()[1].to_json()["gold_answer"],
        serde_json::json!(5)
    );
}

#[test]
fn fine_tuning_shapes_load_as_records() {
    let body = [
        r#"{"messages": [{"role": "system", "content": "Think step by step."}, {"role": "user", "content": "What is 6 times 7?"}, {"role": "assistant", "content": "<think>6 * 7 = 42</think> The answer is \\boxed{42}."}]}"#,
        r#"{"conversations": [{"from": "human", "value": "What is 6 times 7?"}, {"from": "gpt", "value": "6 * 7 = 41. The answer is 41."}]}"#,
        r#"{"instruction": "What is 6 times 7?", "input": "", "output": "6 * 7 = 42. The answer is 42."}"#,
        r#"{"prompt": "What is 6 times 7?", "completion": "7 * 6 = 42. The answer is 42."}"#,
    ]
    .join("\n");
    let ds = load(&[text("chat.jsonl", &body)]);
    assert_eq!(ds.len(), 4);
    for r in ds.records() {
        assert_eq!(r.question, "What is 6 times 7?");
    }
    let r0 = &ds.records()[0];
    assert_eq!(
        (r0.cot.as_str(), r0.answer.as_deref()),
        ("6 * 7 = 42", Some("42"))
    );
    // the turns (and the system prompt) stay in the record for export
    assert_eq!(r0.meta["messages"][0]["content"], "Think step by step.");
    assert_eq!(ds.records()[1].cot, "6 * 7 = 41. The answer is 41.");
    // one question, four CoTs: they are siblings (grouped by the question text)
    let sigs = cotlabel::core::signals::signature::signatures(&ds);
    assert_eq!(sigs[1].group.siblings, 3);
    assert_eq!(sigs[1].group.agree, 0);
    // a chat with no assistant turn is an error naming the file, line and field
    let broken = format!(
        "{}\n{}",
        body.lines().next().unwrap(),
        r#"{"messages": [{"role": "user", "content": "q"}]}"#
    );
    let (kind, message) = one_error(&[text("chat.jsonl", &broken)], None);
    assert_eq!(kind, "bad_field");
    assert!(
        message.contains("chat.jsonl")
            && message.contains("line 2")
            && message.contains("messages")
            && message.contains("no assistant turn"),
        "{message}"
    );
}

#[test]
fn records_with_npy_embeddings() {
    for name in [
        "emb3x2_f32.npy",
        "emb3x2_f64.npy",
        "emb3x2_f32_be.npy",
        "emb3x2_v2.npy",
    ] {
        let ds = load(&[fixture("records3.jsonl"), fixture(name)]);
        let e = ds.embeddings().expect(name);
        assert_eq!((e.rows(), e.dim()), (3, 2), "{name}");
        assert_eq!(e.row(0), &[0.5, -1.0], "{name}");
        assert_eq!(e.row(2), &[3.0, -0.125], "{name}");
    }
}

#[test]
fn inline_and_json_matrix_embeddings() {
    let inline = load(&[text(
        "i.jsonl",
        r#"{"question":"q","cot":"a","embedding":[0.5,-1]}
{"question":"q","cot":"b","embedding":[2,0.25]}
{"question":"q","cot":"c","embedding":[3,-0.125]}"#,
    )]);
    let matrix = load(&[
        fixture("records3.jsonl"),
        text("e.json", "[[0.5,-1],\n[2,0.25],\n[3,-0.125]]"),
    ]);
    let npy = load(&[fixture("records3.jsonl"), fixture("emb3x2_f32.npy")]);
    assert_eq!(inline.embeddings(), npy.embeddings());
    assert_eq!(matrix.embeddings(), npy.embeddings());
    let csv = load(&[text(
        "e.csv",
        "question,cot,embedding\nq,a,\"[1, 2]\"\nq,b,\"[3, 4]\"\n",
    )]);
    assert_eq!(csv.embeddings().unwrap().row(1), &[3.0, 4.0]);
}

#[test]
fn npy_round_trip() {
    let ds = load(&[fixture("records3.jsonl"), fixture("emb3x2_f64.npy")]);
    let bytes = write_npy(ds.embeddings().unwrap());
    assert_eq!(
        parse_npy("x.npy", &bytes).unwrap(),
        *ds.embeddings().unwrap()
    );
    // Same data bytes as numpy writes (npyz spells the header's shape tuple differently).
    let numpy = fixture("emb3x2_f32.npy").bytes;
    assert_eq!(bytes[bytes.len() - 24..], numpy[numpy.len() - 24..]);
}

#[test]
fn embeddings_alone_attach_to_the_loaded_records() {
    let ds = load(&[fixture("records3.jsonl")]);
    let plan = plan_import(&[fixture("emb3x2_f32.npy")], Some(&ds)).unwrap();
    let with = plan.dataset.unwrap();
    assert_eq!(with.fingerprint(), ds.fingerprint());
    assert_eq!(with.embeddings().unwrap().dim(), 2);
}

// ---- every error kind, with the file and line it names -------------------------------

#[test]
fn empty_files() {
    for (name, body) in [
        ("e.jsonl", ""),
        ("e.jsonl", "  \n\n "),
        ("e.json", "[]"),
        ("e.csv", "question,cot\n"),
        ("e.npy", ""),
    ] {
        let (kind, msg) = one_error(&[text(name, body)], None);
        assert_eq!(kind, "empty", "{name} {body:?}: {msg}");
        assert_eq!(msg, format!("{name}: the file is empty"));
    }
}

#[test]
fn too_large() {
    // natively the bound is 64 GiB (the page's 512 MB is wasm32's)
    let e = check_size("big.jsonl", 65 << 30).unwrap_err();
    assert_eq!(e.kind(), "too_large");
    assert!(
        e.to_string().starts_with("big.jsonl: the file is 65.0 GB"),
        "{e}"
    );
    assert!(check_size("ok.jsonl", MAX_FILE_BYTES).is_ok());
    // A header that claims a huge matrix is refused before anything is allocated.
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let header =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 384), }".to_string();
    let header = format!("{header:<117}\n");
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    let e = parse_npy("huge.npy", &bytes).unwrap_err();
    assert_eq!(e.kind(), "too_large", "{e}");
}

#[test]
fn malformed_jsonl_names_line_3() {
    let (kind, msg) = one_error(&[fixture("broken_line3.jsonl")], None);
    assert_eq!(kind, "malformed");
    assert!(
        msg.starts_with("broken_line3.jsonl line 3: malformed JSONL"),
        "{msg}"
    );
}

#[test]
fn malformed_json_and_csv_and_text() {
    let (_, msg) = one_error(
        &[text(
            "r.json",
            "[\n{\"question\": \"q\", \"cot\": \"c\"},\n{\"question\": }\n]",
        )],
        None,
    );
    assert!(msg.starts_with("r.json line 3: malformed JSON"), "{msg}");
    let (_, msg) = one_error(&[text("r.csv", "question,cot\nq,c\nq,c,extra\n")], None);
    assert!(
        msg.starts_with("r.csv line 3: malformed CSV: 3 fields where the header has 2"),
        "{msg}"
    );
    let (_, msg) = one_error(
        &[InputFile::new(
            "r.jsonl",
            b"{\"question\":\"q\",\"cot\":\"c\"}\n\xff\xfe".to_vec(),
        )],
        None,
    );
    assert!(
        msg.starts_with("r.jsonl line 2: malformed text: the file is not UTF-8"),
        "{msg}"
    );
    let (_, msg) = one_error(
        &[text(
            "r.jsonl",
            "{\"question\":\"q\",\"cot\":\"c\"}\n[1,2]\n",
        )],
        None,
    );
    assert!(msg.starts_with("r.jsonl line 2: malformed record"), "{msg}");
    let (_, msg) = one_error(&[text("e.json", "[[0.1, NaN]]")], None);
    assert!(
        msg.contains("line 1") && msg.contains("NaN and Infinity are not JSON numbers"),
        "{msg}"
    );
    let (_, msg) = one_error(&[text("x.json", "\n\n\"just a string\"")], None);
    assert!(msg.starts_with("x.json line 3: malformed JSON"), "{msg}");
}

#[test]
fn missing_and_bad_fields_name_line_and_field() {
    let errs = errors(
        &[text(
            "m.jsonl",
            r#"{"question": "q", "cot": "fine"}
{"cot": "no question"}
{"question": "no cot"}
{"question": "q", "cot": 42}
{"question": "q", "cot": "c", "is_correct": "maybe"}
{"question": null, "cot": "c"}
{"question": "q", "cot": "c", "embedding": "abc"}"#,
        )],
        None,
    );
    let msgs: Vec<&str> = errs.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "m.jsonl line 2: missing required field `question`",
            "m.jsonl line 3: missing required field `cot`",
            "m.jsonl line 4: field `cot` must be text",
            "m.jsonl line 5: field `is_correct` must be true or false, not `maybe`",
            "m.jsonl line 6: missing required field `question`",
            "m.jsonl line 7: field `embedding` must be an array of numbers",
        ]
    );
    let (kind, msg) = one_error(&[text("m.csv", "id,cot\n1,c\n")], None);
    assert_eq!(
        (kind.as_str(), msg.as_str()),
        (
            "missing_field",
            "m.csv line 2: missing required field `question`"
        )
    );
}

#[test]
fn duplicate_ids_name_both_lines() {
    let (kind, msg) = one_error(
        &[text(
            "d.jsonl",
            "{\"id\":\"a\",\"question\":\"q\",\"cot\":\"c\"}\n{\"id\":\"b\",\"question\":\"q\",\"cot\":\"c\"}\n\n{\"id\":\"a\",\"question\":\"q\",\"cot\":\"c\"}\n",
        )],
        None,
    );
    assert_eq!(kind, "duplicate_id");
    assert_eq!(msg, "d.jsonl: duplicate id `a` on line 1 and line 4");
    // A given id can collide with a generated one.
    let (_, msg) = one_error(&[text("g.csv", "id,question,cot\n,q,c\nrow-1,q,c\n")], None);
    assert_eq!(msg, "g.csv: duplicate id `row-1` on line 2 and line 3");
}

#[test]
fn embedding_row_count_and_dimension() {
    let (kind, msg) = one_error(
        &[fixture("records3.jsonl"), fixture("emb2x2_f32.npy")],
        None,
    );
    assert_eq!(kind, "row_count");
    assert_eq!(
        msg,
        "emb2x2_f32.npy: 2 embedding rows but 3 records in records3.jsonl; row i of the embeddings must belong to record i"
    );
    let ds = load(&[fixture("records3.jsonl")]);
    let (kind, _) = one_error(&[fixture("emb2x2_f32.npy")], Some(&ds));
    assert_eq!(kind, "row_count");
    let (kind, msg) = one_error(
        &[
            fixture("records3.jsonl"),
            text("e.json", "[[1,2],[3,4],[5]]"),
        ],
        None,
    );
    assert_eq!(
        (kind.as_str(), msg.as_str()),
        ("dimension", "e.json row 3: 1 values where row 1 has 2")
    );
    let errs = errors(
        &[text(
            "i.jsonl",
            "{\"question\":\"q\",\"cot\":\"a\",\"embedding\":[1,2]}\n{\"question\":\"q\",\"cot\":\"b\",\"embedding\":[1,2,3]}\n{\"question\":\"q\",\"cot\":\"c\"}\n",
        )],
        None,
    );
    assert_eq!(errs[0].1, "i.jsonl row 2: 3 values where row 1 has 2");
    assert_eq!(
        errs[1].1,
        "i.jsonl line 3: field `embedding` is missing here but given on line 1; give an embedding in every record or in none"
    );
}

#[test]
fn non_finite_values_name_row_and_column() {
    let (kind, msg) = one_error(
        &[fixture("records3.jsonl"), fixture("emb3x2_nan.npy")],
        None,
    );
    assert_eq!(
        (kind.as_str(), msg.as_str()),
        (
            "non_finite",
            "emb3x2_nan.npy row 2, column 2: NaN is not a finite float32"
        )
    );
    let (_, msg) = one_error(
        &[fixture("records3.jsonl"), fixture("emb3x2_inf64.npy")],
        None,
    );
    assert_eq!(
        msg,
        "emb3x2_inf64.npy row 3, column 1: 1e300 is not a finite float32"
    );
    let (_, msg) = one_error(
        &[
            fixture("records3.jsonl"),
            text("e.json", "[[1,2],[3,1e39],[5,6]]"),
        ],
        None,
    );
    assert_eq!(msg, "e.json row 2, column 2: 1e39 is not a finite float32");
}

#[test]
fn unusable_npy_files() {
    let cases = [
        ("emb3x2_fortran.npy", "Fortran (column) order"),
        (
            "emb6_1d.npy",
            "expected a 2-D array (records × dimension), found shape (6)",
        ),
        ("emb3x2_int.npy", "dtype <i8 is not supported"),
        ("emb3x2_truncated.npy", "is the file truncated?"),
    ];
    for (name, expected) in cases {
        let (kind, msg) = one_error(&[fixture("records3.jsonl"), fixture(name)], None);
        assert_eq!(kind, "npy", "{name}: {msg}");
        assert!(
            msg.starts_with(name) && msg.contains(expected),
            "{name}: {msg}"
        );
    }
    let (kind, msg) = one_error(
        &[fixture("records3.jsonl"), text("junk.npy", "not numpy")],
        None,
    );
    assert_eq!(kind, "npy");
    assert!(msg.starts_with("junk.npy: not a valid .npy file"), "{msg}");
}

#[test]
fn unknown_format_and_bad_combinations() {
    let (kind, msg) = one_error(&[text("notes.txt", "hello")], None);
    assert_eq!(kind, "unknown_format");
    assert!(
        msg.starts_with("notes.txt: cannot tell what this file is"),
        "{msg}"
    );
    let (kind, msg) = one_error(&[fixture("records3.jsonl"), fixture("records3.csv")], None);
    assert_eq!(kind, "combination");
    assert!(
        msg.contains("records3.jsonl and records3.csv hold records"),
        "{msg}"
    );
    let (_, msg) = one_error(&[fixture("emb3x2_f32.npy")], None);
    assert!(msg.contains("no records are loaded"), "{msg}");
    let (_, msg) = one_error(
        &[fixture("emb3x2_f32.npy"), fixture("emb3x2_f64.npy")],
        None,
    );
    assert!(msg.contains("are all embeddings"), "{msg}");
    let inline = text(
        "i.jsonl",
        "{\"question\":\"q\",\"cot\":\"a\",\"embedding\":[1,2]}\n",
    );
    let (_, msg) = one_error(&[inline, fixture("emb3x2_f32.npy")], None);
    assert!(msg.contains("drop only one of them"), "{msg}");
}

#[test]
fn errors_from_several_files_are_all_listed() {
    let errs = errors(
        &[
            fixture("broken_line3.jsonl"),
            fixture("emb3x2_nan.npy"),
            text("n.txt", "x"),
        ],
        None,
    );
    let kinds: Vec<&str> = errs.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(kinds, ["malformed", "non_finite", "unknown_format"]);
}

#[test]
fn label_file_for_other_records_is_refused() {
    let ds = load(&[fixture("records3.jsonl")]);
    let other = load(&[text(
        "o.jsonl",
        "{\"id\":\"zzz\",\"question\":\"q\",\"cot\":\"c\"}",
    )]);
    let mut store = LabelStore::new();
    store.set_human("zzz", Verdict::Good, 0);
    let file = LabelFile::from_store(&other, &store, 0).to_json();
    let (kind, msg) = one_error(&[text("labels.json", &file)], Some(&ds));
    assert_eq!(kind, "label_file");
    assert!(
        msg.contains("none of its 1 labels names a record of records3.jsonl"),
        "{msg}"
    );
    let (_, msg) = one_error(&[text("labels.json", &file)], None);
    assert!(msg.contains("no records are loaded"), "{msg}");
}

#[test]
fn errors_serialise_with_their_kind() {
    let e = ImportError::MissingField {
        file: "a.csv".into(),
        line: 4,
        field: "cot".into(),
    };
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"kind": "missing_field", "file": "a.csv", "line": 4, "field": "cot"})
    );
}

#[test]
fn failed_import_changes_nothing() {
    let ds = load(&[fixture("records3.jsonl")]);
    let mut session = Session::new(ds);
    session.labels.set_human("q1-a", Verdict::Good, 0);
    let before = session.export(0).to_json();
    // records + wrong-sized embeddings + a good label file: the whole import is refused.
    let mut s2 = LabelStore::new();
    s2.set_human("q1-b", Verdict::Bad, 0);
    let labels = LabelFile::from_store(&session.dataset, &s2, 0).to_json();
    let files = [
        fixture("records3.csv"),
        fixture("emb2x2_f32.npy"),
        text("l.json", &labels),
    ];
    match plan_import(&files, Some(&session.dataset)) {
        Ok(plan) => panic!("should fail, got {plan:?}"),
        Err(e) => assert_eq!(e[0].kind(), "row_count"),
    }
    assert_eq!(session.export(0).to_json(), before);
}

#[test]
fn records_labels_and_embeddings_together() {
    let ds = load(&[fixture("records3.jsonl")]);
    let mut store = LabelStore::new();
    store.set_human("q1-b", Verdict::Bad, 1_000);
    let labels = LabelFile::from_store(&ds, &store, 0).to_json();
    let files = [
        fixture("records3.jsonl"),
        fixture("emb3x2_f32.npy"),
        text("l.json", &labels),
    ];
    let plan = plan_import(&files, None).unwrap();
    let mut session = Session::new(load(&[text(
        "other.jsonl",
        "{\"question\":\"q\",\"cot\":\"c\"}",
    )]));
    let report = session.apply(plan, None);
    assert!(report.new_records);
    assert_eq!(session.dataset.len(), 3);
    assert_eq!(session.labels.get("q1-b").unwrap().verdict, Verdict::Bad);
    assert_eq!(session.labels.counts(&session.dataset).bad, 1);
    assert_eq!(session.labels.counts(&session.dataset).unlabelled, 2);
}

// ---- real data ---------------------------------------------------------------------

#[test]
fn shipped_demo_loads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("static/demo");
    let files = ["demo_cots.json", "demo_emb.npy"].map(|n| {
        InputFile::new(
            n,
            std::fs::read(root.join(n)).expect("the demo ships in static/demo"),
        )
    });
    let ds = load(&files);
    assert_eq!(ds.len(), 300);
    let e = ds.embeddings().unwrap();
    assert_eq!((e.rows(), e.dim()), (300, 384));
    for i in 0..300 {
        let norm: f32 = e.row(i).iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "row {i} norm {norm}");
    }
    assert_eq!(ds.records()[0].id, "gsm8k-0017-6b_finetuning");
    assert!(ds
        .records()
        .iter()
        .all(|r| r.question_id.is_some() && r.is_correct.is_some()));
    assert_eq!(
        ds.records()
            .iter()
            .filter(|r| r.is_correct == Some(true))
            .count(),
        112
    );
    assert!(ds.records()[0].meta.contains_key("source"));
}

#[test]
fn demo_json_embeddings_match_the_npy() {
    let Some(dir) = gsm8k::data_dir() else { return };
    let json = std::fs::read(dir.join("demo/demo_emb.json")).unwrap();
    let npy = std::fs::read(dir.join("demo/demo_emb.npy")).unwrap();
    let recs = std::fs::read(dir.join("demo/demo_cots.json")).unwrap();
    let a = load(&[
        InputFile::new("demo_cots.json", recs.clone()),
        InputFile::new("demo_emb.json", json),
    ]);
    let b = load(&[
        InputFile::new("demo_cots.json", recs),
        InputFile::new("demo_emb.npy", npy),
    ]);
    let (a, b) = (a.embeddings().unwrap(), b.embeddings().unwrap());
    let max = a
        .as_slice()
        .iter()
        .zip(b.as_slice())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(max < 1e-6, "max abs diff {max}");
}

#[test]
fn full_gsm8k_set_loads() {
    let Some(dir) = gsm8k::data_dir() else { return };
    let recs = std::fs::read(dir.join("gsm8k_cots.jsonl")).unwrap();
    let emb = std::fs::read(dir.join("gsm8k_cot_emb.npy")).unwrap();
    let ds = load(&[
        InputFile::new("gsm8k_cots.jsonl", recs),
        InputFile::new("gsm8k_cot_emb.npy", emb),
    ]);
    assert_eq!(ds.len(), 6595);
    assert_eq!(ds.embeddings().unwrap().rows(), 6595);
    assert_eq!(
        ds.records()
            .iter()
            .filter(|r| r.meta["split"] == "test")
            .count(),
        1305
    );
}

#[test]
fn inputs_found_by_fuzzing_are_errors() {
    // JSON numbers no f64 holds
    let (kind, msg) = one_error(
        &[text(
            "big.json",
            "[\n{\"question\": \"q\", \"cot\": \"c\", \"x\": 1e999}\n]",
        )],
        None,
    );
    assert_eq!(kind, "malformed");
    assert!(
        msg.starts_with("big.json line 2: malformed JSON: number out of range"),
        "{msg}"
    );
    // .npy headers: nested too deep (npyz takes exponential time on these), and a shape far
    // larger than the data (it allocated the shape before reading)
    let npy = |header: &str, data: &[u8]| {
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((h.len() as u16).to_le_bytes());
        b.extend(h.as_bytes());
        b.extend(data);
        b
    };
    let deep = npy(&format!("{}'descr': '<f4'", "{".repeat(40)), &[]);
    let started = std::time::Instant::now();
    let e = parse_npy("deep.npy", &deep).unwrap_err().to_string();
    assert!(e.contains("nests too deep"), "{e}");
    assert!(started.elapsed().as_secs() < 1);
    let overflow = npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
        &[],
    );
    let e = parse_npy("overflow.npy", &overflow)
        .unwrap_err()
        .to_string();
    assert!(e.contains("more values than a 64-bit count holds"), "{e}");
    let huge = npy(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 100), }",
        &[0; 8],
    );
    let e = parse_npy("huge.npy", &huge).unwrap_err().to_string();
    assert!(
        e.contains("(8 bytes for 400000000)") && e.contains("truncated"),
        "{e}"
    );
}
