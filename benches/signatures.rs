//! Signature extraction speed on all 6,595 GSM8K CoTs (goal: under 100 ms natively).
//! `cargo bench --bench signatures`; skips when ../shared/data is absent.
#[path = "../tests/integration/support/gsm8k.rs"]
mod gsm8k;

use std::time::Instant;

use cotlabel::core::io::import::{plan_import, InputFile};
use cotlabel::core::signals::signature::{signatures, trace};

fn main() {
    let Some(dir) = gsm8k::data_dir() else { return };
    let files = ["gsm8k_cots.jsonl", "gsm8k_cot_emb.npy"]
        .map(|n| InputFile::new(n, std::fs::read(dir.join(n)).expect(n)));
    let t = Instant::now();
    let ds = plan_import(&files, None)
        .expect("imports")
        .dataset
        .expect("records");
    let import_ms = t.elapsed().as_secs_f64() * 1e3;
    let mut times = Vec::new();
    let iters: usize = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    for _ in 0..iters {
        let t = Instant::now();
        let s = signatures(&ds);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(s.len(), ds.len());
    }
    times.sort_by(f64::total_cmp);
    let mut trace_times = Vec::new();
    for _ in 0..iters {
        let t = Instant::now();
        for r in ds.records() {
            let q = trace::question_numbers(&r.question);
            let tr = trace::trace(&r.cot, r.answer.as_deref(), &q);
            std::hint::black_box(tr.signals(&q));
        }
        trace_times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    trace_times.sort_by(f64::total_cmp);
    println!(
        "per-CoT traces alone: median {:.1} ms",
        trace_times[trace_times.len() / 2]
    );
    println!(
        "signatures of {} CoTs: median {:.1} ms, min {:.1} ms (goal < 100 ms); import of jsonl + npy: {:.0} ms",
        ds.len(),
        times[times.len() / 2],
        times[0],
        import_ms
    );
}
