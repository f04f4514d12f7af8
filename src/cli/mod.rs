//! The native command line: the page's pipeline on files, for data sets larger than a
//! browser tab holds and for scripts. `cotlabel label` reads what the page reads (records in
//! every shape, embeddings, mapping and label files), runs signatures, the graph and
//! propagation through the same [`crate::worker::Worker`] the page's jobs worker runs
//! ([`crate::pipeline::label`]), and
//! writes the contract's label file; `cotlabel export` writes the training sets;
//! `cotlabel evaluate` scores labels against `is_correct`; `cotlabel merge` and
//! `cotlabel agreement` merge a team's label files and measure how far they agree;
//! `cotlabel clean` finds duplicates, evaluation-set questions and broken traces.
//!
//! Errors name the file and line ([`crate::core::ImportError`]) and exit with status 1;
//! wrong arguments exit with 2 (clap).

mod run;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use run::{peak_bytes, read_inputs, Stage};

/// Label chain-of-thought data by reasoning pattern: the cotlabel page's pipeline on the
/// command line.
#[derive(Debug, Parser)]
#[command(
    name = "cotlabel",
    version,
    about = "Label chain-of-thought training data by reasoning pattern: the cotlabel page's pipeline on files",
    long_about = None
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// No progress bars or stage times on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Label records: signatures, the graph and propagation from the human labels, written
    /// as the contract's label file (human labels kept, machine labels with confidence and
    /// sources).
    Label(LabelArgs),
    /// Write a training set (SFT, preference pairs, KTO, stepwise) from records and labels.
    Export(ExportArgs),
    /// Score labels against the records' `is_correct`: accuracy, macro-F1, coverage and
    /// calibration of the machine labels, beside the majority class.
    Evaluate(EvaluateArgs),
    /// Merge several annotators' label files into one: every annotator's vote kept, the
    /// consensus (a strict majority) as the human label, ties left unlabelled as conflicts,
    /// decisions (`adjudicated`) kept. As the page merges dropped label files.
    Merge(MergeArgs),
    /// How far annotators agree: Cohen's κ per pair, Fleiss' κ and Krippendorff's α over
    /// all, each person against the consensus, the questions most disagreed on.
    Agreement(AgreementArgs),
    /// Find what a training set should leave out: near-duplicate CoTs and questions
    /// (MinHash-LSH over word 3-grams; embedding cosine between graph neighbours), questions
    /// of evaluation sets (13- or 8-word runs, near-duplicates) and broken traces (no
    /// answer, cut off, loops, trivial, over a token budget).
    Clean(CleanArgs),
}

/// What cleaning looks for (`cotlabel clean`, and `cotlabel export` before it writes).
#[derive(Debug, Args)]
pub struct CleanOptions {
    /// An evaluation set (any records shape: JSONL, JSON, CSV, Parquet, a `datasets`
    /// export): training questions that also sit in it are flagged. Repeatable. Its records
    /// are only compared with, never added.
    #[arg(long = "eval", value_name = "FILE")]
    pub eval: Vec<PathBuf>,
    /// Words in the run a training question shares with an evaluation question: 13 (GPT-3's
    /// and Llama's reports) or a stricter 8.
    #[arg(long, default_value_t = 13)]
    pub ngram: usize,
    /// Least estimated Jaccard (word 3-gram shingles) of two duplicate CoTs.
    #[arg(long, default_value_t = 0.7)]
    pub threshold: f64,
    /// Least estimated Jaccard of two duplicate questions, and of a question and an
    /// evaluation question.
    #[arg(long, default_value_t = 0.7)]
    pub question_threshold: f64,
    /// Least embedding cosine of two duplicate CoTs that are graph neighbours (records
    /// with embeddings; above 1 leaves embeddings out).
    #[arg(long, default_value_t = 0.99)]
    pub embedding_cosine: f32,
    /// A CoT longer than this many tokens (estimated as characters / 4) is broken; 0: no
    /// budget.
    #[arg(long, default_value_t = 0)]
    pub max_tokens: usize,
    /// A CoT without a readable final answer is not broken.
    #[arg(long)]
    pub allow_no_answer: bool,
}

/// `cotlabel clean`.
#[derive(Debug, Args)]
pub struct CleanArgs {
    #[command(flatten)]
    /// The files (a label file with --labels picks each duplicate cluster's representative:
    /// a human-labelled member first, then the most trusted).
    pub inputs: Inputs,
    #[command(flatten)]
    /// What to look for.
    pub clean: CleanOptions,
    /// Print the findings as one JSON object (contract §6).
    #[arg(long)]
    pub json: bool,
}

/// `cotlabel merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Label files (contract §2), one per annotator or already merged; optionally the records
    /// they label (then the output follows the records' order and drops unknown ids).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Where to write the merged label file.
    #[arg(long, short, value_name = "LABELFILE")]
    pub out: PathBuf,
}

/// `cotlabel agreement`.
#[derive(Debug, Args)]
pub struct AgreementArgs {
    /// Label files, one per annotator or already merged; optionally the records they label
    /// (for the questions most disagreed on; without them each record stands for itself).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The input files, as they would be dropped on the page together.
#[derive(Debug, Args)]
pub struct Inputs {
    /// Records (.jsonl, .json, .csv, .parquet: CoT records or chat / ShareGPT / Alpaca /
    /// prompt-completion rows), optionally their embeddings (.npy, one row per record) and a
    /// mapping file (.cotlabel-mapping.json).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// A label file (contract §2) whose labels are merged in: the human labels to propagate
    /// from (repeatable). As on the page: one file of yours is taken as it is (newer human
    /// labels win); several files, or files of other annotators, are merged side by side
    /// (`cotlabel merge`: the consensus counts, conflicts stay unlabelled).
    #[arg(long = "labels", value_name = "LABELFILE")]
    pub labels: Vec<PathBuf>,
    /// The data set's name in the label file (default: the records file's name, as the
    /// page names it).
    #[arg(long)]
    pub name: Option<String>,
}

/// How propagation spreads labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Label spreading (the page's default).
    Spreading,
    /// Trust propagation.
    Trust,
}

/// How the graph's neighbours are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KnnArg {
    /// Exact up to a budget of n²·d, approximate above (the page's rule).
    Auto,
    /// Exact (O(n²)).
    Exact,
    /// Approximate (NN-descent).
    Approximate,
}

/// `cotlabel label`.
#[derive(Debug, Args)]
pub struct LabelArgs {
    #[command(flatten)]
    /// The files.
    pub inputs: Inputs,
    /// Where to write the label file.
    #[arg(long, short, value_name = "LABELFILE")]
    pub out: PathBuf,
    /// The least confidence of a machine label (the page's threshold); below it a CoT stays
    /// unlabelled.
    #[arg(long, default_value_t = crate::core::labels::MIN_CONFIDENCE)]
    pub min_confidence: f64,
    /// How labels travel over the graph.
    #[arg(long, value_enum, default_value_t = MethodArg::Spreading)]
    pub method: MethodArg,
    /// How the graph's neighbours are found.
    #[arg(long, value_enum, default_value_t = KnnArg::Auto)]
    pub knn: KnnArg,
    /// Split the questions into this many partitions by k-means over their mean embedding
    /// (a hash of the question without embeddings), each with a graph of its own: for data
    /// sets too large for one graph. 1: one graph, as the page.
    #[arg(long, default_value_t = 1)]
    pub partitions: usize,
    /// Seed of the partitions' k-means.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Partitions labelled at once (default: the machine's cores). The labels do not
    /// depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also run the binary-choice classifier over every pair of sibling CoTs (the page's
    /// *Classify*, shipped weights, CPU): its verdicts replace propagated labels where it
    /// is confident. Needs a build with the `model` feature (the default).
    #[arg(long)]
    pub classify: bool,
}

/// `cotlabel export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    /// The files (give the label file with --labels).
    pub inputs: Inputs,
    /// The format: sft-messages, sft-prompt-completion, dpo, dpo-conversational, kto,
    /// stepwise, processbench.
    #[arg(long, short, value_name = "FORMAT")]
    pub format: String,
    /// Where to write it: .jsonl or .parquet.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// Only human labels count (else machine labels at or above --min-confidence too).
    #[arg(long)]
    pub human_only: bool,
    /// The least confidence of a machine label that counts.
    #[arg(long, default_value_t = 0.8)]
    pub min_confidence: f64,
    /// Preference formats: at most this many pairs per question.
    #[arg(long, default_value_t = 4)]
    pub max_pairs: usize,
    /// Keep the rows cleaning flags (duplicates, evaluation-set questions, broken traces);
    /// each says why in its `flags` column. By default they are left out.
    #[arg(long)]
    pub keep_flagged: bool,
    /// Do not clean at all (no rows are flagged).
    #[arg(long, conflicts_with = "keep_flagged")]
    pub no_clean: bool,
    #[command(flatten)]
    /// What cleaning looks for.
    pub clean: CleanOptions,
}

/// `cotlabel evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    /// The files: records with `is_correct`, and the label file to score (--labels).
    pub inputs: Inputs,
    /// Print the scores as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command line; returns the process's exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match run::command(&cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}
