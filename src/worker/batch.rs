//! The page's labelling as one call on a whole data set, for the CLI and the Python
//! package: the data set is handed to a [`Worker`] (signatures), which builds the graph and
//! propagates the human labels exactly as the page's "propagate" does; the result is
//! written into the labels at the page's threshold, and step labels are spread from the
//! person's step marks. So a label file from `cotlabel label` equals the page's for the
//! same records and human labels, apart from the times in it.
//!
//! Data sets too large for one graph are labelled partition by partition
//! ([`crate::core::partition`]), each CoT with the prior it has in the whole (the base-rate
//! shifts are the whole's).

use super::protocol::PropagateJob;
use super::Worker;
use crate::core::base::ClusterError;
use crate::core::data::{Dataset, Embeddings};
use crate::core::graph::GraphConfig;
use crate::core::labels::{LabelStore, Millis};
use crate::core::partition::partition_records;
use crate::core::propagate::Config;
use crate::core::signature::{base_rate_shifts, group_signatures};
use crate::core::steps::spread_dataset;
use crate::core::Session;

/// The page's default least confidence of a machine label.
pub const MIN_CONFIDENCE: f64 = 0.6;

/// How a data set is labelled.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelOptions {
    /// The graph (the page's default).
    pub graph: GraphConfig,
    /// How labels travel (the page's default: label spreading).
    pub config: Config,
    /// Machine labels below this confidence are not written.
    pub min_confidence: f64,
    /// Partitions of whole questions, each with a graph of its own (1: one graph, as the
    /// page).
    pub partitions: usize,
    /// Seed of the partitions' k-means.
    pub seed: u64,
    /// The base-rate shifts to use instead of the data set's own: those of the whole when
    /// this data set is one part of it (a Ray partition).
    pub shifts: Option<[f64; 2]>,
}

impl Default for LabelOptions {
    fn default() -> Self {
        Self {
            graph: GraphConfig::default(),
            config: Config::default(),
            min_confidence: MIN_CONFIDENCE,
            partitions: 1,
            seed: 0,
            shifts: None,
        }
    }
}

/// Labels a session's records from its human labels and pair choices: propagated labels
/// replaced, human and classifier labels kept, step labels spread. Returns the data set
/// and its labels. `report(stage, fraction)` is told the progress; when it returns false
/// the work stops with [`ClusterError::Cancelled`].
pub fn label(
    session: Session,
    opts: &LabelOptions,
    now: Millis,
    report: &mut dyn FnMut(&str, f64) -> bool,
) -> Result<(Dataset, LabelStore), ClusterError> {
    let Session {
        dataset,
        mut labels,
    } = session;
    let dataset = if opts.partitions <= 1 {
        label_part(dataset, &mut labels, opts.shifts, opts, now, report)?
    } else {
        if !report("reading the reasoning", 0.0) {
            return Err(ClusterError::Cancelled);
        }
        let shifts = match opts.shifts {
            Some(s) => s,
            None => base_rate_shifts(&group_signatures(&dataset)),
        };
        report("reading the reasoning", 1.0);
        if !report("partitioning", 0.0) {
            return Err(ClusterError::Cancelled);
        }
        let part = partition_records(&dataset, opts.partitions, opts.seed)?;
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); opts.partitions];
        for (i, &p) in part.iter().enumerate() {
            members[p as usize].push(i);
        }
        for (p, rows) in members.iter().enumerate() {
            if !report("labelling partitions", p as f64 / members.len() as f64) {
                return Err(ClusterError::Cancelled);
            }
            if rows.is_empty() {
                continue;
            }
            let part = subset(&dataset, rows, p);
            label_part(part, &mut labels, Some(shifts), opts, now, &mut |_, _| true)?;
        }
        report("labelling partitions", 1.0);
        dataset
    };
    let spread = spread_dataset(&dataset, &labels);
    labels.set_spread(spread.into_iter().collect());
    Ok((dataset, labels))
}

/// The records at `rows` (with their embeddings) as a data set of their own.
fn subset(dataset: &Dataset, rows: &[usize], p: usize) -> Dataset {
    let all = dataset.records();
    let records = rows.iter().map(|&i| all[i].clone()).collect();
    let embeddings = dataset.embeddings().and_then(|e| {
        let dim = e.dim();
        let values = rows
            .iter()
            .flat_map(|&i| e.as_slice()[i * dim..(i + 1) * dim].iter().copied())
            .collect();
        Embeddings::new(rows.len(), dim, values)
    });
    Dataset::new(format!("{} part {p}", dataset.name()), records, embeddings)
}

/// One graph: signatures (with `shifts` when given), propagation, labels written.
fn label_part(
    dataset: Dataset,
    labels: &mut LabelStore,
    shifts: Option<[f64; 2]>,
    opts: &LabelOptions,
    now: Millis,
    report: &mut dyn FnMut(&str, f64) -> bool,
) -> Result<Dataset, ClusterError> {
    let human = labels.human_rows(&dataset);
    let pairs = labels.human_pair_rows(&dataset);
    let mut worker = Worker::default();
    let loaded = worker.hold_shifted(dataset, shifts, report)?;
    let result = worker.propagate(
        &PropagateJob {
            key: loaded.key,
            graph: opts.graph,
            config: opts.config,
            human,
            pairs,
            queue: 0,
        },
        report,
    )?;
    let dataset = worker.take_dataset().expect("held above");
    if !report("writing labels", 0.0) {
        return Err(ClusterError::Cancelled);
    }
    result.write_labels(
        labels,
        dataset.records(),
        0..dataset.len(),
        opts.min_confidence,
        now,
    );
    report("writing labels", 1.0);
    Ok(dataset)
}
