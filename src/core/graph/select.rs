//! Which CoTs to show a person: representatives (cluster medoids, a diverse cover) and the
//! active-learning queue that orders the unlabelled CoTs by the value of labelling them.

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::core::base::{sq_dist, ClusterError, Matrix};
use crate::core::graph::propagate::Propagation;
use crate::core::graph::Graph;
use crate::core::map::kmeans::{central_points, kmeans, KMeansConfig};

/// How the next CoTs to label are chosen (the harness compares them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Strategy {
    /// Uniformly at random (the baseline).
    Random,
    /// The central CoT of each of k k-means clusters.
    Medoids,
    /// Farthest-first traversal: each pick is the CoT farthest from those picked.
    Cover,
    /// The active-learning queue, re-ranked after every label.
    Active,
}

impl Strategy {
    /// Every strategy.
    pub const ALL: [Self; 4] = [Self::Random, Self::Medoids, Self::Cover, Self::Active];

    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Random => "random",
            Self::Medoids => "medoids",
            Self::Cover => "cover",
            Self::Active => "active",
        }
    }
}

/// `k` CoTs in random order (seeded).
pub fn random(n: usize, k: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut SmallRng::seed_from_u64(seed));
    idx.truncate(k);
    idx
}

/// The central CoT of each of `k` k-means clusters of `x`, largest cluster first.
pub fn medoids(x: Matrix, k: usize, seed: u64) -> Result<Vec<usize>, ClusterError> {
    let k = k.min(x.rows);
    if k == 0 {
        return Ok(Vec::new());
    }
    let cfg = KMeansConfig {
        k,
        restarts: 3,
        seed,
        ..Default::default()
    };
    let r = kmeans(x, &cfg, &mut |_| true)?;
    let labels: Vec<i32> = r.labels.iter().map(|&l| l as i32).collect();
    let mut sizes = vec![0usize; k];
    for &l in &r.labels {
        sizes[l] += 1;
    }
    let mut picks: Vec<(usize, usize)> = central_points(x, &labels)
        .into_iter()
        .enumerate()
        .filter_map(|(c, m)| m.map(|m| (sizes[c], m)))
        .collect();
    picks.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(picks.into_iter().map(|p| p.1).collect())
}

/// Farthest-first traversal (a 2-approximation of the k-center cover): starts from the CoT
/// nearest the mean, or from the CoTs in `taken`, then repeatedly takes the CoT farthest
/// from everything taken. Returns the `k` new picks.
pub fn cover(x: Matrix, k: usize, taken: &[usize]) -> Vec<usize> {
    let n = x.rows;
    let mut nearest = vec![f32::INFINITY; n];
    let mut picks = Vec::new();
    let add = |i: usize, nearest: &mut [f32]| {
        for (j, d) in nearest.iter_mut().enumerate() {
            *d = d.min(sq_dist(x.row(i), x.row(j)));
        }
    };
    if taken.is_empty() {
        let mut mean = vec![0f64; x.dim];
        for i in 0..n {
            for (m, v) in mean.iter_mut().zip(x.row(i)) {
                *m += *v as f64 / n as f64;
            }
        }
        let mean: Vec<f32> = mean.into_iter().map(|m| m as f32).collect();
        if let Some(first) =
            (0..n).min_by(|&a, &b| sq_dist(x.row(a), &mean).total_cmp(&sq_dist(x.row(b), &mean)))
        {
            add(first, &mut nearest);
            picks.push(first);
        }
    } else {
        for &t in taken {
            add(t, &mut nearest);
        }
    }
    while picks.len() < k.min(n) {
        let Some(far) = (0..n)
            .filter(|&i| nearest[i] > 0.0)
            .max_by(|&a, &b| nearest[a].total_cmp(&nearest[b]).then(b.cmp(&a)))
        else {
            break; // every CoT coincides with a pick
        };
        add(far, &mut nearest);
        picks.push(far);
    }
    picks
}

/// The active-learning queue: unlabelled CoTs by expected value of a human label, highest
/// first. Value = uncertainty `1 − |2p − 1|` × (1 + the uncertainty it would move: the sum
/// over its neighbours `j` of `|w_ij| / deg_j × uncertainty_j`), so a doubtful CoT that
/// decides many doubtful neighbours comes before a doubtful loner.
pub fn queue(graph: &Graph, prop: &Propagation, human: &[Option<bool>]) -> Vec<(usize, f64)> {
    let n = human.len();
    let unsure: Vec<f64> = prop.p.iter().map(|p| 1.0 - (2.0 * p - 1.0).abs()).collect();
    let degree: Vec<f64> = (0..graph.len()).map(|i| graph.degree(i) as f64).collect();
    let mut q: Vec<(usize, f64)> = (0..n)
        .filter(|&i| human[i].is_none())
        .map(|i| {
            let moved: f64 = if i < graph.len() {
                graph
                    .edges(i)
                    .filter(|(j, _)| human[*j].is_none() && degree[*j] > 0.0)
                    .map(|(j, w)| w.abs() as f64 / degree[j] * unsure[j])
                    .sum()
            } else {
                0.0
            };
            (i, unsure[i] * (1.0 + moved))
        })
        .collect();
    q.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustc_hash::FxHashMap as HashMap;

    #[test]
    fn cover_takes_the_far_points_first() {
        let data = [0.0f32, 0.1, 0.2, 10.0, 5.0];
        let x = Matrix::new(&data, 5, 1).unwrap();
        // mean 3.06 → nearest is 5.0 (index 4); then 10 is 25 away, 0 is 25 away: tie →
        // lower index wins (0); then 10
        assert_eq!(cover(x, 3, &[]), vec![4, 0, 3]);
        assert_eq!(cover(x, 1, &[0, 3]), vec![4]);
        // identical points: stops when nothing is left to cover
        let same = [1.0f32; 4];
        assert_eq!(cover(Matrix::new(&same, 4, 1).unwrap(), 3, &[]).len(), 1);
    }

    #[test]
    fn medoids_are_one_per_cluster() {
        let data = [0.0f32, 0.1, 0.15, 0.4, 10.0, 10.1, 10.3, 20.0, 20.1, 20.2];
        let x = Matrix::new(&data, 10, 1).unwrap();
        let mut m = medoids(x, 3, 0).unwrap();
        assert_eq!(m[0], 2, "largest cluster first, its central point");
        m.sort();
        assert_eq!(m, vec![2, 5, 8]);
    }

    #[test]
    fn queue_prefers_doubt_that_moves_neighbours() {
        // star: 0 joined to 1, 2, 3; 4 alone. All unsure (p = ½) except 3.
        let mut adj: Vec<HashMap<u32, f32>> = vec![HashMap::default(); 5];
        for j in 1..4u32 {
            adj[0].insert(j, 1.0);
            adj[j as usize].insert(0, 1.0);
        }
        let g = Graph::from_adjacency(adj);
        let prop = Propagation {
            p: vec![0.5, 0.5, 0.5, 0.95, 0.5],
            ..Default::default()
        };
        let human = [None, None, Some(true), None, None];
        let q = queue(&g, &prop, &human);
        assert_eq!(q.iter().map(|e| e.0).collect::<Vec<_>>(), vec![0, 1, 4, 3]);
        // 0: 1 × (1 + 1·1 [from 1] + 1·0.1 [from 3]) = 2.1; 2 is human: not moved, not queued
        assert!((q[0].1 - 2.1).abs() < 1e-9, "{q:?}");
    }
}
