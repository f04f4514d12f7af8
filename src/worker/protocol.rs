//! Messages between the page and the worker (JSON text; the numbers travel beside them as
//! a transferred `Float32Array`).

use serde::{Deserialize, Serialize};

use crate::core::base::ClusterError;
use crate::core::data::Record;
use crate::core::graph::propagate::Config;
pub use crate::core::graph::propagate::PropagateResult;
use crate::core::graph::GraphConfig;
use crate::core::io::error::ImportError;
use crate::core::io::mapping::Mapping;
pub use crate::core::signals::choice::ClassifyResult;
use crate::core::signals::choice::{Epoch, TrainConfig, WeightsInfo};
use crate::core::timing::Case;

/// What the map is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Space {
    /// Sentence embeddings: groups CoTs by topic.
    Embedding,
    /// Reasoning signatures: groups CoTs by how they reason.
    Signature,
}

/// How the map's clusters are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    /// k-means with k clusters (k-means++ starts, seeded).
    KMeans {
        /// Clusters.
        k: usize,
        /// Starts; the lowest inertia wins.
        restarts: usize,
        /// Seed.
        seed: u64,
    },
    /// HDBSCAN: clusters of any number and shape, and noise.
    Hdbscan {
        /// The smallest group that counts as a cluster.
        min_cluster_size: usize,
    },
}

/// Cluster the rows and project them to 2-D.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapJob {
    /// The clustering.
    pub method: Method,
    /// Normalise rows first (cosine geometry).
    pub cosine: bool,
    /// What the rows are.
    pub space: Space,
    /// The data set the worker holds (its [`Loaded::key`]): the map is drawn from its
    /// embeddings or signatures, as `space` says, and no numbers travel. `None`: the
    /// numbers travel with the job.
    #[serde(default)]
    pub key: Option<String>,
}

/// Read files into the data set the worker holds: parse and validate them, fingerprint the
/// records, read their signatures, keep it all. The files' bytes travel beside the job, one
/// file after the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadJob {
    /// Each file's name and length in bytes, in the order their bytes travel.
    pub files: Vec<(String, usize)>,
    /// Read the records file through this mapping.
    pub mapping: Option<Mapping>,
    /// The data set the files are added to (embeddings for its records, label files), by
    /// its key; `None`: nothing is loaded yet.
    pub base: Option<String>,
}

/// The page hands the worker the data set it shows, when the worker lost it (it was
/// restarted to cancel a job). The records travel beside as JSON arrays of records, one
/// per line; the embeddings (`rows × dim`, `dim` = 0 when there are none) as the numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdoptJob {
    /// The data set's display name.
    pub name: String,
    /// Its fingerprint, checked against the records that arrive.
    pub fingerprint: String,
}

/// Embeddings made on the device for the records the worker holds (the numbers: `rows ×
/// dim`); the signatures are read again with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachJob {
    /// The data set, by its key.
    pub base: String,
}

/// The data set the worker now holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Loaded {
    /// Names it in later jobs.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Its records' fingerprint.
    pub fingerprint: String,
    /// Records.
    pub rows: usize,
    /// Embedding length (0: none).
    pub dim: usize,
    /// Whether the data set changed (false: only label files were read).
    pub changed: bool,
    /// Pieces of records sent before this reply ([`JobsReply::Records`]); none when the
    /// records are the ones the page has.
    pub record_pieces: usize,
    /// Whether embeddings were sent before this reply ([`JobsReply::Vectors`]).
    pub vectors_sent: bool,
    /// Files that provided records and embeddings.
    pub sources: Vec<String>,
    /// The mapping the records were read through.
    pub mapping: Option<Mapping>,
    /// Problems that did not stop the import.
    pub warnings: Vec<ImportError>,
    /// Label files read, as (name, label file JSON), for the page to merge.
    pub label_files: Vec<(String, String)>,
    /// A share of the data set to open (one annotator's part).
    #[serde(default)]
    pub share: Option<crate::core::labels::share::Share>,
}

/// Spread the human labels and rank what to label next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropagateJob {
    /// The data set the worker holds (its [`Loaded::key`]). The worker builds its graph
    /// from it and keeps the last one, so a propagation after a label builds nothing.
    pub key: String,
    /// The graph's settings.
    pub graph: GraphConfig,
    /// How labels travel.
    pub config: Config,
    /// Human label of each CoT: 1 sound, 0 flawed, −1 none.
    pub human: Vec<i8>,
    /// The person's pair choices, (better, worse) rows: they condition the result
    /// ([`crate::core::graph::propagate::respect_pairs`]).
    #[serde(default)]
    pub pairs: Vec<(u32, u32)>,
    /// Length of the "label next" queue to send back.
    pub queue: usize,
    /// The person's model as a judge: its P(yes) per CoT, a negative number where it did
    /// not judge; empty when it judged none. Its weight is learnt from `human`
    /// ([`crate::core::signals::judge::fit`]), zero without labels.
    #[serde(default)]
    pub judge: Vec<f32>,
}

/// A job of the jobs worker (the data set, the map, propagation, the timing suite). The
/// model worker's jobs are [`ModelJob`]: each worker has its own enum, so a job cannot be
/// sent to the worker that does not run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Job {
    /// Read files into the data set the worker holds.
    Load(LoadJob),
    /// Take the page's data set (the worker lost its own).
    Adopt(AdoptJob),
    /// Attach embeddings made on the device.
    Attach(AttachJob),
    /// The reasoning map.
    Map(MapJob),
    /// Label propagation.
    Propagate(PropagateJob),
    /// Time one job of the benchmark suite ([`crate::core::timing`]). The numbers: the
    /// base rows the suite's matrix is built from.
    Time(Case),
    /// Clean the held data set: duplicates, evaluation-set questions, broken traces.
    Clean(CleanJob),
}

/// Find what training sets should leave out of the held data set
/// ([`crate::core::clean::clean`]). The evaluation files' bytes travel beside, one after
/// the other; the worker reads them for this job only and keeps nothing of them. Embedding
/// duplicates are looked for among the neighbours of the graph the worker keeps for these
/// records (built by propagation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanJob {
    /// The data set the worker holds (its [`Loaded::key`]).
    pub key: String,
    /// What to look for.
    pub config: crate::core::clean::CleanConfig,
    /// Each evaluation file's name and length in bytes.
    pub eval: Vec<(String, usize)>,
}

/// What cleaning found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanResult {
    /// The findings (record positions), without the pairs that joined the duplicate
    /// clusters (the CLI prints them; the page shows the clusters).
    pub findings: crate::core::clean::Findings,
    /// The evaluation files read, with their questions.
    pub eval: Vec<(String, usize)>,
    /// How long the job took in the worker, in ms.
    pub ms: f64,
    /// Whether embedding duplicates were looked for (the records have embeddings and
    /// propagation had built its graph).
    pub neighbours: bool,
}

/// A job of the model worker (burn: the classifier and MiniLM).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ModelJob {
    /// The binary-choice classifier over every pair of sibling CoTs.
    Classify(ClassifyJob),
    /// Fine-tune the classifier on a person's labels.
    Train(TrainJob),
    /// Sentence embeddings of texts with all-MiniLM-L6-v2.
    Embed(EmbedJob),
}

/// The two workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkerKind {
    /// The data set, the map and propagation ([`Job`]); started with the page.
    Jobs,
    /// burn: the classifier and MiniLM ([`ModelJob`]); started on first use.
    Model,
}

/// A job enum, the worker that runs it and what that worker says.
pub trait WorkerJob: Serialize {
    /// The worker that runs these jobs.
    const WORKER: WorkerKind;
    /// Its replies.
    type Reply: WorkerReply;
}

impl WorkerJob for Job {
    const WORKER: WorkerKind = WorkerKind::Jobs;
    type Reply = JobsReply;
}

impl WorkerJob for ModelJob {
    const WORKER: WorkerKind = WorkerKind::Model;
    type Reply = ModelReply;
}

/// How long a suite job took in the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeResult {
    /// The job.
    pub case: Case,
    /// Milliseconds of the job alone (building its matrix excluded).
    pub ms: f64,
}

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backend {
    /// WebGPU when the browser has a hardware adapter, else the CPU (a software adapter —
    /// SwiftShader, llvmpipe — is slower than the CPU path, so it is passed over).
    Auto,
    /// The CPU (burn-flex).
    Cpu,
    /// WebGPU whatever the adapter (software ones included), else the CPU: for tests and
    /// for comparing (`?webgpu`).
    Gpu,
}

/// Score every pair of CoTs of the same question and turn the scores into P(correct).
/// The numbers: `rows × info.input.width()` model inputs; the weights (burnpack bytes)
/// travel beside them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifyJob {
    /// What the weights are and how to calibrate their scores.
    pub info: WeightsInfo,
    /// Question group of each CoT.
    pub groups: Vec<u32>,
    /// The label-free prior of each CoT (the calibration reads it).
    pub prior: Vec<f64>,
    /// Where to run.
    pub backend: Backend,
    /// Also score on the CPU and report the largest difference (a check of the GPU path).
    pub parity: bool,
}

/// Fine-tune the classifier's weights on a person's labels, on the CPU (burn-flex,
/// autodiff). The numbers: `rows × info.input.width()` model inputs; the starting weights
/// (burnpack bytes) travel beside them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainJob {
    /// What the starting weights are.
    pub info: WeightsInfo,
    /// Question group of each CoT.
    pub groups: Vec<u32>,
    /// Human label of each CoT: 1 sound, 0 flawed, −1 none.
    pub human: Vec<i8>,
    /// The person's pair choices: (a, b, a is better).
    pub chosen: Vec<(u32, u32, bool)>,
    /// The training settings.
    pub config: TrainConfig,
}

/// What fine-tuning did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainResult {
    /// The weights kept, described (`fine_tuned` set).
    pub info: WeightsInfo,
    /// The starting weights' numbers (epoch 0).
    pub start: Epoch,
    /// Every epoch's numbers.
    pub history: Vec<Epoch>,
    /// Stopped early by the caller.
    pub cancelled: bool,
    /// Milliseconds of training.
    pub millis: f64,
    /// The weights kept (burnpack); travel beside the JSON, not in it.
    #[serde(skip)]
    pub weights: Vec<u8>,
}

/// Embed texts with all-MiniLM-L6-v2. No numbers travel with it: the worker fetches the
/// model files itself (once; kept in the browser's Cache API) from `model` + `.bpk` and
/// `model` + `-vocab.txt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedJob {
    /// The texts, in order.
    pub texts: Vec<String>,
    /// Where the model files are, without their endings (e.g. `weights/minilm`).
    pub model: String,
    /// Where to run.
    pub backend: Backend,
    /// Texts per batch.
    pub batch: usize,
    /// Workers to share the texts on the CPU (the page's choice, [`crate::core::signals::embed::pool_size`]
    /// caps it by the job's size): the model worker embeds a shard itself and starts
    /// `workers − 1` helpers for the rest. 0 or 1: this worker alone (a helper's jobs).
    #[serde(default)]
    pub workers: usize,
}

/// What embedding did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedResult {
    /// Texts embedded.
    pub rows: usize,
    /// Values per text.
    pub dim: usize,
    /// `webgpu` or `cpu`.
    pub backend: String,
    /// Why WebGPU was not used, when it was not.
    pub fallback: Option<String>,
    /// Tokens in all (padding excluded).
    pub tokens: usize,
    /// Texts cut to 256 tokens.
    pub truncated: usize,
    /// Milliseconds spent embedding (model download and start excluded).
    pub embed_ms: f64,
    /// Size of the model's weights file.
    pub model_bytes: usize,
    /// Whether the model came from the browser's cache (no download).
    pub cached: bool,
    /// Workers that embedded (1: no pool).
    #[serde(default)]
    pub workers: usize,
    /// A helper that failed (its texts were embedded by the others), when one did.
    #[serde(default)]
    pub pool_problem: Option<String>,
    /// `rows × dim` values, row after row; travel beside the JSON, not in it.
    #[serde(skip)]
    pub vectors: Vec<f32>,
}

/// A job for one worker (`J`: [`Job`] or [`ModelJob`]), with the shape of the numbers
/// sent beside it: `rows × dim` little-endian `f32`s, row-major (0 × 0 when none travel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request<J = Job> {
    /// Set by the page; replies carry it back.
    pub id: u64,
    /// Rows of the numbers sent beside.
    pub rows: usize,
    /// Values per row.
    pub dim: usize,
    /// What to do.
    pub job: J,
}

/// The map of a data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapResult {
    /// Cluster of each record; −1 is noise (HDBSCAN).
    pub labels: Vec<i32>,
    /// Position of each record.
    pub xy: Vec<[f32; 2]>,
    /// k-means inertia.
    pub inertia: Option<f64>,
    /// HDBSCAN stability of each cluster (how long it persists), by label.
    pub persistence: Vec<f64>,
    /// A central record of each cluster (closest to the centre; for HDBSCAN, to the mean).
    pub medoids: Vec<Option<usize>>,
    /// Variance share of the two axes.
    pub explained: [f64; 2],
    /// HDBSCAN: whether the spanning tree came from an approximate neighbour graph (large
    /// sets; see `core::hdbscan`). Absent for k-means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate: Option<bool>,
}

impl MapResult {
    /// Moves the per-record columns (clusters, then positions) out as little-endian bytes,
    /// 12 per record, to travel beside the JSON: a 100k map is 1.2 MB of bytes rather
    /// than about 3 MB of JSON numbers to parse on the page.
    pub fn take_columns(&mut self) -> Vec<u8> {
        let labels = std::mem::take(&mut self.labels);
        let xy = std::mem::take(&mut self.xy);
        let mut out = Vec::with_capacity(labels.len() * 12);
        out.extend(labels.iter().flat_map(|c| c.to_le_bytes()));
        out.extend(xy.iter().flatten().flat_map(|v| v.to_le_bytes()));
        out
    }

    /// Puts back the columns [`MapResult::take_columns`] moved out.
    pub fn put_columns(&mut self, bytes: &[u8]) -> Result<(), String> {
        if !bytes.len().is_multiple_of(12) {
            return Err(format!(
                "map columns of {} bytes are not whole records (12 bytes each)",
                bytes.len()
            ));
        }
        let n = bytes.len() / 12;
        let word = |k: usize| {
            [
                bytes[4 * k],
                bytes[4 * k + 1],
                bytes[4 * k + 2],
                bytes[4 * k + 3],
            ]
        };
        self.labels = (0..n).map(|i| i32::from_le_bytes(word(i))).collect();
        self.xy = (0..n)
            .map(|i| {
                let at = n + 2 * i;
                [
                    f32::from_le_bytes(word(at)),
                    f32::from_le_bytes(word(at + 1)),
                ]
            })
            .collect();
        Ok(())
    }
}

/// Where the bytes that travel beside a reply's JSON go (or come from): numbers cross as
/// a transferred `Uint8Array`, not as JSON text.
pub enum Beside<'a> {
    /// Raw bytes (weights, signature-table rows).
    Bytes(&'a mut Vec<u8>),
    /// Little-endian `f32`s (embeddings).
    Floats(&'a mut Vec<f32>),
    /// A map's per-record columns ([`MapResult::take_columns`]).
    Columns(&'a mut MapResult),
}

impl Beside<'_> {
    /// Moves the values out as the bytes to send.
    pub fn take(self) -> Vec<u8> {
        match self {
            Self::Bytes(b) => std::mem::take(b),
            Self::Floats(v) => std::mem::take(v)
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            Self::Columns(m) => m.take_columns(),
        }
    }

    /// Puts back the values `bytes` carries.
    pub fn put(self, bytes: Vec<u8>) -> Result<(), String> {
        match self {
            Self::Bytes(b) => *b = bytes,
            Self::Floats(v) => {
                *v = bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect()
            }
            Self::Columns(m) => m.put_columns(&bytes)?,
        }
        Ok(())
    }
}

/// What every reply enum shares, so one wire ([`crate::worker::wasm`], the page's bridge)
/// and one job service carry both workers' replies. Each worker has its own enum
/// ([`JobsReply`], [`ModelReply`]): a reply a worker cannot send does not exist in its type.
pub trait WorkerReply:
    Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug + 'static
{
    /// The worker is loaded and listening (messages sent before this are lost).
    const READY: Self;
    /// A job's progress: `stage`, `fraction` in [0, 1].
    fn progress(id: u64, stage: &str, fraction: f64) -> Self;
    /// A job that stopped.
    fn failed(id: u64, reason: FailReason, message: String) -> Self;
    /// The job the reply answers (0 for `Ready`).
    fn id(&self) -> u64;
    /// Whether this is a job's last reply.
    fn is_final(&self) -> bool;
    /// The reply's kind, in a word (for timelines and logs).
    fn kind(&self) -> &'static str;
    /// Stage and share done, when this is progress.
    fn as_progress(&self) -> Option<(&str, f64)>;
    /// Reason and message, when this says a job stopped.
    fn as_failure(&self) -> Option<(FailReason, &str)>;
    /// The values that travel beside the JSON, when this reply has any.
    fn beside(&mut self) -> Option<Beside<'_>>;
}

/// The [`WorkerReply`] methods over the variants every reply enum has (`Ready`,
/// `Progress { id, stage, fraction }`, `Failed { id, reason, message }`).
macro_rules! shared_variants {
    () => {
        const READY: Self = Self::Ready;

        fn progress(id: u64, stage: &str, fraction: f64) -> Self {
            Self::Progress {
                id,
                stage: stage.to_string(),
                fraction,
            }
        }

        fn failed(id: u64, reason: FailReason, message: String) -> Self {
            Self::Failed {
                id,
                reason,
                message,
            }
        }

        fn as_progress(&self) -> Option<(&str, f64)> {
            match self {
                Self::Progress {
                    stage, fraction, ..
                } => Some((stage, *fraction)),
                _ => None,
            }
        }

        fn as_failure(&self) -> Option<(FailReason, &str)> {
            match self {
                Self::Failed {
                    reason, message, ..
                } => Some((*reason, message)),
                _ => None,
            }
        }
    };
}

/// What the jobs worker says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobsReply {
    /// Loaded and listening (messages sent before this are lost).
    Ready,
    /// A job's progress.
    Progress {
        /// Job id.
        id: u64,
        /// What it is doing.
        stage: String,
        /// Share done, in [0, 1].
        fraction: f64,
    },
    /// A piece of the records just read, in order (before [`JobsReply::Loaded`]).
    Records {
        /// Job id.
        id: u64,
        /// The records.
        records: Vec<Record>,
        /// Records of the whole data set (the page makes room for them at once).
        #[serde(default)]
        total: usize,
    },
    /// Embedding rows `start..start + rows` of the data set just read (the values travel
    /// beside the JSON, little-endian `f32`s), before [`JobsReply::Loaded`].
    Vectors {
        /// Job id.
        id: u64,
        /// First row.
        start: usize,
        /// Rows in this piece.
        rows: usize,
        /// Values per row.
        dim: usize,
        /// All rows of the data set.
        total: usize,
        /// The values; travel beside the JSON, not in it.
        #[serde(skip)]
        values: Vec<f32>,
    },
    /// Rows `start..start + rows` of the signature table of the data set just read (the
    /// bytes travel beside the JSON:
    /// [`crate::core::signals::signature::table::SignatureTable::rows_to_bytes`]), in order, before
    /// [`JobsReply::Loaded`]; sent when the data set changed.
    Table {
        /// Job id.
        id: u64,
        /// First row.
        start: usize,
        /// Rows in this piece.
        rows: usize,
        /// Rows of the whole table.
        total: usize,
        /// The rows; travel beside the JSON, not in it.
        #[serde(skip)]
        bytes: Vec<u8>,
    },
    /// The data set the worker holds now (its table came before, in pieces, when it
    /// changed).
    Loaded {
        /// Job id.
        id: u64,
        /// What it holds.
        result: Box<Loaded>,
    },
    /// Files that could not be imported: nothing changed.
    Refused {
        /// Job id.
        id: u64,
        /// What is wrong, naming file and line.
        errors: Vec<ImportError>,
    },
    /// A finished map job.
    Map {
        /// Job id.
        id: u64,
        /// The map.
        result: MapResult,
    },
    /// A finished propagation.
    Propagated {
        /// Job id.
        id: u64,
        /// Labels and queue.
        result: PropagateResult,
    },
    /// A suite job timed.
    Timed {
        /// Job id.
        id: u64,
        /// The time.
        result: TimeResult,
    },
    /// A data set cleaned.
    Cleaned {
        /// Job id.
        id: u64,
        /// The findings.
        result: Box<CleanResult>,
    },
    /// A job that stopped.
    Failed {
        /// Job id.
        id: u64,
        /// Why, as data: the page acts on this, never on the message's words.
        reason: FailReason,
        /// Why, for a person.
        message: String,
    },
}

impl WorkerReply for JobsReply {
    shared_variants!();

    fn id(&self) -> u64 {
        match self {
            Self::Ready => 0,
            Self::Progress { id, .. }
            | Self::Records { id, .. }
            | Self::Vectors { id, .. }
            | Self::Table { id, .. }
            | Self::Loaded { id, .. }
            | Self::Refused { id, .. }
            | Self::Map { id, .. }
            | Self::Propagated { id, .. }
            | Self::Timed { id, .. }
            | Self::Cleaned { id, .. }
            | Self::Failed { id, .. } => *id,
        }
    }

    fn is_final(&self) -> bool {
        match self {
            Self::Ready
            | Self::Progress { .. }
            | Self::Records { .. }
            | Self::Vectors { .. }
            | Self::Table { .. } => false,
            Self::Loaded { .. }
            | Self::Refused { .. }
            | Self::Map { .. }
            | Self::Propagated { .. }
            | Self::Timed { .. }
            | Self::Cleaned { .. }
            | Self::Failed { .. } => true,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Progress { .. } => "progress",
            Self::Records { .. } => "records",
            Self::Vectors { .. } => "vectors",
            Self::Table { .. } => "table",
            Self::Loaded { .. } => "loaded",
            Self::Refused { .. } => "refused",
            Self::Map { .. } => "map",
            Self::Propagated { .. } => "propagated",
            Self::Timed { .. } => "timed",
            Self::Cleaned { .. } => "cleaned",
            Self::Failed { .. } => "failed",
        }
    }

    fn beside(&mut self) -> Option<Beside<'_>> {
        match self {
            Self::Vectors { values, .. } => Some(Beside::Floats(values)),
            Self::Table { bytes, .. } => Some(Beside::Bytes(bytes)),
            Self::Map { result, .. } => Some(Beside::Columns(result)),
            Self::Ready
            | Self::Progress { .. }
            | Self::Records { .. }
            | Self::Loaded { .. }
            | Self::Refused { .. }
            | Self::Propagated { .. }
            | Self::Timed { .. }
            | Self::Cleaned { .. }
            | Self::Failed { .. } => None,
        }
    }
}

/// What the model worker says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ModelReply {
    /// Loaded and listening (messages sent before this are lost).
    Ready,
    /// A job's progress.
    Progress {
        /// Job id.
        id: u64,
        /// What it is doing.
        stage: String,
        /// Share done, in [0, 1].
        fraction: f64,
    },
    /// A finished classification.
    Classified {
        /// Job id.
        id: u64,
        /// Scores.
        result: ClassifyResult,
    },
    /// One epoch of fine-tuning done.
    Epoch {
        /// Job id.
        id: u64,
        /// Its numbers.
        epoch: Epoch,
        /// Epochs at most.
        of: usize,
    },
    /// Texts embedded so far, beside the progress (a pool's helper reports its shard
    /// with it).
    Texts {
        /// Job id.
        id: u64,
        /// Texts embedded.
        done: usize,
        /// Texts of the job.
        of: usize,
    },
    /// Fine-tuning finished (the weights travel beside the JSON).
    Trained {
        /// Job id.
        id: u64,
        /// Numbers and weights.
        result: Box<TrainResult>,
    },
    /// Embedding finished (the vectors travel beside the JSON).
    Embedded {
        /// Job id.
        id: u64,
        /// Numbers and vectors.
        result: Box<EmbedResult>,
    },
    /// A job that stopped.
    Failed {
        /// Job id.
        id: u64,
        /// Why, as data: the page acts on this, never on the message's words.
        reason: FailReason,
        /// Why, for a person.
        message: String,
    },
}

impl WorkerReply for ModelReply {
    shared_variants!();

    fn id(&self) -> u64 {
        match self {
            Self::Ready => 0,
            Self::Progress { id, .. }
            | Self::Classified { id, .. }
            | Self::Epoch { id, .. }
            | Self::Texts { id, .. }
            | Self::Trained { id, .. }
            | Self::Embedded { id, .. }
            | Self::Failed { id, .. } => *id,
        }
    }

    fn is_final(&self) -> bool {
        match self {
            Self::Ready | Self::Progress { .. } | Self::Epoch { .. } | Self::Texts { .. } => false,
            Self::Classified { .. }
            | Self::Trained { .. }
            | Self::Embedded { .. }
            | Self::Failed { .. } => true,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Progress { .. } => "progress",
            Self::Classified { .. } => "classified",
            Self::Epoch { .. } => "epoch",
            Self::Texts { .. } => "texts",
            Self::Trained { .. } => "trained",
            Self::Embedded { .. } => "embedded",
            Self::Failed { .. } => "failed",
        }
    }

    fn beside(&mut self) -> Option<Beside<'_>> {
        match self {
            Self::Trained { result, .. } => Some(Beside::Bytes(&mut result.weights)),
            Self::Embedded { result, .. } => Some(Beside::Floats(&mut result.vectors)),
            Self::Ready
            | Self::Progress { .. }
            | Self::Classified { .. }
            | Self::Epoch { .. }
            | Self::Texts { .. }
            | Self::Failed { .. } => None,
        }
    }
}

/// Why a job stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailReason {
    /// It failed; the message says why.
    #[default]
    Error,
    /// The page cancelled it.
    Cancelled,
    /// A job named a data set this worker does not hold (it was restarted): the page hands
    /// it over again ([`Job::Adopt`]) and repeats the job.
    NoData,
}

/// Why a job failed, as data: the reply's [`FailReason`] comes from its kind, never from
/// its text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkerError {
    /// The job named a data set this worker does not hold (it was restarted).
    #[error("the worker does not hold this data set ({key}); hand it over again")]
    NoData {
        /// The data set's key the job named.
        key: String,
    },
    /// The model could not be loaded, trained or saved (burn's words).
    #[error("{0}")]
    Model(String),
    /// What the job carried does not fit (byte counts, pieces, missing embeddings).
    #[error("{0}")]
    Input(String),
    /// The numeric work failed, or was cancelled.
    #[error(transparent)]
    Numeric(#[from] ClusterError),
}

impl WorkerError {
    /// The reason a reply carries for it.
    pub fn reason(&self) -> FailReason {
        match self {
            Self::NoData { .. } => FailReason::NoData,
            Self::Numeric(ClusterError::Cancelled) => FailReason::Cancelled,
            Self::Input(_) | Self::Model(_) | Self::Numeric(_) => FailReason::Error,
        }
    }

    /// The `Failed` reply of job `id` that says this.
    pub fn reply<R: WorkerReply>(&self, id: u64) -> R {
        R::failed(id, self.reason(), self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `reply` the way the wire does (values beside, JSON text) and reads it back.
    fn over_the_wire<R: WorkerReply + Clone>(reply: &R) -> (R, Option<usize>) {
        let mut sent = reply.clone();
        let bytes = sent.beside().map(Beside::take);
        let mut got: R = serde_json::from_str(&serde_json::to_string(&sent).unwrap()).unwrap();
        let n = bytes.as_ref().map(Vec::len);
        if let Some(bytes) = bytes {
            got.beside().expect("the same place").put(bytes).unwrap();
        }
        (got, n)
    }

    #[test]
    fn values_travel_beside_the_json_and_come_back_whole() {
        let vectors = vec![0.5f32, -1.25, 3.0e7, f32::MIN_POSITIVE, -0.0, 1.0];
        let embedded = ModelReply::Embedded {
            id: 2,
            result: Box::new(EmbedResult {
                rows: 2,
                dim: 3,
                backend: "cpu".into(),
                fallback: None,
                tokens: 9,
                truncated: 0,
                embed_ms: 1.5,
                model_bytes: 10,
                cached: true,
                workers: 1,
                pool_problem: None,
                vectors,
            }),
        };
        assert_eq!(over_the_wire(&embedded), (embedded.clone(), Some(24)));
        let table = JobsReply::Table {
            id: 3,
            start: 0,
            rows: 1,
            total: 1,
            bytes: vec![1, 2, 3, 250],
        };
        assert_eq!(over_the_wire(&table), (table.clone(), Some(4)));
        // a reply without values beside is JSON alone
        let progress = JobsReply::progress(4, "clustering", 0.5);
        assert_eq!(over_the_wire(&progress), (progress.clone(), None));
        assert_eq!(progress.as_progress(), Some(("clustering", 0.5)));
        assert!(!progress.is_final() && table.id() == 3 && !table.is_final());
    }

    #[test]
    fn errors_cross_as_data() {
        let lost = WorkerError::NoData { key: "k".into() };
        let reply: JobsReply = lost.reply(7);
        assert_eq!(reply.as_failure().map(|f| f.0), Some(FailReason::NoData));
        assert!(reply.is_final() && reply.id() == 7);
        let cancelled: ModelReply = WorkerError::Numeric(ClusterError::Cancelled).reply(8);
        assert_eq!(
            cancelled.as_failure().map(|f| f.0),
            Some(FailReason::Cancelled)
        );
        let model: ModelReply = WorkerError::Model("no weights".into()).reply(9);
        assert_eq!(model.as_failure(), Some((FailReason::Error, "no weights")));
    }
}
