//! Opening data: the first load (the last visit's data set, or the demo), files a person
//! drops or picks (read in the jobs worker: all of them, or on any error none), the shipped
//! demos, and "start over". The records and their signature table arrive through [`super::dataset`];
//! the labels this browser kept for them through [`super::durable`].

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::export::labelfile::LabelFile;
use crate::core::io::import::ImportPlan;
use crate::core::io::mapping::Mapping;
use crate::core::signals::signature::table::SignatureTable;
use crate::core::{Dataset, ImportError, Session};
use crate::worker::protocol::FailReason;

use super::browser::{self, PageFile};
use super::dataset::{Arrived, DataError};
use super::persist::{self, Current};
use super::state::{AppState, Unmapped, DEMO_NAME, MMLU_PRO_DEMO};

/// Name under which the mapping a records file was read through is kept with it.
const MAPPING_FILE: &str = "cotlabel-mapping.json";

impl AppState {
    /// Imports files the user picked or dropped: all of them, or (on any error) none.
    pub fn import(self, files: Vec<web_sys::File>) {
        if files.is_empty() {
            return;
        }
        match browser::read_files(files) {
            Ok(inputs) => spawn_local(self.run_import(inputs, None)),
            Err(e) => self.show_import_errors(&e),
        }
    }

    /// Imports files already read, through `mapping` when given. A records file whose
    /// fields need mapping opens the mapping step instead (nothing is imported yet).
    pub async fn run_import(self, inputs: Vec<PageFile>, mapping: Option<Mapping>) {
        self.busy.set(Some("Reading files…".into()));
        let result = self.import_inputs(&inputs, mapping.as_ref()).await;
        self.busy.set(None);
        match result {
            Ok(summary) => {
                self.errors.set(Vec::new());
                self.notice.set(Some(summary));
            }
            Err(errors) => match errors.as_slice() {
                [ImportError::Unmapped { survey, .. }] => {
                    self.errors.set(Vec::new());
                    self.notice.set(Some(format!(
                        "{}: say which field is the question and which the CoT, then import.",
                        survey.file
                    )));
                    self.unmapped.set(Some(Arc::new(Unmapped {
                        inputs,
                        survey: (**survey).clone(),
                    })));
                }
                _ => self.show_import_errors(&errors),
            },
        }
    }

    fn show_import_errors(self, errors: &[ImportError]) {
        self.errors
            .set(errors.iter().map(ImportError::to_string).collect());
        self.notice.set(Some(
            "Nothing was imported: fix the errors below and drop the files again.".into(),
        ));
    }

    async fn import_inputs(
        self,
        inputs: &[PageFile],
        mapping: Option<&Mapping>,
    ) -> Result<String, Vec<ImportError>> {
        let trouble = |message: String| vec![ImportError::Combination { message }];
        let loaded_before = self.session.with_untracked(Option::is_some);
        let base = if loaded_before {
            Some(self.held_key().await.ok_or_else(|| {
                trouble("the background worker could not take the records shown".into())
            })?)
        } else {
            None
        };
        let arrived = match self.read_in_worker(inputs, mapping, base).await {
            Ok(a) => a,
            Err(DataError::Refused(errors)) => return Err(errors),
            Err(DataError::Failed(FailReason::Cancelled, _)) => {
                return Err(trouble("the import was cancelled".into()))
            }
            Err(DataError::Failed(_, message)) => return Err(trouble(message)),
        };
        let Arrived {
            loaded,
            records,
            vectors,
            table,
        } = arrived;
        let share = loaded.share.clone();
        let mut label_files = Vec::new();
        for (name, json) in &loaded.label_files {
            label_files.push((name.clone(), LabelFile::parse(name, json)?));
        }
        let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
        let was_demo = self.is_demo.get_untracked();
        let old = self.session.with_untracked(|s| {
            s.as_ref().map(|s| {
                (
                    s.dataset.fingerprint().to_string(),
                    s.dataset.name().to_string(),
                )
            })
        });
        let old_had_labels = self.counts.get_untracked().human > 0;
        // new records (or the same ones read again) arrive whole; new embeddings for the
        // records shown are set in place
        let (dataset, in_place) = match records {
            Some(records) => (
                Some(
                    records
                        .finish(loaded.name.clone(), vectors, loaded.fingerprint.clone())
                        .ok_or_else(|| trouble("the worker sent records that do not fit".into()))?,
                ),
                None,
            ),
            None => (None, vectors.filter(|_| loaded.changed)),
        };
        // generated CoTs kept for these records join them before their labels are read
        let mut joined = 0;
        let dataset = match dataset {
            Some(ds) => {
                self.restore_judged(ds.fingerprint()).await;
                let (ds, n) = self.with_kept_generated(ds).await;
                joined = n;
                Some(ds)
            }
            None => None,
        };
        let stored = match &dataset {
            Some(ds) if Some(ds.fingerprint()) != old.as_ref().map(|o| o.0.as_str()) => {
                self.stored_labels(ds).await
            }
            _ => None,
        };
        let plan = ImportPlan {
            dataset,
            label_files,
            share: None,
            sources: loaded.sources.clone(),
            warnings: Vec::new(),
            mapping: loaded.mapping.clone(),
        };
        // The files the data came from, kept so that a reload reads them again (with the
        // mapping they were read through).
        let mut data_files: Vec<PageFile> = inputs
            .iter()
            .filter(|f| plan.sources.contains(&f.name))
            .cloned()
            .collect();
        if let Some(m) = &plan.mapping {
            data_files.push(
                PageFile::from_text(MAPPING_FILE, &m.to_json())
                    .map_err(|e| trouble(e.to_string()))?,
            );
        }
        let mut report = None;
        let mut attached = false;
        let t = browser::performance_now();
        self.session.update(|s| {
            let session = s.get_or_insert_with(|| Session::new(Dataset::new("", Vec::new(), None)));
            if let Some(v) = in_place {
                session.dataset.set_embeddings(Some(v));
                attached = true;
            }
            report = Some(session.apply(plan, stored.as_ref()));
        });
        let mut report = report.expect("applied");
        browser::measure(format_args!("apply-import"), t);
        report.new_embeddings |= attached;
        if joined == 0 {
            self.set_held(loaded.key, table);
        } else {
            self.lost_data();
            self.ensure_held(); // the worker read the records without them
        }
        let (mut summary, fp, name) = self.session.with_untracked(|s| {
            let ds = &s.as_ref().expect("applied").dataset;
            (
                report.summary(ds),
                ds.fingerprint().to_string(),
                ds.name().to_string(),
            )
        });
        if !warnings.is_empty() {
            summary.push_str(&format!(
                ". {} warning{}: {}",
                warnings.len(),
                if warnings.len() == 1 { "" } else { "s" },
                warnings.join("; ")
            ));
        }
        if report.new_records {
            self.is_demo.set(false);
            self.restored.set(None);
            self.selected.set(Some(0));
            if let Some((_, old_name)) = old.as_ref().filter(|_| old_had_labels) {
                summary.push_str(&format!(
                    ". Your labels on {old_name} stay saved in this browser: load it again to get them back"
                ));
            }
        }
        if report.reread {
            self.is_demo.set(false);
        }
        if let Some(s) = share {
            if !summary.is_empty() {
                summary.push_str(". ");
            }
            summary.push_str(&format!(
                "Opened share {} of {}: {} CoTs of {} questions; the list and Label next keep to it",
                s.share,
                s.shares,
                s.ids.len(),
                s.questions
            ));
            self.open_share(Some(s));
        }
        if report.new_records || report.reread || (report.new_embeddings && !was_demo) {
            let mut files = data_files;
            if !report.new_records && !report.reread {
                // New embeddings for the same records: keep the stored records file.
                let stored = persist::load_files(&fp)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                files.extend(
                    stored
                        .into_iter()
                        .filter(|f| f.name == name || f.name == MAPPING_FILE),
                );
            }
            let t = browser::performance_now();
            let saved = persist::save_files(&fp, &files).await;
            browser::measure(format_args!("save-files"), t);
            let saved = saved.and(
                persist::set_current(&Current {
                    fingerprint: fp.clone(),
                    name,
                    demo: false,
                })
                .await,
            );
            if let Err(e) = saved {
                self.errors.set(vec![format!(
                    "Could not keep the data in this browser: {e}"
                )]);
            }
            // The replaced data set's files are no longer needed; its labels stay.
            if let Some((old_fp, _)) = old.filter(|o| report.new_records && !was_demo && o.0 != fp)
            {
                let _ = persist::delete_files(&old_fp).await;
            }
        } else if report.new_embeddings {
            summary.push_str(" (the demo reopens with its own embeddings after a reload)");
        }
        Ok(summary + ".")
    }

    /// Labels this browser kept for these records (the journal folded in); from here on
    /// the human changes to them are journaled. What could not be read is kept aside and
    /// reported; when storage cannot be read at all, new labels are still journaled (they
    /// never overwrite anything) and the stored ones are left untouched.
    async fn stored_labels(&self, dataset: &Dataset) -> Option<LabelFile> {
        match self.durable.restore(dataset).await {
            Ok(r) => {
                if !r.problems.is_empty() {
                    self.errors.update(|v| v.extend(r.problems));
                }
                r.file
            }
            Err(e) => {
                self.durable.forget(dataset);
                self.errors.update(|v| {
                    v.push(format!("Could not read the labels saved in this browser ({e}); they are left untouched, and new labels are saved beside them"))
                });
                None
            }
        }
    }

    /// First load: the files the page's address names (`?data=…`; on another site only
    /// after the person confirms the host), else the data set of the last visit (or the demo)
    /// and its saved labels.
    pub fn start(self) {
        let linked = browser::linked_files().unwrap_or_else(|e| {
            self.errors.update(|v| v.push(e.to_string()));
            Vec::new()
        });
        let mut foreign: Vec<String> = linked.iter().filter_map(|l| l.foreign.clone()).collect();
        foreign.sort();
        foreign.dedup();
        if !linked.is_empty() && foreign.is_empty() {
            spawn_local(async move {
                if !self.open_linked(&linked).await {
                    self.open_last().await;
                }
            });
            return;
        }
        if !linked.is_empty() {
            self.link_confirm.set(Some(Arc::new((foreign, linked))));
        }
        spawn_local(self.open_last());
    }

    /// The person's answer to loading files from another site.
    pub fn answer_link(self, yes: bool) {
        let Some(pending) = self.link_confirm.get_untracked() else {
            return;
        };
        self.link_confirm.set(None);
        if yes {
            spawn_local(async move {
                // the first load (last visit or demo) finishes first, so that it does not
                // replace the linked files when it ends after them
                while self.session.with_untracked(Option::is_none)
                    && self.errors.with_untracked(Vec::is_empty)
                {
                    gloo_timers::future::TimeoutFuture::new(50).await;
                }
                self.open_linked(&pending.1).await;
            });
        } else {
            self.notice.set(Some(format!(
                "Nothing was loaded from {}.",
                pending.0.join(", ")
            )));
        }
    }

    /// Fetches the linked files and imports them as if dropped together; false (with the
    /// error shown) when one could not be fetched.
    async fn open_linked(self, linked: &[browser::Linked]) -> bool {
        let names: Vec<&str> = linked.iter().map(|l| l.name.as_str()).collect();
        self.busy
            .set(Some(format!("Loading {} from the link…", names.join(", "))));
        let mut files = Vec::with_capacity(linked.len());
        for l in linked {
            match browser::fetch_linked(l).await {
                Ok(f) => files.push(f),
                Err(e) => {
                    self.busy.set(None);
                    self.errors.update(|v| {
                        v.push(format!(
                            "Could not load {} named in the page's address: {e}",
                            l.url
                        ))
                    });
                    return false;
                }
            }
        }
        self.busy.set(None);
        self.run_import(files, None).await;
        true
    }

    /// The data set of the last visit (or the demo) and its saved labels.
    async fn open_last(self) {
        {
            self.busy.set(Some("Loading…".into()));
            let current = persist::current().await.unwrap_or_else(|e| {
                self.errors.update(|v| v.push(e.to_string()));
                None
            });
            let mut loaded = None;
            if let Some(cur) = current.as_ref().filter(|c| !c.demo) {
                match persist::load_files(&cur.fingerprint).await {
                    Ok(Some(files)) => match self.open_in_worker(&files, None).await {
                        Ok(d) => loaded = Some((d, false)),
                        Err(e) => self.errors.update(|v| {
                            v.push(format!(
                                "Could not reopen {} from this browser: {e}",
                                cur.name
                            ))
                        }),
                    },
                    Ok(None) => {}
                    Err(e) => self.errors.update(|v| v.push(e.to_string())),
                }
            }
            if loaded.is_none() {
                match self.open_demo().await {
                    Ok(d) => loaded = Some((d, true)),
                    Err(e) => self
                        .errors
                        .update(|v| v.push(format!("Could not load the demo: {e}"))),
                }
            }
            self.busy.set(None);
            let Some((opened, demo)) = loaded else {
                return;
            };
            self.show_opened(opened, demo).await;
        }
    }

    /// Shows a data set the worker opened (the last visit's, or the GSM8K demo when `demo`):
    /// its kept generated CoTs joined, its labels saved in this browser restored.
    async fn show_opened(self, opened: (Dataset, String, Option<SignatureTable>), demo: bool) {
        let (dataset, key, table) = opened;
        self.restore_judged(dataset.fingerprint()).await;
        let (dataset, joined) = self.with_kept_generated(dataset).await;
        let mut session = Session::new(dataset);
        if let Some(stored) = self.stored_labels(&session.dataset).await {
            let r = session.restore_labels(&stored);
            let c = session.labels.counts(&session.dataset);
            if r.applied > 0 {
                let when = stored
                    .exported_at
                    .map(crate::core::export::labelfile::format_time)
                    .unwrap_or_default();
                self.restored.set(Some(format!(
                    "Restored your session on {}: {} labels ({} by you), saved in this browser {}.",
                    session.dataset.name(),
                    c.good + c.bad,
                    c.human,
                    when.replace('T', " ").replace('Z', " UTC")
                )));
            }
        }
        let _ = persist::set_current(&Current {
            fingerprint: session.dataset.fingerprint().to_string(),
            name: session.dataset.name().to_string(),
            demo,
        })
        .await;
        self.is_demo.set(demo);
        self.session.set(Some(session));
        if joined == 0 {
            self.set_held(key, table);
        } else {
            self.ensure_held(); // the worker read the records without them
        }
        self.selected.set(Some(0));
    }

    /// Opens a shipped demo (`demo-choice`): `gsm8k` as on a first visit; `mmlu-pro` (MMLU-Pro
    /// test CoTs of several LLMs, 14 domains) read as a records file, so it is kept in this
    /// browser like the person's own data and a reload reopens it. Labels saved for either
    /// come back; nothing of the data set shown before is lost (its labels stay saved).
    pub fn open_demo_choice(self, which: &str) {
        match which {
            "gsm8k" => spawn_local(async move {
                self.busy.set(Some("Opening the GSM8K demo…".into()));
                let opened = self.open_demo().await;
                self.busy.set(None);
                match opened {
                    Ok(d) => {
                        self.errors.set(Vec::new());
                        self.show_opened(d, true).await;
                        self.notice.set(Some(format!("Opened the {DEMO_NAME}.")));
                    }
                    Err(e) => self
                        .errors
                        .set(vec![format!("Could not load the demo: {e}")]),
                }
            }),
            "mmlu-pro" => spawn_local(async move {
                match browser::fetch_file(MMLU_PRO_DEMO).await {
                    Ok(file) => self.run_import(vec![file], None).await,
                    Err(e) => self
                        .errors
                        .set(vec![format!("Could not load the MMLU-Pro demo: {e}")]),
                }
            }),
            _ => {}
        }
    }

    /// Deletes this data set's saved labels (and, for the user's own data, its stored files)
    /// and opens the demo fresh.
    pub fn start_over(self) {
        let Some(fp) = self
            .session
            .with_untracked(|s| s.as_ref().map(|s| s.dataset.fingerprint().to_string()))
        else {
            return;
        };
        spawn_local(async move {
            let mut result = persist::delete_labels(&fp).await;
            result = result.and(persist::delete_generated(&fp, None).await);
            result = result.and(persist::delete_judged(&fp).await);
            if !self.is_demo.get_untracked() {
                result = result.and(persist::delete_files(&fp).await);
            }
            if let Err(e) = result {
                self.errors
                    .set(vec![format!("Could not clear this browser's storage: {e}")]);
                return;
            }
            match self.open_demo().await {
                Ok((d, key, table)) => {
                    let _ = persist::delete_labels(d.fingerprint()).await;
                    let _ = persist::delete_generated(d.fingerprint(), None).await;
                    let _ = persist::delete_judged(d.fingerprint()).await;
                    self.judged.set(Arc::default());
                    self.durable.forget(&d);
                    let _ = persist::set_current(&Current {
                        fingerprint: d.fingerprint().to_string(),
                        name: d.name().to_string(),
                        demo: true,
                    })
                    .await;
                    self.is_demo.set(true);
                    self.session.set(Some(Session::new(d)));
                    self.set_held(key, table);
                    self.selected.set(Some(0));
                    self.restored.set(None);
                    self.errors.set(Vec::new());
                    self.notice
                        .set(Some("Started over: the demo with no labels.".into()));
                }
                Err(e) => self
                    .errors
                    .set(vec![format!("Could not load the demo: {e}")]),
            }
        });
    }
}

/// The question before files named by the page's address are fetched from another site.
#[component]
pub fn LinkConfirm() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        state.link_confirm.get().map(|pending| {
            let names: Vec<String> = pending.1.iter().map(|l| l.name.clone()).collect();
            view! {
                <div class="generate-confirm" role="alertdialog" data-testid="data-confirm">
                    <p>{format!(
                        "This page's address asks to load {} from {}, another site than this page's. Load them? Nothing is sent there but the request.",
                        names.join(", "),
                        pending.0.join(", ")
                    )}</p>
                    <button class="button primary" data-testid="data-confirm-yes" on:click=move |_| state.answer_link(true)>"Load"</button>
                    <button class="button" data-testid="data-confirm-no" on:click=move |_| state.answer_link(false)>"Do not load"</button>
                </div>
            }
        })
    }
}
