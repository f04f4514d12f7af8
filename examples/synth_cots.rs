//! Synthetic but realistic CoT data at any size, for the CLI's and the Ray example's scale
//! runs: GSM8K questions from `../shared/data` resampled, each copy with its numbers scaled
//! by a factor of 2–9 (question, CoTs and answers alike, so a sound CoT's additions and
//! subtractions stay sound) and its CoTs' MiniLM embeddings noised (σ = 0.03 per value,
//! renormalised). Ids and question ids are new; `is_correct` is the source CoT's; the
//! reference answers are left out, as in unlabelled data.
//!
//!     cargo run --release --example synth_cots -- ../shared/data 1000000 target/million
//!
//! writes `target/million/cots.jsonl` and `target/million/cots.npy`. `--per-question K`
//! keeps K CoTs of each question (default 4).

use std::io::{BufRead, BufReader, BufWriter, Write};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value};

/// Every run of ASCII digits in `s` multiplied by `k` (decimals and thousands separators
/// are runs of their own: only whole integers scale, which keeps the text readable).
fn scale_numbers(s: &str, k: u64) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if !digits.is_empty() {
            match digits.parse::<u64>() {
                Ok(n) if digits.len() < 12 => out.push_str(&(n * k).to_string()),
                _ => out.push_str(digits),
            }
            digits.clear();
        }
    };
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut digits, &mut out);
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let per_question = args
        .iter()
        .position(|a| a == "--per-question")
        .and_then(|i| args.get(i + 1))
        .map_or(4, |v| v.parse::<usize>().expect("--per-question K"));
    let pos: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || args[i - 1] != "--per-question"))
        .map(|(_, a)| a)
        .collect();
    let [dir, n, out] = pos[..] else {
        eprintln!("usage: synth_cots DATA_DIR N OUT_DIR [--per-question K]");
        std::process::exit(2)
    };
    let n: usize = n.parse().expect("N: a number of CoTs");
    let dir = std::path::Path::new(dir);
    let out = std::path::Path::new(out);
    std::fs::create_dir_all(out).expect("create the output folder");

    // the source: GSM8K model CoTs by question, with their embeddings
    let file = std::fs::File::open(dir.join("gsm8k_cots.jsonl")).expect("gsm8k_cots.jsonl");
    let rows: Vec<Map<String, Value>> = BufReader::new(file)
        .lines()
        .map(|l| serde_json::from_str(&l.expect("a line")).expect("a JSON object"))
        .collect();
    let bytes = std::fs::read(dir.join("gsm8k_cot_emb.npy")).expect("gsm8k_cot_emb.npy");
    let npy = npyz::NpyFile::new(&bytes[..]).expect("an .npy file");
    let dim = *npy.shape().last().expect("2-d") as usize;
    let emb: Vec<f32> = npy.into_vec().expect("f32 values");
    assert_eq!(emb.len(), rows.len() * dim, "one embedding row per CoT");
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = Default::default();
    for (i, r) in rows.iter().enumerate() {
        let q = r["question_id"].as_str().expect("question_id").to_string();
        let g = *at.entry(q).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }

    let mut rng = SmallRng::seed_from_u64(20261203);
    let mut jsonl = BufWriter::new(std::fs::File::create(out.join("cots.jsonl")).expect("create"));
    let mut vectors: Vec<f32> = Vec::with_capacity(n * dim);
    let mut written = 0usize;
    let mut q = 0usize;
    while written < n {
        let g = &groups[rng.random_range(0..groups.len())];
        let k = rng.random_range(2..10u64);
        let qid = format!("syn-q{q:07}");
        q += 1;
        for &i in g.iter().take(per_question) {
            if written == n {
                break;
            }
            let src = &rows[i];
            let text = |f: &str| {
                src.get(f)
                    .and_then(Value::as_str)
                    .map(|s| scale_numbers(s, k))
            };
            let mut rec = Map::new();
            rec.insert("id".into(), format!("syn-{written:08}").into());
            rec.insert("question_id".into(), qid.clone().into());
            rec.insert(
                "question".into(),
                text("question").unwrap_or_default().into(),
            );
            rec.insert("cot".into(), text("cot").unwrap_or_default().into());
            if let Some(a) = text("answer") {
                rec.insert("answer".into(), a.into());
            }
            if let Some(c) = src.get("is_correct") {
                rec.insert("is_correct".into(), c.clone());
            }
            serde_json::to_writer(&mut jsonl, &rec).expect("write");
            jsonl.write_all(b"\n").expect("write");
            let row = &emb[i * dim..(i + 1) * dim];
            let noised: Vec<f32> = row
                .iter()
                .map(|&x| {
                    // a sum of uniforms: close enough to a normal for noise
                    let u: f32 = (0..4).map(|_| rng.random::<f32>() - 0.5).sum();
                    x + 0.03 * u * 1.732
                })
                .collect();
            let norm = noised.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            vectors.extend(noised.iter().map(|x| x / norm));
            written += 1;
        }
    }
    jsonl.flush().expect("write");
    let e = cotlabel::core::Embeddings::new(n, dim, vectors).expect("n × dim values");
    std::fs::write(
        out.join("cots.npy"),
        cotlabel::core::io::import::write_npy(&e),
    )
    .expect("write");
    eprintln!(
        "{n} CoTs over {q} questions ({dim}-d) written to {}",
        out.display()
    );
}
