//! A simulated labeller: plays the human on a data set with ground truth (`is_correct`),
//! labelling the CoTs a strategy picks, propagating after each, and scoring the propagated
//! labels against the truth. The harness (`src/bin/simulate.rs`), the tests and the
//! browser's evaluation panel all use it.

use crate::core::base::{ClusterError, Matrix};
use crate::core::data::Dataset;
use crate::core::graph::propagate::{Config, Prepared, Propagation};
use crate::core::graph::select::{self, Strategy};
use crate::core::graph::{self, GraphConfig};
use crate::core::metrics::{label_scores, LabelScores};
use crate::core::signals::signature::{Signature, DIM};

/// Builds everything propagation needs for `dataset` under `cfg`.
pub fn prepare(
    dataset: &Dataset,
    sigs: &[Signature],
    cfg: &GraphConfig,
) -> Result<Prepared, ClusterError> {
    let vectors: Vec<[f32; DIM]> = sigs.iter().map(|s| s.vector).collect();
    let emb = dataset
        .embeddings()
        .map(|e| Matrix::new(e.as_slice(), e.rows(), e.dim()))
        .transpose()?;
    let prior = sigs.iter().map(|s| s.prior).collect();
    let shapes = sigs.iter().map(|s| s.shape.index() as u8).collect();
    Prepared::new(
        emb,
        &vectors,
        graph::nodes(dataset, sigs),
        prior,
        shapes,
        cfg,
        &mut |_| true,
    )
}

/// The machine labels of the CoTs no human labelled (`None`: unlabelled) beside their truth
/// (`None` at human labels, which are not scored).
pub fn predictions(
    prop: &Propagation,
    human: &[Option<bool>],
    truth: &[Option<bool>],
    min_confidence: f64,
) -> (Vec<Option<(bool, f64)>>, Vec<Option<bool>>) {
    (0..truth.len())
        .map(|i| match human[i] {
            Some(_) => (None, None),
            None => (prop.label(i, min_confidence), truth[i]),
        })
        .unzip()
}

/// Plays the human with `strategy` up to the largest of `budgets` labels; returns the
/// scores after each budget (in the order given), at full coverage. Random and medoid
/// picks use `seed`.
pub fn run(
    prep: &Prepared,
    truth: &[Option<bool>],
    strategy: Strategy,
    budgets: &[usize],
    cfg: &Config,
    seed: u64,
) -> Result<Vec<LabelScores>, ClusterError> {
    Ok(
        run_predictions(prep, truth, strategy, budgets, cfg, seed, 0.0)?
            .iter()
            .map(|(p, t)| label_scores(p, t))
            .collect(),
    )
}

/// The machine labels and their truth ([`predictions`]) after each of `budgets` labels
/// given by `strategy`, labels under `min_confidence` left out as in the page, so that
/// several runs can be pooled before scoring.
#[allow(clippy::type_complexity)]
pub fn run_predictions(
    prep: &Prepared,
    truth: &[Option<bool>],
    strategy: Strategy,
    budgets: &[usize],
    cfg: &Config,
    seed: u64,
    min_confidence: f64,
) -> Result<Vec<(Vec<Option<(bool, f64)>>, Vec<Option<bool>>)>, ClusterError> {
    let n = truth.len();
    let max = budgets.iter().copied().max().unwrap_or(0).min(n);
    let mut human: Vec<Option<bool>> = vec![None; n];
    let mut out = Vec::with_capacity(budgets.len());
    let at = |human: &[Option<bool>]| {
        predictions(&prep.propagate(human, cfg), human, truth, min_confidence)
    };
    match strategy {
        Strategy::Active => {
            let mut scores = vec![None; max + 1];
            for k in 0..=max {
                let prop = prep.propagate(&human, cfg);
                scores[k] = Some(predictions(&prop, &human, truth, min_confidence));
                if k == max {
                    break;
                }
                let Some(&(next, _)) = select::queue(&prep.graph, &prop, &human).first() else {
                    break;
                };
                human[next] = truth[next];
            }
            for &b in budgets {
                let found = (0..=b.min(max)).rev().find_map(|k| scores[k].clone());
                out.push(found.unwrap_or_default());
            }
        }
        _ => {
            for &b in budgets {
                let b = b.min(n);
                let picks = match strategy {
                    Strategy::Random => select::random(n, b, seed),
                    Strategy::Medoids => select::medoids(prep.features.view(), b, seed)?,
                    _ => select::cover(prep.features.view(), b, &[]),
                };
                human.iter_mut().for_each(|h| *h = None);
                for i in picks {
                    human[i] = truth[i];
                }
                out.push(at(&human));
            }
        }
    }
    Ok(out)
}
