//! Clustering and the map on the shipped demo, against scikit-learn's results in
//! ../shared/data (KMeans(n_clusters=8, n_init=10, random_state=0): inertia 174.1818 and
//! its labels). The demo ships in static/demo, so the inertia check always runs.

use std::path::Path;

use cotlabel::core::cluster::{kmeans, kmeans_from, KMeansConfig, Matrix};
use cotlabel::core::hdbscan::{hdbscan, HdbscanConfig};
use cotlabel::core::import::parse_npy;
use cotlabel::core::metrics::adjusted_rand_index;
use cotlabel::core::project::pca2;
use cotlabel::core::Embeddings;

const SKLEARN_INERTIA: f64 = 174.1818;

fn demo() -> Embeddings {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    parse_npy(
        "demo_emb.npy",
        &std::fs::read(root.join("static/demo/demo_emb.npy")).unwrap(),
    )
    .unwrap()
}

/// scikit-learn's labels for the demo from ../shared/data/demo, when present.
fn sklearn_labels(name: &str) -> Option<Vec<i64>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/demo")
        .join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("a JSON list of labels")),
        Err(_) => {
            eprintln!(
                "SKIP: {} is absent; the label parity check did not run",
                path.display()
            );
            None
        }
    }
}

#[test]
fn kmeans8_matches_scikit_learn_on_the_demo() {
    let e = demo();
    let x = Matrix::new(e.as_slice(), e.rows(), e.dim()).unwrap();
    let r = kmeans(
        x,
        &KMeansConfig {
            k: 8,
            restarts: 10,
            seed: 0,
            ..Default::default()
        },
        &mut |_| true,
    )
    .unwrap();
    let rel = (r.inertia - SKLEARN_INERTIA) / SKLEARN_INERTIA;
    println!(
        "k-means k=8 ×10: inertia {:.4} (scikit-learn {SKLEARN_INERTIA}, {:+.2} %)",
        r.inertia,
        rel * 100.0
    );
    assert!(
        rel.abs() < 0.01,
        "inertia {} is not within 1 % of {SKLEARN_INERTIA}",
        r.inertia
    );
    let mut sizes = vec![0; 8];
    r.labels.iter().for_each(|&l| sizes[l] += 1);
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    println!("cluster sizes {sizes:?} (scikit-learn [69, 56, 51, 32, 28, 23, 21, 20])");
    let Some(sk) = sklearn_labels("kmeans8_labels.json") else {
        return;
    };
    let ours: Vec<i64> = r.labels.iter().map(|&l| l as i64).collect();
    // Independent random starts land in another local optimum of about the same inertia
    // (here a lower one), so the partitions differ; reported, not asserted.
    println!(
        "ARI of our own best start against scikit-learn's labels: {:.4}",
        adjusted_rand_index(&ours, &sk)
    );
    // Started from scikit-learn's centres, Lloyd's iterations must reproduce its partition.
    let mut centres = vec![0f32; 8 * e.dim()];
    let mut counts = [0f32; 8];
    for (i, &l) in sk.iter().enumerate() {
        counts[l as usize] += 1.0;
        for (c, v) in centres[l as usize * e.dim()..(l as usize + 1) * e.dim()]
            .iter_mut()
            .zip(e.row(i))
        {
            *c += v;
        }
    }
    for (j, n) in counts.iter().enumerate() {
        centres[j * e.dim()..(j + 1) * e.dim()]
            .iter_mut()
            .for_each(|c| *c /= n);
    }
    let same = kmeans_from(x, centres, &KMeansConfig::default(), &mut |_| true).unwrap();
    let ours: Vec<i64> = same.labels.iter().map(|&l| l as i64).collect();
    let ari = adjusted_rand_index(&ours, &sk);
    println!(
        "from scikit-learn's centres: ARI {ari:.4}, inertia {:.4}",
        same.inertia
    );
    assert!(ari >= 0.99, "ARI {ari}");
    assert!(
        (same.inertia - SKLEARN_INERTIA).abs() / SKLEARN_INERTIA < 1e-4,
        "{}",
        same.inertia
    );
}

#[test]
fn pca_of_the_demo_is_deterministic_and_centred() {
    let e = demo();
    let x = Matrix::new(e.as_slice(), e.rows(), e.dim()).unwrap();
    let a = pca2(x, &mut |_| true).unwrap();
    assert_eq!(a, pca2(x, &mut |_| true).unwrap());
    let mean: f64 = a.xy.iter().map(|p| p[0] as f64).sum::<f64>() / a.xy.len() as f64;
    assert!(mean.abs() < 1e-5);
    assert!(a.explained[0] >= a.explained[1] && a.explained[1] > 0.0);
    // The components are orthonormal.
    let (c0, c1) = a.components.split_at(e.dim());
    let dot: f64 = c0.iter().zip(c1).map(|(x, y)| x * y).sum();
    let n0: f64 = c0.iter().map(|x| x * x).sum();
    assert!(dot.abs() < 1e-9 && (n0 - 1.0).abs() < 1e-9);
    // The first axis's variance equals the explained share of the total.
    let total: f64 = (0..e.dim())
        .map(|d| {
            let m = (0..e.rows()).map(|i| e.row(i)[d] as f64).sum::<f64>() / e.rows() as f64;
            (0..e.rows())
                .map(|i| (e.row(i)[d] as f64 - m).powi(2))
                .sum::<f64>()
                / (e.rows() - 1) as f64
        })
        .sum();
    let var0: f64 =
        a.xy.iter()
            .map(|p| (p[0] as f64 - mean).powi(2))
            .sum::<f64>()
            / (e.rows() - 1) as f64;
    assert!(
        (var0 / total - a.explained[0]).abs() < 1e-5,
        "{} vs {}",
        var0 / total,
        a.explained[0]
    );
    println!(
        "PCA explained variance: {:.4}, {:.4}",
        a.explained[0], a.explained[1]
    );
}

#[test]
fn hdbscan5_matches_scikit_learn_on_the_demo() {
    let e = demo();
    let x = Matrix::new(e.as_slice(), e.rows(), e.dim()).unwrap();
    let r = hdbscan(x, &HdbscanConfig::default(), &mut |_| true).unwrap();
    let clusters = r.persistence.len();
    let noise = r.labels.iter().filter(|&&l| l < 0).count() as f64 / r.labels.len() as f64;
    let mut sizes = vec![0usize; clusters];
    r.labels
        .iter()
        .filter(|&&l| l >= 0)
        .for_each(|&l| sizes[l as usize] += 1);
    sizes.sort_unstable_by(|a, b| b.cmp(a));
    println!("HDBSCAN(5): {clusters} clusters {sizes:?}, noise {:.1} % (scikit-learn: 8 clusters [76, 16, 12, 9, 8, 7, 6, 5], 53.7 %)", noise * 100.0);
    assert_eq!(clusters, 8);
    let Some(sk) = sklearn_labels("hdbscan5_labels.json") else {
        return;
    };
    let ours: Vec<i64> = r.labels.iter().map(|&l| l as i64).collect();
    let ari = adjusted_rand_index(&ours, &sk);
    println!("ARI against scikit-learn's labels (noise as one label): {ari:.4}");
    assert!(ari >= 0.95, "ARI {ari}");
}
