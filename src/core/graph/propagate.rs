//! Spreading a few human labels to every CoT, each propagated label with a confidence and
//! the human labels it came from.
//!
//! Every method starts from the label-free prior of the reasoning signatures
//! ([`crate::core::signals::signature::prior`]), so with no human label the app already proposes labels;
//! human labels then correct it *globally* ([`calibrate`]: the prior's log-odds are refitted
//! to them, Platt-style, shrunk towards the shipped prior when they are few) and *locally*:
//!
//! - [`Method::Spreading`] — label spreading (Zhou et al. 2004) on the signed graph of
//!   [`crate::core::graph`], in the "correct and smooth" form (Huang et al. 2021): the humans'
//!   residuals `y − p̂` are spread over the graph (a sibling with another answer receives
//!   the opposite correction), then the corrected scores are smoothed with the human labels
//!   clamped. `alpha` weights the neighbours against a CoT's own score.
//! - [`Method::Trust`] — the seed's trust propagation `t_j = (1/Z) Σ_i exp(−λ·d_ij)·t_i`
//!   over the human-labelled `i`, with the prior as one more voter of weight
//!   `prior_weight`, and siblings of another answer voting `1 − t_i`.
//!
//! Output per CoT: `p` = P(sound), the verdict `p ≥ ½`, confidence `max(p, 1 − p)`.

use crate::core::base::{logit, sigmoid};
use crate::core::base::{sq_dist, ClusterError, Matrix, Progress};
use crate::core::data::Record;
use crate::core::graph::{self, Graph, GraphConfig, Matrix2, Node};
use crate::core::labels::{Label, LabelStore, Millis, Provenance};
use crate::core::signals::signature::{Shape, DIM};

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
    /// The calibration applied to the prior's log-odds: (scale, offset) of the shape with
    /// the most CoTs.
    pub calibration: (f64, f64),
    /// The refit of each shape ([`crate::core::signals::signature::Shape::index`]).
    pub refits: Vec<Refit>,
    /// Each CoT's doubt: the posterior standard deviation of its refitted prior's log-odds
    /// ([`Refit::log_odds`]) where no fitted member speaks for its shape and its verdict is
    /// a base rate learnt from a few labels; 0 elsewhere (a fitted member is trusted as
    /// fitted) and at human labels.
    pub doubt: Vec<f64>,
    /// Whether human labels moved each CoT's score through the graph by at least
    /// [`MOVED`] (so its label rests on them, not on its prior alone).
    pub moved: Vec<bool>,
}

/// How far human labels must move a CoT's score through the graph to settle it.
pub const MOVED: f64 = 0.25;

/// Standard deviations of doubt a base-rate verdict must clear the minimum confidence by
/// (two-sided 99 %): twenty labels that all agree settle a base rate, ten do not (a test
/// below), so a lucky draw of a few labels does not label a whole data set.
pub const Z_SETTLED: f64 = 2.58;

impl Propagation {
    /// Confidence of CoT `i`'s verdict, in [½, 1].
    pub fn confidence(&self, i: usize) -> f64 {
        self.p[i].max(1.0 - self.p[i])
    }

    /// CoT `i`'s machine label at `min_confidence` ([`machine_label`]).
    pub fn label(&self, i: usize, min_confidence: f64) -> Option<(bool, f64)> {
        machine_label(
            self.p[i],
            self.doubt.get(i).copied().unwrap_or(0.0),
            self.moved.get(i).copied().unwrap_or(false),
            min_confidence,
        )
    }
}

/// The machine label of a CoT with P(sound) `p`, its doubt `sd` ([`Propagation::doubt`])
/// and whether human labels `moved` it through the graph: (sound, confidence) when the
/// confidence reaches `min_confidence` and the verdict is settled — moved by human labels,
/// or clearing the minimum confidence by [`Z_SETTLED`] doubts; `None` leaves it unlabelled.
pub fn machine_label(p: f64, sd: f64, moved: bool, min_confidence: f64) -> Option<(bool, f64)> {
    let c = p.max(1.0 - p);
    let settled = moved || logit(p).abs() - Z_SETTLED * sd >= logit(min_confidence.max(0.5));
    (c >= min_confidence && settled).then_some((p >= 0.5, c))
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
    /// The prior.
    pub prior: Vec<f64>,
    /// Each CoT's shape ([`crate::core::signals::signature::Shape::index`]): its labels refit its member.
    pub shapes: Vec<u8>,
}

impl Prepared {
    /// Builds the features and the graph (progress over the kNN search).
    pub fn new(
        emb: Option<Matrix>,
        vectors: &[[f32; DIM]],
        nodes: Vec<Node>,
        prior: Vec<f64>,
        shapes: Vec<u8>,
        cfg: &GraphConfig,
        progress: Progress,
    ) -> Result<Self, ClusterError> {
        if nodes.len() != vectors.len()
            || prior.len() != vectors.len()
            || !(shapes.is_empty() || shapes.len() == vectors.len())
        {
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
            shapes,
        })
    }

    /// Propagates `human` under `cfg`.
    pub fn propagate(&self, human: &[Option<bool>], cfg: &Config) -> Propagation {
        self.propagate_from(&self.prior, human, cfg)
    }

    /// Propagates `human` under `cfg` from another prior (one per CoT: the prior with a
    /// judge's say, [`crate::core::signals::judge::JudgeFit::combine`]) over the same graph.
    pub fn propagate_from(
        &self,
        prior: &[f64],
        human: &[Option<bool>],
        cfg: &Config,
    ) -> Propagation {
        propagate(
            &self.graph,
            self.features.view(),
            &self.nodes,
            prior,
            &self.shapes,
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

/// A refit of the prior to the human labels of one shape: `σ(a·logit(prior) + b)`, with the
/// posterior covariance of (a, b) that widens the predictions while labels are few.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Refit {
    /// Scale of the prior's log-odds.
    pub a: f64,
    /// Offset.
    pub b: f64,
    /// Posterior covariance of (a, b): `[[aa, ab], [ab, bb]]` as (aa, ab, bb).
    pub cov: (f64, f64, f64),
    /// The pull towards (1, 0) chosen by the labels (in labels' worth; lower = the labels
    /// showed the prior misfits).
    pub strength: f64,
    /// Human labels it was fitted on.
    pub labels: usize,
}

impl Refit {
    /// No labels: the prior as it is.
    pub fn identity() -> Self {
        Self {
            a: 1.0,
            b: 0.0,
            cov: (0.0, 0.0, 0.0),
            strength: STRENGTHS[STRENGTHS.len() - 1],
            labels: 0,
        }
    }

    /// The refitted P(sound) of a prior score: the log-odds `a·z + b`, moderated by their
    /// posterior variance (MacKay's probit approximation), so a refit from few labels
    /// speaks with less confidence than one from many.
    pub fn apply(&self, prior: f64) -> f64 {
        let (m, sd) = self.log_odds(prior);
        sigmoid(m / (1.0 + std::f64::consts::PI * sd * sd / 8.0).sqrt())
    }

    /// The refitted log-odds of a prior score, with their posterior standard deviation.
    pub fn log_odds(&self, prior: f64) -> (f64, f64) {
        let z = logit(prior);
        let v = (z * z * self.cov.0 + 2.0 * z * self.cov.1 + self.cov.2).max(0.0);
        (self.a * z + self.b, v.sqrt())
    }
}

/// Pulls towards the prior tried by [`calibrate`] (labels' worth); the labels pick one by
/// evidence.
pub const STRENGTHS: [f64; 8] = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0];

/// MAP fit of (a, b) under a ~ N(1, 1/sa), b ~ N(0, 1/sb) (Newton). Returns (a, b, the
/// Hessian of the negative log posterior (aa, ab, bb), the log likelihood).
fn map_fit(data: &[(f64, f64)], (sa, sb): (f64, f64)) -> (f64, f64, (f64, f64, f64), f64) {
    let (mut a, mut b) = (1.0f64, 0.0f64);
    let mut h = (sa, 0.0, sb);
    for _ in 0..50 {
        let (mut ga, mut gb) = (sa * (a - 1.0), sb * b);
        let (mut haa, mut hab, mut hbb) = (sa, 0.0, sb);
        for &(z, y) in data {
            let p = sigmoid(a * z + b);
            let r = p - y;
            let w = p * (1.0 - p);
            ga += r * z;
            gb += r;
            haa += w * z * z;
            hab += w * z;
            hbb += w;
        }
        h = (haa, hab, hbb);
        let det = haa * hbb - hab * hab;
        if det.abs() < 1e-12 {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        // damped: a full Newton step from a prior that is far off (every label against
        // scores near 0 or 1, where the curvature is ~0) overshoots and oscillates; halve
        // the step while it makes the posterior clearly worse (a tolerance, so that near
        // the optimum rounding — which differs between the page's WebAssembly and the CLI —
        // never decides: full steps there, as undamped Newton takes)
        let before = neg_log_posterior(data, (sa, sb), a, b);
        let tolerance = 1e-9 * (1.0 + before.abs());
        let mut t = 1.0;
        while t > 1e-6
            && neg_log_posterior(data, (sa, sb), a - t * da, b - t * db) > before + tolerance
        {
            t /= 2.0;
        }
        a -= t * da;
        b -= t * db;
        if da.abs().max(db.abs()) < 1e-10 {
            break;
        }
    }
    (a, b, h, log_likelihood(data, a, b))
}

/// Σ log P(y | σ(a·z + b)) over `data` (z, y).
fn log_likelihood(data: &[(f64, f64)], a: f64, b: f64) -> f64 {
    data.iter()
        .map(|&(z, y)| {
            let p = sigmoid(a * z + b).clamp(1e-12, 1.0 - 1e-12);
            y * p.ln() + (1.0 - y) * (1.0 - p).ln()
        })
        .sum()
}

/// What [`map_fit`] minimises: the negative log likelihood plus the Gaussian pull.
fn neg_log_posterior(data: &[(f64, f64)], (sa, sb): (f64, f64), a: f64, b: f64) -> f64 {
    -log_likelihood(data, a, b) + 0.5 * (sa * (a - 1.0).powi(2) + sb * b * b)
}

/// Refits the prior to the human labels: `σ(a·logit(prior) + b)` by maximum a posteriori
/// under a Gaussian pull towards (1, 0) whose strength the labels choose (type-II maximum
/// likelihood over [`STRENGTHS`], Laplace approximation). Labels that agree with the prior
/// keep it (a strong pull wins the evidence); labels that show a misfit (another base
/// rate, a shape or domain where the prior is off) weaken the pull and move it.
pub fn calibrate(prior: &[f64], human: &[Option<bool>]) -> Refit {
    let grid: Vec<(f64, f64)> = STRENGTHS
        .iter()
        .flat_map(|&sa| STRENGTHS.iter().map(move |&sb| (sa, sb)))
        .collect();
    calibrate_with(prior, human, &grid)
}

/// A base rate learnt from the labels alone, for a shape whose prior does not speak (every
/// score ½): the offset's pull N(0, 1/[`UNFITTED_STRENGTH`]), close to a uniform prior on
/// the share of sound CoTs.
pub const UNFITTED_STRENGTH: f64 = 0.5;

fn calibrate_with(prior: &[f64], human: &[Option<bool>], strengths: &[(f64, f64)]) -> Refit {
    let data: Vec<(f64, f64)> = prior
        .iter()
        .zip(human)
        .filter_map(|(&p, h)| h.map(|y| (logit(p), f64::from(y))))
        .collect();
    if data.is_empty() {
        return Refit::identity();
    }
    let mut best: Option<(f64, Refit)> = None;
    for &(sa, sb) in strengths {
        let (a, b, (haa, hab, hbb), loglik) = map_fit(&data, (sa, sb));
        let det = (haa * hbb - hab * hab).max(1e-300);
        // log evidence ≈ log p(y|θ̂) + log N(θ̂; (1,0), diag(1/sa, 1/sb)) + log 2π
        // − ½ log det H, plus a hyperprior p(s) ∝ s on each pull: the shipped member was
        // fitted and checked on thousands of labels of its shape, so a few noisy labels
        // alone do not weaken it
        let evidence = loglik - 0.5 * (sa * (a - 1.0).powi(2) + sb * b * b)
            + 1.5 * (sa.ln() + sb.ln())
            - 0.5 * det.ln();
        let refit = Refit {
            a,
            b,
            cov: (hbb / det, -hab / det, haa / det),
            strength: sa.min(sb),
            labels: data.len(),
        };
        if best.as_ref().is_none_or(|(e, _)| evidence > *e) {
            best = Some((evidence, refit));
        }
    }
    best.expect("a strength").1
}

/// Refits the prior per shape ([`crate::core::signals::signature::Shape::index`] in `shapes`; an empty
/// `shapes` is one shape): each shape's labels refit its own member, since a prior can fit
/// one shape and misfit another. A shape whose prior does not speak learns its base rate
/// ([`UNFITTED_STRENGTH`]). Returns one refit per shape index.
pub fn calibrate_by_shape(prior: &[f64], human: &[Option<bool>], shapes: &[u8]) -> Vec<Refit> {
    (0..SHAPES)
        .map(|k| {
            let own: Vec<Option<bool>> = human
                .iter()
                .enumerate()
                .map(|(i, h)| h.filter(|_| shapes.get(i).map_or(0, |&s| s as usize) == k))
                .collect();
            if Shape::speaks(k) {
                calibrate(prior, &own)
            } else {
                calibrate_with(prior, &own, &[(UNFITTED_STRENGTH, UNFITTED_STRENGTH)])
            }
        })
        .collect()
}

/// Number of shapes ([`crate::core::signals::signature::Shape::COUNT`]).
pub const SHAPES: usize = crate::core::signals::signature::Shape::COUNT;

/// Spreads `human` (Some(true) = sound) from the prior `prior` over `graph` (for
/// [`Method::Spreading`]) or the feature rows `x` (for [`Method::Trust`]). `shapes` (one per
/// CoT, or empty for one shape) groups the CoTs whose prior is refitted together.
pub fn propagate(
    graph: &Graph,
    x: Matrix,
    nodes: &[Node],
    prior: &[f64],
    shapes: &[u8],
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
    let shape = |i: usize| shapes.get(i).map_or(0, |&s| s as usize).min(SHAPES - 1);
    let refits = if cfg.calibrate && cfg.use_prior {
        calibrate_by_shape(&base_prior, human, shapes)
    } else {
        vec![Refit::identity(); SHAPES]
    };
    let mut counts = [0usize; SHAPES];
    (0..n).for_each(|i| counts[shape(i)] += 1);
    let main = (0..SHAPES)
        .max_by_key(|&k| (counts[k], SHAPES - k))
        .unwrap_or(0);
    let calibration = (refits[main].a, refits[main].b);
    let base: Vec<f64> = base_prior
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            if cfg.use_prior && cfg.calibrate {
                refits[shape(i)].apply(p)
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
            // a CoT checked against a reference answer keeps its own score when smoothing
            let anchored: Vec<bool> = (0..n).map(|i| Shape::has_reference(shape(i))).collect();
            let p = correct_and_smooth(graph, &base, human, &anchored, alpha.clamp(0.0, 0.999));
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
    let p: Vec<f64> = p
        .into_iter()
        .zip(human)
        .map(|(p, h)| match h {
            Some(y) => f64::from(*y),
            None if p.is_finite() => p.clamp(0.0, 1.0),
            None => 0.5,
        })
        .collect();
    let doubt = (0..n)
        .map(|i| {
            // a fitted member's refit is trusted as fitted; where no member speaks, the
            // verdict is a base rate learnt from a few labels and must clear its doubt
            if human[i].is_none() && cfg.use_prior && cfg.calibrate && !Shape::speaks(shape(i)) {
                refits[shape(i)].log_odds(base_prior[i]).1
            } else {
                0.0
            }
        })
        .collect();
    let moved = (0..n)
        .map(|i| human[i].is_none() && (p[i] - base[i]).abs() >= MOVED)
        .collect();
    Propagation {
        p,
        from,
        calibration,
        refits,
        doubt,
        moved,
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
fn correct_and_smooth(
    graph: &Graph,
    base: &[f64],
    human: &[Option<bool>],
    anchored: &[bool],
    alpha: f64,
) -> Vec<f64> {
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
    let held: Vec<bool> = clamped
        .iter()
        .zip(anchored)
        .map(|(c, a)| *c || *a)
        .collect();
    spread(graph, &g0, &held, alpha)
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

/// What propagation found.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PropagateResult {
    /// P(sound) of each CoT (1 / 0 at human labels).
    pub p: Vec<f32>,
    /// The human-labelled CoTs behind each CoT's label (indices).
    pub from: Vec<Vec<u32>>,
    /// CoTs to label next, most valuable first.
    pub queue: Vec<u32>,
    /// The prior's refit to the human labels: (scale, offset) of its log-odds.
    pub calibration: (f64, f64),
    /// Whether the graph was built for this job (false: the kept one was used).
    pub built_graph: bool,
    /// Each CoT's doubt ([`Propagation::doubt`]).
    #[serde(default)]
    pub doubt: Vec<f32>,
    /// Whether human labels moved each CoT through the graph.
    #[serde(default)]
    pub moved: Vec<bool>,
}

impl PropagateResult {
    /// CoT `i`'s machine label at `min_confidence`
    /// ([`machine_label`]): `None` leaves it unlabelled.
    pub fn label(&self, i: usize, min_confidence: f64) -> Option<(bool, f64)> {
        machine_label(
            f64::from(*self.p.get(i)?),
            f64::from(self.doubt.get(i).copied().unwrap_or(0.0)),
            self.moved.get(i).copied().unwrap_or(false),
            min_confidence,
        )
    }

    /// Writes the machine labels of `records[range]` into `store`: each CoT labelled at
    /// `min_confidence` gets a propagated label naming the human labels it came from (ids);
    /// the others lose their propagated label. Human labels are never touched, and the
    /// classifier's verdicts stay until it runs again ([`LabelStore::put_machine`]). The page
    /// writes a large result in ranges; the CLI writes it whole.
    pub fn write_labels(
        &self,
        store: &mut LabelStore,
        records: &[Record],
        range: std::ops::Range<usize>,
        min_confidence: f64,
        now: Millis,
    ) {
        for i in range {
            // unsettled verdicts (a base rate from too few labels) stay unlabelled
            let label = self.label(i, min_confidence).and_then(|_| {
                let from = self.from[i]
                    .iter()
                    .filter_map(|&j| records.get(j as usize).map(|r| r.id.clone()))
                    .collect();
                let p = f64::from(self.p[i]);
                Label::machine(p, Provenance::Propagated, min_confidence, now, from)
            });
            store.put_machine(&records[i].id, Provenance::Propagated, label);
        }
    }
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
        let r = propagate(&g, x, &nodes(4), &[0.5; 4], &[], &human, &cfg);
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
        let r = propagate(&g, x, &nodes(2), &[0.5; 2], &[], &[Some(true), None], &cfg);
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
        let r = propagate(
            &Graph::default(),
            x,
            &nodes(4),
            &[0.5; 4],
            &[],
            &human,
            &cfg,
        );
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
        let r = calibrate(&[0.3, 0.8], &[None, None]);
        assert_eq!((r.a, r.b, r.labels), (1.0, 0.0, 0));
        assert_eq!(r.apply(0.8), 0.8);
        // the prior says 0.8 for CoTs that are all bad: the offset must drop
        let prior = vec![0.8; 40];
        let human = vec![Some(false); 40];
        let r = calibrate(&prior, &human);
        assert!(r.apply(0.8) < 0.1, "{r:?}");
    }

    /// A deterministic pseudo-random stream in [0, 1).
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn twenty_labels_overturn_a_biased_prior() {
        // 400 CoTs, 72 % sound. The prior ranks them somewhat (sound ones a little higher)
        // but is biased: it calls ~every CoT flawed with confidence ~0.94, like the lone CoTs
        // of the issue. 20 random human labels (their truth) must overturn the base rate.
        let mut u = uniform(7);
        let truth: Vec<bool> = (0..400).map(|_| u() < 0.72).collect();
        let prior: Vec<f64> = truth
            .iter()
            .map(|&t| sigmoid(-2.75 + if t { 0.6 } else { 0.0 } + 0.6 * (u() - 0.5)))
            .collect();
        let accuracy = |p: &dyn Fn(usize) -> f64, human: &[Option<bool>]| {
            let idx: Vec<usize> = (0..400).filter(|&i| human[i].is_none()).collect();
            idx.iter().filter(|&&i| (p(i) >= 0.5) == truth[i]).count() as f64 / idx.len() as f64
        };
        let none = vec![None; 400];
        assert!(accuracy(&|i| prior[i], &none) < 0.3, "the prior is biased");
        let picks = crate::core::graph::select::random(400, 20, 3);
        let mut human = none.clone();
        for &i in &picks {
            human[i] = Some(truth[i]);
        }
        let sound = picks.iter().filter(|&&i| truth[i]).count();
        let r = calibrate(&prior, &human);
        let acc = accuracy(&|i| r.apply(prior[i]), &human);
        assert!(acc >= 0.72, "{acc} after {sound}/20 sound labels: {r:?}");
        // the labels showed the misfit: the pull towards the prior is weak
        assert!(r.strength <= 4.0, "{r:?}");
        // and the refitted scores moved most of the way from the prior's base rate (0.06)
        // to the labels' (14/20 here): the pull towards the shipped prior keeps them a
        // little short (measured 0.57)
        let mean = (0..400).map(|i| r.apply(prior[i])).sum::<f64>() / 400.0;
        assert!(
            mean > 0.5 && mean < 0.8,
            "{mean} after {sound}/20 sound labels: {r:?}"
        );
        // labels that agree with a good prior keep it: strong pull, near-identity
        let good: Vec<f64> = truth.iter().map(|&t| if t { 0.9 } else { 0.1 }).collect();
        let r = calibrate(&good, &human);
        assert!(
            r.strength >= 8.0 && (r.a - 1.0).abs() < 0.3 && r.b.abs() < 0.3,
            "{r:?}"
        );
    }

    #[test]
    fn twenty_labels_overturn_a_member_broken_in_either_direction() {
        // A member that speaks where it does not apply: it calls every CoT flawed (or every
        // CoT sound) at ≈ 0.99, with no ranking left in its scores, on data where 75 % (or
        // 25 %) are sound. With 20 random human labels the machine labels, pooled over five
        // draws as the shapes table pools them, must reach the majority class, calibrated.
        for (broken, share) in [(-4.6, 0.75), (4.6, 0.25)] {
            let (mut predicted, mut truths) = (Vec::new(), Vec::new());
            for seed in 0..5 {
                let n = 300;
                let mut u = uniform(100 + seed);
                let truth: Vec<bool> = (0..n).map(|_| u() < share).collect();
                let prior: Vec<f64> = (0..n)
                    .map(|_| sigmoid(broken + 0.4 * (u() - 0.5)))
                    .collect();
                let mut human = vec![None; n];
                for i in crate::core::graph::select::random(n, 20, seed) {
                    human[i] = Some(truth[i]);
                }
                let g = Graph::isolated(n);
                let data = vec![0f32; n];
                let x = Matrix::new(&data, n, 1).unwrap();
                let shapes = vec![2u8; n]; // groups: a fitted member speaks
                let r = propagate(
                    &g,
                    x,
                    &nodes(n),
                    &prior,
                    &shapes,
                    &human,
                    &Config::default(),
                );
                // the member's pull collapsed: the labels chose the weakest pulls
                assert!(
                    r.refits[2].strength <= 2.0,
                    "{broken} {seed}: {:?}",
                    r.refits[2]
                );
                for i in (0..n).filter(|&i| human[i].is_none()) {
                    predicted.push(r.label(i, 0.6));
                    truths.push(Some(truth[i]));
                }
            }
            let s = crate::core::metrics::label_scores(&predicted, &truths);
            let sound =
                truths.iter().filter(|t| **t == Some(true)).count() as f64 / truths.len() as f64;
            let majority = sound.max(1.0 - sound);
            assert!(
                s.coverage > 0.5 && s.accuracy >= majority - 0.01 && s.ece <= 0.10,
                "broken {broken}: {s:?}, majority {majority:.3}"
            );
        }
    }

    #[test]
    fn a_base_rate_from_labels_alone_needs_many_agreeing_labels() {
        // 100 lone CoTs with non-numeric answers (shape 6: no fitted member speaks, prior ½)
        let g = Graph::isolated(100);
        let data = vec![0f32; 100];
        let x = Matrix::new(&data, 100, 1).unwrap();
        let shapes = vec![6u8; 100];
        let cfg = Config::default();
        let labelled = |k: usize, sound: usize| {
            let human: Vec<Option<bool>> = (0..100).map(|i| (i < k).then_some(i < sound)).collect();
            let r = propagate(&g, x, &nodes(100), &[0.5; 100], &shapes, &human, &cfg);
            (k..100).filter(|&i| r.label(i, 0.6).is_some()).count()
        };
        assert_eq!(
            labelled(0, 0),
            0,
            "no labels, no signal: nothing is labelled"
        );
        assert_eq!(
            labelled(10, 10),
            0,
            "ten agreeing labels do not settle a base rate"
        );
        assert_eq!(labelled(20, 19), 0, "nineteen of twenty do not either");
        assert_eq!(labelled(20, 20), 80, "twenty of twenty do");
        let human: Vec<Option<bool>> = (0..100).map(|i| (i < 40).then_some(i < 38)).collect();
        let r = propagate(&g, x, &nodes(100), &[0.5; 100], &shapes, &human, &cfg);
        let (sound, c) = r.label(50, 0.6).expect("38 of 40 settle it");
        assert!(sound && (c - 0.92).abs() < 0.03, "{c}");
    }

    #[test]
    fn each_shape_refits_its_own_prior() {
        // shape 0 (lone) is biased low, shape 2 (groups) is right: labels of each refit each
        let prior = [0.1, 0.1, 0.1, 0.1, 0.9, 0.1, 0.9, 0.1];
        let shapes = [0, 0, 0, 0, 2, 2, 2, 2];
        let human = [
            Some(true),
            Some(true),
            Some(true),
            None,
            Some(true),
            Some(false),
            None,
            None,
        ];
        let r = calibrate_by_shape(&prior, &human, &shapes);
        assert_eq!(r.len(), SHAPES);
        assert!(r[0].apply(0.1) > 0.5, "{:?}", r[0]);
        assert!(r[2].apply(0.1) < 0.3 && r[2].apply(0.9) > 0.7, "{:?}", r[2]);
        assert_eq!(r[1], Refit::identity());
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
            let r = propagate(&g, x, &nodes(3), &prior, &[], &[None; 3], &cfg);
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
                let prep = Prepared::new(None, &vectors, nodes, prior, Vec::new(), &GraphConfig::default(), &mut |_| true).unwrap();
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
                let order = crate::core::graph::select::random(n, n, seed);
                let prep = Prepared::new(None, &vectors, nodes.clone(), prior.clone(), Vec::new(), &GraphConfig::default(), &mut |_| true).unwrap();
                let shuffled = Prepared::new(
                    None,
                    &order.iter().map(|&i| vectors[i]).collect::<Vec<_>>(),
                    order.iter().map(|&i| nodes[i]).collect(),
                    order.iter().map(|&i| prior[i]).collect(),
                    Vec::new(),
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
