//! The similarity graph that labels travel over. Its nodes are CoTs; its edges join
//!
//! - each CoT to its `neighbours` nearest CoTs in a combined space: the unit embedding
//!   (weight `embedding_weight`) beside the reasoning-signature vector (weight
//!   `signature_weight`) — so two CoTs are near when they read alike *and* reason alike
//!   (found exactly, or approximately for large sets: [`crate::core::map::neighbours`]);
//! - CoTs of the same question (`sibling_weight`), positively when they give the same final
//!   answer and **negatively** when they give different ones: if one is sound the other is
//!   not. This is the structure that carries the correctness signal on real data (see
//!   `tests/integration/signatures.rs`); an embedding-only graph does not (`baselines.json`).
//!
//! Edges are stored once per direction (CSR), with a signed weight; propagation divides by
//! the sum of absolute weights of a row, so every update is a signed convex combination.

use rustc_hash::FxHashMap as HashMap;

use crate::core::base::{sq_dist, ClusterError, Matrix, Progress};
use crate::core::data::Dataset;
use crate::core::map::neighbours::{self, Search};
use crate::core::signals::signature::{Signature, DIM};

/// How the graph is made. The defaults were chosen on the GSM8K train split with
/// `cargo run --release --bin simulate -- --tune` (neighbours ∈ {5, 10, 20}, embedding
/// weight ∈ {0, ¼, 1}, sibling weight ∈ {0, ½, 1, 2}: the spread of the best dozen is
/// under 0.002 accuracy, so the simplest of them is kept).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GraphConfig {
    /// Nearest neighbours per CoT in the combined space.
    pub neighbours: usize,
    /// Weight of the (unit) embedding in the combined space; 0 leaves it out.
    pub embedding_weight: f32,
    /// Weight of the signature vector in the combined space.
    pub signature_weight: f32,
    /// Weight of the edges among CoTs of one question (0 = none).
    pub sibling_weight: f32,
    /// Whether sibling edges are signed by answer agreement (false: all positive).
    pub answer_agreement: bool,
    /// How the nearest neighbours are found: exactly up to [`neighbours::EXACT_BUDGET`]
    /// (n² × width), approximately above (recall@10 ≥ 0.95, `tests/integration/neighbours.rs`).
    #[serde(default)]
    pub search: Search,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            neighbours: 10,
            embedding_weight: 0.25,
            signature_weight: 1.0,
            sibling_weight: 1.0,
            answer_agreement: true,
            search: Search::Auto,
        }
    }
}

/// Siblings linked to one CoT at most (the nearest ones, in large question groups).
pub const MAX_SIBLING_LINKS: usize = 32;

/// Per-CoT facts the graph needs beside its features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    /// Question group (same `question_id`, else the same question text).
    pub group: u32,
    /// Final answer, interned (`None`: no answer found).
    pub answer: Option<u32>,
}

/// Interns each record's question group and final answer (from its signature).
pub fn nodes(dataset: &Dataset, sigs: &[Signature]) -> Vec<Node> {
    let groups = dataset.groups().assignment();
    let mut answers = HashMap::<String, u32>::default();
    groups
        .iter()
        .zip(sigs)
        .map(|(&group, s)| {
            let answer = s.trace.answer.as_ref().map(|a| {
                let next = answers.len() as u32;
                *answers.entry(a.key()).or_insert(next)
            });
            Node { group, answer }
        })
        .collect()
}

/// Combined feature rows: `[√w_e · unit embedding, √w_s · signature vector]`, so that the
/// squared distance is `w_e·‖Δe‖² + w_s·‖Δv‖²`. `emb` may be absent (signature only).
pub fn features(emb: Option<Matrix>, signatures: &[[f32; DIM]], cfg: &GraphConfig) -> Matrix2 {
    let n = signatures.len();
    let use_emb = emb.filter(|e| e.rows == n && cfg.embedding_weight > 0.0);
    let edim = use_emb.map_or(0, |e| e.dim);
    let dim = edim + DIM;
    let (we, ws) = (cfg.embedding_weight.sqrt(), cfg.signature_weight.sqrt());
    let mut data = Vec::with_capacity(n * dim);
    for (i, sig) in signatures.iter().enumerate() {
        if let Some(e) = use_emb {
            let row = e.row(i);
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            let s = if norm > 0.0 && norm.is_finite() {
                we / norm
            } else {
                0.0
            };
            data.extend(row.iter().map(|v| v * s));
        }
        data.extend(sig.iter().map(|v| v * ws));
    }
    Matrix2 { data, rows: n, dim }
}

/// An owned row-major matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix2 {
    /// Values.
    pub data: Vec<f32>,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub dim: usize,
}

impl Matrix2 {
    /// A borrowed view.
    pub fn view(&self) -> Matrix<'_> {
        Matrix {
            data: &self.data,
            rows: self.rows,
            dim: self.dim,
        }
    }
}

/// A signed, weighted graph in CSR form.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    offsets: Vec<usize>,
    targets: Vec<u32>,
    weights: Vec<f32>,
}

impl Graph {
    /// `n` nodes and no edges.
    pub fn isolated(n: usize) -> Self {
        Self {
            offsets: vec![0; n + 1],
            ..Default::default()
        }
    }

    /// Nodes.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Edges of node `i`: (neighbour, signed weight).
    pub fn edges(&self, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let r = self.offsets[i]..self.offsets[i + 1];
        self.targets[r.clone()]
            .iter()
            .zip(&self.weights[r])
            .map(|(&t, &w)| (t as usize, w))
    }

    /// Sum of absolute edge weights of node `i`.
    pub fn degree(&self, i: usize) -> f32 {
        self.edges(i).map(|(_, w)| w.abs()).sum()
    }

    /// Builds the graph from edge lists (`adj[i]`: (j, signed weight)); each undirected
    /// edge appears in both lists. Duplicate (i, j) entries are summed.
    pub fn from_adjacency(adj: Vec<HashMap<u32, f32>>) -> Self {
        let mut offsets = Vec::with_capacity(adj.len() + 1);
        offsets.push(0);
        let mut targets = Vec::new();
        let mut weights = Vec::new();
        for row in adj {
            let mut row: Vec<(u32, f32)> = row.into_iter().filter(|(_, w)| *w != 0.0).collect();
            row.sort_unstable_by_key(|e| e.0);
            for (t, w) in row {
                targets.push(t);
                weights.push(w);
            }
            offsets.push(targets.len());
        }
        Self {
            offsets,
            targets,
            weights,
        }
    }
}

/// Builds the graph of `x` (rows = nodes, from [`features`]) and `nodes`.
pub fn build(
    x: Matrix,
    nodes: &[Node],
    cfg: &GraphConfig,
    progress: Progress,
) -> Result<Graph, ClusterError> {
    let n = x.rows;
    if nodes.len() != n {
        return Err(ClusterError::Shape {
            len: nodes.len(),
            rows: n,
            dim: 1,
        });
    }
    let mut adj: Vec<HashMap<u32, f32>> = vec![HashMap::default(); n];
    if cfg.neighbours > 0 && n > 1 {
        let near = neighbours::knn_by(x, cfg.neighbours, cfg.search, &mut |f| progress(0.9 * f))?;
        // Heat kernel with the mean k-th-neighbour distance as its scale.
        let scale = near
            .iter()
            .filter_map(|r| r.last().map(|e| e.1 as f64))
            .sum::<f64>()
            / n as f64;
        let scale = if scale > 0.0 { scale } else { 1.0 };
        for (i, row) in near.iter().enumerate() {
            for &(j, d) in row {
                let w = (-(d as f64) / scale).exp() as f32;
                // symmetric: the larger weight when both directions chose the edge
                for (a, b) in [(i, j as usize), (j as usize, i)] {
                    let e = adj[a].entry(b as u32).or_insert(0.0);
                    *e = e.max(w);
                }
            }
        }
    }
    if cfg.sibling_weight > 0.0 {
        let mut groups: HashMap<u32, Vec<usize>> = HashMap::default();
        for (i, node) in nodes.iter().enumerate() {
            groups.entry(node.group).or_default().push(i);
        }
        let mut members: Vec<Vec<usize>> = groups.into_values().collect();
        members.sort_unstable();
        // each unordered pair once, whichever member chose the other
        let mut pairs: HashMap<(u32, u32), f32> = HashMap::default();
        for g in members.iter().filter(|g| g.len() > 1) {
            for &i in g {
                let mut sibs: Vec<(f32, usize)> = g
                    .iter()
                    .filter(|&&j| j != i)
                    .map(|&j| (sq_dist(x.row(i), x.row(j)), j))
                    .collect();
                if sibs.len() > MAX_SIBLING_LINKS {
                    sibs.select_nth_unstable_by(MAX_SIBLING_LINKS - 1, |a, b| {
                        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
                    });
                    sibs.truncate(MAX_SIBLING_LINKS);
                }
                for (_, j) in sibs {
                    let sign = match (nodes[i].answer, nodes[j].answer) {
                        _ if !cfg.answer_agreement => 1.0,
                        (Some(a), Some(b)) if a == b => 1.0,
                        (Some(_), Some(_)) => -1.0,
                        _ => continue,
                    };
                    let key = (i.min(j) as u32, i.max(j) as u32);
                    pairs.insert(key, cfg.sibling_weight * sign);
                }
            }
        }
        for ((a, b), w) in pairs {
            *adj[a as usize].entry(b).or_insert(0.0) += w;
            *adj[b as usize].entry(a).or_insert(0.0) += w;
        }
    }
    progress(1.0);
    Ok(Graph::from_adjacency(adj))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(groups: &[(u32, Option<u32>)]) -> Vec<Node> {
        groups
            .iter()
            .map(|&(group, answer)| Node { group, answer })
            .collect()
    }

    #[test]
    fn graph_is_symmetric_and_siblings_are_signed_by_answer() {
        let data = [0.0f32, 0.1, 5.0, 5.1];
        let x = Matrix::new(&data, 4, 1).unwrap();
        // 0 and 2 answer question 7 alike; 1 answers it differently; 3 alone
        let ns = nodes(&[(7, Some(1)), (7, Some(2)), (7, Some(1)), (9, None)]);
        let cfg = GraphConfig {
            neighbours: 1,
            sibling_weight: 0.5,
            ..Default::default()
        };
        let g = build(x, &ns, &cfg, &mut |_| true).unwrap();
        let w = |i: usize, j: usize| g.edges(i).find(|e| e.0 == j).map(|e| e.1);
        for i in 0..4 {
            for j in 0..4 {
                assert_eq!(w(i, j), w(j, i), "{i} {j}");
            }
        }
        // 0–1: kNN weight (1 at the mean scale… e^{-d/scale}) minus the sibling weight
        let knn01 = (-(0.01f64) / 0.01).exp() as f32;
        assert!(
            (w(0, 1).unwrap() - (knn01 - 0.5)).abs() < 1e-6,
            "{:?}",
            w(0, 1)
        );
        // 0–2: siblings agreeing, far apart: +0.5 only
        assert_eq!(w(0, 2), Some(0.5));
        // 1–2: disagreeing siblings
        assert_eq!(w(1, 2), Some(-0.5));
        // 2–3: neighbours, not siblings
        assert!(w(2, 3).unwrap() > 0.0);
        assert_eq!(w(0, 3), None);
    }

    #[test]
    fn features_weight_the_two_spaces() {
        let emb = [3.0f32, 4.0];
        let e = Matrix::new(&emb, 1, 2).unwrap();
        let sig = [[0.5f32; DIM]];
        let cfg = GraphConfig {
            embedding_weight: 4.0,
            signature_weight: 1.0,
            ..Default::default()
        };
        let f = features(Some(e), &sig, &cfg);
        assert_eq!(f.dim, 2 + DIM);
        assert!((f.data[0] - 1.2).abs() < 1e-6 && (f.data[1] - 1.6).abs() < 1e-6);
        assert_eq!(f.data[2], 0.5);
        let f = features(None, &sig, &cfg);
        assert_eq!(f.dim, DIM);
    }
}
