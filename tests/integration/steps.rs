//! Step labels on real data (`../shared/data`; skipped with a message when absent, a
//! failure under `CI=true`).
//!
//! - **Suggestions** of the first wrong step, against the only ground truth the data has
//!   (`is_correct` of the whole CoT): the share of incorrect CoTs that get one (a recall
//!   proxy) and of correct CoTs that get one (a false-alarm rate), by reason, on GSM8K test
//!   with 4, 2 and 1 CoTs per question and on each cross-domain domain. A sample of 30
//!   suggestions on incorrect CoTs (10 per reason) is written to
//!   `target/step-suggestions.md` to be read by hand.
//! - **Spreading** on the demo: ten step marks on flawed CoTs, each checked by reading the
//!   CoT, spread to their siblings; the spread labels are written to
//!   `target/step-spread.md` to be read by hand.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::support::gsm8k;
use cotlabel::core::labels::steps::{spread_dataset, suggestions, Process, Reason};
use cotlabel::core::labels::LabelStore;
use cotlabel::core::labels::{StepMark, StepVerdict};
use cotlabel::core::Dataset;

#[derive(Default)]
struct Tally {
    correct: usize,
    incorrect: usize,
    /// CoTs with any suggestion: (correct, incorrect).
    any: (usize, usize),
    /// By reason, CoTs whose suggestions include it: (correct, incorrect).
    by_reason: BTreeMap<Reason, (usize, usize)>,
}

impl Tally {
    fn add(&mut self, ds: &Dataset, sample: &mut Vec<(Reason, String)>) {
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, r) in ds.records().iter().enumerate() {
            groups.entry(r.group_key()).or_default().push(i);
        }
        for members in groups.values() {
            let group: Vec<Process> = members
                .iter()
                .map(|&i| Process::of(&ds.records()[i]))
                .collect();
            for (at, &i) in members.iter().enumerate() {
                let r = &ds.records()[i];
                let Some(correct) = r.is_correct else {
                    continue;
                };
                let s = suggestions(&group, at);
                let bump = |x: &mut (usize, usize)| {
                    if correct {
                        x.0 += 1
                    } else {
                        x.1 += 1
                    }
                };
                if correct {
                    self.correct += 1
                } else {
                    self.incorrect += 1
                }
                if !s.is_empty() {
                    bump(&mut self.any);
                }
                for x in &s {
                    bump(self.by_reason.entry(x.reason).or_default());
                }
                // the sample to read: the first suggestion of each reason on incorrect CoTs
                if let Some(first) = s.first().filter(|_| !correct) {
                    if sample.iter().filter(|(r, _)| *r == first.reason).count() < 10 {
                        let texts = group[at].texts(&r.cot);
                        let mut t = format!(
                            "### {} — {} (answer {:?})\n\n> {}\n\nsuggested step {}: {}\n\n",
                            r.id,
                            first.reason.as_str(),
                            r.answer.as_deref().unwrap_or(""),
                            r.question,
                            first.step + 1,
                            first.why
                        );
                        for (k, step) in texts.iter().enumerate() {
                            let mark = if k == first.step { "**→**" } else { "" };
                            let _ = writeln!(t, "{}. {mark} {step}", k + 1);
                        }
                        sample.push((first.reason, t));
                    }
                }
            }
        }
    }

    fn row(&self, name: &str) -> String {
        let pct = |a: usize, n: usize| 100.0 * a as f64 / n.max(1) as f64;
        let mut out = format!(
            "| {name} | {} / {} | {:.1} % | {:.1} % |",
            self.incorrect,
            self.correct,
            pct(self.any.1, self.incorrect),
            pct(self.any.0, self.correct)
        );
        for reason in Reason::ALL {
            let (c, i) = self.by_reason.get(&reason).copied().unwrap_or_default();
            let _ = write!(
                out,
                " {:.1} / {:.1} % |",
                pct(i, self.incorrect),
                pct(c, self.correct)
            );
        }
        out
    }

    fn rate(&self) -> (f64, f64) {
        (
            self.any.1 as f64 / self.incorrect.max(1) as f64,
            self.any.0 as f64 / self.correct.max(1) as f64,
        )
    }
}

#[test]
fn first_wrong_step_suggestions_on_gsm8k_and_cross_domain() {
    let Some(dir) = gsm8k::data_dir() else { return };
    let models = gsm8k::gsm8k_models(&dir);
    let test = gsm8k::without_reference(&gsm8k::subset(&models, "test", |r| {
        gsm8k::split(r) == "test"
    }));
    let mut table = String::from(
        "| data | incorrect / correct CoTs | incorrect with a suggestion | correct with one \
         | wrong arithmetic (incorrect / correct) | leaves its agreeing siblings | answer is not the last value |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let mut sample = Vec::new();
    let mut four = Tally::default();
    four.add(&test, &mut sample);
    table += &four.row("GSM8K test, 4 per question");
    table.push('\n');
    for size in [2, 1] {
        let mut t = Tally::default();
        for seed in 1..=2 {
            t.add(&gsm8k::reshape(&test, size, seed, false), &mut Vec::new());
        }
        table += &t.row(&format!("GSM8K test, {size} per question (2 subsamples)"));
        table.push('\n');
        // without siblings only the CoT's own reasons speak: still far more often on
        // incorrect CoTs than on correct ones
        let (recall, alarm) = t.rate();
        assert!(
            recall > 2.0 * alarm,
            "{size} per question: {recall} vs {alarm}"
        );
    }
    // with the questions' reference answers: the siblings that reach it are the agreeing ones
    let test_ref = gsm8k::subset(&models, "test", |r| gsm8k::split(r) == "test");
    let mut with_ref = Tally::default();
    with_ref.add(&test_ref, &mut Vec::new());
    table += &with_ref.row("GSM8K test, 4 per question + reference");
    table.push('\n');
    // measured 2026-12-03: 48.5 % of incorrect CoTs, 2.0 % of correct ones
    let (recall, alarm) = with_ref.rate();
    assert!(
        recall > 0.4 && alarm < 0.05,
        "4 per question + reference: {recall} vs {alarm}"
    );
    for size in [2, 1] {
        let mut t = Tally::default();
        for seed in 1..=2 {
            t.add(
                &gsm8k::reshape(&test_ref, size, seed, false),
                &mut Vec::new(),
            );
        }
        table += &t.row(&format!(
            "GSM8K test, {size} per question + reference (2 subsamples)"
        ));
        table.push('\n');
    }
    let cross = gsm8k::crossdomain(&dir);
    for d in gsm8k::DOMAINS {
        let mut t = Tally::default();
        t.add(&gsm8k::domain(&cross, d), &mut Vec::new());
        table += &t.row(d);
        table.push('\n');
    }
    println!("{table}");
    let (recall, alarm) = four.rate();
    // measured 2026-12-03: 38.0 % of incorrect CoTs, 8.6 % of correct ones
    assert!(
        recall > 0.3 && alarm < 0.12 && recall > 3.0 * alarm,
        "4 per question: {recall} vs {alarm}"
    );
    let mut text = String::from("# First-wrong-step suggestions on incorrect GSM8K test CoTs\n\n");
    text += &table;
    text.push('\n');
    sample.sort_by_key(|(r, _)| *r);
    for (_, t) in &sample {
        text += t;
        text.push('\n');
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/step-suggestions.md");
    std::fs::write(&out, text).unwrap();
    println!("{} suggestions to read: {}", sample.len(), out.display());
}

/// Ten flawed demo CoTs and their first wrong step (0-based), each read and checked by
/// hand against the question (2026-12-03): e.g. 0032-6b computes the second guess as
/// 80 + 20 (it is 20 more than half of 80), 0433-175b_verification sums the four princes'
/// dragons in its last step.
const DEMO_MARKS: [(&str, usize); 10] = [
    ("gsm8k-0017-6b_finetuning", 1),
    ("gsm8k-0032-6b_finetuning", 0),
    ("gsm8k-0124-6b_finetuning", 0),
    ("gsm8k-0385-6b_verification", 0),
    ("gsm8k-0433-175b_finetuning", 0),
    ("gsm8k-0433-175b_verification", 3),
    ("gsm8k-0596-175b_verification", 0),
    ("gsm8k-0648-6b_finetuning", 0),
    ("gsm8k-0773-6b_finetuning", 0),
    ("gsm8k-1003-6b_finetuning", 0),
];

#[test]
fn ten_step_marks_spread_on_the_demo() {
    let Some(dir) = gsm8k::data_dir() else { return };
    let demo = gsm8k::demo(&dir);
    let mut store = LabelStore::new();
    for (id, k) in DEMO_MARKS {
        let r = &demo.records()[demo.position(id).expect(id)];
        assert_eq!(r.is_correct, Some(false), "{id} is a flawed CoT");
        assert!(store.set_human_step(id, StepMark::WrongAt(k), 0));
    }
    let spread = spread_dataset(&demo, &store);
    let mut ids: Vec<&String> = spread.keys().collect();
    ids.sort();
    let mut text = String::from("# Step labels spread from ten marks on the demo\n\n");
    let (mut wrong, mut fine, mut wrong_on_correct) = (0, 0, 0);
    for id in ids {
        let s = &spread[id];
        let r = &demo.records()[demo.position(id).unwrap()];
        match s.verdict {
            StepVerdict::WrongAt(_) => {
                wrong += 1;
                wrong_on_correct += usize::from(r.is_correct == Some(true));
            }
            _ => fine += 1,
        }
        let p = Process::of(r);
        let _ = writeln!(
            text,
            "### {id} (is_correct {:?}): {:?}, {:.2}, from {:?}\n",
            r.is_correct, s.verdict, s.confidence, s.from
        );
        for (k, step) in p.texts(&r.cot).iter().enumerate() {
            let _ = writeln!(text, "{}. [{}] {step}", k + 1, s.verdict.state_of(k));
        }
        text.push('\n');
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/step-spread.md");
    std::fs::write(&out, &text).unwrap();
    println!(
        "10 marks → {} siblings with a spread step label: {wrong} wrong at a step, {fine} fine \
         through a step; {wrong_on_correct} wrong-step labels on CoTs that are correct ({})",
        spread.len(),
        out.display()
    );
    // Read by hand (2026-12-03): 11 spread labels, 10 right. The two "wrong" labels on
    // CoTs whose answer is correct: 0773-175b_finetuning does take 7 − 3 hours (Sunday's 5
    // hours forgotten) and reaches 50 % by luck, so its label is right; 0433-6b_finetuning
    // computes 100/4 = 25 as a quarter on the way to 75, not as Arthur's count, so its
    // label is wrong (the same computation, in another role).
    assert_eq!((wrong, fine), (8, 3), "{text}");
    assert!(wrong_on_correct <= 2, "{text}");
}
