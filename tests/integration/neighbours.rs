//! Recall of the approximate neighbour search (`core::neighbours`) against the exact one, on
//! the rows the similarity graph searches: unit embedding (weight ¼) beside the 33-wide
//! signature vector (`graph::features`, 417 columns).
//!
//! - **synthetic**, always: the shipped demo (300 MiniLM embeddings and the signatures of
//!   their CoTs) replicated to 5,000 and 20,000 rows with seeded Gaussian noise on both
//!   parts. The 20,000 case runs in release builds only; its exact answer is computed for an
//!   even sample of 2,000 rows.
//! - **real**, when `../shared/data` is present (under `CI=true` it must be): the 6,595
//!   GSM8K CoTs with their embeddings and signatures, by the default search and by the
//!   trees (forced).
//!
//! Recall@10 is the share of the approximate lists within the exact 10th distance (ties
//! count as found). `--nocapture` prints recall and timings; the ignored `timings` and
//! `sweep` measure 100,000 rows and the alternatives to the defaults.

use std::path::Path;
use std::time::Instant;

use cotlabel::core::base::Matrix;
use cotlabel::core::graph::{features, GraphConfig, Matrix2};
use cotlabel::core::io::import::{plan_import, InputFile};
use cotlabel::core::map::neighbours::{
    approximate_knn, exact_knn, knn, Neighbours, Search, Tuning, EXACT_BUDGET,
};
use cotlabel::core::signals::signature::{signatures, DIM};
use cotlabel::core::Dataset;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const K: usize = 10;
const TARGET: f64 = 0.95;

/// Noise added to each replica: to the unit embedding, and to the signature vector (norms).
/// The data is harder than the real rows: its 10th-neighbour distance is 0.83 of random
/// pairs' 2.0 at 20,000 rows, GSM8K's 0.70 of 1.99 (0.35 would give 0.40, which every
/// search finds).
const EMBEDDING_NOISE: f32 = 0.8;
const SIGNATURE_NOISE: f32 = 0.8;

/// The shipped demo: records with embeddings.
fn demo() -> Dataset {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("static/demo");
    let files = ["demo_cots.json", "demo_emb.npy"]
        .map(|n| InputFile::new(n, std::fs::read(dir.join(n)).expect(n)));
    plan_import(&files, None)
        .expect("the demo imports")
        .dataset
        .expect("records")
}

/// The graph's feature rows of a data set (default weights).
fn graph_rows(ds: &Dataset) -> Matrix2 {
    let vectors: Vec<[f32; DIM]> = signatures(ds).iter().map(|s| s.vector).collect();
    let e = ds.embeddings().expect("embeddings");
    let m = Matrix::new(e.as_slice(), e.rows(), e.dim()).unwrap();
    features(Some(m), &vectors, &GraphConfig::default())
}

/// Standard normal values (Box–Muller) from a seeded generator.
fn gauss(rng: &mut SmallRng) -> f32 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

/// `n` feature rows: demo row `i % 300`, its unit embedding and signature vector each
/// moved by Gaussian noise of about the given norm (signature values kept in [0, 1]).
fn synthetic(ds: &Dataset, n: usize, emb_noise: f32, sig_noise: f32, seed: u64) -> Matrix2 {
    let vectors: Vec<[f32; DIM]> = signatures(ds).iter().map(|s| s.vector).collect();
    let e = ds.embeddings().expect("embeddings");
    let (rows, dim) = (e.rows(), e.dim());
    let mut rng = SmallRng::seed_from_u64(seed);
    let (se, ss) = (
        emb_noise / (dim as f32).sqrt(),
        sig_noise / (DIM as f32).sqrt(),
    );
    let mut emb = Vec::with_capacity(n * dim);
    let mut sig = Vec::with_capacity(n);
    for i in 0..n {
        let row = e.row(i % rows);
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        emb.extend(row.iter().map(|v| v / norm + se * gauss(&mut rng)));
        let mut s = vectors[i % rows];
        s.iter_mut()
            .for_each(|v| *v = (*v + ss * gauss(&mut rng)).clamp(0.0, 1.0));
        sig.push(s);
    }
    let m = Matrix::new(&emb, n, dim).unwrap();
    features(Some(m), &sig, &GraphConfig::default())
}

/// The exact `k` nearest of the rows `sample` (brute force, the definition).
fn exact_of(x: Matrix, sample: &[usize], k: usize) -> Vec<Vec<(u32, f32)>> {
    sample
        .iter()
        .map(|&a| {
            let mut all: Vec<(u32, f32)> = (0..x.rows)
                .filter(|&b| b != a)
                .map(|b| (b as u32, sq(x.row(a), x.row(b))))
                .collect();
            all.select_nth_unstable_by(k - 1, |p, q| p.1.total_cmp(&q.1).then(p.0.cmp(&q.0)));
            all.truncate(k);
            all.sort_by(|p, q| p.1.total_cmp(&q.1).then(p.0.cmp(&q.0)));
            all
        })
        .collect()
}

/// Squared distance as the crate sums it (eight lanes), so equal pairs compare equal.
fn sq(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            let d = x[l] - y[l];
            acc[l] += d * d;
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| (x - y) * (x - y)).sum();
    acc.iter().sum::<f32>() + tail
}

/// Share of the approximate lists of rows `sample` within the exact k-th distance.
fn recall(approx: &Neighbours, exact: &[Vec<(u32, f32)>], sample: &[usize]) -> f64 {
    let mut hit = 0usize;
    let mut all = 0usize;
    for (&a, e) in sample.iter().zip(exact) {
        let kth = e.last().map_or(f32::INFINITY, |p| p.1);
        all += e.len();
        hit += approx[a].iter().filter(|p| p.1 <= kth).count().min(e.len());
    }
    hit as f64 / all.max(1) as f64
}

/// Mean distance to the 10th neighbour beside the mean distance of random pairs.
fn spread(x: Matrix, near: &Neighbours) -> String {
    let n = x.rows;
    let kth = near.iter().map(|r| r[K - 1].1.sqrt() as f64).sum::<f64>() / n as f64;
    let pairs = (0..1000)
        .map(|i| sq(x.row(i * 7919 % n), x.row((i * 104_729 + 1) % n)).sqrt() as f64)
        .sum::<f64>()
        / 1000.0;
    format!("10th-neighbour distance {kth:.3}, random pairs {pairs:.3}")
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64())
}

/// Recall and time of the approximate search on `x`, against the exact answer for
/// `sample` rows (all when `None`: then the exact search is timed too).
fn measure(name: &str, x: Matrix, sample: Option<usize>, tuning: &Tuning) -> f64 {
    let n = x.rows;
    let (approx, ta) = timed(|| approximate_knn(x, K, tuning, &mut |_| true).unwrap());
    for (a, row) in approx.iter().enumerate() {
        assert_eq!(row.len(), K);
        assert!(row
            .iter()
            .all(|&(b, _)| b as usize != a && (b as usize) < n));
        assert!(row.windows(2).all(|w| (w[0].1, w[0].0) < (w[1].1, w[1].0)));
    }
    let (r, exact_time) = match sample {
        None => {
            let (exact, te) = timed(|| exact_knn(x, K, &mut |_| true).unwrap());
            let all: Vec<usize> = (0..n).collect();
            (recall(&approx, &exact, &all), format!("exact {te:.2} s"))
        }
        Some(s) => {
            let rows: Vec<usize> = (0..s).map(|i| i * n / s).collect();
            let exact = exact_of(x, &rows, K);
            (recall(&approx, &exact, &rows), format!("exact on {s} rows"))
        }
    };
    eprintln!(
        "{name}: {n} × {}: recall@{K} {r:.4}, approximate {ta:.2} s, {exact_time}; {}",
        x.dim,
        spread(x, &approx)
    );
    r
}

#[test]
fn recall_at_5k_synthetic() {
    let ds = demo();
    let rows = synthetic(&ds, 5000, EMBEDDING_NOISE, SIGNATURE_NOISE, 1);
    let r = measure("synthetic", rows.view(), None, &Tuning::default());
    assert!(r >= TARGET, "recall@{K} {r:.4} < {TARGET}");
}

#[test]
#[cfg_attr(debug_assertions, ignore = "release only: 20,000 × 417")]
fn recall_at_20k_synthetic() {
    let ds = demo();
    let rows = synthetic(&ds, 20_000, EMBEDDING_NOISE, SIGNATURE_NOISE, 2);
    let r = measure("synthetic", rows.view(), Some(2000), &Tuning::default());
    assert!(r >= TARGET, "recall@{K} {r:.4} < {TARGET}");
}

#[test]
#[cfg_attr(debug_assertions, ignore = "release only: 6,595 × 417")]
fn recall_on_gsm8k() {
    let Some(dir) = crate::support::gsm8k::data_dir() else {
        return;
    };
    let files = ["gsm8k_cots.jsonl", "gsm8k_cot_emb.npy"]
        .map(|n| InputFile::new(n, std::fs::read(dir.join(n)).expect(n)));
    let ds = plan_import(&files, None).unwrap().dataset.unwrap();
    let rows = graph_rows(&ds);
    let r = measure("GSM8K", rows.view(), None, &Tuning::default());
    assert!(r >= TARGET, "recall@{K} {r:.4} < {TARGET}");
    // the trees' candidates (used past 16,384 rows by default), forced with smaller leaves
    let trees = Tuning {
        leaf: 256,
        ..Default::default()
    };
    let r = measure("GSM8K, trees of 256", rows.view(), None, &trees);
    assert!(r >= TARGET, "recall@{K} {r:.4} < {TARGET}");
}

#[test]
fn auto_is_exact_on_the_demo() {
    let ds = demo();
    let rows = graph_rows(&ds);
    let x = rows.view();
    assert!((x.rows * x.rows * x.dim) as f64 <= EXACT_BUDGET);
    assert_eq!(Search::Auto.resolve(x.rows, x.dim), Search::Exact);
    let exact = exact_knn(x, K, &mut |_| true).unwrap();
    assert_eq!(knn(x, K, &mut |_| true).unwrap(), exact);
    let all: Vec<usize> = (0..x.rows).collect();
    assert_eq!(recall(&exact, &exact_of(x, &all, K), &all), 1.0);
}

/// The measurements behind the defaults (`--release -- --ignored --nocapture
/// --test-threads=1`): recall and time of several tunings at 20,000 and 100,000 rows.
#[test]
#[ignore]
fn sweep() {
    let ds = demo();
    let d = Tuning::default();
    let tunings = [
        d,
        Tuning {
            neighbours: 15,
            ..d
        },
        Tuning { fanout: 12, ..d },
        Tuning {
            trees: 8,
            leaf: 512,
            ..d
        },
        Tuning {
            trees: 6,
            leaf: 512,
            fanout: 12,
            ..d
        },
        Tuning {
            trees: 8,
            leaf: 512,
            neighbours: 15,
            fanout: 12,
            ..d
        },
        Tuning { trees: 0, ..d },
    ];
    for (n, sample) in [(20_000, 1000), (100_000, 500)] {
        let rows = synthetic(&ds, n, EMBEDDING_NOISE, SIGNATURE_NOISE, 3);
        let x = rows.view();
        let sample: Vec<usize> = (0..sample).map(|i| i * n / sample).collect();
        let exact = exact_of(x, &sample, K);
        for t in &tunings {
            if n > 20_000 && t.trees == 0 {
                continue;
            }
            let (approx, ta) = timed(|| approximate_knn(x, K, t, &mut |_| true).unwrap());
            let r = recall(&approx, &exact, &sample);
            eprintln!("{n}: recall@{K} {r:.4} in {ta:.2} s: {t:?}");
        }
    }
}

/// Exact and approximate at 5,000 and 20,000 rows, approximate at 100,000.
#[test]
#[ignore]
fn timings() {
    let ds = demo();
    for n in [5000, 20_000] {
        let rows = synthetic(&ds, n, EMBEDDING_NOISE, SIGNATURE_NOISE, 2);
        measure("synthetic", rows.view(), None, &Tuning::default());
    }
    let rows = synthetic(&ds, 100_000, EMBEDDING_NOISE, SIGNATURE_NOISE, 3);
    measure("synthetic", rows.view(), Some(500), &Tuning::default());
}
