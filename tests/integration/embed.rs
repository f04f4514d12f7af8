//! MiniLM parity with sentence-transformers: token ids and embeddings of the 16 texts of
//! `../shared/data/reference_embeddings.json` (empty text, accents, CJK, emoji, whitespace,
//! a text over 256 tokens). Needs the weights made by `scripts/fetch-minilm`; skips, saying
//! so, when they or the reference are absent (fails under `CI=true`). Run with `--release`
//! (burn is slow in debug).

use std::path::{Path, PathBuf};

#[cfg(feature = "model")]
use cotlabel::core::signals::embed::Encoding;
use cotlabel::core::signals::embed::{Tokenizer, DIM, MAX_TOKENS};

/// One reference text.
struct Reference {
    text: String,
    input_ids: Vec<u32>,
    untruncated_length: usize,
    truncated: bool,
    #[cfg_attr(not(feature = "model"), allow(dead_code))] // read by the model's parity test
    embedding: Vec<f32>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The reference texts, or `None` (after saying so) when the file is absent.
fn references() -> Option<Vec<Reference>> {
    let path = root().join("../shared/data/reference_embeddings.json");
    if !path.exists() {
        crate::support::absent(&format!("{} (MiniLM parity)", path.display()));
        return None;
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("JSON");
    assert_eq!(json["max_seq_length"], MAX_TOKENS);
    assert_eq!(json["dim"], DIM);
    let refs: Vec<Reference> = json["texts"]
        .as_array()
        .expect("texts")
        .iter()
        .map(|t| Reference {
            text: t["text"].as_str().expect("text").to_string(),
            input_ids: serde_json::from_value(t["input_ids"].clone()).expect("input_ids"),
            untruncated_length: t["untruncated_length"].as_u64().expect("length") as usize,
            truncated: t["truncated"].as_bool().expect("truncated"),
            embedding: serde_json::from_value(t["embedding"].clone()).expect("embedding"),
        })
        .collect();
    assert_eq!(refs.len(), 16);
    Some(refs)
}

/// A file made by `scripts/fetch-minilm`, or `None` (after saying so).
fn weights_file(name: &str) -> Option<PathBuf> {
    let path = root().join("weights").join(name);
    if path.exists() {
        Some(path)
    } else {
        crate::support::absent(&format!(
            "{} (made by scripts/fetch-minilm; MiniLM parity)",
            path.display()
        ));
        None
    }
}

fn tokenizer() -> Option<Tokenizer> {
    let path = weights_file("minilm-vocab.txt")?;
    Some(Tokenizer::from_vocab(&std::fs::read_to_string(path).expect("readable")).expect("vocab"))
}

#[test]
fn token_ids_match_the_reference() {
    let (Some(refs), Some(tok)) = (references(), tokenizer()) else {
        return;
    };
    for r in &refs {
        let e = tok.encode(&r.text);
        assert_eq!(e.ids, r.input_ids, "{:?}", r.text);
        assert_eq!(e.untruncated_len, r.untruncated_length, "{:?}", r.text);
        assert_eq!(e.truncated(), r.truncated, "{:?}", r.text);
    }
    // the set covers truncation
    assert!(refs
        .iter()
        .any(|r| r.truncated && r.input_ids.len() == MAX_TOKENS));
}

/// Largest component difference and smallest cosine of each row to its reference.
#[cfg(feature = "model")]
fn compare(got: &[f32], refs: &[&Reference]) -> (f32, f32) {
    let mut diff = 0.0f32;
    let mut cos = 1.0f32;
    for (row, r) in got.chunks(DIM).zip(refs) {
        let dot: f32 = row.iter().zip(&r.embedding).map(|(a, b)| a * b).sum();
        let n = |v: &[f32]| v.iter().map(|a| a * a).sum::<f32>().sqrt();
        cos = cos.min(dot / (n(row) * n(&r.embedding)));
        for (a, b) in row.iter().zip(&r.embedding) {
            diff = diff.max((a - b).abs());
        }
    }
    (diff, cos)
}

#[cfg(feature = "model")]
#[test]
fn embeddings_match_the_reference() {
    use cotlabel::core::signals::embed::{batches, embed, load};

    let (Some(refs), Some(tok), Some(bpk)) =
        (references(), tokenizer(), weights_file("minilm.bpk"))
    else {
        return;
    };
    let device = cotlabel::core::cpu_device();
    let model = load(std::fs::read(&bpk).expect("readable"), &device).expect("the weights load");
    let encodings: Vec<Encoding> = refs.iter().map(|r| tok.encode(&r.text)).collect();

    // each text alone, as sentence-transformers encoded them
    let mut alone = Vec::new();
    for e in &encodings {
        alone.extend(embed(&model, &[e], &device));
    }
    let all: Vec<&Reference> = refs.iter().collect();
    let (diff, cos) = compare(&alone, &all);
    eprintln!("MiniLM parity, one text per batch: max |diff| {diff:.2e}, min cosine {cos:.7}");
    assert!(cos >= 0.999, "min cosine {cos}");
    assert!(diff < 1e-4, "max |diff| {diff}");

    // padded, length-sorted batches give the same vectors
    let mut worst = (0.0f32, 1.0f32);
    for group in batches(&encodings, 5) {
        let es: Vec<&Encoding> = group.iter().map(|&i| &encodings[i]).collect();
        let rs: Vec<&Reference> = group.iter().map(|&i| &refs[i]).collect();
        let (d, c) = compare(&embed(&model, &es, &device), &rs);
        worst = (worst.0.max(d), worst.1.min(c));
    }
    eprintln!(
        "MiniLM parity, padded batches of 5: max |diff| {:.2e}, min cosine {:.7}",
        worst.0, worst.1
    );
    assert!(worst.1 >= 0.999 && worst.0 < 1e-4, "{worst:?}");
}
