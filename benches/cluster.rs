//! k-means and PCA speed on rows of the GSM8K CoT embeddings (384-d), beside scikit-learn's
//! one-thread timings from ../shared/data/baselines.json. `cargo bench --bench cluster`;
//! `KMEANS=1` times k-means only and adds this thread's CPU time (a steadier figure than
//! the wall clock on a shared machine).
#[path = "../tests/support/gsm8k.rs"]
mod gsm8k;

use std::time::Instant;

use cotlabel::core::cluster::{kmeans, KMeansConfig, Matrix};
use cotlabel::core::hdbscan::{hdbscan, HdbscanConfig};
use cotlabel::core::import::parse_npy;
use cotlabel::core::project::pca2;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// Seconds this thread has run on a CPU (Linux), or `None`.
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(s.split_whitespace().next()?.parse::<f64>().ok()? * 1e-9)
}

fn main() {
    let only_kmeans = std::env::var("KMEANS").is_ok();
    let Some(dir) = gsm8k::data_dir() else { return };
    let e = parse_npy(
        "gsm8k_cot_emb.npy",
        &std::fs::read(dir.join("gsm8k_cot_emb.npy")).unwrap(),
    )
    .unwrap();
    let base: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("baselines.json")).unwrap())
            .unwrap();
    let sk = |n: usize, key: &str| base["f_timing"]["seconds"][format!("N={n}")][key].as_f64();
    println!(
        "{:<28} {:>7} {:>10} {:>12} {:>8}",
        "job", "N", "ours (s)", "sklearn (s)", "ratio"
    );
    for n in [1000usize, 5000, 20000] {
        // rows of the real embeddings; past 6,595 the rows repeat with a small shift
        let mut data = Vec::with_capacity(n * e.dim());
        for i in 0..n {
            let shift = (i / e.rows()) as f32 * 1e-3;
            data.extend(e.row(i % e.rows()).iter().map(|v| v + shift));
        }
        let x = Matrix::new(&data, n, e.dim()).unwrap();
        let reps = if n >= 20000 { 1 } else { 3 };
        if std::env::var("ITERS").is_ok() {
            let t = Instant::now();
            let r = kmeans(
                x,
                &KMeansConfig {
                    k: 8,
                    restarts: 1,
                    ..Default::default()
                },
                &mut |_| true,
            )
            .unwrap();
            println!(
                "n={n}: one start: {} iterations, {:.3} s",
                r.iterations,
                t.elapsed().as_secs_f64()
            );
            continue;
        }
        for (name, key, k, restarts) in [
            ("k-means k=8 ×10", "kmeans_k8_ninit10", 8, 10),
            ("k-means k=32 ×10", "kmeans_k32_ninit10", 32, 10),
        ] {
            let cfg = KMeansConfig {
                k,
                restarts,
                ..Default::default()
            };
            let mut cpu = Vec::new();
            let t = time(reps, || {
                let c = cpu_seconds();
                kmeans(x, &cfg, &mut |_| true).unwrap();
                if let (Some(a), Some(b)) = (c, cpu_seconds()) {
                    cpu.push(b - a);
                }
            });
            let s = sk(n, key);
            println!(
                "{name:<28} {n:>7} {t:>10.3} {:>12} {:>8}{}",
                s.map_or("—".into(), |s| format!("{s:.3}")),
                s.map_or("—".into(), |s| format!("{:.2}×", s / t)),
                if only_kmeans && !cpu.is_empty() {
                    format!("   cpu {:.3} s", median(cpu))
                } else {
                    String::new()
                }
            );
        }
        if only_kmeans {
            continue;
        }
        if n <= 5000 {
            let t = time(if n >= 5000 { 1 } else { 3 }, || {
                hdbscan(x, &HdbscanConfig::default(), &mut |_| true).unwrap();
            });
            let s = sk(n, "hdbscan_mcs5");
            println!(
                "{:<28} {n:>7} {t:>10.3} {:>12} {:>8}",
                "HDBSCAN min_cluster_size=5",
                s.map_or("—".into(), |s| format!("{s:.3}")),
                s.map_or("—".into(), |s| format!("{:.2}×", s / t))
            );
        }
        let t = time(reps, || {
            pca2(x, &mut |_| true).unwrap();
        });
        println!(
            "{:<28} {n:>7} {t:>10.3} {:>12} {:>8}",
            "PCA (2 components)", "—", "—"
        );
    }
    println!("ratio = scikit-learn time / ours (> 1: we are faster)");
}
