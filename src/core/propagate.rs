//! Spreading a few human labels to every CoT, each propagated label with a confidence and
//! the human labels it came from.
//!
//! Every method starts from the label-free prior of the reasoning signatures
//! ([`super::signature::prior`]), so with no human label the app already proposes labels;
//! human labels then correct it *globally* ([`calibrate`]: the prior's log-odds are refitted
//! to them, Platt-style, shrunk towards the shipped prior when they are few) and *locally*:
//!
//! - [`Method::Spreading`] — label spreading (Zhou et al. 2004) on the signed graph of
//!   [`super::graph`], in the "correct and smooth" form (Huang et al. 2021): the humans'
//!   residuals `y − p̂` are spread over the graph (a sibling with another answer receives
//!   the opposite correction), then the corrected scores are smoothed with the human labels
//!   clamped. `alpha` weights the neighbours against a CoT's own score.
//! - [`Method::Trust`] — the seed's trust propagation `t_j = (1/Z) Σ_i exp(−λ·d_ij)·t_i`
//!   over the human-labelled `i`, with the prior as one more voter of weight
//!   `prior_weight`, and siblings of another answer voting `1 − t_i`.
//!
//! Output per CoT: `p` = P(sound), the verdict `p ≥ ½`, confidence `max(p, 1 − p)`.

use super::cluster::{sq_dist, ClusterError, Matrix, Progress};
use super::graph::{self, Graph, GraphConfig, Matrix2, Node};
use super::signature::DIM;

/// A propagation method and its parameters. The defaults scored best (mean accuracy at 10
/// and 20 labels, random and active picks) on three 300-CoT subsets of the GSM8K train
/// split: `cargo run --release --bin simulate -- --tune` (α ∈ {0.2, 0.5, 0.8}: 0.876,
/// 0.872, 0.842; trust λ ∈ {1, 3, 10, 30} × prior weight ∈ {0.1, 0.5, 2}: best 30 / 2,
/// 0.877 — the corner of that grid).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Method {
    /// Correct-and-smooth label spreading over the graph.
    Spreading {
        /// Weight of the neighbours in each update, in [0, 1).
        alpha: f64,
    },
    /// The seed's trust propagation.
    Trust {
        /// Decay with distance.
        lambda: f64,
        /// Weight of the prior's own vote.
        prior_weight: f64,
    },
}

impl Method {
    /// Label spreading with its default α.
    pub const SPREADING: Self = Self::Spreading { alpha: 0.2 };
    /// Trust propagation with its default λ.
    pub const TRUST: Self = Self::Trust {
        lambda: 30.0,
        prior_weight: 2.0,
    };
}

/// Settings of [`propagate`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// How labels travel.
    pub method: Method,
    /// Start from the label-free prior (false: from ½, as propagation without signatures).
    pub use_prior: bool,
    /// Refit the prior's scale and offset to the human labels.
    pub calibrate: bool,
    /// Trust: CoTs of the same question vote at distance 0, a sibling with another answer
    /// voting `1 − t_i` (spreading takes this from the graph's sibling edges).
    pub answer_links: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            method: Method::SPREADING,
            use_prior: true,
            calibrate: true,
            answer_links: true,
        }
    }
}

/// The outcome for every CoT.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Propagation {
    /// P(sound) per CoT; exactly 1 or 0 at human labels.
    pub p: Vec<f64>,
    /// Up to [`MAX_FROM`] human-labelled CoTs that drove each CoT's label, most influential
    /// first (empty when the prior alone decided it).
    pub from: Vec<Vec<u32>>,
    /// The calibration applied to the prior's log-odds: (scale, offset).
    pub calibration: (f64, f64),
}

impl Propagation {
    /// Confidence of CoT `i`'s verdict, in [½, 1].
    pub fn confidence(&self, i: usize) -> f64 {
        self.p[i].max(1.0 - self.p[i])
    }
}

/// A data set made ready for propagation: its nodes, feature rows, graph and prior. Built
/// once per data set (the costly part: the kNN graph); propagating is then fast.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// Per-CoT group and answer.
    pub nodes: Vec<Node>,
    /// Combined feature rows.
    pub features: Matrix2,
    /// The similarity graph.
    pub graph: Graph,
    /// The label-free prior.
    pub prior: Vec<f64>,
}

impl Prepared {
    /// Builds the features and the graph (progress over the kNN search).
    pub fn new(
        emb: Option<Matrix>,
        vectors: &[[f32; DIM]],
        nodes: Vec<Node>,
        prior: Vec<f64>,
        cfg: &GraphConfig,
        progress: Progress,
    ) -> Result<Self, ClusterError> {
        if nodes.len() != vectors.len() || prior.len() != vectors.len() {
            return Err(ClusterError::Shape {
                len: nodes.len().min(prior.len()),
                rows: vectors.len(),
                dim: 1,
            });
        }
        let features = graph::features(emb, vectors, cfg);
        let graph = graph::build(features.view(), &nodes, cfg, progress)?;
        Ok(Self {
            nodes,
            features,
            graph,
            prior,
        })
    }

    /// Propagates `human` under `cfg`.
    pub fn propagate(&self, human: &[Option<bool>], cfg: &Config) -> Propagation {
        propagate(
            &self.graph,
            self.features.view(),
            &self.nodes,
            &self.prior,
            human,
            cfg,
        )
    }
}

/// Conditions propagated P(sound) on a person's pair choices: "b reasons better than w"
/// rules out "b flawed while w is sound", so with independent marginals `p_b`, `p_w`
/// the posteriors are `P(b sound) = p_b / Z` and `P(w sound) = p_b·p_w / Z`, where
/// `Z = 1 − (1 − p_b)·p_w`. A human label stays what it is (1 or 0 in, the same out), and
/// it decides the other side when the choice leaves one answer: the better of a sound
/// CoT is sound, the worse of a flawed one is flawed. Choices are applied in order; one
/// that contradicts human labels (Z = 0) changes nothing. `pairs`: (better, worse) rows.
pub fn respect_pairs(p: &mut [f64], pairs: &[(usize, usize)]) {
    for &(b, w) in pairs {
        if b == w || b >= p.len() || w >= p.len() {
            continue;
        }
        let (pb, pw) = (p[b], p[w]);
        let z = 1.0 - (1.0 - pb) * pw;
        if z <= 1e-12 {
            continue;
        }
        p[b] = (pb / z).clamp(0.0, 1.0);
        p[w] = (pb * pw / z).clamp(0.0, 1.0);
    }
}

/// Human sources named per propagated label at most.
pub const MAX_FROM: usize = 3;

const ITERATIONS: usize = 60;
const TOLERANCE: f64 = 1e-7;

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Refits `σ(a·logit(prior) + b)` to the human labels by maximum a posteriori (Newton),
/// with Gaussian priors a ~ N(1, 1/strength), b ~ N(0, 1/strength): with few labels the
/// shipped prior is kept, with many the labels decide. Returns (a, b).
pub fn calibrate(prior: &[f64], human: &[Option<bool>], strength: f64) -> (f64, f64) {
    let (mut a, mut b) = (1.0f64, 0.0f64);
    let data: Vec<(f64, f64)> = prior
        .iter()
        .zip(human)
        .filter_map(|(&p, h)| h.map(|y| (logit(p), f64::from(y))))
        .collect();
    if data.is_empty() {
        return (a, b);
    }
    for _ in 0..50 {
        let (mut ga, mut gb) = (strength * (a - 1.0), strength * b);
        let (mut haa, mut hab, mut hbb) = (strength, 0.0, strength);
        for &(z, y) in &data {
            let p = sigmoid(a * z + b);
            let r = p - y;
            let w = p * (1.0 - p);
            ga += r * z;
            gb += r;
            haa += w * z * z;
            hab += w * z;
            hbb += w;
        }
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        a -= da;
        b -= db;
        if da.abs().max(db.abs()) < 1e-10 {
            break;
        }
    }
    (a, b)
}

/// Strength of the calibration's pull towards the shipped prior (in labels' worth).
pub const CALIBRATION_STRENGTH: f64 = 10.0;

/// Spreads `human` (Some(true) = sound) from the prior `prior` over `graph` (for
/// [`Method::Spreading`]) or the feature rows `x` (for [`Method::Trust`]).
pub fn propagate(
    graph: &Graph,
    x: Matrix,
    nodes: &[Node],
    prior: &[f64],
    human: &[Option<bool>],
    cfg: &Config,
) -> Propagation {
    let n = human.len();
    debug_assert!(prior.len() == n && nodes.len() == n && x.rows == n);
    let base_prior: Vec<f64> = if cfg.use_prior {
        prior.iter().map(|p| p.clamp(0.0, 1.0)).collect()
    } else {
        vec![0.5; n]
    };
    let calibration = if cfg.calibrate && cfg.use_prior {
        calibrate(&base_prior, human, CALIBRATION_STRENGTH)
    } else {
        (1.0, 0.0)
    };
    let base: Vec<f64> = base_prior
        .iter()
        .map(|&p| {
            if cfg.use_prior {
                sigmoid(calibration.0 * logit(p) + calibration.1)
            } else {
                p
            }
        })
        .collect();
    let (p, from) = match cfg.method {
        Method::Spreading { alpha } => {
            // a graph of other nodes (never built for this data) is no graph at all
            let isolated;
            let graph = if graph.len() == n {
                graph
            } else {
                isolated = Graph::isolated(n);
                &isolated
            };
            let p = correct_and_smooth(graph, &base, human, alpha.clamp(0.0, 0.999));
            let from = graph_sources(graph, human, &p);
            (p, from)
        }
        Method::Trust {
            lambda,
            prior_weight,
        } => trust(
            x,
            nodes,
            &base,
            human,
            lambda,
            prior_weight,
            cfg.answer_links,
        ),
    };
    let p = p
        .into_iter()
        .zip(human)
        .map(|(p, h)| match h {
            Some(y) => f64::from(*y),
            None if p.is_finite() => p.clamp(0.0, 1.0),
            None => 0.5,
        })
        .collect();
    Propagation {
        p,
        from,
        calibration,
    }
}

/// Iterates `f_i ← (1 − α)·f0_i + α·Σ_j w_ij f_j / Σ_j |w_ij|` (signed weights), with the
/// clamped nodes held at `f0`, until it settles. Isolated nodes keep `f0`.
fn spread(graph: &Graph, f0: &[f64], clamped: &[bool], alpha: f64) -> Vec<f64> {
    let n = f0.len();
    let degree: Vec<f64> = (0..n).map(|i| graph.degree(i) as f64).collect();
    let mut f = f0.to_vec();
    let mut next = vec![0.0; n];
    for _ in 0..ITERATIONS {
        let mut moved = 0.0f64;
        for i in 0..n {
            next[i] = if clamped[i] || degree[i] == 0.0 {
                f0[i]
            } else {
                let s: f64 = graph.edges(i).map(|(j, w)| w as f64 * f[j]).sum();
                (1.0 - alpha) * f0[i] + alpha * s / degree[i]
            };
            moved = moved.max((next[i] - f[i]).abs());
        }
        std::mem::swap(&mut f, &mut next);
        if moved < TOLERANCE {
            break;
        }
    }
    f
}

/// Correct: spread the humans' residuals (harmonic, decaying with α away from them) and add
/// them to the base. Smooth: spread the corrected scores, centred on ½, humans clamped.
fn correct_and_smooth(graph: &Graph, base: &[f64], human: &[Option<bool>], alpha: f64) -> Vec<f64> {
    let clamped: Vec<bool> = human.iter().map(Option::is_some).collect();
    let residual0: Vec<f64> = human
        .iter()
        .zip(base)
        .map(|(h, b)| h.map_or(0.0, |y| f64::from(y) - b))
        .collect();
    let residual = if clamped.iter().any(|&c| c) {
        // pure diffusion of the residuals: (1 − α) f0 is 0 away from humans, so use the
        // clamped harmonic form with α as the decay per hop
        let mut e = residual0.clone();
        let degree: Vec<f64> = (0..base.len()).map(|i| graph.degree(i) as f64).collect();
        for _ in 0..ITERATIONS {
            let mut moved = 0.0f64;
            let prev = e.clone();
            for i in 0..e.len() {
                if clamped[i] || degree[i] == 0.0 {
                    continue;
                }
                let s: f64 = graph.edges(i).map(|(j, w)| w as f64 * prev[j]).sum();
                e[i] = alpha * s / degree[i];
                moved = moved.max((e[i] - prev[i]).abs());
            }
            if moved < TOLERANCE {
                break;
            }
        }
        e
    } else {
        residual0
    };
    let g0: Vec<f64> = base
        .iter()
        .zip(&residual)
        .zip(human)
        .map(|((b, e), h)| match h {
            Some(y) => 2.0 * f64::from(*y) - 1.0,
            None => (2.0 * (b + e) - 1.0).clamp(-1.0, 1.0),
        })
        .collect();
    spread(graph, &g0, &clamped, alpha)
        .into_iter()
        .map(|g| (1.0 + g) / 2.0)
        .collect()
}

/// For each unlabelled CoT, the human-labelled CoTs with the verdict it was given that are
/// nearest along the graph (path cost −ln of the normalised edge weight; positive edges keep
/// a verdict, negative ones flip it): the nearest exactly (multi-source Dijkstra), then up
/// to two more among the nearest sources of its neighbours.
fn graph_sources(graph: &Graph, human: &[Option<bool>], p: &[f64]) -> Vec<Vec<u32>> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let n = human.len();
    let mut found: Vec<Vec<u32>> = vec![Vec::new(); n];
    if human.iter().all(Option::is_none) {
        return found;
    }
    // state: (node, verdict carried); cost as ordered integer micro-units
    let mut settled: Vec<[Vec<u32>; 2]> = vec![[Vec::new(), Vec::new()]; n];
    let mut heap = BinaryHeap::new();
    for (i, h) in human.iter().enumerate() {
        if let Some(y) = h {
            heap.push(Reverse((0u64, i as u32, usize::from(*y) as u8, i as u32)));
        }
    }
    let degree: Vec<f32> = (0..n).map(|i| graph.degree(i)).collect();
    while let Some(Reverse((cost, node, verdict, source))) = heap.pop() {
        let slot = &mut settled[node as usize][verdict as usize];
        if slot.len() >= MAX_FROM || slot.contains(&source) {
            continue;
        }
        slot.push(source);
        // Only a state's nearest source travels on: the others are collected where they
        // arrive (from neighbours' nearest sources), so the search costs one pass, not three.
        if slot.len() > 1 {
            continue;
        }
        for (j, w) in graph.edges(node as usize) {
            if human[j].is_some() || degree[j] == 0.0 {
                continue;
            }
            let share = (w.abs() / degree[j]).max(1e-9) as f64;
            let step = (-share.ln() * 1e6) as u64;
            let v = if w < 0.0 { 1 - verdict } else { verdict };
            heap.push(Reverse((cost + step, j as u32, v, source)));
        }
    }
    for i in 0..n {
        if human[i].is_none() {
            found[i] = std::mem::take(&mut settled[i][usize::from(p[i] >= 0.5)]);
        }
    }
    found
}

/// The seed's trust propagation with the prior as one more voter. Distances are Euclidean
/// in the feature space of `x`, scaled by their median over (unlabelled, labelled) pairs so
/// λ means the same on any data set. Siblings (same group) sit at distance 0; one with
/// another answer votes `1 − t_i`.
fn trust(
    x: Matrix,
    nodes: &[Node],
    base: &[f64],
    human: &[Option<bool>],
    lambda: f64,
    prior_weight: f64,
    answer_links: bool,
) -> (Vec<f64>, Vec<Vec<u32>>) {
    let n = human.len();
    let labelled: Vec<(usize, f64)> = human
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.map(|y| (i, f64::from(y))))
        .collect();
    let mut p = base.to_vec();
    let mut from = vec![Vec::new(); n];
    if labelled.is_empty() {
        return (p, from);
    }
    let dists: Vec<Vec<f64>> = (0..n)
        .map(|j| {
            labelled
                .iter()
                .map(|&(i, _)| (sq_dist(x.row(i), x.row(j)) as f64).sqrt())
                .collect()
        })
        .collect();
    let mut all: Vec<f64> = dists
        .iter()
        .flatten()
        .copied()
        .filter(|d| *d > 0.0)
        .collect();
    let scale = if all.is_empty() {
        1.0
    } else {
        let mid = all.len() / 2;
        *all.select_nth_unstable_by(mid, f64::total_cmp).1
    };
    for j in 0..n {
        if human[j].is_some() {
            continue;
        }
        let mut z = prior_weight;
        let mut t = prior_weight * base[j];
        let mut votes: Vec<(f64, u32, f64)> = Vec::with_capacity(labelled.len());
        for (k, &(i, ti)) in labelled.iter().enumerate() {
            let sibling = answer_links && nodes[i].group == nodes[j].group;
            let d = if sibling { 0.0 } else { dists[j][k] / scale };
            let vote = match (nodes[i].answer, nodes[j].answer) {
                (Some(a), Some(b)) if sibling && a != b => 1.0 - ti,
                _ => ti,
            };
            let kappa = (-lambda * d).exp();
            z += kappa;
            t += kappa * vote;
            votes.push((kappa, i as u32, vote));
        }
        if z > 0.0 {
            p[j] = t / z;
        }
        let verdict = p[j] >= 0.5;
        votes.retain(|v| (v.2 >= 0.5) == verdict);
        votes.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        from[j] = votes.iter().take(MAX_FROM).map(|v| v.1).collect();
    }
    (p, from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_choices_condition_the_marginals() {
        // neither labelled: b = 0.5, w = 0.5 → Z = 0.75, b = 2/3, w = 1/3
        let mut p = vec![0.5, 0.5];
        respect_pairs(&mut p, &[(0, 1)]);
        assert!(
            (p[0] - 2.0 / 3.0).abs() < 1e-12 && (p[1] - 1.0 / 3.0).abs() < 1e-12,
            "{p:?}"
        );
        // the worse is human-sound: the better is sound
        let mut p = vec![0.2, 1.0];
        respect_pairs(&mut p, &[(0, 1)]);
        assert_eq!(p, vec![1.0, 1.0]);
        // the better is human-flawed: the worse is flawed
        let mut p = vec![0.0, 0.7];
        respect_pairs(&mut p, &[(0, 1)]);
        assert_eq!(p, vec![0.0, 0.0]);
        // human labels that contradict the choice stay; so do out-of-range rows
        let mut p = vec![0.0, 1.0, 0.4];
        respect_pairs(&mut p, &[(0, 1), (2, 9), (2, 2)]);
        assert_eq!(p, vec![0.0, 1.0, 0.4]);
        // already consistent certain labels do not move
        let mut p = vec![1.0, 0.0];
        respect_pairs(&mut p, &[(0, 1)]);
        assert_eq!(p, vec![1.0, 0.0]);
    }
    use crate::core::graph::Graph;
    use rustc_hash::FxHashMap as HashMap;

    /// A path graph 0 — 1 — 2 — 3 with unit weights (plus optional signed extras).
    fn path(n: usize, extra: &[(usize, usize, f32)]) -> Graph {
        let mut adj: Vec<HashMap<u32, f32>> = vec![HashMap::default(); n];
        for i in 0..n - 1 {
            adj[i].insert(i as u32 + 1, 1.0);
            adj[i + 1].insert(i as u32, 1.0);
        }
        for &(a, b, w) in extra {
            adj[a].insert(b as u32, w);
            adj[b].insert(a as u32, w);
        }
        Graph::from_adjacency(adj)
    }

    fn nodes(n: usize) -> Vec<Node> {
        (0..n)
            .map(|i| Node {
                group: i as u32,
                answer: Some(0),
            })
            .collect()
    }

    #[test]
    fn spreading_on_a_path_matches_the_hand_computed_fixed_point() {
        // 0 human good, 3 human bad, flat base ½ (no prior), α = ½.
        // correct: e1 = ½·(e0 + e2)/2, e2 = ½·(e1 + e3)/2 with e0 = ½, e3 = −½
        //   → e1 = 1/8 + e2/4, e2 = e1/4 − 1/8 → e1 = 1/10, e2 = −1/10
        // smooth (g = 2p − 1): g0 = (1, 0.2, −0.2, −1);
        //   g1 = ½·0.2 + ½·(1 + g2)/2, g2 = ½·(−0.2) + ½·(g1 − 1)/2
        //   → g1 = 0.35 + g2/4, g2 = −0.35 + g1/4 → g1 = 0.28, g2 = −0.28
        let g = path(4, &[]);
        let x_data = vec![0f32; 4];
        let x = Matrix::new(&x_data, 4, 1).unwrap();
        let human = [Some(true), None, None, Some(false)];
        let cfg = Config {
            method: Method::Spreading { alpha: 0.5 },
            use_prior: false,
            calibrate: false,
            answer_links: true,
        };
        let r = propagate(&g, x, &nodes(4), &[0.5; 4], &human, &cfg);
        assert_eq!(r.p[0], 1.0);
        assert_eq!(r.p[3], 0.0);
        assert!((r.p[1] - 0.64).abs() < 1e-6, "{:?}", r.p);
        assert!((r.p[2] - 0.36).abs() < 1e-6, "{:?}", r.p);
        assert_eq!(r.from[1], vec![0]);
        assert_eq!(r.from[2], vec![3]);
    }

    #[test]
    fn a_negative_edge_flips_the_spread_label() {
        // 0 (good) —(−1)— 1: disagreeing siblings; 1 gets pushed towards bad
        let g = path(2, &[(0, 1, -1.0)]);
        let x_data = vec![0f32; 2];
        let x = Matrix::new(&x_data, 2, 1).unwrap();
        let cfg = Config {
            method: Method::Spreading { alpha: 0.5 },
            use_prior: false,
            calibrate: false,
            answer_links: true,
        };
        let r = propagate(&g, x, &nodes(2), &[0.5; 2], &[Some(true), None], &cfg);
        // e1 = ½·(−1·½) = −¼; g0_1 = −½; g1 = ½·(−½) + ½·(−1) = −¾ → p = 1/8
        assert!((r.p[1] - 0.125).abs() < 1e-9, "{:?}", r.p);
        assert_eq!(r.from[1], vec![0], "bad because 0 is good and disagrees");
    }

    #[test]
    fn trust_propagation_matches_the_formula() {
        // 1-D features: human good at 0, human bad at 2, query at 1 (equal distances) and
        // at 0.5; no prior vote.
        let data = [0.0f32, 2.0, 1.0, 0.5];
        let x = Matrix::new(&data, 4, 1).unwrap();
        let human = [Some(true), Some(false), None, None];
        let cfg = Config {
            method: Method::Trust {
                lambda: 1.0,
                prior_weight: 0.0,
            },
            use_prior: false,
            calibrate: false,
            answer_links: true,
        };
        let r = propagate(&Graph::default(), x, &nodes(4), &[0.5; 4], &human, &cfg);
        assert!((r.p[2] - 0.5).abs() < 1e-12);
        // distances to the labelled: from 2: 1, 1; from 3: 0.5, 1.5; median of (1,1,.5,1.5, and 2,2 between labelled)
        let scale = 1.5f64; // median of [2, 2, 1, 1, 0.5, 1.5] (upper middle)
        let (a, b) = ((-0.5 / scale).exp(), (-1.5 / scale).exp());
        assert!(
            (r.p[3] - a / (a + b)).abs() < 1e-9,
            "{} vs {}",
            r.p[3],
            a / (a + b)
        );
        assert_eq!(r.from[3], vec![0]);
    }

    #[test]
    fn calibration_is_identity_without_labels_and_moves_with_them() {
        assert_eq!(calibrate(&[0.3, 0.8], &[None, None], 10.0), (1.0, 0.0));
        // the prior says 0.8 for CoTs that are all bad: the offset must drop
        let prior = vec![0.8; 40];
        let human = vec![Some(false); 40];
        let (_, b) = calibrate(&prior, &human, 1.0);
        assert!(b < -1.0, "{b}");
    }

    #[test]
    fn with_no_labels_the_prior_decides() {
        let g = path(3, &[]);
        let data = vec![0f32; 3];
        let x = Matrix::new(&data, 3, 1).unwrap();
        let prior = [0.9, 0.8, 0.1];
        for method in [Method::TRUST, Method::Spreading { alpha: 0.0 }] {
            let cfg = Config {
                method,
                ..Default::default()
            };
            let r = propagate(&g, x, &nodes(3), &prior, &[None; 3], &cfg);
            for (a, b) in r.p.iter().zip(prior) {
                assert!((a - b).abs() < 1e-9, "{method:?}: {:?}", r.p);
            }
            assert!(r.from.iter().all(Vec::is_empty));
        }
    }

    mod properties {
        use super::super::*;
        use crate::core::graph::{GraphConfig, Node};
        use proptest::prelude::*;

        /// n CoTs: 2-D features, question groups of ≤ 3, answers in 0..3, priors, humans.
        fn case() -> impl Strategy<Value = (Vec<[f32; DIM]>, Vec<Node>, Vec<f64>, Vec<Option<bool>>)>
        {
            (2usize..24).prop_flat_map(|n| {
                (
                    proptest::collection::vec(proptest::array::uniform2(0.0f32..1.0), n),
                    proptest::collection::vec((0u32..8, proptest::option::of(0u32..3)), n),
                    proptest::collection::vec(0.0f64..1.0, n),
                    proptest::collection::vec(proptest::option::of(any::<bool>()), n),
                )
                    .prop_map(|(xy, gs, prior, human)| {
                        let vectors = xy
                            .iter()
                            .map(|p| {
                                let mut v = [0f32; DIM];
                                v[0] = p[0];
                                v[1] = p[1];
                                v
                            })
                            .collect();
                        let nodes = gs
                            .into_iter()
                            .map(|(group, answer)| Node { group, answer })
                            .collect();
                        (vectors, nodes, prior, human)
                    })
            })
        }

        fn all_methods() -> [Config; 2] {
            [
                Config::default(),
                Config {
                    method: Method::TRUST,
                    ..Default::default()
                },
            ]
        }

        proptest! {
            #[test]
            fn humans_are_kept_and_confidence_is_bounded((vectors, nodes, prior, human) in case()) {
                let prep = Prepared::new(None, &vectors, nodes, prior, &GraphConfig::default(), &mut |_| true).unwrap();
                for cfg in all_methods() {
                    let r = prep.propagate(&human, &cfg);
                    for (i, h) in human.iter().enumerate() {
                        prop_assert!((0.0..=1.0).contains(&r.p[i]));
                        prop_assert!((0.5..=1.0).contains(&r.confidence(i)));
                        if let Some(y) = h {
                            prop_assert_eq!(r.p[i], f64::from(*y));
                            prop_assert!(r.from[i].is_empty());
                        } else {
                            prop_assert!(r.from[i].len() <= MAX_FROM);
                            for &s in &r.from[i] {
                                prop_assert!(human[s as usize].is_some());
                            }
                        }
                    }
                }
            }

            #[test]
            fn labels_do_not_depend_on_record_order((vectors, nodes, prior, human) in case(), seed in any::<u64>()) {
                let n = vectors.len();
                let order = crate::core::select::random(n, n, seed);
                let prep = Prepared::new(None, &vectors, nodes.clone(), prior.clone(), &GraphConfig::default(), &mut |_| true).unwrap();
                let shuffled = Prepared::new(
                    None,
                    &order.iter().map(|&i| vectors[i]).collect::<Vec<_>>(),
                    order.iter().map(|&i| nodes[i]).collect(),
                    order.iter().map(|&i| prior[i]).collect(),
                    &GraphConfig::default(),
                    &mut |_| true,
                ).unwrap();
                let h2: Vec<Option<bool>> = order.iter().map(|&i| human[i]).collect();
                for cfg in all_methods() {
                    let a = prep.propagate(&human, &cfg);
                    let b = shuffled.propagate(&h2, &cfg);
                    for (k, &i) in order.iter().enumerate() {
                        prop_assert!((a.p[i] - b.p[k]).abs() < 1e-6, "{} vs {}", a.p[i], b.p[k]);
                    }
                }
            }
        }
    }
}
