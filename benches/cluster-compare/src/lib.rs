//! One tiny entry point per crate, so `cargo build --target wasm32-unknown-unknown
//! --features X` shows whether that crate builds for the page.

#[cfg(feature = "ours")]
pub fn ours(data: &[f32], rows: usize, dim: usize) -> usize {
    use cotlabel::core::base::Matrix;
use cotlabel::core::map::kmeans::{kmeans, KMeansConfig};
    use cotlabel::core::map::hdbscan::{hdbscan, HdbscanConfig};
    let x = Matrix::new(data, rows, dim).unwrap();
    let k = kmeans(x, &KMeansConfig::default(), &mut |_| true).unwrap();
    let h = hdbscan(x, &HdbscanConfig::default(), &mut |_| true).unwrap();
    k.labels.len() + h.labels.len()
}

#[cfg(feature = "linfa")]
pub fn linfa_kmeans(data: Vec<f32>, rows: usize, dim: usize) -> usize {
    use linfa::prelude::*;
    use linfa_clustering::KMeans;
    let a = ndarray16::Array2::from_shape_vec((rows, dim), data).unwrap();
    let ds = DatasetBase::from(a);
    let m = KMeans::params(8).n_runs(10).fit(&ds).unwrap();
    m.predict(&ds).len()
}

#[cfg(feature = "petal")]
pub fn petal_hdbscan(data: Vec<f32>, rows: usize, dim: usize) -> usize {
    use petal_clustering::{Fit, HDbscan};
    let a = ndarray17::Array2::from_shape_vec((rows, dim), data).unwrap();
    let mut h = HDbscan {
        alpha: 1.0f32,
        min_samples: 5,
        min_cluster_size: 5,
        metric: petal_neighbors::distance::Euclidean::default(),
        boruvka: true,
    };
    let (c, _noise, _scores) = h.fit(&a, None);
    c.len()
}

#[cfg(feature = "hdb")]
pub fn hdbscan_crate(data: &[Vec<f32>]) -> usize {
    let hp = hdbscan::HdbscanHyperParams::builder()
        .min_cluster_size(5)
        .min_samples(5)
        .build();
    hdbscan::Hdbscan::new(data, hp).cluster().unwrap().len()
}
