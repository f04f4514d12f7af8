//! Converts all-MiniLM-L6-v2's `model.safetensors` (Hugging Face names, PyTorch layout) into
//! the burnpack record the app loads (`cotlabel::core::signals::embed::load`), and copies its vocabulary
//! beside it. Native only; `scripts/fetch-minilm` runs it.
//!
//! ```text
//! cargo run --bin convert_minilm -- <model.safetensors> <vocab.txt> <out dir> [--f32]
//! ```
//!
//! Writes `<out dir>/minilm.bpk` and `<out dir>/minilm-vocab.txt`. Every parameter of the model
//! must come from the file (the missing ones are listed otherwise). The embedding tables are
//! stored in f16 (−23 MB) when the model read back from the record stays within
//! [`MAX_DIFF`] / [`MIN_COSINE`] of the f32 one on a few sample texts; otherwise, or with
//! `--f32`, every tensor is stored in f32.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::prelude::*;
use burn::store::{
    BurnpackStore, HalfPrecisionAdapter, KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter,
    SafetensorsStore,
};
use cotlabel::core::signals::embed::{self, MiniLm, Tokenizer, DIM};

/// Largest difference of an embedding component allowed from f16 storage.
const MAX_DIFF: f32 = 1e-4;
/// Smallest cosine to the f32 model's embedding allowed from f16 storage.
const MIN_COSINE: f32 = 0.9999;

/// Texts the f16 record is checked on (mixed lengths and scripts).
const SAMPLES: &[&str] = &[
    "",
    "Let's think step by step.",
    "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes \
     muffins for her friends every day with four. She sells the remainder at the farmers' \
     market daily for $2 per fresh duck egg. 16 - 3 - 4 = 9, and 9 * 2 = $18.",
    "Café naïve résumé: ÜBER-straße, 東京 and 😀 emoji.",
    "The answer is (B) because 3 × 4 = 12 and 12 ÷ 2 = 6; thus x = 6.",
];

/// Hugging Face BERT names → the model's module paths (applied in order, each on the result
/// of the previous). LayerNorm `weight`/`bias` become `gamma`/`beta` through the adapter,
/// which also transposes the Linear weights.
const REMAP: &[(&str, &str)] = &[
    (r"^encoder\.layer\.([0-9]+)\.", "encoder.layers.$1."),
    (r"attention\.self\.(query|key|value)\.", "mha.$1."),
    (r"attention\.output\.dense\.", "mha.output."),
    (r"attention\.output\.LayerNorm\.", "norm_1."),
    (r"intermediate\.dense\.", "pwff.linear_inner."),
    (
        r"(layers\.[0-9]+)\.output\.dense\.",
        "$1.pwff.linear_outer.",
    ),
    (r"(layers\.[0-9]+)\.output\.LayerNorm\.", "$1.norm_2."),
    (r"^embeddings\.LayerNorm\.", "embeddings.layer_norm."),
];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convert_minilm: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let force_f32 = args.iter().any(|a| a == "--f32");
    let paths: Vec<&String> = args.iter().filter(|a| *a != "--f32").collect();
    let [model_path, vocab_path, out_dir] = paths[..] else {
        return Err(
            "usage: convert_minilm <model.safetensors> <vocab.txt> <out dir> [--f32]".into(),
        );
    };
    let read = |p: &str| std::fs::read(p).map_err(|e| format!("cannot read {p}: {e}"));
    let vocab_bytes = read(vocab_path)?;
    let vocab = String::from_utf8(vocab_bytes.clone())
        .map_err(|_| format!("{vocab_path} is not UTF-8 text"))?;
    let tokenizer = Tokenizer::from_vocab(&vocab).map_err(|e| format!("{vocab_path}: {e}"))?;

    let device = cotlabel::core::cpu_device();
    let model =
        from_safetensors(read(model_path)?, &device).map_err(|e| format!("{model_path}: {e}"))?;

    let encodings: Vec<_> = SAMPLES.iter().map(|t| tokenizer.encode(t)).collect();
    let refs: Vec<_> = encodings.iter().collect();
    let want = embed::embed(&model, &refs, &device);

    let half = to_burnpack(&model, true)?;
    let from_half = embed::load(half.clone(), &device)?;
    let (diff, cos) = compare(&want, &embed::embed(&from_half, &refs, &device));
    println!(
        "embedding tables in f16: max |diff| {diff:.2e}, min cosine {cos:.7} to the f32 model \
         on {} sample texts",
        SAMPLES.len()
    );
    let (bytes, kind) = if !force_f32 && diff <= MAX_DIFF && cos >= MIN_COSINE {
        (half, "embedding tables f16, the rest f32")
    } else {
        let full = to_burnpack(&model, false)?;
        let (d, c) = compare(
            &want,
            &embed::embed(&embed::load(full.clone(), &device)?, &refs, &device),
        );
        if d > 1e-6 {
            return Err(format!(
                "the f32 record does not read back exactly (max |diff| {d:.2e}, cosine {c})"
            ));
        }
        (full, "all f32")
    };

    let out = Path::new(out_dir);
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {out_dir}: {e}"))?;
    let bpk = out.join("minilm.bpk");
    write_atomic(&bpk, &bytes)?;
    let vocab_out = out.join("minilm-vocab.txt");
    write_atomic(&vocab_out, &vocab_bytes)?;
    println!(
        "wrote {} ({:.1} MB, {kind}) and {} ({:.0} KB)",
        bpk.display(),
        bytes.len() as f64 / 1e6,
        vocab_out.display(),
        vocab_bytes.len() as f64 / 1e3
    );
    Ok(())
}

/// The model with every parameter read from `bytes` (a safetensors file with HF BERT names).
fn from_safetensors(bytes: Vec<u8>, device: &Device) -> Result<MiniLm, String> {
    let remap = KeyRemapper::from_patterns(REMAP.to_vec()).map_err(|e| e.to_string())?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .with_from_adapter(PyTorchToBurnAdapter)
        .remap(remap)
        .allow_partial(true) // the missing and the failed are listed below
        .validate(false);
    let mut model = embed::init(device);
    let res = model
        .load_from(&mut store)
        .map_err(|e| format!("unreadable safetensors: {e}"))?;
    if !res.missing.is_empty() || !res.errors.is_empty() {
        let missing: Vec<&str> = res.missing.iter().map(|(p, _)| p.as_str()).collect();
        let errors: Vec<String> = res.errors.iter().map(|e| e.to_string()).collect();
        return Err(format!(
            "not every model parameter was loaded.\n  missing ({}): {}\n  errors ({}): {}\n  \
             unused in the file ({}): {}",
            missing.len(),
            missing.join(", "),
            errors.len(),
            errors.join("; "),
            res.unused.len(),
            res.unused.join(", ")
        ));
    }
    println!(
        "loaded {} tensors; unused in the file: {}",
        res.applied.len(),
        res.unused.join(", ")
    );
    Ok(model)
}

/// The model as a burnpack record, with the embedding tables in f16 when `half`.
fn to_burnpack(model: &MiniLm, half: bool) -> Result<Vec<u8>, String> {
    let mut store = BurnpackStore::from_bytes(None);
    if half {
        store = store.with_to_adapter(
            HalfPrecisionAdapter::new()
                .without_module("Linear")
                .without_module("LayerNorm"),
        );
    }
    model
        .save_into(&mut store)
        .map_err(|e| format!("cannot write the record: {e}"))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| format!("cannot write the record: {e}"))?;
    Ok(bytes.to_vec())
}

/// Largest component difference and smallest row cosine between two sets of rows.
fn compare(a: &[f32], b: &[f32]) -> (f32, f32) {
    let diff = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    let cos = a
        .chunks(DIM)
        .zip(b.chunks(DIM))
        .map(|(x, y)| {
            let dot: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
            let n = |v: &[f32]| v.iter().map(|p| p * p).sum::<f32>().sqrt();
            dot / (n(x) * n(y)).max(1e-12)
        })
        .fold(1.0f32, f32::min);
    (diff, cos)
}

/// Writes `bytes` beside `path` and renames it into place, so a half-written file is never
/// taken for a finished one.
fn write_atomic(path: &PathBuf, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
