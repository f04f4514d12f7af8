//! k-means and HDBSCAN: the app's code (cotlabel) beside linfa-clustering, petal-clustering
//! and the `hdbscan` crate. Native, release, one thread (run with RAYON_NUM_THREADS=1).
//!
//! Usage: cluster-compare [METHOD ...]   (default: all)
//! METHOD: ours-kmeans linfa-kmeans ours-hdbscan-exact ours-hdbscan-auto petal-hdbscan hdbscan-crate
//!
//! For each method: ARI against scikit-learn's labels on the 300-row demo, then the time
//! (median of 3; 1 run when the first one takes over 10 s) on the first 1,000 and 5,000
//! rows of the GSM8K CoT embeddings, with inertia (k-means) or clusters / noise share
//! (HDBSCAN) and, for HDBSCAN, the ARI against the app's exact HDBSCAN on the same rows.

use std::io::Write;
use std::time::Instant;

use cotlabel::core::base::Matrix;
use cotlabel::core::map::kmeans::{kmeans, KMeansConfig};
use cotlabel::core::map::hdbscan::{hdbscan, HdbscanConfig, MstMethod};
use cotlabel::core::io::import::parse_npy;
use cotlabel::core::metrics::adjusted_rand_index;

const DATA: &str = "/work/shared/data/gsm8k_cot_emb.npy";
const DEMO: &str = "/work/shared/data/demo/demo_emb.npy";
const DEMO_KM: &str = "/work/shared/data/demo/kmeans8_labels.json";
const DEMO_HDB: &str = "/work/shared/data/demo/hdbscan5_labels.json";

type Method = fn(&[f32], usize, usize) -> Vec<i64>;

fn ours_kmeans(d: &[f32], n: usize, dim: usize) -> Vec<i64> {
    let x = Matrix::new(d, n, dim).unwrap();
    let cfg = KMeansConfig { k: 8, restarts: 10, ..Default::default() };
    let r = kmeans(x, &cfg, &mut |_| true).unwrap();
    r.labels.iter().map(|&l| l as i64).collect()
}

fn linfa_kmeans(d: &[f32], n: usize, dim: usize) -> Vec<i64> {
    use linfa::prelude::*;
    use linfa_clustering::KMeans;
    let a = ndarray16::Array2::from_shape_vec((n, dim), d.to_vec()).unwrap();
    let ds = DatasetBase::from(a);
    // defaults: k-means++ init, max 300 iterations, tolerance 1e-4 (absolute centroid shift)
    let m = KMeans::params(8).n_runs(10).tolerance(1e-4).max_n_iterations(300).fit(&ds).unwrap();
    m.predict(&ds).iter().map(|&l| l as i64).collect()
}

fn ours_hdb(d: &[f32], n: usize, dim: usize, method: MstMethod) -> Vec<i64> {
    let x = Matrix::new(d, n, dim).unwrap();
    let cfg = HdbscanConfig { min_cluster_size: 5, min_samples: None, method };
    let r = hdbscan(x, &cfg, &mut |_| true).unwrap();
    r.labels.iter().map(|&l| l as i64).collect()
}
fn ours_hdb_exact(d: &[f32], n: usize, dim: usize) -> Vec<i64> {
    ours_hdb(d, n, dim, MstMethod::Exact)
}
fn ours_hdb_auto(d: &[f32], n: usize, dim: usize) -> Vec<i64> {
    ours_hdb(d, n, dim, MstMethod::Auto)
}

fn petal_hdb(d: &[f32], n: usize, dim: usize) -> Vec<i64> {
    use petal_clustering::{Fit, HDbscan};
    let a = ndarray17::Array2::from_shape_vec((n, dim), d.to_vec()).unwrap();
    let mut h = HDbscan {
        alpha: 1.0f32,
        min_samples: 5,
        min_cluster_size: 5,
        metric: petal_neighbors::distance::Euclidean::default(),
        boruvka: true,
    };
    let (clusters, _noise, _scores) = h.fit(&a, None);
    let mut labels = vec![-1i64; n];
    for (c, pts) in clusters {
        for p in pts {
            labels[p] = c as i64;
        }
    }
    labels
}

fn hdb_crate(d: &[f32], n: usize, dim: usize) -> Vec<i64> {
    let rows: Vec<Vec<f32>> = (0..n).map(|i| d[i * dim..(i + 1) * dim].to_vec()).collect();
    let hp = hdbscan::HdbscanHyperParams::builder()
        .min_cluster_size(5)
        .min_samples(5)
        .build();
    let l = hdbscan::Hdbscan::new(&rows, hp).cluster().unwrap();
    l.iter().map(|&l| l as i64).collect()
}

fn load(path: &str) -> (Vec<f32>, usize, usize) {
    let bytes = std::fs::read(path).unwrap();
    let e = parse_npy(path, &bytes).unwrap();
    (e.as_slice().to_vec(), e.rows(), e.dim())
}

fn load_labels(path: &str) -> Vec<i64> {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Sum of squared distances to the mean of each label's points (the same formula for all).
fn inertia(d: &[f32], dim: usize, labels: &[i64]) -> f64 {
    use std::collections::HashMap;
    let mut sums: HashMap<i64, (Vec<f64>, usize)> = HashMap::new();
    for (i, &l) in labels.iter().enumerate() {
        let e = sums.entry(l).or_insert_with(|| (vec![0.0; dim], 0));
        for j in 0..dim {
            e.0[j] += d[i * dim + j] as f64;
        }
        e.1 += 1;
    }
    let mut s = 0.0;
    for (i, &l) in labels.iter().enumerate() {
        let (c, m) = &sums[&l];
        for j in 0..dim {
            let x = d[i * dim + j] as f64 - c[j] / *m as f64;
            s += x * x;
        }
    }
    s
}

fn describe(kind: &str, d: &[f32], dim: usize, labels: &[i64]) -> String {
    if kind == "kmeans" {
        format!("inertia {:.2}", inertia(d, dim, labels))
    } else {
        let mut ids: Vec<i64> = labels.iter().copied().filter(|&l| l >= 0).collect();
        ids.sort_unstable();
        ids.dedup();
        let noise = labels.iter().filter(|&&l| l < 0).count();
        format!(
            "clusters {}, noise {:.1}%",
            ids.len(),
            100.0 * noise as f64 / labels.len() as f64
        )
    }
}

fn timed(f: Method, d: &[f32], n: usize, dim: usize) -> (f64, usize, Vec<i64>) {
    let mut times = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        labels = f(d, n, dim);
        times.push(t.elapsed().as_secs_f64());
        if times[0] > 10.0 {
            break;
        }
    }
    let runs = times.len();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], runs, labels)
}

fn main() {
    let methods: Vec<(&str, &str, Method)> = vec![
        ("ours-kmeans", "kmeans", ours_kmeans),
        ("linfa-kmeans", "kmeans", linfa_kmeans),
        ("ours-hdbscan-exact", "hdbscan", ours_hdb_exact),
        ("ours-hdbscan-auto", "hdbscan", ours_hdb_auto),
        ("petal-hdbscan", "hdbscan", petal_hdb),
        ("hdbscan-crate", "hdbscan", hdb_crate),
    ];
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<usize> = std::env::var("SIZES")
        .map(|s| s.split(',').map(|x| x.parse().unwrap()).collect())
        .unwrap_or(vec![1000, 5000]);
    let (demo, dn, ddim) = load(DEMO);
    let (data, rows, dim) = load(DATA);
    println!("demo {dn}x{ddim}, data {rows}x{dim}");
    let sk_km = load_labels(DEMO_KM);
    let sk_hdb = load_labels(DEMO_HDB);
    // reference for HDBSCAN agreement at 1k / 5k: the app's exact HDBSCAN
    let mut reference: Vec<(usize, Vec<i64>)> = Vec::new();
    for (name, kind, f) in methods {
        if !args.is_empty() && !args.iter().any(|a| a == name) {
            continue;
        }
        let demo_labels = f(&demo, dn, ddim);
        let sk = if kind == "kmeans" { &sk_km } else { &sk_hdb };
        println!(
            "{name:20} demo n=300: ARI vs sklearn {:.3}; {}",
            adjusted_rand_index(&demo_labels, sk),
            describe(kind, &demo, ddim, &demo_labels)
        );
        std::io::stdout().flush().unwrap();
        for &n in &sizes {
            let d = &data[..n * dim];
            let (t, runs, labels) = timed(f, d, n, dim);
            let mut extra = String::new();
            if kind == "hdbscan" {
                if name == "ours-hdbscan-exact" {
                    reference.push((n, labels.clone()));
                } else if let Some((_, r)) = reference.iter().find(|(m, _)| *m == n) {
                    extra = format!("; ARI vs ours-exact {:.3}", adjusted_rand_index(&labels, r));
                }
            }
            println!(
                "{name:20} n={n}: {t:.3} s (median of {runs}); {}{extra}",
                describe(kind, d, dim, &labels)
            );
            std::io::stdout().flush().unwrap();
        }
    }
}
