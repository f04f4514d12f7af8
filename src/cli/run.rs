//! What the subcommands do: files in, the page's pipeline, files out, with stage times.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{
    AgreementArgs, CleanArgs, CleanOptions, Cli, Command, EvaluateArgs, ExportArgs, Inputs, KnnArg,
    LabelArgs, MergeArgs, MethodArg,
};
use crate::core::base::Matrix;
use crate::core::clean::contamination::{EvalIndex, EvalQuestion};
use crate::core::clean::minhash::Hasher;
use crate::core::clean::{clean, CleanConfig, Findings, Near};
use crate::core::export::labelfile::{DatasetInfo, LabelFile};
use crate::core::export::trainset::{self, FileType, Format};
use crate::core::graph::propagate::{Config, Method};
use crate::core::graph::GraphConfig;
use crate::core::io::import::{parse_file, plan_import_mapped, InputFile, Parsed};
use crate::core::labels::team::{TeamReport, Unit};
use crate::core::labels::{LabelStore, Millis, Provenance, TeamMerge};
use crate::core::map::neighbours::Search;
use crate::core::metrics::machine_scores;
use crate::core::{Dataset, Session};
use crate::pipeline::{label, LabelOptions};

/// One stage of a run: its name, how long it took, and the process's peak resident memory
/// after it (bytes; `None` where the system does not say).
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// What ran.
    pub name: String,
    /// How long.
    pub time: Duration,
    /// Peak resident memory of the process so far.
    pub peak_bytes: Option<u64>,
}

/// Runs a subcommand.
pub fn command(cli: &Cli) -> Result<(), String> {
    let mut clock = Clock::new(cli.quiet);
    match &cli.command {
        Command::Label(args) => label_command(args, &mut clock),
        Command::Export(args) => export_command(args, &mut clock),
        Command::Evaluate(args) => evaluate_command(args, &mut clock),
        Command::Merge(args) => merge_command(args, &mut clock),
        Command::Agreement(args) => agreement_command(args, &mut clock),
        Command::Clean(args) => clean_command(args, &mut clock),
    }?;
    clock.summary();
    Ok(())
}

/// Reads the input files into a session, as the page does when they are dropped
/// together (the records' name is their file's name; label files merged in order).
/// Warnings go to stderr; what the label files did too, unless `quiet`.
pub fn read_inputs(inputs: &Inputs, quiet: bool) -> Result<Session, String> {
    let mut files = Vec::new();
    for path in inputs.files.iter().chain(&inputs.labels) {
        files.push(read_file(path)?);
    }
    let plan = plan_import_mapped(&files, None, None).map_err(|e| import_errors(&e, ""))?;
    drop(files);
    for w in &plan.warnings {
        eprintln!("warning: {w}");
    }
    if plan.dataset.is_none() {
        return Err("error: no records file was given (only label or mapping files)".into());
    }
    let mut session = Session::new(Dataset::new("", Vec::new(), None));
    let report = session.apply(plan, None);
    for (name, merged) in report.merged.iter().filter(|_| !quiet) {
        eprintln!("{name}: {}", merged.summary());
    }
    if let Some(team) = report.team.as_ref().filter(|_| !quiet) {
        eprintln!("{}", team.summary());
    }
    if let Some(name) = &inputs.name {
        session.dataset.set_name(name.clone());
    }
    Ok(session)
}

/// Import errors as the CLI prints them, one per line (`what` before each: "--eval ").
fn import_errors(errors: &[crate::core::ImportError], what: &str) -> String {
    errors
        .iter()
        .map(|e| format!("error: {what}{e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn read_file(path: &Path) -> Result<InputFile, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("error: {}: cannot read: {e}", path.display()))?;
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(InputFile::new(name, bytes))
}

fn label_command(args: &LabelArgs, clock: &mut Clock) -> Result<(), String> {
    if !(0.5..=1.0).contains(&args.min_confidence) {
        return Err(format!(
            "error: --min-confidence must be in [0.5, 1], not {}",
            args.min_confidence
        ));
    }
    let quiet = clock.quiet;
    let session = clock.stage("reading the files", || read_inputs(&args.inputs, quiet))?;
    if !quiet {
        eprintln!(
            "{}: {} records{}, {} human labels",
            session.dataset.name(),
            session.dataset.len(),
            session
                .dataset
                .embeddings()
                .map(|e| format!(" with {}-dimensional embeddings", e.dim()))
                .unwrap_or_default(),
            session.labels.humans().count()
        );
    }
    let graph = GraphConfig {
        search: match args.knn {
            KnnArg::Auto => Search::Auto,
            KnnArg::Exact => Search::Exact,
            KnnArg::Approximate => Search::Approximate,
        },
        ..GraphConfig::default()
    };
    let config = Config {
        method: match args.method {
            MethodArg::Spreading => Method::SPREADING,
            MethodArg::Trust => Method::TRUST,
        },
        ..Config::default()
    };
    let opts = LabelOptions {
        graph,
        config,
        min_confidence: args.min_confidence,
        partitions: args.partitions.max(1),
        seed: args.seed,
        shifts: None,
        threads: args
            .threads
            .unwrap_or(LabelOptions::default().threads)
            .max(1),
        classify: args.classify,
    };
    let now = now_ms();
    let (dataset, labels) = clock
        .staged(|report| label(session, &opts, now, report))
        .map_err(|e| format!("error: {e}"))?;
    clock.stage("writing the label file", || {
        let file = LabelFile::from_store(&dataset, &labels, now);
        write(&args.out, file.to_json().as_bytes())
    })?;
    let c = labels.counts(&dataset);
    if !quiet {
        eprintln!(
            "{}: {} human labels, {} good and {} bad in all, {} unlabelled",
            args.out.display(),
            c.human,
            c.good,
            c.bad,
            c.unlabelled
        );
    }
    Ok(())
}

fn export_command(args: &ExportArgs, clock: &mut Clock) -> Result<(), String> {
    let format = Format::parse(&args.format).ok_or_else(|| {
        format!(
            "error: unknown format {:?}: one of {}",
            args.format,
            Format::ALL.map(Format::as_str).join(", ")
        )
    })?;
    let file_type = args
        .out
        .extension()
        .and_then(|e| FileType::parse(&e.to_string_lossy()))
        .ok_or_else(|| {
            format!(
                "error: {}: the output must end in .jsonl or .parquet",
                args.out.display()
            )
        })?;
    if args.inputs.labels.is_empty() {
        return Err("error: give the labels to export with --labels LABELFILE".into());
    }
    let quiet = clock.quiet;
    let session = clock.stage("reading the files", || read_inputs(&args.inputs, quiet))?;
    let options = trainset::Options {
        format,
        human_only: args.human_only,
        min_confidence: args.min_confidence,
        max_pairs_per_question: args.max_pairs.max(1),
        keep_flagged: args.keep_flagged,
    };
    let flags = if args.no_clean {
        None
    } else {
        let findings = findings(&session, &args.clean, clock)?;
        Some(
            findings.flags(&|i| session.dataset.records()[i].id.clone(), &|i| {
                trust(&session, i)
            }),
        )
    };
    clock.stage("writing the training set", || {
        let plan =
            trainset::plan_clean(&session.dataset, &session.labels, &options, flags.as_ref());
        if !quiet {
            eprintln!("{}", plan.summary());
        }
        let bytes = plan.write(&session.dataset, file_type)?;
        write(&args.out, &bytes)
    })
}

/// How far a record's label is trusted (a cluster's representative is the most trusted).
fn trust(session: &Session, i: usize) -> Option<(bool, f64)> {
    session
        .labels
        .get(&session.dataset.records()[i].id)
        .map(|l| (l.is_human(), l.confidence))
}

impl CleanOptions {
    fn config(&self) -> Result<CleanConfig, String> {
        if !(8..=50).contains(&self.ngram) {
            return Err(format!(
                "error: --ngram must be in [8, 50], not {}",
                self.ngram
            ));
        }
        for (name, x) in [
            ("--threshold", self.threshold),
            ("--question-threshold", self.question_threshold),
        ] {
            if !(0.0..=1.0).contains(&x) || x == 0.0 {
                return Err(format!("error: {name} must be in (0, 1], not {x}"));
            }
        }
        let mut c = CleanConfig {
            cot_threshold: self.threshold,
            question_threshold: self.question_threshold,
            embedding_cosine: self.embedding_cosine,
            ngram: self.ngram,
            ..CleanConfig::default()
        };
        c.broken.max_tokens = self.max_tokens;
        c.broken.need_answer = !self.allow_no_answer;
        Ok(c)
    }
}

/// The questions of evaluation files (any records shape), each file read alone.
pub fn read_eval(paths: &[PathBuf]) -> Result<Vec<EvalQuestion>, String> {
    let mut out = Vec::new();
    for path in paths {
        let file = read_file(path)?;
        let plan =
            plan_import_mapped(&[file], None, None).map_err(|e| import_errors(&e, "--eval "))?;
        let Some(d) = plan.dataset else {
            return Err(format!(
                "error: --eval {}: no records in it (an evaluation set is a records file)",
                path.display()
            ));
        };
        for r in d.records() {
            out.push(EvalQuestion {
                id: r.question_id.clone().unwrap_or_else(|| r.id.clone()),
                text: r.question.clone(),
            });
        }
    }
    Ok(out)
}

/// Cleans the session's data set as `options` say, with stage times.
fn findings(
    session: &Session,
    options: &CleanOptions,
    clock: &mut Clock,
) -> Result<Findings, String> {
    let config = options.config()?;
    let hasher = Hasher::new(&config.minhash);
    let eval = if options.eval.is_empty() {
        None
    } else {
        let questions = clock.stage("reading the evaluation sets", || read_eval(&options.eval))?;
        Some(clock.stage("indexing the evaluation sets", || {
            EvalIndex::new(&questions, config.ngram, config.shingle, &hasher)
        }))
    };
    let d = &session.dataset;
    let neighbours = match d.embeddings().filter(|_| config.embedding_cosine <= 1.0) {
        Some(e) => {
            let m =
                Matrix::new(e.as_slice(), e.rows(), e.dim()).map_err(|e| format!("error: {e}"))?;
            let nn = clock
                .staged(|report| {
                    crate::core::map::neighbours::knn(m, 10, &mut |f| {
                        report("embedding neighbours (kNN)", f)
                    })
                })
                .map_err(|e| format!("error: {e}"))?;
            Some(nn)
        }
        None => None,
    };
    let of = |i: usize| -> Vec<usize> {
        neighbours
            .as_ref()
            .map(|nn| nn[i].iter().map(|&(j, _)| j as usize).collect())
            .unwrap_or_default()
    };
    let near = d.embeddings().zip(neighbours.as_ref()).map(|(e, _)| Near {
        embeddings: e,
        neighbours: &of,
    });
    clock
        .staged(|report| clean(d, eval.as_ref(), near, &config, report))
        .ok_or_else(|| "error: cleaning was stopped".to_string())
}

fn clean_command(args: &CleanArgs, clock: &mut Clock) -> Result<(), String> {
    let quiet = clock.quiet;
    let session = clock.stage("reading the files", || read_inputs(&args.inputs, quiet))?;
    let f = findings(&session, &args.clean, clock)?;
    let recs = session.dataset.records();
    let id = |i: u32| recs[i as usize].id.clone();
    let key = |i: u32| {
        let r = &recs[i as usize];
        r.question_id.clone().unwrap_or_else(|| r.id.clone())
    };
    let trust = |i: usize| trust(&session, i);
    let clusters: Vec<Vec<String>> = f
        .duplicates
        .iter()
        .map(|c| {
            let rep = Findings::representative(c, &trust);
            std::iter::once(rep)
                .chain(c.iter().copied().filter(|&i| i != rep))
                .map(id)
                .collect()
        })
        .collect();
    if args.json {
        let out = serde_json::json!({
            "duplicates": clusters,
            "contaminated": f.contaminated.iter().map(|(i, c)| serde_json::json!({
                "id": id(*i), "eval_id": c.eval_id, "match": c.matched, "how": c.how,
            })).collect::<Vec<_>>(),
            "broken": f.broken.iter().map(|(i, r)| serde_json::json!({
                "id": id(*i),
                "reason": r[0].as_str(),
                "reasons": r.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "duplicate_pairs": f.pairs.iter().map(|p| serde_json::json!({
                "a": id(p.a), "b": id(p.b), "similarity": p.similarity, "via": p.via,
            })).collect::<Vec<_>>(),
            "duplicate_questions": f.duplicate_questions.iter()
                .map(|c| c.iter().map(|&i| key(i)).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
            "records": recs.len(),
            "eval_questions": f.eval_questions,
            "answers_read": f.answers_read,
            "counts": {
                "duplicate_clusters": f.duplicates.len(),
                "duplicates_left_out": f.duplicate_members() - f.duplicates.len(),
                "duplicate_questions": f.duplicate_questions.len(),
                "contaminated": f.contaminated.len(),
                "broken": f.broken.len(),
            },
        });
        println!("{out}");
    } else {
        println!(
            "{} records: {} duplicate clusters ({} CoTs beyond one per cluster), {} groups of \
             near-duplicate questions, {} CoTs of questions in the evaluation sets ({} \
             questions checked), {} broken traces",
            recs.len(),
            f.duplicates.len(),
            f.duplicate_members() - f.duplicates.len(),
            f.duplicate_questions.len(),
            f.contaminated.len(),
            f.eval_questions,
            f.broken.len()
        );
        let mut by: std::collections::BTreeMap<&str, usize> = Default::default();
        for (_, r) in &f.broken {
            for r in r {
                *by.entry(r.as_str()).or_default() += 1;
            }
        }
        for (reason, n) in by {
            println!("  broken, {reason}: {n}");
        }
    }
    Ok(())
}

fn evaluate_command(args: &EvaluateArgs, clock: &mut Clock) -> Result<(), String> {
    let quiet = clock.quiet;
    let session = clock.stage("reading the files", || read_inputs(&args.inputs, quiet))?;
    let (scores, majority) = machine_scores(&session.dataset, &session.labels)
        .ok_or("error: no record carries is_correct: nothing to score against")?;
    if args.json {
        let mut v = serde_json::to_value(scores).expect("plain numbers");
        v["majority"] = majority.into();
        v["humans"] = session.labels.humans().count().into();
        println!("{v}");
    } else {
        println!(
            "machine labels: accuracy {:.3}, macro-F1 {:.3}, coverage {:.3}, ECE {:.3} ({} scored, {} human labels); majority class {:.3}",
            scores.accuracy,
            scores.macro_f1,
            scores.coverage,
            scores.ece,
            scores.scored,
            session.labels.humans().count(),
            majority
        );
    }
    Ok(())
}

/// A team's label files, and the records they label when given.
struct Team {
    dataset: Option<Dataset>,
    files: Vec<(String, LabelFile)>,
}

impl Team {
    /// Reads the files as the page reads them dropped together; label files written for
    /// different data sets (fingerprints) are refused.
    fn read(paths: &[PathBuf]) -> Result<Self, String> {
        let files = paths
            .iter()
            .map(|p| read_file(p))
            .collect::<Result<Vec<_>, _>>()?;
        let errors = |errors: Vec<crate::core::ImportError>| {
            errors
                .iter()
                .map(|e| format!("error: {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        // label files read alone; the rest (records, embeddings, a mapping) as the page reads them
        let mut label_files = Vec::new();
        let mut rest = Vec::new();
        for f in files {
            match parse_file(&f) {
                Ok(Parsed::Labels(l)) => label_files.push((f.name.clone(), l)),
                _ => rest.push(f),
            }
        }
        let dataset = if rest.is_empty() {
            None
        } else {
            plan_import_mapped(&rest, None, None)
                .map_err(errors)?
                .dataset
        };
        if label_files.is_empty() {
            return Err("error: no label file was given".into());
        }
        let plan = Self {
            dataset,
            files: label_files,
        };
        let mut seen: Option<(&str, &str)> =
            plan.dataset.as_ref().map(|d| (d.name(), d.fingerprint()));
        for (name, f) in &plan.files {
            let Some(fp) = f.dataset.as_ref().map(|d| d.fingerprint.as_str()) else {
                continue;
            };
            match seen {
                Some((other, known)) if !fp.is_empty() && !known.is_empty() && fp != known => {
                    return Err(format!(
                        "error: {name} labels another data set than {other} (fingerprint {fp} against {known})"
                    ))
                }
                None if !fp.is_empty() => seen = Some((name, fp)),
                _ => {}
            }
        }
        Ok(plan)
    }

    /// Every annotator's votes merged into one store, with the ids in the records' order
    /// (or the order they first appear in the files).
    fn merged(&self) -> (LabelStore, TeamMerge, Vec<String>) {
        let mut store = LabelStore::new();
        let incoming: Vec<_> = self
            .files
            .iter()
            .map(|(name, f)| (name.as_str(), f.incoming()))
            .collect();
        let ds = self.dataset.as_ref();
        let report = store.merge_team(&incoming, |id| ds.is_none_or(|d| d.position(id).is_some()));
        let ids = match ds {
            Some(d) => d.records().iter().map(|r| r.id.clone()).collect(),
            None => {
                let mut seen = std::collections::HashSet::new();
                self.files
                    .iter()
                    .flat_map(|(_, f)| {
                        f.labels
                            .iter()
                            .map(|(id, _)| id)
                            .chain(f.votes.iter().map(|(id, _)| id))
                    })
                    .filter(|id| seen.insert(id.as_str()))
                    .cloned()
                    .collect()
            }
        };
        (store, report, ids)
    }

    /// The data set the merged file is for: the records given, else the files' own.
    fn info(&self) -> Option<DatasetInfo> {
        match &self.dataset {
            Some(d) => Some(DatasetInfo {
                name: d.name().to_string(),
                records: d.len(),
                fingerprint: d.fingerprint().to_string(),
            }),
            None => self.files.iter().find_map(|(_, f)| f.dataset.clone()),
        }
    }
}

fn merge_command(args: &MergeArgs, clock: &mut Clock) -> Result<(), String> {
    let team = clock.stage("reading the files", || Team::read(&args.files))?;
    let (store, report, ids) = clock.stage("merging", || team.merged());
    if !clock.quiet {
        eprintln!("{}", report.summary());
    }
    let file = LabelFile::of_ids(
        team.info(),
        ids.iter().map(String::as_str),
        &store,
        now_ms(),
    );
    write(&args.out, file.to_json().as_bytes())
}

fn agreement_command(args: &AgreementArgs, clock: &mut Clock) -> Result<(), String> {
    let team = clock.stage("reading the files", || Team::read(&args.files))?;
    let (store, _, ids) = clock.stage("merging", || team.merged());
    let question = |id: &str| -> String {
        team.dataset
            .as_ref()
            .and_then(|d| {
                d.position(id)
                    .map(|i| d.records()[i].group_key().to_string())
            })
            .unwrap_or_else(|| id.to_string())
    };
    let questions: Vec<String> = ids.iter().map(|id| question(id)).collect();
    let report = TeamReport::of(ids.iter().zip(&questions).filter_map(|(id, q)| {
        Some(Unit {
            question_id: q,
            votes: store.votes(id)?,
            adjudicated: store
                .get(id)
                .is_some_and(|l| l.provenance == Provenance::Adjudicated),
        })
    }));
    if args.json {
        println!("{}", serde_json::to_string(&report).expect("plain data"));
        return Ok(());
    }
    let num = |x: Option<f64>| x.map_or_else(|| "–".to_string(), |x| format!("{x:.3}"));
    println!(
        "{} annotators ({}), {} records with votes, {} by two or more; {} with a consensus, {} conflicts, {} settled",
        report.annotators.len(),
        report.annotators.join(", "),
        report.records,
        report.overlap,
        report.consensus,
        report.conflicts,
        report.adjudicated
    );
    println!(
        "Krippendorff's α {}, Fleiss' κ {}",
        num(report.krippendorff_alpha),
        num(report.fleiss_kappa)
    );
    for p in &report.pairs {
        println!(
            "  {} – {}: Cohen's κ {} on {} records (agreement {})",
            p.a,
            p.b,
            num(p.cohen_kappa),
            p.n,
            num(p.agreement)
        );
    }
    for p in &report.people {
        println!(
            "  {}: {} votes, with the consensus {} of {}",
            p.annotator,
            p.votes,
            num(p.with_consensus),
            p.n
        );
    }
    if report.steps.pairs > 0 {
        println!(
            "step marks: {} pairs, same step {}, within one step {}",
            report.steps.pairs,
            num(report.steps.exact),
            num(report.steps.within_one)
        );
    }
    for q in &report.contested {
        println!(
            "  {}: {} of {} compared records disagree ({} conflicts)",
            q.question_id, q.disagreements, q.compared, q.conflicts
        );
    }
    Ok(())
}

fn write(path: &PathBuf, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("error: {}: cannot write: {e}", path.display()))
}

fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// The process's peak resident memory (Linux: `VmHWM` of /proc/self/status).
pub fn peak_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Times stages and shows their progress on stderr.
struct Clock {
    quiet: bool,
    stages: Vec<Stage>,
}

impl Clock {
    fn new(quiet: bool) -> Self {
        Self {
            quiet,
            stages: Vec::new(),
        }
    }

    fn bar(&self, name: &str) -> ProgressBar {
        let bar = if self.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr())
        };
        bar.set_style(
            ProgressStyle::with_template("{msg:28} [{bar:30}] {percent:>3}% {elapsed}")
                .expect("a fixed template")
                .progress_chars("=> "),
        );
        bar.set_message(name.to_string());
        bar
    }

    fn finish(&mut self, name: &str, time: Duration, peak_bytes: Option<u64>) {
        let stage = Stage {
            name: name.to_string(),
            time,
            peak_bytes,
        };
        if !self.quiet {
            eprintln!("{}", stage_line(&stage));
        }
        self.stages.push(stage);
    }

    /// One stage without progress of its own.
    fn stage<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.finish(name, t.elapsed(), peak_bytes());
        out
    }

    /// Work that reports `(stage, fraction)`: a bar per stage, timed from its first report
    /// to the next stage's, and its line printed as it ends.
    fn staged<T>(&mut self, f: impl FnOnce(&mut dyn FnMut(&str, f64) -> bool) -> T) -> T {
        let mut current: Option<(String, Instant, ProgressBar)> = None;
        let mut done: Vec<Stage> = Vec::new();
        let quiet = self.quiet;
        let end = |(name, t, bar): (String, Instant, ProgressBar), done: &mut Vec<Stage>| {
            bar.finish_and_clear();
            let stage = Stage {
                name,
                time: t.elapsed(),
                peak_bytes: peak_bytes(),
            };
            if !quiet {
                eprintln!("{}", stage_line(&stage));
            }
            done.push(stage);
        };
        let out = {
            let this = &*self;
            let mut report = |name: &str, f: f64| {
                if current.as_ref().is_none_or(|(n, _, _)| n != name) {
                    if let Some(c) = current.take() {
                        end(c, &mut done);
                    }
                    current = Some((name.to_string(), Instant::now(), this.bar(name)));
                }
                if let Some((_, _, bar)) = &current {
                    bar.set_position((f.clamp(0.0, 1.0) * 1000.0) as u64);
                }
                true
            };
            f(&mut report)
        };
        if let Some(c) = current.take() {
            end(c, &mut done);
        }
        self.stages.extend(done);
        out
    }

    fn summary(&self) {
        if self.quiet || self.stages.len() < 2 {
            return;
        }
        let total: Duration = self.stages.iter().map(|s| s.time).sum();
        eprintln!("total {:.1} s", total.as_secs_f64());
    }
}

fn stage_line(s: &Stage) -> String {
    format!(
        "{:28} {:>8.2} s{}",
        s.name,
        s.time.as_secs_f64(),
        s.peak_bytes
            .map(|b| format!("   peak {:.0} MB", b as f64 / 1e6))
            .unwrap_or_default()
    )
}
