//! The jobs worker: holds the data set and runs the work on it ([`Worker::run`]). A load
//! job parses and validates the files, fingerprints the records and reads their
//! signatures, and keeps them. Later jobs (map, propagation) name it by its key and send
//! only what changed, such as the human labels; the page keeps the records it shows and
//! one row of signature numbers per CoT. The worker also keeps the last propagation graph
//! it built, so re-propagating after each human label builds nothing.

use super::now_ms;
use super::protocol::{
    self, AdoptJob, AttachJob, CleanJob, CleanResult, Job, JobsReply, LoadJob, Loaded, MapResult,
    Method, PropagateJob, PropagateResult, Request, Space, TimeResult, WorkerError,
};

/// Records per [`JobsReply::Records`] piece: each is read on the page in a task of its own.
pub const RECORDS_PER_PIECE: usize = 2000;
/// Embedding values per [`JobsReply::Vectors`] piece (4 MB: each is copied into the page's
/// memory in a task of its own).
const VALUES_PER_PIECE: usize = 1 << 20;
/// Signature-table rows per [`JobsReply::Table`] piece (3.2 MB).
const TABLE_ROWS_PER_PIECE: usize = 10_000;

use crate::core::base::{normalized, ClusterError, Matrix};
use crate::core::data::{Dataset, Embeddings, Record};
use crate::core::graph::propagate::Prepared;
use crate::core::graph::select;
use crate::core::io::import::{plan_import_mapped, InputFile};
use crate::core::map::hdbscan::{hdbscan, HdbscanConfig, MstMethod};
use crate::core::map::kmeans::{central_points, kmeans, KMeansConfig};
use crate::core::map::project::pca2;
use crate::core::signals::signature::table::SignatureTable;
use crate::core::signals::signature::{finish, group_signatures, signatures, DIM};
use crate::core::timing::{self, Case};

/// The data set the worker holds.
struct Held {
    key: String,
    dataset: Dataset,
    table: SignatureTable,
}

/// The worker's state between jobs.
pub struct Worker {
    /// The data set, once loaded.
    held: Option<Held>,
    /// Told apart from other workers' keys (a restarted worker starts again at 1).
    instance: u64,
    /// Data sets loaded so far.
    loads: u64,
    /// The last graph built, under its key.
    graph: Option<(String, Prepared)>,
}

impl Default for Worker {
    fn default() -> Self {
        Self {
            held: None,
            instance: now_ms().to_bits(),
            loads: 0,
            graph: None,
        }
    }
}

impl Worker {
    /// Does `req` on `data` (row-major numbers; see each job for their layout) and `bytes`
    /// (files, records). `report(stage, fraction)` is called between chunks; when it
    /// returns false the job stops and `Failed { reason: Cancelled }` comes back. Most jobs
    /// answer with one reply; a load answers with the pieces of what it read, then
    /// [`JobsReply::Loaded`].
    pub fn run(
        &mut self,
        req: &Request,
        data: &[f32],
        bytes: &[u8],
        report: &mut dyn FnMut(&str, f64) -> bool,
    ) -> Vec<JobsReply> {
        let id = req.id;
        let one = |r: Result<JobsReply, WorkerError>| vec![r.unwrap_or_else(|e| e.reply(id))];
        match &req.job {
            Job::Load(job) => self.load(id, job, bytes, report),
            Job::Adopt(job) => self
                .adopt(req, job, data, bytes, report)
                .unwrap_or_else(|e| vec![e.reply(id)]),
            Job::Attach(job) => self
                .attach(req, job, data, report)
                .unwrap_or_else(|e| vec![e.reply(id)]),
            Job::Map(job) => one(self
                .map(req, data, job, report)
                .map(|result| JobsReply::Map { id, result })),
            Job::Propagate(job) => one(self
                .propagate(job, report)
                .map(|result| JobsReply::Propagated { id, result })),
            Job::Time(case) => {
                one(time(req, data, case, report).map(|result| JobsReply::Timed { id, result }))
            }
            Job::Clean(job) => {
                one(self
                    .clean(job, bytes, report)
                    .map(|result| JobsReply::Cleaned {
                        id,
                        result: Box::new(result),
                    }))
            }
        }
    }

    /// Cleans the held data set ([`crate::core::clean::clean`]): the evaluation files
    /// in `bytes` are read for this job only; embedding duplicates are looked for among the
    /// neighbours of the graph propagation built for these records, when it has.
    pub fn clean(
        &mut self,
        job: &CleanJob,
        bytes: &[u8],
        report: &mut dyn FnMut(&str, f64) -> bool,
    ) -> Result<CleanResult, WorkerError> {
        use crate::core::clean::contamination::{EvalIndex, EvalQuestion};
        use crate::core::clean::minhash::Hasher;
        use crate::core::clean::{clean, Near};
        let started = now_ms();
        let mut questions = Vec::new();
        let mut read = Vec::new();
        for file in files_beside(&job.eval, bytes)? {
            let name = file.name.clone();
            if !report("reading the evaluation sets", 0.0) {
                return Err(ClusterError::Cancelled.into());
            }
            let plan = plan_import_mapped(&[file], None, None).map_err(|errors| {
                WorkerError::Input(
                    errors
                        .iter()
                        .map(|e| format!("evaluation set {e}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
            let Some(d) = plan.dataset else {
                return Err(WorkerError::Input(format!(
                    "{name}: no records in it (an evaluation set is a records file)"
                )));
            };
            let before = questions.len();
            questions.extend(d.records().iter().map(|r| EvalQuestion {
                id: r.question_id.clone().unwrap_or_else(|| r.id.clone()),
                text: r.question.clone(),
            }));
            read.push((name.clone(), questions.len() - before));
        }
        let hasher = Hasher::new(&job.config.minhash);
        let eval = (!questions.is_empty())
            .then(|| EvalIndex::new(&questions, job.config.ngram, job.config.shingle, &hasher));
        drop(questions);
        let held = find(&self.held, &job.key)?;
        let embedded = held.dataset.embeddings().is_some() && job.config.embedding_cosine <= 1.0;
        // the graph propagation built for these records, if it did: building one here
        // would take a propagation's first minute at 100k
        let graph = self
            .graph
            .as_ref()
            .filter(|(k, _)| k.starts_with(&format!("{}/", job.key)))
            .map(|(_, p)| &p.graph)
            .filter(|_| embedded);
        let of = |i: usize| -> Vec<usize> {
            graph
                .map(|g| g.edges(i).map(|(j, _)| j).collect())
                .unwrap_or_default()
        };
        let near = held
            .dataset
            .embeddings()
            .filter(|_| graph.is_some())
            .map(|e| Near {
                embeddings: e,
                neighbours: &of,
            });
        let mut findings = clean(&held.dataset, eval.as_ref(), near, &job.config, report)
            .ok_or(ClusterError::Cancelled)?;
        // the page shows clusters, not the pairs that joined them: at 100k CoTs the pairs
        // were most of the reply, decoded on the page's main thread in 156 ms
        findings.pairs = Vec::new();
        Ok(CleanResult {
            findings,
            eval: read,
            ms: now_ms() - started,
            neighbours: graph.is_some(),
        })
    }

    /// The data set held, if any.
    pub fn dataset(&self) -> Option<&Dataset> {
        self.held.as_ref().map(|h| &h.dataset)
    }

    /// The held data set's signature table, if any.
    pub fn table(&self) -> Option<&SignatureTable> {
        self.held.as_ref().map(|h| &h.table)
    }

    /// Gives the held data set back (the worker holds nothing after).
    pub fn take_dataset(&mut self) -> Option<Dataset> {
        self.graph = None;
        self.held.take().map(|h| h.dataset)
    }

    /// The held data set, when it is the one `key` names.
    fn held(&self, key: &str) -> Result<&Held, WorkerError> {
        find(&self.held, key)
    }

    /// Reads the signatures of `dataset` and holds it under a new key (a load job's end;
    /// the CLI hands its data set over here).
    pub fn hold(
        &mut self,
        dataset: Dataset,
        report: &mut dyn FnMut(&str, f64) -> bool,
    ) -> Result<Loaded, WorkerError> {
        self.hold_shifted(dataset, None, report)
    }

    /// [`Self::hold`], with the base-rate shifts of a larger data set this one is a part of
    /// ([`crate::core::signals::signature::base_rate_shifts`]): a partition's CoTs then get the
    /// priors they have in the whole.
    pub fn hold_shifted(
        &mut self,
        dataset: Dataset,
        shifts: Option<[f64; 2]>,
        report: &mut dyn FnMut(&str, f64) -> bool,
    ) -> Result<Loaded, WorkerError> {
        if !report("reading the reasoning", 0.4) {
            return Err(ClusterError::Cancelled.into());
        }
        let sigs = match shifts {
            None => signatures(&dataset),
            Some(shifts) => {
                let mut sigs = group_signatures(&dataset);
                finish(&mut sigs, shifts);
                sigs
            }
        };
        let table = SignatureTable::new(&dataset, &sigs);
        self.loads += 1;
        let key = format!(
            "{}:{:x}:{}",
            dataset.fingerprint(),
            self.instance,
            self.loads
        );
        let loaded = Loaded {
            key: key.clone(),
            name: dataset.name().to_string(),
            fingerprint: dataset.fingerprint().to_string(),
            rows: dataset.len(),
            dim: dataset.embeddings().map_or(0, Embeddings::dim),
            changed: true,
            record_pieces: 0,
            vectors_sent: false,
            sources: Vec::new(),
            mapping: None,
            warnings: Vec::new(),
            label_files: Vec::new(),
            share: None,
        };
        self.graph = None;
        self.held = Some(Held {
            key,
            dataset,
            table,
        });
        report("reading the reasoning", 1.0);
        Ok(loaded)
    }

    /// The replies that end a load, adopt or attach: the held data set's signature table
    /// in pieces (when it changed), then [`JobsReply::Loaded`].
    fn loaded_replies(&self, id: u64, loaded: Loaded) -> Vec<JobsReply> {
        let mut out = Vec::new();
        if let Some(h) = self.held.as_ref().filter(|_| loaded.changed) {
            let n = h.table.len();
            for start in (0..n).step_by(TABLE_ROWS_PER_PIECE) {
                let rows = TABLE_ROWS_PER_PIECE.min(n - start);
                out.push(JobsReply::Table {
                    id,
                    start,
                    rows,
                    total: n,
                    bytes: h.table.rows_to_bytes(start..start + rows),
                });
            }
        }
        out.push(JobsReply::Loaded {
            id,
            result: Box::new(loaded),
        });
        out
    }

    fn load(
        &mut self,
        id: u64,
        job: &LoadJob,
        bytes: &[u8],
        report: &mut dyn FnMut(&str, f64) -> bool,
    ) -> Vec<JobsReply> {
        let fail = |e: WorkerError| vec![e.reply(id)];
        let files = match files_beside(&job.files, bytes) {
            Ok(files) => files,
            Err(e) => return fail(e),
        };
        let current = match &job.base {
            None => None,
            Some(key) => match self.held(key) {
                Ok(h) => Some(&h.dataset),
                Err(e) => return fail(e),
            },
        };
        if !report("reading files", 0.05) {
            return fail(ClusterError::Cancelled.into());
        }
        let plan = match plan_import_mapped(&files, current, job.mapping.as_ref()) {
            Ok(plan) => plan,
            Err(errors) => return vec![JobsReply::Refused { id, errors }],
        };
        drop(files);
        let mut out = Vec::new();
        let label_files = plan
            .label_files
            .iter()
            .map(|(name, f)| (name.clone(), f.to_json()))
            .collect();
        let loaded = match plan.dataset {
            None => Ok(Loaded {
                key: job.base.clone().unwrap_or_default(),
                name: current.map(|d| d.name().to_string()).unwrap_or_default(),
                fingerprint: current
                    .map(|d| d.fingerprint().to_string())
                    .unwrap_or_default(),
                rows: current.map_or(0, Dataset::len),
                dim: current
                    .and_then(Dataset::embeddings)
                    .map_or(0, Embeddings::dim),
                changed: false,
                record_pieces: 0,
                vectors_sent: false,
                sources: Vec::new(),
                mapping: None,
                warnings: Vec::new(),
                label_files: Vec::new(),
                share: None,
            }),
            Some(dataset) => {
                // the page has these records when only embeddings (or nothing) changed
                let same_records = current.is_some_and(|c| {
                    c.fingerprint() == dataset.fingerprint() && c.records() == dataset.records()
                });
                let same_vectors = current.is_some_and(|c| c.embeddings() == dataset.embeddings());
                if !same_records {
                    for piece in dataset.records().chunks(RECORDS_PER_PIECE) {
                        out.push(JobsReply::Records {
                            id,
                            records: piece.to_vec(),
                            total: dataset.len(),
                        });
                    }
                }
                let vectors_sent = !same_vectors && dataset.embeddings().is_some();
                if let Some(e) = dataset.embeddings().filter(|_| vectors_sent) {
                    let per = (VALUES_PER_PIECE / e.dim().max(1)).max(1);
                    for start in (0..e.rows()).step_by(per) {
                        let rows = per.min(e.rows() - start);
                        out.push(JobsReply::Vectors {
                            id,
                            start,
                            rows,
                            dim: e.dim(),
                            total: e.rows(),
                            values: e.as_slice()[start * e.dim()..(start + rows) * e.dim()]
                                .to_vec(),
                        });
                    }
                }
                let pieces = out
                    .iter()
                    .filter(|r| matches!(r, JobsReply::Records { .. }))
                    .count();
                self.hold(dataset, report).map(|l| Loaded {
                    record_pieces: pieces,
                    vectors_sent,
                    ..l
                })
            }
        };
        match loaded {
            Ok(l) => {
                let l = Loaded {
                    sources: plan.sources,
                    mapping: plan.mapping,
                    warnings: plan.warnings,
                    label_files,
                    share: plan.share,
                    ..l
                };
                out.extend(self.loaded_replies(id, l));
                out
            }
            Err(e) => fail(e),
        }
    }

    fn adopt(
        &mut self,
        req: &Request,
        job: &AdoptJob,
        data: &[f32],
        bytes: &[u8],
        report: &mut dyn FnMut(&str, f64) -> bool,
    ) -> Result<Vec<JobsReply>, WorkerError> {
        let mut records: Vec<Record> = Vec::new();
        for (k, line) in bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            let piece: Vec<Record> = serde_json::from_slice(line)
                .map_err(|e| WorkerError::Input(format!("records piece {}: {e}", k + 1)))?;
            records.extend(piece);
        }
        let n = records.len();
        let embeddings = if req.dim == 0 {
            None
        } else {
            Some(
                Embeddings::new(n, req.dim, data.to_vec()).ok_or(ClusterError::Shape {
                    len: data.len(),
                    rows: n,
                    dim: req.dim,
                })?,
            )
        };
        let dataset = Dataset::new(job.name.clone(), records, embeddings);
        if dataset.fingerprint() != job.fingerprint {
            return Err(WorkerError::Input(format!(
                "the records handed over have fingerprint {}, not {}",
                dataset.fingerprint(),
                job.fingerprint
            )));
        }
        let loaded = self.hold(dataset, report)?;
        Ok(self.loaded_replies(req.id, loaded))
    }

    fn attach(
        &mut self,
        req: &Request,
        job: &AttachJob,
        data: &[f32],
        report: &mut dyn FnMut(&str, f64) -> bool,
    ) -> Result<Vec<JobsReply>, WorkerError> {
        let held = self.held(&job.base)?;
        let n = held.dataset.len();
        let e = Embeddings::new(n, req.dim, data.to_vec()).ok_or(ClusterError::Shape {
            len: data.len(),
            rows: n,
            dim: req.dim,
        })?;
        let dataset = held.dataset.with_embeddings(Some(e));
        let loaded = self.hold(dataset, report)?;
        Ok(self.loaded_replies(req.id, loaded))
    }

    fn map(
        &self,
        req: &Request,
        data: &[f32],
        job: &protocol::MapJob,
        report: &mut dyn FnMut(&str, f64) -> bool,
    ) -> Result<MapResult, WorkerError> {
        let Some(key) = &job.key else {
            return map(Matrix::new(data, req.rows, req.dim)?, job, report);
        };
        let held = self.held(key)?;
        match (job.space, held.dataset.embeddings()) {
            (Space::Embedding, Some(e)) => {
                map(Matrix::new(e.as_slice(), e.rows(), e.dim())?, job, report)
            }
            (Space::Embedding, None) => Err(WorkerError::Input(
                "this data set has no embeddings to map".into(),
            )),
            (Space::Signature, _) => {
                let flat: Vec<f32> = held.table.vectors.iter().flatten().copied().collect();
                map(Matrix::new(&flat, held.table.len(), DIM)?, job, report)
            }
        }
    }

    /// Propagates the human labels of `job` over the held data set's graph, building the
    /// graph when its settings or the data set changed (the page's `Job::Propagate`; the
    /// CLI calls it directly).
    pub fn propagate(
        &mut self,
        job: &PropagateJob,
        report: &mut dyn FnMut(&str, f64) -> bool,
    ) -> Result<PropagateResult, WorkerError> {
        let n = find(&self.held, &job.key)?.dataset.len();
        let built = self.graph_for(&job.key, &job.graph, report)?;
        let kept = !built;
        let (_, prepared) = self.graph.as_ref().expect("built above");
        if job.human.len() != n {
            return Err(ClusterError::Shape {
                len: job.human.len(),
                rows: n,
                dim: 1,
            }
            .into());
        }
        if !report("propagating", 0.9) {
            return Err(ClusterError::Cancelled.into());
        }
        let human: Vec<Option<bool>> = job
            .human
            .iter()
            .map(|&h| (h >= 0).then_some(h > 0))
            .collect();
        let mut prop = if job.judge.len() == n {
            let judged: Vec<Option<f64>> = job
                .judge
                .iter()
                .map(|&j| (j >= 0.0).then_some(f64::from(j)))
                .collect();
            let fit = crate::core::signals::judge::fit(&prepared.prior, &judged, &human);
            let prior: Vec<f64> = (0..n)
                .map(|i| fit.combine(prepared.prior[i], judged[i]))
                .collect();
            prepared.propagate_from(&prior, &human, &job.config)
        } else {
            prepared.propagate(&human, &job.config)
        };
        let pairs: Vec<(usize, usize)> = job
            .pairs
            .iter()
            .map(|&(b, w)| (b as usize, w as usize))
            .collect();
        crate::core::graph::propagate::respect_pairs(&mut prop.p, &pairs);
        // the CLI asks for no queue: ranking every CoT costs a pass over the graph
        let queue = match job.queue {
            0 => Vec::new(),
            n => select::queue(&prepared.graph, &prop, &human)
                .into_iter()
                .take(n)
                .map(|(i, _)| i as u32)
                .collect(),
        };
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

impl Worker {
    /// Builds the graph of the held data set `key` under `config` unless the one kept is
    /// it; whether it was built.
    fn graph_for(
        &mut self,
        key: &str,
        config: &crate::core::graph::GraphConfig,
        report: &mut dyn FnMut(&str, f64) -> bool,
    ) -> Result<bool, WorkerError> {
        let held = find(&self.held, key)?;
        let graph_key = format!(
            "{key}/{}",
            serde_json::to_string(config).unwrap_or_default()
        );
        if self.graph.as_ref().is_some_and(|(k, _)| *k == graph_key) {
            return Ok(false);
        }
        self.graph = None;
        let emb = held
            .dataset
            .embeddings()
            .filter(|_| config.embedding_weight > 0.0)
            .map(|e| Matrix::new(e.as_slice(), e.rows(), e.dim()))
            .transpose()?;
        let t = &held.table;
        let prepared = Prepared::new(
            emb,
            &t.vectors,
            t.nodes.clone(),
            t.prior.clone(),
            t.shapes.iter().map(|s| s.index() as u8).collect(),
            config,
            &mut |f| report("building the graph", 0.9 * f),
        )?;
        self.graph = Some((graph_key, prepared));
        Ok(true)
    }
}

/// The files whose names and lengths `files` lists, cut from `bytes` in that order.
fn files_beside(files: &[(String, usize)], bytes: &[u8]) -> Result<Vec<InputFile>, WorkerError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    for (name, len) in files {
        let Some(b) = bytes.get(at..at.saturating_add(*len)) else {
            return Err(WorkerError::Input(format!(
                "{name}: {len} bytes announced, {} arrived",
                bytes.len().saturating_sub(at)
            )));
        };
        out.push(InputFile::new(name.clone(), b));
        at += len;
    }
    Ok(out)
}

/// `held`, when it is the data set `key` names.
fn find<'a>(held: &'a Option<Held>, key: &str) -> Result<&'a Held, WorkerError> {
    held.as_ref()
        .filter(|h| h.key == key)
        .ok_or_else(|| WorkerError::NoData {
            key: key.to_string(),
        })
}

fn map(
    x: Matrix,
    job: &protocol::MapJob,
    report: &mut dyn FnMut(&str, f64) -> bool,
) -> Result<MapResult, WorkerError> {
    let (rows, dim) = (x.rows, x.dim);
    let unit;
    let x = if job.cosine {
        unit = normalized(x);
        Matrix::new(&unit, rows, dim)?
    } else {
        x
    };
    let proj = pca2(x, &mut |f| report("projecting", 0.3 * f))?;
    let (labels, inertia, persistence, approximate) = match job.method {
        Method::KMeans { k, restarts, seed } => {
            let cfg = KMeansConfig {
                k: k.min(rows).max(1),
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

/// Times one suite job on the matrix built from the base rows in `data`.
fn time(
    req: &Request,
    data: &[f32],
    case: &Case,
    report: &mut dyn FnMut(&str, f64) -> bool,
) -> Result<TimeResult, WorkerError> {
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

#[cfg(test)]
mod tests {
    use super::protocol::FailReason;
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
                key: None,
            }),
        }
    }

    fn run(req: &Request, data: &[f32], report: &mut dyn FnMut(&str, f64) -> bool) -> JobsReply {
        Worker::default()
            .run(req, data, &[], report)
            .pop()
            .expect("a reply")
    }

    #[test]
    fn map_job_reports_progress_and_returns_a_map() {
        let data: Vec<f32> = (0..40).map(|i| ((i * 7) % 11) as f32).collect();
        let mut stages = Vec::new();
        let reply = run(&request(10, 4, 3), &data, &mut |s, f| {
            stages.push((s.to_string(), f));
            true
        });
        let JobsReply::Map { id, result } = reply else {
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
        let JobsReply::Timed { id, result } = run(&req, &base, &mut |_, _| true) else {
            panic!("no time")
        };
        assert_eq!((id, result.case), (3, case));
        assert!(result.ms >= 0.0 && result.ms.is_finite());
        let JobsReply::Failed { reason, .. } = run(&req, &base, &mut |_, _| false) else {
            panic!("not cancelled")
        };
        assert_eq!(reason, FailReason::Cancelled);
        // base rows that are not rows × dim
        let JobsReply::Failed { reason, .. } = run(&req, &base[..7], &mut |_, _| true) else {
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
            key: None,
        };
        let req = Request {
            id: 1,
            rows: 13,
            dim: 2,
            job: Job::Map(job),
        };
        let JobsReply::Map { result, .. } = run(&req, &data, &mut |_, _| true) else {
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
                JobsReply::Failed {
                    reason: FailReason::Cancelled,
                    ..
                }
            ),
            "{reply:?}"
        );
        let reply = run(&request(10, 5, 3), &data, &mut |_, _| true);
        let JobsReply::Failed {
            reason, message, ..
        } = reply
        else {
            panic!()
        };
        assert_eq!(reason, FailReason::Error);
        assert_eq!(message, "40 values do not make 10 rows of 5");
    }

    /// A load job of these files (name, text).
    fn load(id: u64, files: &[(&str, &[u8])], base: Option<String>) -> (Request, Vec<u8>) {
        let job = LoadJob {
            files: files
                .iter()
                .map(|(n, b)| (n.to_string(), b.len()))
                .collect(),
            mapping: None,
            base,
        };
        let bytes = files.iter().flat_map(|(_, b)| b.iter().copied()).collect();
        (
            Request {
                id,
                rows: 0,
                dim: 0,
                job: Job::Load(job),
            },
            bytes,
        )
    }

    /// Whether the job came back as naming a data set the worker does not hold.
    fn no_data(replies: &[JobsReply]) -> bool {
        matches!(
            replies,
            [JobsReply::Failed {
                reason: FailReason::NoData,
                ..
            }]
        )
    }

    /// What a load, adopt or attach ended with: the data set held, and its table as the
    /// page reads it from the pieces.
    fn loaded(replies: &[JobsReply]) -> (Loaded, SignatureTable) {
        let mut table = SignatureTable::default();
        let mut next = 0;
        for r in replies {
            if let JobsReply::Table {
                start,
                rows,
                total,
                bytes,
                ..
            } = r
            {
                assert_eq!(*start, next, "pieces in order");
                table.reserve(*total);
                table.extend_from_bytes(bytes).unwrap();
                next += rows;
                assert_eq!(table.len(), next);
            }
        }
        match replies.last() {
            Some(JobsReply::Loaded { result, .. }) => ((**result).clone(), table),
            other => panic!("{other:?}"),
        }
    }

    /// Four CoTs of one question: 0 and 1 answer 12, 2 and 3 answer 13.
    const FOUR: &str = r#"{"id":"a","question_id":"q","question":"Tom has 5 and gets 7. How many?","cot":"5 + 7 = 12. The answer is 12."}
{"id":"b","question_id":"q","question":"Tom has 5 and gets 7. How many?","cot":"He has 5 + 7 = 12.\nSo 12."}
{"id":"c","question_id":"q","question":"Tom has 5 and gets 7. How many?","cot":"5 + 7 = 13. The answer is 13."}
{"id":"d","question_id":"q","question":"Tom has 5 and gets 7. How many?","cot":"5 * 7 = 35, minus 22 is 13."}"#;

    #[test]
    fn load_reads_files_holds_them_and_sends_records_vectors_and_table() {
        let npy = crate::core::io::import::write_npy(
            &Embeddings::new(4, 2, vec![1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9]).unwrap(),
        );
        let (req, bytes) = load(
            1,
            &[("four.jsonl", FOUR.as_bytes()), ("four.npy", &npy)],
            None,
        );
        let mut w = Worker::default();
        let replies = w.run(&req, &[], &bytes, &mut |_, _| true);
        let records: Vec<Record> = replies
            .iter()
            .filter_map(|r| match r {
                JobsReply::Records { records, .. } => Some(records.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(
            records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c", "d"]
        );
        let vectors: Vec<f32> = replies
            .iter()
            .filter_map(|r| match r {
                JobsReply::Vectors {
                    values,
                    start: 0,
                    rows: 4,
                    dim: 2,
                    total: 4,
                    ..
                } => Some(values.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(vectors, [1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9]);
        let (l, table) = loaded(&replies);
        assert_eq!(
            (l.rows, l.dim, l.changed, l.record_pieces, l.vectors_sent),
            (4, 2, true, 1, true)
        );
        assert_eq!(l.sources, ["four.jsonl", "four.npy"]);
        // the table is the signatures of the records read, as the page would read them
        let ds = Dataset::new("four.jsonl", records, Embeddings::new(4, 2, vectors));
        assert_eq!(l.fingerprint, ds.fingerprint());
        assert_eq!(table, SignatureTable::new(&ds, &signatures(&ds)));
        // a label file added to it: nothing else changes or travels
        let mut store = crate::core::LabelStore::new();
        store.set_human("a", crate::core::Verdict::Good, 0);
        let labels =
            crate::core::export::labelfile::LabelFile::from_store(&ds, &store, 0).to_json();
        let labels = labels.as_bytes();
        let (req, bytes) = load(2, &[("labels.json", labels)], Some(l.key.clone()));
        let replies = w.run(&req, &[], &bytes, &mut |_, _| true);
        assert_eq!(replies.len(), 1);
        let JobsReply::Loaded { result, .. } = &replies[0] else {
            panic!("{replies:?}")
        };
        assert!(!result.changed);
        assert_eq!(result.key, l.key);
        assert_eq!(result.label_files.len(), 1);
        // bad files are refused with their errors, naming the file and line
        let (req, bytes) = load(3, &[("bad.jsonl", b"{\"id\":1}\nnot json")], None);
        let replies = w.run(&req, &[], &bytes, &mut |_, _| true);
        let [JobsReply::Refused { errors, .. }] = replies.as_slice() else {
            panic!("{replies:?}")
        };
        assert!(
            errors[0].to_string().starts_with("bad.jsonl"),
            "{}",
            errors[0]
        );
        // a base the worker does not hold
        let (req, bytes) = load(4, &[("labels.json", labels)], Some("other".into()));
        let replies = w.run(&req, &[], &bytes, &mut |_, _| true);
        assert!(no_data(&replies), "{replies:?}");
        // bytes that do not match the files announced
        let (mut req, bytes) = load(5, &[("four.jsonl", FOUR.as_bytes())], None);
        if let Job::Load(j) = &mut req.job {
            j.files[0].1 += 1;
        }
        let replies = w.run(&req, &[], &bytes, &mut |_, _| true);
        assert!(
            matches!(&replies[..], [JobsReply::Failed { message, .. }] if message.contains("four.jsonl")),
            "{replies:?}"
        );
    }

    #[test]
    fn adopt_and_attach_hold_the_pages_data_set() {
        let (req, bytes) = load(1, &[("four.jsonl", FOUR.as_bytes())], None);
        let mut w = Worker::default();
        let replies = w.run(&req, &[], &bytes, &mut |_, _| true);
        let (l, table) = loaded(&replies);
        assert_eq!(l.dim, 0);
        let records: Vec<Record> = match &replies[0] {
            JobsReply::Records { records, .. } => records.clone(),
            r => panic!("{r:?}"),
        };
        // a restarted worker is handed the records in pieces, one JSON array per line
        let mut text = serde_json::to_vec(&records[..3]).unwrap();
        text.push(b'\n');
        text.extend(serde_json::to_vec(&records[3..]).unwrap());
        let adopt = |fingerprint: &str| Request {
            id: 2,
            rows: 4,
            dim: 0,
            job: Job::Adopt(AdoptJob {
                name: "four.jsonl".into(),
                fingerprint: fingerprint.into(),
            }),
        };
        let mut fresh = Worker::default();
        let replies = fresh.run(&adopt(&l.fingerprint), &[], &text, &mut |_, _| true);
        let (again, t2) = loaded(&replies);
        assert_eq!(t2, table);
        assert_eq!((again.rows, again.record_pieces), (4, 0));
        // records that are not the page's are refused
        let replies = fresh.run(&adopt("0000"), &[], &text, &mut |_, _| true);
        assert!(
            matches!(&replies[..], [JobsReply::Failed { message, .. }] if message.contains("fingerprint"))
        );
        // embeddings made on the device: the signatures are read again with them
        let attach = Request {
            id: 3,
            rows: 4,
            dim: 2,
            job: Job::Attach(AttachJob {
                base: again.key.clone(),
            }),
        };
        let v = [1.0, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9];
        let replies = fresh.run(&attach, &v, &[], &mut |_, _| true);
        let (with, t3) = loaded(&replies);
        assert_eq!(with.dim, 2);
        assert_ne!(with.key, again.key);
        let ds = Dataset::new("four.jsonl", records, Embeddings::new(4, 2, v.to_vec()));
        assert_eq!(t3, SignatureTable::new(&ds, &signatures(&ds)));
        // the old key is gone
        let replies = fresh.run(&attach, &v, &[], &mut |_, _| true);
        assert!(no_data(&replies));
    }

    #[test]
    fn clean_reads_the_evaluation_files_beside_the_job_and_keeps_nothing_of_them() {
        let (req, bytes) = load(1, &[("four.jsonl", FOUR.as_bytes())], None);
        let mut w = Worker::default();
        let (l, _) = loaded(&w.run(&req, &[], &bytes, &mut |_, _| true));
        let eval = br#"{"id":"bench-1","question":"TOM has 5 and gets 7: how many?","cot":"x"}"#;
        let job = |key: String, eval: Vec<(String, usize)>| Request {
            id: 2,
            rows: 0,
            dim: 0,
            job: Job::Clean(CleanJob {
                key,
                config: Default::default(),
                eval,
            }),
        };
        let out = w.run(
            &job(l.key.clone(), vec![("bench.jsonl".into(), eval.len())]),
            &[],
            eval,
            &mut |_, _| true,
        );
        let [JobsReply::Cleaned { result, .. }] = &out[..] else {
            panic!("{out:?}");
        };
        assert_eq!(result.eval, [("bench.jsonl".to_string(), 1)]);
        assert_eq!(result.findings.contaminated.len(), 4);
        assert_eq!(result.findings.contaminated[0].1.eval_id, "bench-1");
        assert!(!result.neighbours, "no embeddings, no graph");
        assert_eq!(
            w.dataset().unwrap().len(),
            4,
            "the evaluation records never join"
        );
        // without them nothing is contaminated; a bad file is named; another key is NoData
        let again = w.run(&job(l.key.clone(), vec![]), &[], &[], &mut |_, _| true);
        assert!(
            matches!(&again[..], [JobsReply::Cleaned { result, .. }] if result.findings.contaminated.is_empty())
        );
        let bad = w.run(
            &job(l.key.clone(), vec![("bad.jsonl".into(), 3)]),
            &[],
            b"{x}",
            &mut |_, _| true,
        );
        assert!(
            matches!(&bad[..], [JobsReply::Failed { message, .. }] if message.contains("bad.jsonl")),
            "{bad:?}"
        );
        let lost = w.run(&job("other".into(), vec![]), &[], &[], &mut |_, _| true);
        assert!(matches!(
            &lost[..],
            [JobsReply::Failed {
                reason: FailReason::NoData,
                ..
            }]
        ));
    }

    #[test]
    fn map_draws_the_held_data_set() {
        let (req, bytes) = load(1, &[("four.jsonl", FOUR.as_bytes())], None);
        let mut w = Worker::default();
        let (l, table) = loaded(&w.run(&req, &[], &bytes, &mut |_, _| true));
        let job = |space, key: Option<String>| Request {
            id: 2,
            rows: 0,
            dim: 0,
            job: Job::Map(MapJob {
                method: Method::KMeans {
                    k: 2,
                    restarts: 2,
                    seed: 1,
                },
                cosine: false,
                space,
                key,
            }),
        };
        let held = w.run(
            &job(Space::Signature, Some(l.key.clone())),
            &[],
            &[],
            &mut |_, _| true,
        );
        // the same map as the signature vectors sent as numbers
        let flat: Vec<f32> = table.vectors.iter().flatten().copied().collect();
        let mut sent = job(Space::Signature, None);
        (sent.rows, sent.dim) = (4, DIM);
        assert_eq!(
            held,
            Worker::default().run(&sent, &flat, &[], &mut |_, _| true)
        );
        let no_emb = w.run(
            &job(Space::Embedding, Some(l.key.clone())),
            &[],
            &[],
            &mut |_, _| true,
        );
        assert!(
            matches!(&no_emb[..], [JobsReply::Failed { message, .. }] if message.contains("no embeddings"))
        );
        let lost = Worker::default().run(
            &job(Space::Signature, Some(l.key)),
            &[],
            &[],
            &mut |_, _| true,
        );
        assert!(no_data(&lost));
    }

    #[test]
    fn propagation_keeps_its_graph_and_spreads_labels() {
        use super::protocol::PropagateJob;
        use crate::core::graph::propagate::Config;
        use crate::core::graph::GraphConfig;
        let (req, bytes) = load(1, &[("four.jsonl", FOUR.as_bytes())], None);
        let mut w = Worker::default();
        let (l, _) = loaded(&w.run(&req, &[], &bytes, &mut |_, _| true));
        let job = |key: &str, human: Vec<i8>| Request {
            id: 9,
            rows: 0,
            dim: 0,
            job: Job::Propagate(PropagateJob {
                key: key.into(),
                graph: GraphConfig::default(),
                config: Config::default(),
                human,
                pairs: Vec::new(),
                queue: 10,
                judge: Vec::new(),
            }),
        };
        let one =
            |w: &mut Worker, req: &Request| w.run(req, &[], &[], &mut |_, _| true).pop().unwrap();
        let first = one(&mut w, &job(&l.key, vec![1, -1, -1, -1]));
        let JobsReply::Propagated { result, .. } = first else {
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
        assert!(
            !result.queue.contains(&0),
            "a human-labelled CoT is never queued"
        );
        // the second propagation reuses the graph
        let again = one(&mut w, &job(&l.key, vec![1, -1, 0, -1]));
        let JobsReply::Propagated { result, .. } = again else {
            panic!("{again:?}")
        };
        assert!(!result.built_graph);
        assert_eq!(result.p[2], 0.0);
        // a pair choice "3 is better than the sound 0" makes 3 sound
        let mut with_pair = job(&l.key, vec![1, -1, -1, -1]);
        if let Job::Propagate(j) = &mut with_pair.job {
            j.pairs = vec![(3, 0)];
        }
        let JobsReply::Propagated { result, .. } = one(&mut w, &with_pair) else {
            panic!()
        };
        assert_eq!(result.p[3], 1.0);
        // labels of another length
        let short = one(&mut w, &job(&l.key, vec![1]));
        assert!(
            matches!(
                short,
                JobsReply::Failed {
                    reason: FailReason::Error,
                    ..
                }
            ),
            "{short:?}"
        );
        // a fresh worker does not hold the data set, and says so as data
        let lost = one(&mut Worker::default(), &job(&l.key, vec![-1; 4]));
        assert!(
            matches!(lost, JobsReply::Failed { reason: FailReason::NoData, ref message, .. } if message.contains("does not hold")),
            "{lost:?}"
        );
    }

    #[test]
    fn replies_round_trip_as_json() {
        let reply = JobsReply::Progress {
            id: 3,
            stage: "clustering".into(),
            fraction: 0.5,
        };
        let text = serde_json::to_string(&reply).unwrap();
        assert_eq!(serde_json::from_str::<JobsReply>(&text).unwrap(), reply);
        let req = request(2, 2, 1);
        assert_eq!(
            serde_json::from_str::<Request>(&serde_json::to_string(&req).unwrap()).unwrap(),
            req
        );
    }

    #[test]
    fn map_columns_travel_as_bytes_and_come_back_whole() {
        let result = MapResult {
            labels: vec![2, -1, 0],
            xy: vec![[0.5, -1.25], [3.0e7, f32::MIN_POSITIVE], [-0.0, 1.0]],
            inertia: Some(1.5),
            persistence: vec![0.25],
            medoids: vec![Some(2), None],
            explained: [0.6, 0.3],
            approximate: None,
        };
        let mut sent = result.clone();
        let bytes = sent.take_columns();
        assert_eq!(bytes.len(), 36);
        // the first record's cluster, then (after all clusters) its x, little-endian
        assert_eq!(&bytes[..4], &2i32.to_le_bytes());
        assert_eq!(&bytes[12..16], &0.5f32.to_le_bytes());
        assert!(sent.labels.is_empty() && sent.xy.is_empty());
        let text = serde_json::to_string(&JobsReply::Map {
            id: 1,
            result: sent,
        })
        .unwrap();
        let JobsReply::Map {
            result: mut got, ..
        } = serde_json::from_str(&text).unwrap()
        else {
            panic!("not a map");
        };
        got.put_columns(&bytes).unwrap();
        assert_eq!(got, result);
        assert!(got
            .put_columns(&bytes[..35])
            .unwrap_err()
            .contains("35 bytes"));
        let mut empty = MapResult {
            labels: vec![],
            xy: vec![],
            ..result
        };
        assert!(empty.take_columns().is_empty());
    }
}
