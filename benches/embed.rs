//! MiniLM natively (burn-flex beside burn-ndarray, both with `simd`; one process): tokenizer throughput, and embedding
//! throughput (CoTs/s) on the 300 demo CoTs (static/demo) at batch sizes 16 and 32, with
//! their agreement with the demo's stored sentence-transformers embeddings; then the first
//! 256 GSM8K model CoTs at batch 32 beside the PyTorch CPU timing of
//! ../shared/data/baselines.json (`f_timing.minilm_embedding`, same texts, same batch size).
//! Needs the weights of `scripts/fetch-minilm`. `cargo bench --bench embed`.

use std::path::Path;
use std::time::Instant;

use burn::prelude::*;
use cotlabel::core::signals::embed::{batches, embed, load, Encoding, MiniLm, Tokenizer, DIM};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (bpk, vocab) = (
        root.join("weights/minilm.bpk"),
        root.join("weights/minilm-vocab.txt"),
    );
    if !bpk.exists() || !vocab.exists() {
        eprintln!("SKIP: weights/minilm.bpk is absent (run scripts/fetch-minilm)");
        return;
    }
    let tok = Tokenizer::from_vocab(&std::fs::read_to_string(vocab).unwrap()).unwrap();
    let weights = std::fs::read(bpk).unwrap();
    #[allow(deprecated)] // ndarray: the project's CPU backend
    let backends = [("flex", Device::flex()), ("ndarray", Device::ndarray())];

    let demo: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(root.join("static/demo/demo_cots.json")).unwrap(),
    )
    .unwrap();
    let texts: Vec<&str> = demo.iter().map(|r| r["cot"].as_str().unwrap()).collect();

    // the tokenizer alone
    let reps = 20;
    let t = Instant::now();
    for _ in 0..reps {
        for s in &texts {
            std::hint::black_box(tok.encode(s));
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let bytes: usize = texts.iter().map(|s| s.len()).sum();
    let encs: Vec<Encoding> = texts.iter().map(|s| tok.encode(s)).collect();
    println!(
        "tokenizer: {:.0} CoTs/s ({:.1} MB/s) on {} demo CoTs, {:.1} tokens each on average",
        (reps * texts.len()) as f64 / secs,
        (reps * bytes) as f64 / secs / 1e6,
        texts.len(),
        mean_tokens(&encs)
    );

    // the model, on the demo CoTs, checked against their stored embeddings
    let stored = demo_embeddings(&root.join("static/demo/demo_emb.npy"));
    println!(
        "\n{:<28} {:>6} {:>10} {:>12}",
        "texts", "batch", "CoTs/s", "min cosine"
    );
    for (name, device) in &backends {
        let model = load(weights.clone(), device).unwrap();
        for batch in [8, 16, 32] {
            let (rate, emb) = throughput(&model, &encs, batch, device);
            let cos = stored
                .as_ref()
                .map_or("—".into(), |s| format!("{:.6}", min_cosine(&emb, s)));
            println!(
                "{:<28} {batch:>6} {rate:>10.1} {cos:>12}",
                format!("demo (300 CoTs), {name}")
            );
        }
    }

    // the texts the PyTorch timing used
    let data = root.join("../shared/data");
    let Some(gsm8k) = first_model_cots(&data.join("gsm8k_cots.jsonl"), 256) else {
        eprintln!("SKIP: ../shared/data is absent; no PyTorch comparison");
        return;
    };
    let encs: Vec<Encoding> = gsm8k.iter().map(|s| tok.encode(s)).collect();
    for (name, device) in &backends {
        let model = load(weights.clone(), device).unwrap();
        let (rate, _) = throughput(&model, &encs, 32, device);
        println!(
            "{:<28} {:>6} {rate:>10.1} {:>12}",
            format!("256 GSM8K model CoTs, {name}"),
            32,
            "—"
        );
    }
    let base: Option<serde_json::Value> = std::fs::read_to_string(data.join("baselines.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok());
    let torch = base.as_ref().map(|b| &b["f_timing"]["minilm_embedding"]);
    match torch.filter(|t| !t.is_null()) {
        Some(t) => println!(
            "\nPyTorch (sentence-transformers, CPU, batch {}) on the same {} texts \
             ({} tokens on average; here {:.1}): {} CoTs/s with 1 thread, {} with 2",
            t["batch_size"],
            t["texts"],
            t["mean_tokens"],
            mean_tokens(&encs),
            t["threads=1"]["texts_per_sec"],
            t["threads=2"]["texts_per_sec"]
        ),
        None => println!("\nbaselines.json has no MiniLM embedding timing to compare with"),
    }
}

fn mean_tokens(encs: &[Encoding]) -> f64 {
    encs.iter().map(|e| e.ids.len()).sum::<usize>() as f64 / encs.len().max(1) as f64
}

/// CoTs per second embedding `encs` in length-sorted batches of `batch` (after one
/// warm-up batch), and the embeddings in input order.
fn throughput(model: &MiniLm, encs: &[Encoding], batch: usize, device: &Device) -> (f64, Vec<f32>) {
    let groups = batches(encs, batch);
    let first: Vec<&Encoding> = groups[0].iter().map(|&i| &encs[i]).collect();
    std::hint::black_box(embed(model, &first, device));
    let mut out = vec![0.0f32; encs.len() * DIM];
    let t = Instant::now();
    for g in &groups {
        let es: Vec<&Encoding> = g.iter().map(|&i| &encs[i]).collect();
        let rows = embed(model, &es, device);
        for (&i, row) in g.iter().zip(rows.chunks(DIM)) {
            out[i * DIM..(i + 1) * DIM].copy_from_slice(row);
        }
    }
    (encs.len() as f64 / t.elapsed().as_secs_f64(), out)
}

/// The demo's stored embeddings (sentence-transformers, 300 × 384), when present.
fn demo_embeddings(path: &Path) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    let v = npyz::NpyFile::new(&bytes[..])
        .ok()?
        .into_vec::<f32>()
        .ok()?;
    Some(v)
}

fn min_cosine(a: &[f32], b: &[f32]) -> f32 {
    a.chunks(DIM)
        .zip(b.chunks(DIM))
        .map(|(x, y)| {
            let dot: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
            let n = |v: &[f32]| v.iter().map(|p| p * p).sum::<f32>().sqrt();
            dot / (n(x) * n(y)).max(1e-12)
        })
        .fold(1.0, f32::min)
}

/// The `cot` of the first `n` model CoTs (human reference solutions left out, as in the
/// PyTorch timing) of a GSM8K JSONL file, when present.
fn first_model_cots(path: &Path, n: usize) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let cots: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["source"] != "human_reference")
        .filter_map(|r| r["cot"].as_str().map(str::to_string))
        .take(n)
        .collect();
    (cots.len() == n).then_some(cots)
}
