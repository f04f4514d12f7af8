//! Training sets from labels: what a trainer reads (TRL's dataset types and field names).
//!
//! - **SFT**: the sound CoTs, as chat `messages` (the record's own system prompt and earlier
//!   turns when its file had them, the question as the user turn, the CoT with its final
//!   answer as the assistant turn) or as `prompt` / `completion`.
//! - **Preference** (DPO, ORPO, reward models): `prompt`, `chosen`, `rejected`, standard
//!   (texts) or conversational (turn lists). Pairs come first from the person's pair picks,
//!   then from (sound, flawed) CoTs of the same question, most confident first and spread
//!   over different CoTs; questions without both are skipped; at most a chosen number of
//!   pairs per question.
//! - **Unpaired preference** (KTO): `prompt`, `completion`, `label` (true = sound).
//!
//! Which labels count: human labels always; machine labels (propagated, classifier) only
//! when asked for, at or above a confidence. Every row carries the id(s), provenance and
//! confidence of the labels it came from, so a training set can be traced back.
//!
//! Cleaning ([`crate::core::clean`]) flags duplicates, questions of an evaluation set and
//! broken traces; [`plan_clean`] leaves them out unless [`Options::keep_flagged`], counts
//! them in the summary, and a kept flagged row says why in its `flags` column.
//!
//! [`plan`] decides the rows (cheap: no text is copied) and counts them before anything is
//! written; [`Plan::table`] builds any range of rows, so the page can write a large set in
//! slices ([`crate::core::io::parquet::ParquetSink`] takes one row group per slice).

use rustc_hash::FxHashMap as HashMap;

use crate::core::clean::Flag;
use crate::core::data::{Dataset, Record};
use crate::core::io::parquet::{self, Column, Table, Turn};
use crate::core::io::shapes;
use crate::core::labels::steps::segment;
use crate::core::labels::StepVerdict;
use crate::core::labels::{Label, LabelStore, Provenance, Verdict};

/// The training-set formats (contract §3: the values of `training-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SFT as chat `messages`.
    SftMessages,
    /// SFT as `prompt` / `completion` texts.
    SftPromptCompletion,
    /// Preference pairs, standard form: `prompt`, `chosen`, `rejected` texts.
    Dpo,
    /// Preference pairs, conversational form: turn lists.
    DpoConversational,
    /// Unpaired preference: `prompt`, `completion`, `label`.
    Kto,
    /// Stepwise supervision (TRL, process reward models): `prompt`, `completions` (the
    /// steps), `labels` (one bool per step: true before the first wrong step).
    Stepwise,
    /// ProcessBench's layout: `problem`, `steps`, `label` (the earliest wrong step, −1 for
    /// none).
    ProcessBench,
}

impl Format {
    /// Every format, in the order the page lists them.
    pub const ALL: [Format; 7] = [
        Format::SftMessages,
        Format::SftPromptCompletion,
        Format::Dpo,
        Format::DpoConversational,
        Format::Kto,
        Format::Stepwise,
        Format::ProcessBench,
    ];

    /// Its name in the contract and in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::SftMessages => "sft-messages",
            Format::SftPromptCompletion => "sft-prompt-completion",
            Format::Dpo => "dpo",
            Format::DpoConversational => "dpo-conversational",
            Format::Kto => "kto",
            Format::Stepwise => "stepwise",
            Format::ProcessBench => "processbench",
        }
    }

    /// What the page shows for it.
    pub fn title(self) -> &'static str {
        match self {
            Format::SftMessages => "SFT — chat messages",
            Format::SftPromptCompletion => "SFT — prompt / completion",
            Format::Dpo => "Preference pairs (DPO, ORPO, reward model)",
            Format::DpoConversational => "Preference pairs, conversational",
            Format::Kto => "Unpaired preference (KTO)",
            Format::Stepwise => "Stepwise supervision (process reward model, TRL)",
            Format::ProcessBench => "First wrong step (ProcessBench)",
        }
    }

    /// The format named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Whether rows are (chosen, rejected) pairs.
    pub fn is_pairs(self) -> bool {
        matches!(self, Format::Dpo | Format::DpoConversational)
    }

    /// Whether rows are CoTs with step labels.
    pub fn is_steps(self) -> bool {
        matches!(self, Format::Stepwise | Format::ProcessBench)
    }
}

/// The file types a training set is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet (snappy).
    Parquet,
}

impl FileType {
    /// Its extension (and its value of `training-filetype`).
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Jsonl => "jsonl",
            FileType::Parquet => "parquet",
        }
    }

    /// The file type named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [FileType::Jsonl, FileType::Parquet]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

/// What goes into a training set.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// The format.
    pub format: Format,
    /// Only human labels count (else machine labels at or above `min_confidence` too).
    pub human_only: bool,
    /// The least confidence of a machine label that counts, in [0.5, 1].
    pub min_confidence: f64,
    /// Preference formats: at most this many pairs per question (at least 1).
    pub max_pairs_per_question: usize,
    /// Keep the rows cleaning flagged (each says why in its `flags` column); by default
    /// they are left out.
    pub keep_flagged: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            format: Format::SftMessages,
            human_only: false,
            min_confidence: 0.8,
            max_pairs_per_question: 4,
            keep_flagged: false,
        }
    }
}

/// Records cleaning left out of a training set, by why (a record may be counted under
/// more than one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeftOut {
    /// Labelled records left out.
    pub records: usize,
    /// Of them, duplicates of a kept record.
    pub duplicates: usize,
    /// Of them, questions of the evaluation set.
    pub contaminated: usize,
    /// Of them, broken traces.
    pub broken: usize,
}

/// Where a preference pair came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairSource {
    /// The person picked the better of the two.
    Pick,
    /// A sound and a flawed CoT of the same question, by their labels.
    Labels,
}

impl PairSource {
    fn as_str(self) -> &'static str {
        match self {
            PairSource::Pick => "pick",
            PairSource::Labels => "labels",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    One(usize),
    Pair(usize, usize, PairSource),
}

/// The rows of a training set, decided and counted before anything is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The options it was made with.
    pub options: Options,
    items: Vec<Item>,
    /// The label behind each record that counts, by record.
    labels: HashMap<usize, Counted>,
    /// Step formats: the step label behind each row's record and its steps.
    steps: HashMap<usize, StepRow>,
    /// Step formats: rows from the person's step marks.
    pub step_marks: usize,
    /// Step formats: rows from step labels spread to siblings.
    pub step_spread: usize,
    /// Counted sound / flawed CoTs.
    pub sound: usize,
    /// Counted flawed CoTs.
    pub flawed: usize,
    /// Of the counted labels, how many are human.
    pub human: usize,
    /// Preference formats: pairs from the person's picks.
    pub pairs_from_picks: usize,
    /// Preference formats: pairs from labels.
    pub pairs_from_labels: usize,
    /// Preference formats: questions with pairs.
    pub questions: usize,
    /// Preference formats: questions with counted labels but no pair (not both kinds).
    pub questions_skipped: usize,
    /// Labelled records cleaning left out.
    pub left_out: LeftOut,
    /// Flagged records kept (with [`Options::keep_flagged`]): why, by record.
    flags: HashMap<usize, String>,
    /// Whether cleaning ran (then rows carry a `flags` column when flagged rows are kept).
    cleaned: bool,
}

/// What a stepwise row needs: the steps' texts (byte ranges) and what is known of them.
#[derive(Debug, Clone, PartialEq)]
struct StepRow {
    steps: Vec<(usize, usize)>,
    verdict: StepVerdict,
    human: bool,
    confidence: f64,
}

/// What a row needs of a label (not its `from` list).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Counted {
    verdict: Verdict,
    provenance: Provenance,
    confidence: f64,
}

impl Counted {
    fn is_human(&self) -> bool {
        self.provenance == Provenance::Human
    }
}

fn counts(label: &Label, o: &Options) -> bool {
    label.is_human() || (!o.human_only && label.confidence >= o.min_confidence)
}

/// Decides the rows of a training set from the labels (no cleaning).
pub fn plan(dataset: &Dataset, store: &LabelStore, options: &Options) -> Plan {
    plan_clean(dataset, store, options, None)
}

/// Decides the rows of a training set from the labels; `flags` (cleaning's findings, by
/// record: [`crate::core::clean::Findings::flags`]) are left out unless
/// [`Options::keep_flagged`].
pub fn plan_clean(
    dataset: &Dataset,
    store: &LabelStore,
    options: &Options,
    flags: Option<&std::collections::HashMap<usize, Flag>>,
) -> Plan {
    let o = options.clone();
    let mut labels = HashMap::default();
    let (mut sound, mut flawed, mut human) = (0, 0, 0);
    let mut left_out = LeftOut::default();
    let mut kept_flags: HashMap<usize, String> = HashMap::default();
    let out = |i: usize| -> Option<&Flag> { flags.and_then(|f| f.get(&i)) };
    let picked: std::collections::HashSet<&str> = store
        .pairs()
        .iter()
        .flat_map(|p| [p.better.as_str(), p.worse.as_str()])
        .collect();
    for (i, r) in dataset.records().iter().enumerate() {
        // a flagged record is counted as left out when it would have made or joined a row
        let counted = || {
            store.get(&r.id).is_some_and(|l| counts(l, &o))
                || store.spread(&r.id).is_some()
                || picked.contains(r.id.as_str())
        };
        if let Some(f) = out(i).filter(|_| counted()) {
            if o.keep_flagged {
                kept_flags.insert(i, f.why.clone());
            } else {
                left_out.records += 1;
                left_out.duplicates += usize::from(f.duplicate_of.is_some());
                left_out.contaminated += usize::from(f.contaminated);
                left_out.broken += usize::from(f.broken);
                continue;
            }
        }
        if let Some(l) = store.get(&r.id).filter(|l| counts(l, &o)) {
            match l.verdict {
                Verdict::Good => sound += 1,
                Verdict::Bad => flawed += 1,
            }
            human += usize::from(l.is_human());
            labels.insert(
                i,
                Counted {
                    verdict: l.verdict,
                    provenance: l.provenance,
                    confidence: l.confidence,
                },
            );
        }
    }
    let mut p = Plan {
        options: o.clone(),
        items: Vec::new(),
        labels,
        sound,
        flawed,
        human,
        pairs_from_picks: 0,
        pairs_from_labels: 0,
        questions: 0,
        questions_skipped: 0,
        steps: HashMap::default(),
        step_marks: 0,
        step_spread: 0,
        left_out,
        flags: kept_flags,
        cleaned: flags.is_some(),
    };
    let excluded: std::collections::HashSet<usize> = match flags {
        Some(f) if !o.keep_flagged => f.keys().copied().collect(),
        _ => Default::default(),
    };
    match o.format {
        Format::SftMessages | Format::SftPromptCompletion => {
            let mut keep: Vec<usize> = p
                .labels
                .iter()
                .filter(|(_, l)| l.verdict == Verdict::Good)
                .map(|(&i, _)| i)
                .collect();
            keep.sort_unstable();
            p.items = keep.into_iter().map(Item::One).collect();
        }
        Format::Kto => {
            let mut keep: Vec<usize> = p.labels.keys().copied().collect();
            keep.sort_unstable();
            p.items = keep.into_iter().map(Item::One).collect();
        }
        Format::Dpo | Format::DpoConversational => plan_pairs(dataset, store, &mut p, &excluded),
        Format::Stepwise | Format::ProcessBench => plan_steps(dataset, store, &mut p, &excluded),
    }
    p
}

/// The CoTs with a step label that says where the first wrong step is (or that none is):
/// the person's marks always, spread labels when machine labels count. A "fine through
/// step k" label leaves the later steps unknown, so it makes no row.
fn plan_steps(
    dataset: &Dataset,
    store: &LabelStore,
    p: &mut Plan,
    excluded: &std::collections::HashSet<usize>,
) {
    for (i, r) in dataset.records().iter().enumerate() {
        if excluded.contains(&i) {
            continue;
        }
        let human = store
            .get(&r.id)
            .and_then(|l| l.step.filter(|_| l.is_human()));
        let (verdict, confidence) = match (human, store.spread(&r.id)) {
            (Some(mark), _) => (StepVerdict::from(mark), 1.0),
            (None, Some(s))
                if !p.options.human_only && s.confidence >= p.options.min_confidence =>
            {
                (s.verdict, s.confidence)
            }
            _ => continue,
        };
        let steps: Vec<(usize, usize)> = segment(&r.cot).iter().map(|s| (s.start, s.end)).collect();
        // fine through the last step: no step is wrong
        let verdict = match verdict {
            StepVerdict::FineThrough(k) if k + 1 >= steps.len() => StepVerdict::AllFine,
            v => v,
        };
        if verdict.step_labels(steps.len()).is_none() {
            continue;
        }
        p.step_marks += usize::from(human.is_some());
        p.step_spread += usize::from(human.is_none());
        p.steps.insert(
            i,
            StepRow {
                steps,
                verdict,
                human: human.is_some(),
                confidence,
            },
        );
        p.items.push(Item::One(i));
    }
}

fn plan_pairs(
    dataset: &Dataset,
    store: &LabelStore,
    p: &mut Plan,
    excluded: &std::collections::HashSet<usize>,
) {
    let cap = p.options.max_pairs_per_question.max(1);
    // The person's picks, by question.
    let groups = dataset.groups();
    let mut picks: HashMap<usize, Vec<(usize, usize)>> = HashMap::default();
    for pair in store
        .pairs()
        .iter()
        .filter(|p| p.provenance == Provenance::Human)
    {
        if let (Some(b), Some(w)) = (
            dataset.position(&pair.better),
            dataset.position(&pair.worse),
        ) {
            if excluded.contains(&b) || excluded.contains(&w) {
                continue;
            }
            picks.entry(groups.group_of(b)).or_default().push((b, w));
        }
    }
    // Most trusted first: human, then by confidence, then file order.
    let rank = |i: &usize, labels: &HashMap<usize, Counted>| {
        let l = &labels[i];
        (!l.is_human(), -(l.confidence * 1e6) as i64, *i)
    };
    for (key, members) in groups.iter().enumerate() {
        let members: Vec<usize> = members.iter().map(|&i| i as usize).collect();
        let mut chosen: Vec<(usize, usize, PairSource)> = Vec::new();
        let same = |a: (usize, usize), b: (usize, usize)| a == b || (a.0 == b.1 && a.1 == b.0);
        for &(b, w) in picks.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
            if chosen.len() < cap && !chosen.iter().any(|c| same((c.0, c.1), (b, w))) {
                chosen.push((b, w, PairSource::Pick));
            }
        }
        let mut good: Vec<usize> = members
            .iter()
            .copied()
            .filter(|i| p.labels.get(i).is_some_and(|l| l.verdict == Verdict::Good))
            .collect();
        let mut bad: Vec<usize> = members
            .iter()
            .copied()
            .filter(|i| p.labels.get(i).is_some_and(|l| l.verdict == Verdict::Bad))
            .collect();
        good.sort_by_key(|i| rank(i, &p.labels));
        bad.sort_by_key(|i| rank(i, &p.labels));
        // Diagonals of the (sound × flawed) grid: (0,0), (0,1), (1,0), (0,2), (1,1), …
        // so the first pairs use the most trusted CoTs and different ones.
        let mut grid: Vec<(usize, usize)> = (0..good.len())
            .flat_map(|a| (0..bad.len()).map(move |b| (a, b)))
            .collect();
        grid.sort_by_key(|&(a, b)| (a + b, a));
        for (a, b) in grid {
            if chosen.len() >= cap {
                break;
            }
            let pair = (good[a], bad[b]);
            if !chosen.iter().any(|c| same((c.0, c.1), pair)) {
                chosen.push((pair.0, pair.1, PairSource::Labels));
            }
        }
        if chosen.is_empty() {
            if members.iter().any(|i| p.labels.contains_key(i)) {
                p.questions_skipped += 1;
            }
            continue;
        }
        p.questions += 1;
        for (c, r, s) in chosen {
            match s {
                PairSource::Pick => p.pairs_from_picks += 1,
                PairSource::Labels => p.pairs_from_labels += 1,
            }
            p.items.push(Item::Pair(c, r, s));
        }
    }
}

/// A record's conversation for training, its file read once: the turns before the reply
/// (its system prompt and earlier turns when its file had them, else the question as one
/// user turn) and the reply (its file's own when it came from a chat / instruction shape,
/// else the CoT, with the final answer added when the CoT does not state it).
pub fn exchange(r: &Record) -> (Vec<Turn>, String) {
    let (ctx, reply) = match shapes::conversation(&r.meta) {
        Some((ctx, reply)) => (ctx, reply),
        None => {
            let reply = match r.answer.as_deref().map(str::trim) {
                Some(a) if !a.is_empty() && !r.cot.contains(a) => {
                    format!("{}\n\nThe answer is {a}.", r.cot.trim_end())
                }
                _ => r.cot.clone(),
            };
            (Vec::new(), reply)
        }
    };
    let ctx = if ctx.is_empty() {
        vec![Turn {
            role: "user".into(),
            content: r.question.clone(),
        }]
    } else {
        ctx.into_iter()
            .map(|(role, content)| Turn { role, content })
            .collect()
    };
    (ctx, reply)
}

/// The reply of [`exchange`].
pub fn reply(r: &Record) -> String {
    exchange(r).1
}

/// The turns before the reply, of [`exchange`].
pub fn context(r: &Record) -> Vec<Turn> {
    exchange(r).0
}

fn assistant(content: String) -> Vec<Turn> {
    vec![Turn {
        role: "assistant".into(),
        content,
    }]
}

impl Plan {
    /// Rows of the training set.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// What the rows are, in a sentence, for the dialog.
    pub fn summary(&self) -> String {
        let s = self.rows_summary();
        let l = &self.left_out;
        if l.records > 0 {
            let mut why = Vec::new();
            for (n, what) in [
                (l.duplicates, "duplicates"),
                (l.contaminated, "in the evaluation set"),
                (l.broken, "broken"),
            ] {
                if n > 0 {
                    why.push(format!("{n} {what}"));
                }
            }
            format!(
                "{s} Left out: {} labelled CoTs flagged by cleaning ({}).",
                l.records,
                why.join(", ")
            )
        } else if self.cleaned && !self.flags.is_empty() {
            format!(
                "{s} {} flagged CoTs kept; their flags column says why.",
                self.flags.len()
            )
        } else {
            s
        }
    }

    fn rows_summary(&self) -> String {
        let which = if self.options.human_only {
            "human labels".to_string()
        } else {
            format!(
                "human labels and machine labels at ≥ {:.0} %",
                self.options.min_confidence * 100.0
            )
        };
        let base = format!(
            "{} sound and {} flawed CoTs count ({} labelled by you; {which})",
            self.sound, self.flawed, self.human
        );
        match self.options.format {
            Format::Stepwise | Format::ProcessBench => {
                let spread = if self.options.human_only {
                    "your step marks only".to_string()
                } else {
                    format!(
                        "{} spread to siblings at ≥ {:.0} %",
                        self.step_spread,
                        self.options.min_confidence * 100.0
                    )
                };
                format!(
                    "{} rows: CoTs whose first wrong step is known ({} marked by you; {spread}).",
                    self.len(),
                    self.step_marks
                )
            }
            Format::SftMessages | Format::SftPromptCompletion => {
                format!("{} rows: the sound CoTs. {base}.", self.len())
            }
            Format::Kto => format!(
                "{} rows: {} desirable, {} undesirable. {base}.",
                self.len(),
                self.sound,
                self.flawed
            ),
            Format::Dpo | Format::DpoConversational => format!(
                "{} pairs over {} questions ({} from your picks, {} from labels; at most {} per \
                 question); {} questions with labels have no sound and flawed CoT both and are \
                 skipped. {base}.",
                self.len(),
                self.questions,
                self.pairs_from_picks,
                self.pairs_from_labels,
                self.options.max_pairs_per_question.max(1),
                self.questions_skipped
            ),
        }
    }

    /// Rows `range` of the training set as a table.
    pub fn table(&self, dataset: &Dataset, range: std::ops::Range<usize>) -> Table {
        let recs = dataset.records();
        let items = &self.items[range];
        let text = |f: &dyn Fn(&Item) -> String| Column::Text(items.iter().map(f).collect());
        let num = |f: &dyn Fn(&Item) -> f64| Column::Number(items.iter().map(f).collect());
        let one = |it: &Item| match *it {
            Item::One(i) => i,
            Item::Pair(c, _, _) => c,
        };
        let other = |it: &Item| match *it {
            Item::Pair(_, r, _) => r,
            Item::One(i) => i,
        };
        let prov = |i: usize| {
            self.labels
                .get(&i)
                .map_or("pick", |l| l.provenance.as_str())
                .to_string()
        };
        let conf = |i: usize| self.labels.get(&i).map_or(1.0, |l| l.confidence);
        let qid = Column::OptText(
            items
                .iter()
                .map(|it| recs[one(it)].question_id.clone())
                .collect(),
        );
        let mut t = Table::default();
        let mut add = |name: &str, c: Column| {
            t.names.push(name.to_string());
            t.columns.push(c);
        };
        let step_row = |it: &Item| &self.steps[&one(it)];
        let step_texts = |it: &Item| -> Vec<String> {
            let cot = &recs[one(it)].cot;
            step_row(it)
                .steps
                .iter()
                .map(|&(a, b)| cot[a..b].to_string())
                .collect()
        };
        match self.options.format {
            Format::Stepwise => {
                add("prompt", text(&|it| recs[one(it)].question.clone()));
                add(
                    "completions",
                    Column::TextList(items.iter().map(step_texts).collect()),
                );
                add(
                    "labels",
                    Column::BoolList(
                        items
                            .iter()
                            .map(|it| {
                                let row = step_row(it);
                                row.verdict.step_labels(row.steps.len()).unwrap_or_default()
                            })
                            .collect(),
                    ),
                );
            }
            Format::ProcessBench => {
                add("problem", text(&|it| recs[one(it)].question.clone()));
                add(
                    "steps",
                    Column::TextList(items.iter().map(step_texts).collect()),
                );
                add(
                    "label",
                    Column::Int(
                        items
                            .iter()
                            .map(|it| step_row(it).verdict.earliest_wrong().unwrap_or(-1))
                            .collect(),
                    ),
                );
            }
            Format::SftMessages => {
                add(
                    "messages",
                    Column::Turns(
                        items
                            .iter()
                            .map(|it| {
                                let r = &recs[one(it)];
                                let (mut m, reply) = exchange(r);
                                m.extend(assistant(reply));
                                m
                            })
                            .collect(),
                    ),
                );
            }
            Format::SftPromptCompletion | Format::Kto => {
                add("prompt", text(&|it| recs[one(it)].question.clone()));
                add("completion", text(&|it| reply(&recs[one(it)])));
                if self.options.format == Format::Kto {
                    add(
                        "label",
                        Column::Bool(
                            items
                                .iter()
                                .map(|it| {
                                    self.labels.get(&one(it)).map(|l| l.verdict)
                                        == Some(Verdict::Good)
                                })
                                .collect(),
                        ),
                    );
                }
            }
            Format::Dpo => {
                add("prompt", text(&|it| recs[one(it)].question.clone()));
                add("chosen", text(&|it| reply(&recs[one(it)])));
                add("rejected", text(&|it| reply(&recs[other(it)])));
            }
            Format::DpoConversational => {
                add(
                    "prompt",
                    Column::Turns(items.iter().map(|it| context(&recs[one(it)])).collect()),
                );
                add(
                    "chosen",
                    Column::Turns(
                        items
                            .iter()
                            .map(|it| assistant(reply(&recs[one(it)])))
                            .collect(),
                    ),
                );
                add(
                    "rejected",
                    Column::Turns(
                        items
                            .iter()
                            .map(|it| assistant(reply(&recs[other(it)])))
                            .collect(),
                    ),
                );
            }
        }
        if self.options.format.is_pairs() {
            add("chosen_id", text(&|it| recs[one(it)].id.clone()));
            add("rejected_id", text(&|it| recs[other(it)].id.clone()));
            add("question_id", qid);
            add(
                "pair_source",
                text(&|it| match it {
                    Item::Pair(_, _, s) => s.as_str().to_string(),
                    Item::One(_) => String::new(),
                }),
            );
            add("chosen_provenance", text(&|it| prov(one(it))));
            add("chosen_confidence", num(&|it| conf(one(it))));
            add("rejected_provenance", text(&|it| prov(other(it))));
            add("rejected_confidence", num(&|it| conf(other(it))));
        } else if self.options.format.is_steps() {
            add("id", text(&|it| recs[one(it)].id.clone()));
            add("question_id", qid);
            add(
                "provenance",
                text(&|it| {
                    if step_row(it).human {
                        "human"
                    } else {
                        "spread"
                    }
                    .to_string()
                }),
            );
            add("confidence", num(&|it| step_row(it).confidence));
        } else {
            add("id", text(&|it| recs[one(it)].id.clone()));
            add("question_id", qid);
            add("provenance", text(&|it| prov(one(it))));
            add("confidence", num(&|it| conf(one(it))));
        }
        if self.cleaned && self.options.keep_flagged {
            let why = |i: usize| self.flags.get(&i).cloned().unwrap_or_default();
            add(
                "flags",
                text(&|it| match *it {
                    Item::Pair(c, r, _) => [why(c), why(r)]
                        .into_iter()
                        .filter(|w| !w.is_empty())
                        .collect::<Vec<_>>()
                        .join(" | "),
                    Item::One(i) => why(i),
                }),
            );
        }
        t
    }

    /// The whole training set as a file (`group` rows per Parquet row group).
    pub fn write(&self, dataset: &Dataset, file_type: FileType) -> Result<Vec<u8>, String> {
        let table = self.table(dataset, 0..self.len());
        match file_type {
            FileType::Jsonl => Ok(table.to_jsonl().into_bytes()),
            FileType::Parquet => parquet::write_table(&table, ROW_GROUP),
        }
    }
}

/// Rows per Parquet row group (and per slice of the page's export).
pub const ROW_GROUP: usize = 2_000;

/// `name-dpo-2026-12-02.parquet`: the data set's name without its extension, the format,
/// the date.
pub fn file_name(dataset_name: &str, format: Format, file_type: FileType, date: &str) -> String {
    let stem = dataset_name
        .rsplit_once('.')
        .map_or(dataset_name, |(s, _)| s);
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let stem = if stem.is_empty() {
        "cotlabel".to_string()
    } else {
        stem
    };
    format!("{stem}-{}-{date}.{}", format.as_str(), file_type.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn rec(id: &str, q: &str, cot: &str) -> Record {
        Record {
            id: id.into(),
            question: q.into(),
            cot: cot.into(),
            answer: None,
            question_id: Some(q.into()),
            is_correct: None,
            meta: Default::default(),
        }
    }

    fn data() -> (Dataset, LabelStore) {
        let recs = vec![
            rec("a1", "qa", "2+2=4. The answer is 4."),
            rec("a2", "qa", "2+2=5. The answer is 5."),
            rec("a3", "qa", "2*2=4. The answer is 4."),
            rec("b1", "qb", "3+3=6."),
            rec("b2", "qb", "3+3=7."),
            rec("c1", "qc", "1+1=2."),
        ];
        let ds = Dataset::new("my data.jsonl", recs, None);
        let mut s = LabelStore::new();
        s.set_human("a1", Verdict::Good, 0);
        s.set_human("a2", Verdict::Bad, 0);
        s.set_machine(
            "a3",
            Label::machine(0.9, Provenance::Propagated, 0.5, 0, vec!["a1".into()]).unwrap(),
        );
        s.set_machine(
            "b1",
            Label::machine(0.7, Provenance::Propagated, 0.5, 0, vec![]).unwrap(),
        );
        s.set_machine(
            "b2",
            Label::machine(0.05, Provenance::Classifier, 0.5, 0, vec![]).unwrap(),
        );
        s.set_human("c1", Verdict::Good, 0);
        (ds, s)
    }

    fn rows(p: &Plan, ds: &Dataset) -> Vec<Value> {
        let t = p.table(ds, 0..p.len());
        (0..t.rows())
            .map(|i| Value::Object(t.row_json(i)))
            .collect()
    }

    #[test]
    fn flagged_rows_are_left_out_and_counted_or_kept_with_why() {
        let (ds, s) = data();
        let a1 = ds.position("a1").unwrap();
        let mut flags = std::collections::HashMap::new();
        flags.insert(
            a1,
            Flag {
                duplicate_of: Some(ds.position("a3").unwrap() as u32),
                broken: true,
                why: "duplicate of a3; broken: loop".into(),
                ..Flag::default()
            },
        );
        let o = Options::default();
        let p = plan_clean(&ds, &s, &o, Some(&flags));
        let r = rows(&p, &ds);
        let ids: Vec<&str> = r.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["a3", "c1"]);
        assert_eq!(
            p.left_out,
            LeftOut {
                records: 1,
                duplicates: 1,
                contaminated: 0,
                broken: 1
            }
        );
        assert!(p
            .summary()
            .ends_with("Left out: 1 labelled CoTs flagged by cleaning (1 duplicates, 1 broken)."));
        assert!(r[0].get("flags").is_none());
        let keep = Options {
            keep_flagged: true,
            ..Options::default()
        };
        let p = plan_clean(&ds, &s, &keep, Some(&flags));
        let r = rows(&p, &ds);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0]["flags"], "duplicate of a3; broken: loop");
        assert_eq!(r[1]["flags"], "");
        assert_eq!(p.left_out, LeftOut::default());
        // a flagged record in a pair: the pair is not made
        let dpo = plan_clean(
            &ds,
            &s,
            &Options {
                format: Format::Dpo,
                ..Options::default()
            },
            Some(&flags),
        );
        for row in rows(&dpo, &ds) {
            assert_ne!(row["chosen_id"], "a1");
            assert_ne!(row["rejected_id"], "a1");
        }
    }

    #[test]
    fn sft_keeps_the_sound_cots_that_count() {
        let (ds, s) = data();
        let human = plan(
            &ds,
            &s,
            &Options {
                human_only: true,
                ..Options::default()
            },
        );
        assert_eq!(human.len(), 2);
        let all = plan(
            &ds,
            &s,
            &Options {
                min_confidence: 0.8,
                ..Options::default()
            },
        );
        // a1, a3 (0.9), c1; b1 (0.7) is below 0.8
        let r = rows(&all, &ds);
        let ids: Vec<&str> = r.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["a1", "a3", "c1"]);
        assert_eq!(r[1]["provenance"], "propagated");
        assert_eq!(r[1]["confidence"], 0.9);
        assert_eq!(
            r[0]["messages"],
            json!([{"role": "user", "content": "qa"}, {"role": "assistant", "content": "2+2=4. The answer is 4."}])
        );
        let pc = plan(
            &ds,
            &s,
            &Options {
                format: Format::SftPromptCompletion,
                ..Options::default()
            },
        );
        assert_eq!(rows(&pc, &ds)[0]["prompt"], "qa");
        assert_eq!(rows(&pc, &ds)[0]["completion"], "2+2=4. The answer is 4.");
    }

    #[test]
    fn kto_has_both_kinds_with_bool_labels() {
        let (ds, s) = data();
        let p = plan(
            &ds,
            &s,
            &Options {
                format: Format::Kto,
                min_confidence: 0.6,
                ..Options::default()
            },
        );
        let r = rows(&p, &ds);
        let got: Vec<(&str, bool)> = r
            .iter()
            .map(|r| (r["id"].as_str().unwrap(), r["label"].as_bool().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("a1", true),
                ("a2", false),
                ("a3", true),
                ("b1", true),
                ("b2", false),
                ("c1", true)
            ]
        );
    }

    #[test]
    fn pairs_come_from_picks_then_labels_capped_and_skipping_one_sided_questions() {
        let (ds, mut s) = data();
        s.add_human_pair("qa", "a3", "a2", 0);
        let o = Options {
            format: Format::Dpo,
            min_confidence: 0.6,
            max_pairs_per_question: 2,
            ..Options::default()
        };
        let p = plan(&ds, &s, &o);
        let r = rows(&p, &ds);
        let got: Vec<(&str, &str, &str)> = r
            .iter()
            .map(|r| {
                (
                    r["chosen_id"].as_str().unwrap(),
                    r["rejected_id"].as_str().unwrap(),
                    r["pair_source"].as_str().unwrap(),
                )
            })
            .collect();
        // qa: the pick first, then (a1 human, a2 human); qb: (b1, b2); qc has no flawed CoT
        assert_eq!(
            got,
            [
                ("a3", "a2", "pick"),
                ("a1", "a2", "labels"),
                ("b1", "b2", "labels")
            ]
        );
        assert_eq!(
            (p.questions, p.questions_skipped, p.pairs_from_picks),
            (2, 1, 1)
        );
        assert_eq!(r[0]["prompt"], "qa");
        assert_eq!(r[0]["chosen"], "2*2=4. The answer is 4.");
        assert_eq!(r[2]["rejected_provenance"], "classifier");
        assert!(
            p.summary()
                .starts_with("3 pairs over 2 questions (1 from your picks"),
            "{}",
            p.summary()
        );
        let one = plan(
            &ds,
            &s,
            &Options {
                max_pairs_per_question: 1,
                ..o.clone()
            },
        );
        assert_eq!(one.len(), 2);
        let conv = plan(
            &ds,
            &s,
            &Options {
                format: Format::DpoConversational,
                ..o
            },
        );
        let r = rows(&conv, &ds);
        assert_eq!(r[0]["prompt"], json!([{"role": "user", "content": "qa"}]));
        assert_eq!(
            r[0]["chosen"],
            json!([{"role": "assistant", "content": "2*2=4. The answer is 4."}])
        );
    }

    #[test]
    fn chat_records_export_their_own_system_prompt_and_reply() {
        let mut r = rec("x", "What is 2+3?", "2 + 3 = 5");
        r.meta = json!({"messages": [
            {"role": "system", "content": "Think step by step."},
            {"role": "user", "content": "What is 2+3?"},
            {"role": "assistant", "content": "<think>2 + 3 = 5</think>\nThe answer is 5."}]})
        .as_object()
        .unwrap()
        .clone();
        let ds = Dataset::new("chat.jsonl", vec![r], None);
        let mut s = LabelStore::new();
        s.set_human("x", Verdict::Good, 0);
        let p = plan(&ds, &s, &Options::default());
        let m = &rows(&p, &ds)[0]["messages"];
        assert_eq!(
            m[0],
            json!({"role": "system", "content": "Think step by step."})
        );
        assert_eq!(
            m[2]["content"],
            "<think>2 + 3 = 5</think>\nThe answer is 5."
        );
    }

    #[test]
    fn a_separate_answer_is_added_when_the_cot_does_not_state_it() {
        let mut r = rec("x", "q", "6 * 7 = 42");
        r.answer = Some("42".into());
        assert_eq!(reply(&r), "6 * 7 = 42");
        r.answer = Some("forty-two".into());
        assert_eq!(reply(&r), "6 * 7 = 42\n\nThe answer is forty-two.");
    }

    #[test]
    fn both_file_types_hold_the_same_rows() {
        let (ds, s) = data();
        for format in Format::ALL {
            let p = plan(
                &ds,
                &s,
                &Options {
                    format,
                    min_confidence: 0.6,
                    ..Options::default()
                },
            );
            let jsonl = String::from_utf8(p.write(&ds, FileType::Jsonl).unwrap()).unwrap();
            let from_jsonl: Vec<Value> = jsonl
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let pq = p.write(&ds, FileType::Parquet).unwrap();
            let from_pq: Vec<Value> = parquet::read_objects("t.parquet", pq)
                .unwrap()
                .into_iter()
                .map(|r| r.1)
                .collect();
            assert_eq!(from_jsonl, from_pq, "{}", format.as_str());
            assert_eq!(from_jsonl.len(), p.len());
        }
        assert_eq!(
            file_name(
                "my data.jsonl",
                Format::Dpo,
                FileType::Parquet,
                "2026-12-02"
            ),
            "my-data-dpo-2026-12-02.parquet"
        );
    }
}
