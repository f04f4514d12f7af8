//! Labels that cannot be lost: every human change is written to IndexedDB as its own
//! journal entry the moment it is made (`core::journal`), sent to the other tabs on the same
//! data set (a `BroadcastChannel`), and merged there by time. A write that fails (quota,
//! private mode, a blocked database) is shown at once; the label stays in this tab and the
//! write is retried every few seconds, on the next label, and when the page is hidden.
//! The journal is folded into the stored label file on load and a few seconds after the
//! labels stop changing (the machine labels are kept with it).

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::core::labels::journal::{fold, Entry, Folded, Journal};
use crate::core::labels::LabelStore;
use crate::core::{Dataset, Session};

use super::browser::now_ms;
use super::persist;

/// The channel tabs announce label changes on.
const CHANNEL: &str = "cotlabel-labels";
/// Seconds between retries of a failed write.
const RETRY_SECS: u32 = 5;
/// Quiet milliseconds after the last change before the journal is folded into the snapshot.
const COMPACT_AFTER_MS: u32 = 4000;
/// Journal entries this tab wrote past which a quiet moment folds them in even when no
/// machine label changed (folding rewrites the whole label file: not after every label).
const COMPACT_ENTRIES: usize = 200;

/// Whether labels are safely stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveState {
    /// Nothing written yet in this page view.
    Idle,
    /// Writes in flight.
    Saving(u32),
    /// Everything written.
    Saved,
    /// A write failed: the labels not stored, and why.
    Failed {
        /// Human changes held in this tab only.
        unsaved: usize,
        /// The browser's reason.
        reason: String,
    },
}

#[derive(Default)]
struct Inner {
    /// The data set the journal belongs to, and the journal.
    journal: Option<(String, Journal)>,
    /// Entries not stored yet (failed writes), as `(key, JSON)`.
    pending: Vec<(String, String)>,
    /// Entries from other tabs that arrived before this tab's session had their data set.
    held: Vec<Entry>,
    in_flight: u32,
    /// Entries written since the last fold.
    unfolded: usize,
    /// Whether machine labels changed since the last fold.
    machine_changed: bool,
    retry: Option<gloo::timers::callback::Timeout>,
    compact: Option<gloo::timers::callback::Timeout>,
    channel: Option<web_sys::BroadcastChannel>,
}

/// The label-saving service of the page (`Copy`; provided as context).
#[derive(Clone, Copy)]
pub struct Durable {
    session: RwSignal<Option<Session>>,
    /// Shown in the toolbar.
    pub save: RwSignal<SaveState>,
    inner: StoredValue<Rc<RefCell<Inner>>, LocalStorage>,
    tab: u32,
}

impl Durable {
    /// The service over the page's session; starts listening to other tabs and to the page
    /// being hidden, and writes every human change from now on.
    pub fn new(session: RwSignal<Option<Session>>) -> Self {
        let tab = (js_sys::Math::random() * f64::from(u32::MAX)) as u32 | 1;
        let this = Self {
            session,
            save: RwSignal::new(SaveState::Idle),
            inner: StoredValue::new_local(Rc::new(RefCell::new(Inner::default()))),
            tab,
        };
        this.listen();
        this.track();
        request_persistence();
        // the journal's connection, open before the first label (a failure here shows on
        // the first write, which opens it again)
        spawn_local(async {
            let _ = persist::open_journal().await;
        });
        this
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let inner = self.inner.get_value();
        let mut guard = inner.borrow_mut();
        f(&mut guard)
    }

    /// Reads what storage holds for `dataset` (snapshot and journal), folds the journal in
    /// and writes the result back in the same transaction; from then on this tab's human
    /// changes to `dataset` are journaled against it. An unreadable snapshot is kept aside.
    pub async fn restore(self, dataset: &Dataset) -> Result<Folded, String> {
        let fp = dataset.fingerprint().to_string();
        let now = now_ms();
        let restored =
            persist::rewrite_labels(&fp, now, |stored| fold(dataset, stored, None, now, false))
                .await?;
        let base = match &restored.file {
            Some(f) => crate::core::labels::session::restored(f, dataset).0,
            None => LabelStore::new(),
        };
        let journal = Journal::new(self.tab, &base);
        self.with(|i| {
            i.journal = Some((fp.clone(), journal));
            i.held.clear();
        });
        Ok(restored)
    }

    /// Starts a data set with no stored labels (after "start over").
    pub fn forget(self, dataset: &Dataset) {
        let fp = dataset.fingerprint().to_string();
        let journal = Journal::new(self.tab, &LabelStore::new());
        self.with(|i| i.journal = Some((fp, journal)));
    }

    /// After every change to the session: journal the human changes, announce them, store
    /// them; and fold the journal into the snapshot once changes stop.
    fn track(self) {
        Effect::new(move |_| {
            let entries = self.session.with(|s| {
                let s = s.as_ref()?;
                let fp = s.dataset.fingerprint();
                self.with(|i| {
                    let (jfp, journal) = i.journal.as_mut()?;
                    if jfp != fp {
                        return None;
                    }
                    Some((fp.to_string(), journal.record(&s.labels, now_ms())))
                })
            });
            let Some((fp, entries)) = entries else { return };
            // entries from other tabs that came in before this data set was shown
            let held = self.with(|i| std::mem::take(&mut i.held));
            if !held.is_empty() {
                self.take_remote(&fp, held);
            }
            let fold = self.with(|i| {
                // a change that is no human change is a machine one (propagation, classifier)
                i.machine_changed |= entries.is_empty();
                i.unfolded += entries.len();
                i.machine_changed || i.unfolded > COMPACT_ENTRIES
            });
            if !entries.is_empty() {
                self.announce(&fp, &entries);
                self.with(|i| {
                    i.pending
                        .extend(entries.iter().map(|e| (e.key(&fp), e.to_json())))
                });
                self.flush();
            }
            if fold {
                self.schedule_compaction();
            }
        });
    }

    /// Writes every pending entry now, in one transaction per call (writes are not queued
    /// behind each other, so a burst of labels is on its way before the tab can close).
    pub fn flush(self) {
        let batch = self.with(|i| std::mem::take(&mut i.pending));
        if batch.is_empty() {
            return;
        }
        self.with(|i| i.in_flight += 1);
        self.save.update(|s| {
            if !matches!(s, SaveState::Failed { .. }) {
                *s = SaveState::Saving(self.with(|i| i.in_flight));
            }
        });
        spawn_local(async move {
            let result = persist::put_entries(&batch).await;
            let (in_flight, unsaved) = self.with(|i| {
                i.in_flight -= 1;
                if result.is_err() {
                    let later = std::mem::take(&mut i.pending);
                    i.pending = batch;
                    i.pending.extend(later);
                }
                (i.in_flight, i.pending.len())
            });
            match result {
                Err(reason) => {
                    self.save.set(SaveState::Failed {
                        unsaved,
                        reason: reason.to_string(),
                    });
                    self.schedule_retry();
                }
                Ok(()) if unsaved == 0 && in_flight == 0 => self.save.set(SaveState::Saved),
                Ok(()) if unsaved > 0 => self.flush(),
                Ok(()) => {}
            }
        });
    }

    fn schedule_retry(self) {
        let t = gloo::timers::callback::Timeout::new(RETRY_SECS * 1000, move || self.flush());
        self.with(|i| i.retry = Some(t));
    }

    /// Sends entries to the other tabs.
    fn announce(self, fp: &str, entries: &[Entry]) {
        let msg = serde_json::json!({
            "fingerprint": fp,
            "entries": entries.iter().map(Entry::to_json).collect::<Vec<_>>(),
        })
        .to_string();
        self.with(|i| {
            if let Some(c) = &i.channel {
                let _ = c.post_message(&JsValue::from_str(&msg));
            }
        });
    }

    /// Applies entries another tab made (they stored them).
    fn take_remote(self, fp: &str, entries: Vec<Entry>) {
        let current = self
            .session
            .with_untracked(|s| s.as_ref().map(|s| s.dataset.fingerprint() == fp));
        if current != Some(true) {
            self.with(|i| {
                if i.journal.as_ref().is_some_and(|(j, _)| j == fp) {
                    i.held.extend(entries);
                }
            });
            return;
        }
        let mut changed = 0;
        self.session.update_untracked(|s| {
            if let Some(s) = s {
                self.with(|i| {
                    if let Some((jfp, journal)) = i.journal.as_mut().filter(|(j, _)| j == fp) {
                        debug_assert_eq!(jfp, fp);
                        changed = journal.apply(&mut s.labels, &entries);
                    }
                })
            }
        });
        if changed > 0 {
            self.session.notify();
        }
    }

    fn listen(self) {
        if let Ok(channel) = web_sys::BroadcastChannel::new(CHANNEL) {
            let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |ev: web_sys::MessageEvent| {
                    let Some(text) = ev.data().as_string() else {
                        return;
                    };
                    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                        return;
                    };
                    let Some(fp) = v["fingerprint"].as_str() else {
                        return;
                    };
                    let entries: Vec<Entry> = v["entries"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|e| e.as_str().and_then(|t| Entry::parse(t).ok()))
                        .collect();
                    self.take_remote(fp, entries);
                },
            );
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            on_message.forget();
            self.with(|i| i.channel = Some(channel));
        }
        // Leaving the page: anything not yet stored goes out now.
        let on_hide = Closure::<dyn FnMut()>::new(move || self.flush());
        if let Some(w) = web_sys::window() {
            let f = on_hide.as_ref().unchecked_ref();
            let _ = w.add_event_listener_with_callback("pagehide", f);
            if let Some(d) = w.document() {
                let _ = d.add_event_listener_with_callback("visibilitychange", f);
            }
        }
        on_hide.forget();
    }

    /// Folds the journal into the snapshot once the labels have been quiet for a while.
    fn schedule_compaction(self) {
        let t = gloo::timers::callback::Timeout::new(COMPACT_AFTER_MS, move || {
            spawn_local(async move { self.compact().await })
        });
        self.with(|i| i.compact = Some(t));
    }

    async fn compact(self) {
        let Some(fp) = self.with(|i| {
            i.machine_changed = false;
            i.unfolded = 0;
            i.journal.as_ref().map(|(fp, _)| fp.clone())
        }) else {
            return;
        };
        let now = now_ms();
        let session = self.session;
        let result = persist::rewrite_labels(&fp, now, |stored| {
            session.with_untracked(|s| match s {
                Some(s) if s.dataset.fingerprint() == fp => {
                    let (rewrite, _) = fold(&s.dataset, stored, Some(&s.labels), now, true);
                    (rewrite, ())
                }
                _ => (None, ()),
            })
        })
        .await;
        if let Err(reason) = result {
            let unsaved = self.with(|i| i.pending.len());
            if unsaved > 0 {
                self.save.set(SaveState::Failed {
                    unsaved,
                    reason: reason.to_string(),
                });
            }
        }
    }
}

/// Asks the browser to keep this site's storage under pressure (`navigator.storage.persist()`).
fn request_persistence() {
    let Some(w) = web_sys::window() else { return };
    let Ok(storage) = js_sys::Reflect::get(&w.navigator(), &"storage".into()) else {
        return;
    };
    let Ok(storage) = storage.dyn_into::<web_sys::StorageManager>() else {
        return;
    };
    if let Ok(p) = storage.persist() {
        spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(p).await;
        });
    }
}
