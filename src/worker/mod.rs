//! Heavy work, behind one door: a typed protocol ([`protocol`]) and [`Worker::run`], which
//! does a job on plain data and reports progress. The browser runs it in a Web Worker
//! (`src/bin/worker.rs` + [`wasm`]); tests call it directly. The worker keeps one thing
//! between jobs: the last propagation graph it built, so re-propagating after each human
//! label costs no graph building.

#[cfg(all(target_arch = "wasm32", feature = "model"))]
pub mod model_wasm;
pub mod protocol;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

#[cfg(feature = "model")]
use protocol::TrainResult;
use protocol::{
    ClassifyJob, ClassifyResult, FailReason, Job, MapResult, Method, PropagateJob, PropagateResult,
    Reply, Request, TimeResult,
};

/// How a propagation that names a graph this worker does not hold begins its error.
const NO_GRAPH: &str = "the worker has no graph";

use crate::core::choice::win_rates;
#[cfg(feature = "model")]
use crate::core::choice::{self, score_pairs, sibling_pairs};
use crate::core::cluster::{
    central_points, kmeans, normalized, ClusterError, KMeansConfig, Matrix,
};
use crate::core::graph::Node;
use crate::core::hdbscan::{hdbscan, HdbscanConfig, MstMethod};
use crate::core::project::pca2;
use crate::core::propagate::Prepared;
use crate::core::select;
use crate::core::signature::DIM;
use crate::core::timing::{self, Case};

/// The worker's state between jobs.
#[derive(Default)]
pub struct Worker {
    /// The last graph built, under its key.
    graph: Option<(String, Prepared)>,
}

/// Why a job failed, for its reply.
fn failed(id: u64, e: ClusterError) -> Reply {
    let reason = match &e {
        ClusterError::Cancelled => FailReason::Cancelled,
        ClusterError::Missing(m) if m.starts_with(NO_GRAPH) => FailReason::NoGraph,
        _ => FailReason::Error,
    };
    Reply::Failed {
        id,
        reason,
        message: e.to_string(),
    }
}

impl Worker {
    /// Does `req` on `data` (row-major numbers; see each job for their layout).
    /// `report(stage, fraction)` is called between chunks; when it returns false the job
    /// stops and `Failed { reason: Cancelled }` comes back.
    pub fn run(
        &mut self,
        req: &Request,
        data: &[f32],
        report: &mut dyn FnMut(&str, f64) -> bool,
    ) -> Reply {
        match &req.job {
            Job::Map(job) => match map(req, data, job, report) {
                Ok(result) => Reply::Map { id: req.id, result },
                Err(e) => failed(req.id, e),
            },
            Job::Propagate(job) => match self.propagate(req, data, job, report) {
                Ok(result) => Reply::Propagated { id: req.id, result },
                Err(e) => failed(req.id, e),
            },
            Job::Time(case) => match time(req, data, case, report) {
                Ok(result) => Reply::Timed { id: req.id, result },
                Err(e) => failed(req.id, e),
            },
            Job::Classify(_) | Job::Train(_) | Job::Embed(_) => failed(
                req.id,
                ClusterError::Missing("models run in the model worker".into()),
            ),
        }
    }

    fn propagate(
        &mut self,
        req: &Request,
        data: &[f32],
        job: &PropagateJob,
        report: &mut dyn FnMut(&str, f64) -> bool,
    ) -> Result<PropagateResult, ClusterError> {
        let n = req.rows;
        let kept = self
            .graph
            .as_ref()
            .is_some_and(|(k, p)| *k == job.key && p.prior.len() == n);
        if !kept {
            self.graph = None;
            let Some(input) = &job.input else {
                return Err(ClusterError::Missing(format!(
                    "{NO_GRAPH} for these records; send them again"
                )));
            };
            let emb_len = n * req.dim;
            if data.len() != emb_len + n * DIM
                || input.groups.len() != n
                || input.answers.len() != n
                || input.prior.len() != n
                || !(input.shapes.is_empty() || input.shapes.len() == n)
            {
                return Err(ClusterError::Shape {
                    len: data.len(),
                    rows: n,
                    dim: req.dim + DIM,
                });
            }
            let emb = (req.dim > 0)
                .then(|| Matrix::new(&data[..emb_len], n, req.dim))
                .transpose()?;
            let vectors: Vec<[f32; DIM]> = data[emb_len..]
                .chunks_exact(DIM)
                .map(|c| c.try_into().expect("DIM values"))
                .collect();
            let nodes = input
                .groups
                .iter()
                .zip(&input.answers)
                .map(|(&group, &a)| Node {
                    group,
                    answer: u32::try_from(a).ok(),
                })
                .collect();
            let prepared = Prepared::new(
                emb,
                &vectors,
                nodes,
                input.prior.clone(),
                input.shapes.clone(),
                &job.graph,
                &mut |f| report("building the graph", 0.9 * f),
            )?;
            self.graph = Some((job.key.clone(), prepared));
        }
        let (_, prepared) = self.graph.as_ref().expect("built above");
        if job.human.len() != n {
            return Err(ClusterError::Shape {
                len: job.human.len(),
                rows: n,
                dim: 1,
            });
        }
        if !report("propagating", 0.9) {
            return Err(ClusterError::Cancelled);
        }
        let human: Vec<Option<bool>> = job
            .human
            .iter()
            .map(|&h| (h >= 0).then_some(h > 0))
            .collect();
        let mut prop = prepared.propagate(&human, &job.config);
        let pairs: Vec<(usize, usize)> = job
            .pairs
            .iter()
            .map(|&(b, w)| (b as usize, w as usize))
            .collect();
        crate::core::propagate::respect_pairs(&mut prop.p, &pairs);
        let queue = select::queue(&prepared.graph, &prop, &human)
            .into_iter()
            .take(job.queue)
            .map(|(i, _)| i as u32)
            .collect();
        report("propagating", 1.0);
        Ok(PropagateResult {
            p: prop.p.iter().map(|&p| p as f32).collect(),
            from: prop.from,
            queue,
            calibration: prop.calibration,
            built_graph: !kept,
            doubt: prop.doubt.iter().map(|&d| d as f32).collect(),
            moved: prop.moved.clone(),
        })
    }
}

fn map(
    req: &Request,
    data: &[f32],
    job: &protocol::MapJob,
    report: &mut dyn FnMut(&str, f64) -> bool,
) -> Result<MapResult, ClusterError> {
    let x = Matrix::new(data, req.rows, req.dim)?;
    let unit;
    let x = if job.cosine {
        unit = normalized(x);
        Matrix::new(&unit, req.rows, req.dim)?
    } else {
        x
    };
    let proj = pca2(x, &mut |f| report("projecting", 0.3 * f))?;
    let (labels, inertia, persistence, approximate) = match job.method {
        Method::KMeans { k, restarts, seed } => {
            let cfg = KMeansConfig {
                k: k.min(req.rows).max(1),
                restarts,
                seed,
                ..Default::default()
            };
            let r = kmeans(x, &cfg, &mut |f| report("clustering", 0.3 + 0.7 * f))?;
            (
                r.labels.iter().map(|&l| l as i32).collect::<Vec<_>>(),
                Some(r.inertia),
                Vec::new(),
                None,
            )
        }
        Method::Hdbscan { min_cluster_size } => {
            // exact up to n²·d = EXACT_BUDGET, an approximate neighbour graph above
            let cfg = HdbscanConfig {
                min_cluster_size,
                ..Default::default()
            };
            let r = hdbscan(x, &cfg, &mut |f| report("clustering", 0.3 + 0.7 * f))?;
            let approximate = r.method == MstMethod::Approximate;
            (r.labels, None, r.persistence, Some(approximate))
        }
    };
    let medoids = central_points(x, &labels);
    Ok(MapResult {
        labels,
        xy: proj.xy,
        inertia,
        persistence,
        medoids,
        explained: proj.explained,
        approximate,
    })
}

/// Milliseconds from a fixed start: `Date.now()` in the browser (`std::time` does not
/// exist there), a monotonic clock natively.
pub(crate) fn now_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
            * 1e3
    }
}

/// Times one suite job on the matrix built from the base rows in `data`.
fn time(
    req: &Request,
    data: &[f32],
    case: &Case,
    report: &mut dyn FnMut(&str, f64) -> bool,
) -> Result<TimeResult, ClusterError> {
    let base = Matrix::new(data, req.rows, req.dim)?;
    let numbers = timing::matrix(base, case.rows);
    let x = Matrix::new(&numbers, case.rows, req.dim)?;
    let start = now_ms();
    timing::run(case, x, &mut |f| report("timing", f))?;
    Ok(TimeResult {
        case: *case,
        ms: now_ms() - start,
    })
}

/// The rows of each question group, from one group id per row.
pub fn group_rows(groups: &[u32]) -> Vec<Vec<usize>> {
    let mut index: rustc_hash::FxHashMap<u32, usize> = Default::default();
    let mut out: Vec<Vec<usize>> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let k = *index.entry(*g).or_insert_with(|| {
            out.push(Vec::new());
            out.len() - 1
        });
        out[k].push(i);
    }
    out
}

/// Checks a classify job's shapes: the numbers must be `rows × width`.
pub fn check_classify(job: &ClassifyJob, rows: usize, data: &[f32]) -> Result<(), String> {
    let width = job.info.input.width();
    if data.len() != rows * width || job.groups.len() != rows || job.prior.len() != rows {
        return Err(format!(
            "the classifier needs {rows} rows of {width} inputs with a group and a prior each; got {} values, {} groups, {} priors",
            data.len(),
            job.groups.len(),
            job.prior.len()
        ));
    }
    Ok(())
}

/// Turns pair scores into the reply: win rates, then P(correct) from the calibration.
pub fn classified(
    job: &ClassifyJob,
    pairs: &[(usize, usize)],
    scores: &[f32],
    backend: &str,
    fallback: Option<String>,
    parity: Option<f64>,
    scoring_ms: f64,
) -> ClassifyResult {
    let n = job.groups.len();
    let w = win_rates(n, pairs, scores);
    let p = w
        .iter()
        .zip(&job.prior)
        .map(|(w, &prior)| job.info.calibration.apply(*w, prior) as f32)
        .collect();
    ClassifyResult {
        p,
        win_rate: w.iter().map(|w| w.map(|w| w as f32)).collect(),
        pairs: pairs.len(),
        pair_scores: pairs
            .iter()
            .zip(scores)
            .map(|(&(i, j), &s)| (i as u32, j as u32, s))
            .collect(),
        backend: backend.to_string(),
        fallback,
        parity,
        scoring_ms,
    }
}

#[cfg(feature = "model")]
/// The classify job on the CPU, synchronously (native tests and tools; the browser's model
/// worker runs the same steps asynchronously, on WebGPU when it can).
pub fn classify_cpu(req: &Request, data: &[f32], weights: Vec<u8>) -> Reply {
    let Job::Classify(job) = &req.job else {
        return failed(req.id, ClusterError::Missing("not a classify job".into()));
    };
    let run = || -> Result<ClassifyResult, String> {
        check_classify(job, req.rows, data)?;
        #[allow(deprecated)] // burn 0.22 prefers flex; ndarray is the CPU backend of the brief
        let device = burn::prelude::Device::ndarray();
        let model = choice::load(&job.info, weights, &device)?;
        let pairs = sibling_pairs(&group_rows(&job.groups));
        let scores = score_pairs(&model, data, job.info.input.width(), &pairs, &device);
        Ok(classified(job, &pairs, &scores, "cpu", None, None, 0.0))
    };
    match run() {
        Ok(result) => Reply::Classified { id: req.id, result },
        Err(message) => Reply::Failed {
            id: req.id,
            reason: FailReason::Error,
            message,
        },
    }
}

#[cfg(feature = "model")]
/// The train job: fine-tunes the weights on the person's labels with replay pairs
/// ([`choice::fine_tune_set`]) on the CPU. `on_epoch(epoch, of)` sees every epoch and
/// returns false to stop (the best weights so far come back).
pub fn train_cpu(
    req: &Request,
    data: &[f32],
    weights: Vec<u8>,
    on_epoch: &mut dyn FnMut(&choice::Epoch, usize) -> bool,
) -> Reply {
    let Job::Train(job) = &req.job else {
        return failed(req.id, ClusterError::Missing("not a train job".into()));
    };
    let run = || -> Result<TrainResult, String> {
        let width = job.info.input.width();
        let rows = req.rows;
        if data.len() != rows * width || job.groups.len() != rows || job.human.len() != rows {
            return Err(format!(
                "training needs {rows} rows of {width} inputs with a group and a label each; got {} values, {} groups, {} labels",
                data.len(),
                job.groups.len(),
                job.human.len()
            ));
        }
        if let Some(&(a, b, _)) = job
            .chosen
            .iter()
            .find(|&&(a, b, _)| a as usize >= rows || b as usize >= rows)
        {
            return Err(format!("a pair choice ({a}, {b}) names a row past {rows}"));
        }
        #[allow(deprecated)] // burn 0.22 prefers flex; ndarray is the CPU backend of the brief
        let device = burn::prelude::Device::ndarray();
        let model = choice::load(&job.info, weights, &device)?;
        let groups = group_rows(&job.groups);
        let sibling = sibling_pairs(&groups);
        let scores = score_pairs(&model, data, width, &sibling, &device);
        let chosen: Vec<choice::PairChoice> = job
            .chosen
            .iter()
            .map(|&(a, b, better)| (a as usize, b as usize, better))
            .collect();
        let set = choice::fine_tune_set(
            &groups,
            &job.human,
            &chosen,
            &sibling,
            &scores,
            job.config.seed,
        )?;
        let t0 = now_ms();
        let pair_set = choice::train::PairSet {
            x: data,
            width,
            train: &set.train,
            val: &set.val,
        };
        let epochs = job.config.epochs;
        let trained = choice::train::train(model, &pair_set, &job.config, &device, &mut |e| {
            on_epoch(e, epochs)
        });
        let kept = trained.kept();
        let mut info = job.info.clone();
        info.epoch = trained.epoch;
        info.fine_tuned = Some(choice::FineTuned {
            human_pairs: set.human,
            replay_pairs: set.train.len() - set.human,
            val_pairs: set.val.len(),
            val_loss_before: trained.start.val_loss,
            val_loss_after: kept.val_loss,
            epoch: trained.epoch,
            at: 0,
        });
        Ok(TrainResult {
            info,
            start: trained.start,
            cancelled: trained.cancelled,
            millis: now_ms() - t0,
            weights: choice::save(&trained.model)?,
            history: trained.history,
        })
    };
    match run() {
        Ok(result) => Reply::Trained {
            id: req.id,
            result: Box::new(result),
        },
        Err(message) => Reply::Failed {
            id: req.id,
            reason: FailReason::Error,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::protocol::{MapJob, Method, Space};
    use super::*;

    fn request(rows: usize, dim: usize, k: usize) -> Request {
        Request {
            id: 7,
            rows,
            dim,
            job: Job::Map(MapJob {
                method: Method::KMeans {
                    k,
                    restarts: 2,
                    seed: 1,
                },
                cosine: true,
                space: Space::Embedding,
            }),
        }
    }

    fn run(req: &Request, data: &[f32], report: &mut dyn FnMut(&str, f64) -> bool) -> Reply {
        Worker::default().run(req, data, report)
    }

    #[test]
    fn map_job_reports_progress_and_returns_a_map() {
        let data: Vec<f32> = (0..40).map(|i| ((i * 7) % 11) as f32).collect();
        let mut stages = Vec::new();
        let reply = run(&request(10, 4, 3), &data, &mut |s, f| {
            stages.push((s.to_string(), f));
            true
        });
        let Reply::Map { id, result } = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(id, 7);
        assert_eq!(result.labels.len(), 10);
        assert_eq!(result.xy.len(), 10);
        assert!(result.labels.iter().all(|&l| l < 3));
        assert!(
            stages.iter().any(|(s, _)| s == "projecting")
                && stages.iter().any(|(s, _)| s == "clustering")
        );
        assert!(
            stages.windows(2).all(|w| w[0].1 <= w[1].1 + 1e-12),
            "progress never goes back"
        );
    }

    #[test]
    fn time_job_builds_the_suite_matrix_and_times_the_job() {
        use crate::core::timing::{Case, Task};
        let base: Vec<f32> = (0..30 * 4).map(|i| ((i * 7) % 11) as f32).collect();
        let case = Case {
            task: Task::KMeans { k: 8 },
            rows: 100,
        };
        let req = Request {
            id: 3,
            rows: 30,
            dim: 4,
            job: Job::Time(case),
        };
        let Reply::Timed { id, result } = run(&req, &base, &mut |_, _| true) else {
            panic!("no time")
        };
        assert_eq!((id, result.case), (3, case));
        assert!(result.ms >= 0.0 && result.ms.is_finite());
        let Reply::Failed { reason, .. } = run(&req, &base, &mut |_, _| false) else {
            panic!("not cancelled")
        };
        assert_eq!(reason, FailReason::Cancelled);
        // base rows that are not rows × dim
        let Reply::Failed { reason, .. } = run(&req, &base[..7], &mut |_, _| true) else {
            panic!("bad shape accepted")
        };
        assert_eq!(reason, FailReason::Error);
    }

    #[test]
    fn hdbscan_map_marks_noise_and_central_points() {
        // two tight groups of 6 and one far point
        let mut data = Vec::new();
        for i in 0..6 {
            data.extend([i as f32 * 0.01, 0.0]);
        }
        for i in 0..6 {
            data.extend([10.0 + i as f32 * 0.01, 0.0]);
        }
        data.extend([5.0, 40.0]);
        let job = MapJob {
            method: Method::Hdbscan {
                min_cluster_size: 5,
            },
            cosine: false,
            space: Space::Signature,
        };
        let req = Request {
            id: 1,
            rows: 13,
            dim: 2,
            job: Job::Map(job),
        };
        let Reply::Map { result, .. } = run(&req, &data, &mut |_, _| true) else {
            panic!()
        };
        assert_eq!(result.labels[12], -1);
        assert_eq!(result.persistence.len(), 2);
        assert_eq!(result.inertia, None);
        assert_eq!(
            result.approximate,
            Some(false),
            "13 points are clustered exactly"
        );
        let m = result.medoids;
        assert!(m.len() == 2 && m.iter().all(Option::is_some));
        assert!(matches!(m[result.labels[0] as usize], Some(i) if i < 6));
    }

    #[test]
    fn cancel_and_errors_come_back_as_failed() {
        let data = vec![1.0f32; 40];
        let reply = run(&request(10, 4, 3), &data, &mut |_, _| false);
        assert!(
            matches!(
                reply,
                Reply::Failed {
                    reason: FailReason::Cancelled,
                    ..
                }
            ),
            "{reply:?}"
        );
        let reply = run(&request(10, 5, 3), &data, &mut |_, _| true);
        let Reply::Failed {
            reason, message, ..
        } = reply
        else {
            panic!()
        };
        assert_eq!(reason, FailReason::Error);
        assert_eq!(message, "40 values do not make 10 rows of 5");
    }

    #[test]
    fn propagation_keeps_its_graph_and_spreads_labels() {
        use super::protocol::{GraphInput, PropagateJob};
        use crate::core::graph::GraphConfig;
        use crate::core::propagate::Config;
        // 4 CoTs of one question: 0, 1 answer alike, 2, 3 otherwise; no embeddings.
        let n = 4;
        let mut data = Vec::new();
        for i in 0..n {
            data.extend((0..DIM).map(|k| ((i * 3 + k) % 5) as f32 / 5.0));
        }
        let job = |input: Option<GraphInput>, human: Vec<i8>| Request {
            id: 9,
            rows: n,
            dim: 0,
            job: Job::Propagate(PropagateJob {
                key: "set-a".into(),
                graph: GraphConfig::default(),
                config: Config::default(),
                input,
                human,
                pairs: Vec::new(),
                queue: 10,
            }),
        };
        let input = GraphInput {
            groups: vec![0; 4],
            answers: vec![1, 1, 2, 2],
            prior: vec![0.5; 4],
            shapes: Vec::new(),
        };
        let mut w = Worker::default();
        let first = w.run(
            &job(Some(input), vec![1, -1, -1, -1]),
            &data,
            &mut |_, _| true,
        );
        let Reply::Propagated { result, .. } = first else {
            panic!("{first:?}")
        };
        assert!(result.built_graph);
        assert_eq!(result.p[0], 1.0);
        assert!(
            result.p[1] > 0.5,
            "agrees with the good one: {:?}",
            result.p
        );
        assert!(result.p[2] < 0.5 && result.p[3] < 0.5, "{:?}", result.p);
        assert_eq!(result.from[2], vec![0]);
        assert!(
            !result.queue.contains(&0),
            "a human-labelled CoT is never queued"
        );
        // the second propagation sends no numbers and reuses the graph
        let again = w.run(&job(None, vec![1, -1, 0, -1]), &[], &mut |_, _| true);
        let Reply::Propagated { result, .. } = again else {
            panic!("{again:?}")
        };
        assert!(!result.built_graph);
        assert_eq!(result.p[2], 0.0);
        // a pair choice "3 is better than the sound 0" makes 3 sound
        let mut with_pair = job(None, vec![1, -1, -1, -1]);
        if let Job::Propagate(j) = &mut with_pair.job {
            j.pairs = vec![(3, 0)];
        }
        let Reply::Propagated { result, .. } = w.run(&with_pair, &[], &mut |_, _| true) else {
            panic!()
        };
        assert_eq!(result.p[3], 1.0);
        // a fresh worker without the numbers says what is missing
        let lost = Worker::default().run(&job(None, vec![-1; 4]), &[], &mut |_, _| true);
        assert!(
            matches!(lost, Reply::Failed { reason: FailReason::NoGraph, ref message, .. } if message.contains("no graph")),
            "{lost:?}"
        );
    }

    /// The shipped classifier weights and their description.
    #[cfg(feature = "model")]
    fn shipped() -> (crate::core::choice::WeightsInfo, Vec<u8>) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights");
        let info = serde_json::from_str(
            &std::fs::read_to_string(root.join("choice-signature.json")).unwrap(),
        )
        .unwrap();
        (
            info,
            std::fs::read(root.join("choice-signature.bpk")).unwrap(),
        )
    }

    #[cfg(feature = "model")]
    #[test]
    fn classify_scores_siblings_with_the_shipped_weights() {
        use super::protocol::{Backend, ClassifyJob};
        use crate::core::choice::Input;
        let (info, bytes) = shipped();
        let width = Input::Signature.width();
        // questions {0, 1, 2} and {3, 4}; 5 alone
        let groups = vec![7, 7, 7, 9, 9, 11];
        let data: Vec<f32> = (0..6 * width)
            .map(|k| ((k * 13) % 10) as f32 / 10.0)
            .collect();
        let req = |groups: Vec<u32>, data_rows: usize| Request {
            id: 4,
            rows: data_rows,
            dim: width,
            job: Job::Classify(ClassifyJob {
                info: info.clone(),
                prior: vec![0.5; groups.len()],
                groups,
                backend: Backend::Cpu,
                parity: false,
            }),
        };
        let reply = classify_cpu(&req(groups.clone(), 6), &data, bytes.clone());
        let Reply::Classified { id, result } = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(id, 4);
        assert_eq!(result.pairs, 3 + 1);
        assert_eq!(result.backend, "cpu");
        assert!(result.win_rate[5].is_none());
        // no sibling pair, no classifier label: only 5 is left unjudged
        assert_eq!(result.judged(5), None);
        assert_eq!(result.unjudged(), 1);
        assert!((0..5).all(|i| result.judged(i).is_some()));
        // win rates of a pair of siblings sum to 1 (the score is symmetric)
        let (a, b) = (result.win_rate[3].unwrap(), result.win_rate[4].unwrap());
        assert!((a + b - 1.0).abs() < 1e-5, "{a} {b}");
        assert!(result.p.iter().all(|p| (0.0..=1.0).contains(p)));
        // wrong shapes are refused with a sentence
        let bad = classify_cpu(&req(groups, 5), &data, bytes);
        assert!(
            matches!(bad, Reply::Failed { ref message, .. } if message.contains("needs 5 rows")),
            "{bad:?}"
        );
        // the jobs worker does not take it
        assert!(matches!(
            Worker::default().run(&req(vec![1; 6], 6), &data, &mut |_, _| true),
            Reply::Failed { .. }
        ));
    }

    #[cfg(feature = "model")]
    #[test]
    fn train_fine_tunes_on_human_labels_and_reports_epochs() {
        use super::protocol::TrainJob;
        use crate::core::choice::{Input, TrainConfig};
        let (info, bytes) = shipped();
        let width = Input::Signature.width();
        // 8 questions of 3 CoTs; the first feature tells sound (1) from flawed (0)
        let rows = 24;
        let groups: Vec<u32> = (0..rows as u32).map(|i| i / 3).collect();
        let human: Vec<i8> = (0..rows).map(|i| i8::from(i % 3 == 0)).collect();
        let data: Vec<f32> = (0..rows)
            .flat_map(|i| {
                (0..width).map(move |k| match k {
                    0 => f32::from(u8::from(i % 3 == 0)),
                    _ => ((i * 7 + k * 3) % 10) as f32 / 10.0,
                })
            })
            .collect();
        let req = |human: Vec<i8>, chosen: Vec<(u32, u32, bool)>| Request {
            id: 6,
            rows,
            dim: width,
            job: Job::Train(TrainJob {
                info: info.clone(),
                groups: groups.clone(),
                human,
                chosen,
                config: TrainConfig {
                    epochs: 3,
                    ..TrainConfig::fine_tune()
                },
            }),
        };
        let mut seen = Vec::new();
        let reply = train_cpu(
            &req(human.clone(), vec![(1, 2, true)]),
            &data,
            bytes.clone(),
            &mut |e, of| {
                seen.push((e.epoch, of));
                true
            },
        );
        let Reply::Trained { id, result } = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(id, 6);
        assert_eq!(seen, vec![(1, 3), (2, 3), (3, 3)]);
        assert_eq!(result.history.len(), 3);
        let f = result.info.fine_tuned.clone().unwrap();
        // 16 pointwise pairs + the choice, split by question: 2 of 8 questions validate
        assert_eq!(f.human_pairs + f.val_pairs, 17);
        assert!(f.val_pairs >= 4, "{f:?}");
        assert!(f.val_loss_after <= f.val_loss_before, "{f:?}");
        // the weights that come back load and keep the shape
        let loaded = choice::load(&result.info, result.weights.clone(), &{
            #[allow(deprecated)]
            burn::prelude::Device::ndarray()
        });
        assert!(loaded.is_ok());
        // stopping after the first epoch returns what was kept so far
        let stopped = train_cpu(&req(human, vec![]), &data, bytes.clone(), &mut |_, _| false);
        assert!(
            matches!(stopped, Reply::Trained { ref result, .. } if result.cancelled && result.history.len() == 1)
        );
        // nothing to learn from, or a pair choice past the rows, says so
        let none = train_cpu(
            &req(vec![-1; rows], vec![]),
            &data,
            bytes.clone(),
            &mut |_, _| true,
        );
        assert!(
            matches!(none, Reply::Failed { ref message, .. } if message.contains("0 pair(s)")),
            "{none:?}"
        );
        let past = train_cpu(
            &req(vec![-1; rows], vec![(3, 99, true)]),
            &data,
            bytes,
            &mut |_, _| true,
        );
        assert!(
            matches!(past, Reply::Failed { ref message, .. } if message.contains("past 24")),
            "{past:?}"
        );
    }

    #[test]
    fn replies_round_trip_as_json() {
        let reply = Reply::Progress {
            id: 3,
            stage: "clustering".into(),
            fraction: 0.5,
        };
        let text = serde_json::to_string(&reply).unwrap();
        assert_eq!(serde_json::from_str::<Reply>(&text).unwrap(), reply);
        let req = request(2, 2, 1);
        assert_eq!(
            serde_json::from_str::<Request>(&serde_json::to_string(&req).unwrap()).unwrap(),
            req
        );
    }
}
