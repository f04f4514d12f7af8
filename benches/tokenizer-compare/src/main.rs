//! Native speed and agreement of the two tokenizers on the 300 demo CoTs.
//! `speed <vocab.txt> <tokenizer.json> <demo_cots.json>` (see ./run).

use std::time::Instant;

use tokenizer_compare::{embed::Tokenizer, hf_tokenizer};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [vocab, json, demo] = &args[..] else {
        return Err("usage: speed <vocab.txt> <tokenizer.json> <demo_cots.json>".into());
    };
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
    let t = Instant::now();
    let hand = Tokenizer::from_vocab(&read(vocab)?)?;
    let hand_load = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let hf = hf_tokenizer(&read(json)?)?;
    let hf_load = t.elapsed().as_secs_f64() * 1e3;
    let demo: serde_json::Value = serde_json::from_str(&read(demo)?).map_err(|e| e.to_string())?;
    let texts: Vec<String> = demo
        .as_array()
        .ok_or("demo_cots.json is not a list")?
        .iter()
        .filter_map(|r| r["cot"].as_str().map(str::to_string))
        .collect();

    // agreement, id for id
    let mut mismatches = 0;
    for s in &texts {
        let a = hand.encode(s).ids;
        let b = hf.encode(s.as_str(), true).map_err(|e| e.to_string())?;
        if a != b.get_ids() {
            mismatches += 1;
        }
    }
    println!("{} demo CoTs; ids differ on {mismatches}", texts.len());

    let reps = 30;
    let time = |f: &dyn Fn()| {
        f(); // warm-up
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        (reps * texts.len()) as f64 / t.elapsed().as_secs_f64()
    };
    let hand_rate = time(&|| {
        for s in &texts {
            std::hint::black_box(hand.encode(s));
        }
    });
    let hf_rate = time(&|| {
        for s in &texts {
            std::hint::black_box(hf.encode(s.as_str(), true).ok());
        }
    });
    let hf_batch = time(&|| {
        std::hint::black_box(hf.encode_batch(texts.clone(), true).ok());
    });
    println!("{:<44} {:>12} {:>10}", "tokenizer", "texts/s", "load ms");
    println!(
        "{:<44} {hand_rate:>12.0} {hand_load:>10.1}",
        "hand-written (one thread)"
    );
    println!(
        "{:<44} {hf_rate:>12.0} {hf_load:>10.1}",
        "HF tokenizers 0.22.2 encode (one thread)"
    );
    println!(
        "{:<44} {hf_batch:>12.0} {:>10}",
        "HF tokenizers 0.22.2 encode_batch (rayon)", ""
    );
    Ok(())
}
