//! The page's labelling as one call on a whole data set, for the CLI and the Python
//! package: the data set is handed to a [`Worker`] (signatures), which builds the graph and
//! propagates the human labels exactly as the page's "propagate" does; the result is
//! written into the labels at the page's threshold, and step labels are spread from the
//! person's step marks. So a label file from `cotlabel label` equals the page's for the
//! same records and human labels, apart from the times in it.
//!
//! Data sets too large for one graph are labelled partition by partition
//! ([`crate::core::graph::partition`]), each CoT with the prior it has in the whole (the base-rate
//! shifts are the whole's), several partitions at once on threads. Native only: the page
//! sends the same jobs to its workers one at a time.

use crate::core::base::ClusterError;
use crate::core::data::{Dataset, Embeddings};
use crate::core::graph::partition::partition_records;
use crate::core::graph::propagate::Config;
use crate::core::graph::GraphConfig;
use crate::core::labels::steps::spread_dataset;
use crate::core::labels::{LabelStore, Millis, MIN_CONFIDENCE};
use crate::core::signals::signature::{base_rate_shifts, group_signatures};
use crate::core::Session;
use crate::worker::protocol::{ClassifyResult, PropagateJob, PropagateResult, WorkerError};
use crate::worker::Worker;

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
    /// Partitions labelled at once (threads; each holds its partition's graph).
    pub threads: usize,
    /// Also run the binary-choice classifier over sibling pairs with the shipped weights
    /// (the page's *Classify*; the `model` feature): its labels replace propagated ones
    /// where it judged a CoT at the threshold.
    pub classify: bool,
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
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            classify: false,
        }
    }
}

/// Labels a session's records from its human labels and pair choices: propagated labels
/// replaced, human and classifier labels kept, step labels spread. Returns the data set
/// and its labels. `report(stage, fraction)` is told the progress; when it returns false
/// the work stops with [`ClusterError::Cancelled`] (as a [`WorkerError::Numeric`]).
pub fn label(
    session: Session,
    opts: &LabelOptions,
    now: Millis,
    report: &mut dyn FnMut(&str, f64) -> bool,
) -> Result<(Dataset, LabelStore), WorkerError> {
    let Session {
        dataset,
        mut labels,
    } = session;
    let dataset = if opts.partitions <= 1 {
        let part = propagate_part(dataset, &labels, opts.shifts, opts, report)?;
        if !report("writing labels", 0.0) {
            return Err(ClusterError::Cancelled.into());
        }
        write(&part, &mut labels, opts, now);
        report("writing labels", 1.0);
        part.dataset
    } else {
        if !report("reading the reasoning", 0.0) {
            return Err(ClusterError::Cancelled.into());
        }
        let shifts = match opts.shifts {
            Some(s) => s,
            None => base_rate_shifts(&group_signatures(&dataset)),
        };
        report("reading the reasoning", 1.0);
        if !report("partitioning", 0.0) {
            return Err(ClusterError::Cancelled.into());
        }
        let part = partition_records(&dataset, opts.partitions, opts.seed)?;
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); opts.partitions];
        for (i, &p) in part.iter().enumerate() {
            members[p as usize].push(i);
        }
        // the largest first, so the threads finish together
        members.retain(|m| !m.is_empty());
        members.sort_by_key(|m| std::cmp::Reverse(m.len()));
        let parts = members.len();
        if !report("labelling partitions", 0.0) {
            return Err(ClusterError::Cancelled.into());
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (ds, store) = (&dataset, &labels);
        let outcome = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel();
            for _ in 0..opts.threads.clamp(1, parts.max(1)) {
                let (tx, next, stop, members) = (tx.clone(), &next, &stop, &members);
                scope.spawn(move || loop {
                    let p = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if p >= parts || stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let sub = subset(ds, &members[p], p);
                    let r = propagate_part(sub, store, Some(shifts), opts, &mut |_, _| {
                        !stop.load(std::sync::atomic::Ordering::Relaxed)
                    });
                    if tx.send(r).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            let mut results = Vec::with_capacity(parts);
            for (k, r) in rx.iter().enumerate() {
                match r {
                    Ok(r) => results.push(r),
                    Err(e) => {
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        return Err(e);
                    }
                }
                if !report("labelling partitions", (k + 1) as f64 / parts as f64) {
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    return Err(ClusterError::Cancelled.into());
                }
            }
            Ok(results)
        })?;
        for part in outcome {
            write(&part, &mut labels, opts, now);
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

/// What one graph gave: the data set back, propagation, and the classifier's verdicts
/// with which CoTs it may judge (when asked for).
struct Part {
    dataset: Dataset,
    propagated: PropagateResult,
    classified: Option<(ClassifyResult, Vec<bool>)>,
}

/// One graph: signatures (with `shifts` when given), propagation from the human labels of
/// `labels`, and the classifier when asked for.
fn propagate_part(
    dataset: Dataset,
    labels: &LabelStore,
    shifts: Option<[f64; 2]>,
    opts: &LabelOptions,
    report: &mut dyn FnMut(&str, f64) -> bool,
) -> Result<Part, WorkerError> {
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
            judge: Vec::new(),
        },
        report,
    )?;
    let classified = match opts.classify {
        false => None,
        true => {
            if !report("classifying sibling pairs", 0.0) {
                return Err(ClusterError::Cancelled.into());
            }
            Some(classify(&worker)?)
        }
    };
    Ok(Part {
        dataset: worker.take_dataset().expect("held above"),
        propagated: result,
        classified,
    })
}

/// The page's *Classify* on the held data set: every pair of sibling CoTs scored by the
/// shipped binary-choice model on the CPU.
#[cfg(feature = "model")]
fn classify(worker: &Worker) -> Result<(ClassifyResult, Vec<bool>), WorkerError> {
    use crate::core::signals::choice::{inputs, WeightsInfo};
    use crate::worker::protocol::{Backend, ClassifyJob};
    let info: WeightsInfo = serde_json::from_str(include_str!("../weights/choice-signature.json"))
        .map_err(|e| WorkerError::Input(format!("the shipped weights' info: {e}")))?;
    let bytes = include_bytes!("../weights/choice-signature.bpk").to_vec();
    let (Some(dataset), Some(t)) = (worker.dataset(), worker.table()) else {
        return Err(WorkerError::Input("no data set held".into()));
    };
    let x = inputs(
        dataset.embeddings(),
        &t.vectors,
        &t.label_free_prior,
        info.input,
    )
    .ok_or_else(|| {
        WorkerError::Input("the classifier's inputs (MiniLM embeddings) are missing".into())
    })?;
    let job = ClassifyJob {
        groups: t.nodes.iter().map(|n| n.group).collect(),
        prior: t.label_free_prior.clone(),
        info,
        backend: Backend::Cpu,
        parity: false,
    };
    let result = crate::worker::model::classify_cpu(&job, dataset.len(), &x, bytes)?;
    Ok((result, t.shapes.iter().map(|s| s.fitted).collect()))
}

#[cfg(not(feature = "model"))]
fn classify(_: &Worker) -> Result<(ClassifyResult, Vec<bool>), WorkerError> {
    Err(WorkerError::Input(
        "this build has no classifier: build with the `model` feature (the default)".into(),
    ))
}

/// Writes a part's labels at the threshold (the page's writes: propagation, then the
/// classifier as when *Classify* follows *Propagate*).
fn write(part: &Part, labels: &mut LabelStore, opts: &LabelOptions, now: Millis) {
    let records = part.dataset.records();
    part.propagated
        .write_labels(labels, records, 0..records.len(), opts.min_confidence, now);
    if let Some((classified, fitted)) = &part.classified {
        classified.write_labels(labels, records, fitted, opts.min_confidence, now);
    }
}
