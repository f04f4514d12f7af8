//! A simulated labeller: plays the human on a data set with ground truth (`is_correct`),
//! labelling the CoTs a strategy picks, propagating after each, and scoring the propagated
//! labels against the truth. The harness (`src/bin/simulate.rs`), the tests and the
//! browser's evaluation panel all use it.

use super::cluster::{ClusterError, Matrix};
use super::data::Dataset;
use super::graph::{self, GraphConfig};
use super::metrics::{label_scores, LabelScores};
use super::propagate::{Config, Prepared, Propagation};
use super::select::{self, Strategy};
use super::signature::{Signature, DIM};

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
    Prepared::new(
        emb,
        &vectors,
        graph::nodes(dataset, sigs),
        prior,
        cfg,
        &mut |_| true,
    )
}

/// Scores of the propagated labels on the CoTs no human labelled, at full coverage.
pub fn score(prop: &Propagation, human: &[Option<bool>], truth: &[Option<bool>]) -> LabelScores {
    let predicted: Vec<Option<(bool, f64)>> = (0..truth.len())
        .map(|i| {
            human[i]
                .is_none()
                .then(|| (prop.p[i] >= 0.5, prop.confidence(i)))
        })
        .collect();
    label_scores(&predicted, truth)
}

/// Plays the human with `strategy` up to the largest of `budgets` labels; returns the
/// scores after each budget (in the order given). Random and medoid picks use `seed`.
pub fn run(
    prep: &Prepared,
    truth: &[Option<bool>],
    strategy: Strategy,
    budgets: &[usize],
    cfg: &Config,
    seed: u64,
) -> Result<Vec<LabelScores>, ClusterError> {
    let n = truth.len();
    let max = budgets.iter().copied().max().unwrap_or(0).min(n);
    let mut human: Vec<Option<bool>> = vec![None; n];
    let mut out = Vec::with_capacity(budgets.len());
    let at = |human: &[Option<bool>]| score(&prep.propagate(human, cfg), human, truth);
    match strategy {
        Strategy::Active => {
            let mut scores = vec![None; max + 1];
            for k in 0..=max {
                let prop = prep.propagate(&human, cfg);
                scores[k] = Some(score(&prop, &human, truth));
                if k == max {
                    break;
                }
                let Some(&(next, _)) = select::queue(&prep.graph, &prop, &human).first() else {
                    break;
                };
                human[next] = truth[next];
            }
            for &b in budgets {
                out.push(scores[b.min(max)].unwrap_or_default());
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
