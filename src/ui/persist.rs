//! What survives a reload, in IndexedDB (through rexie): the data set in use, the files it
//! was read from (unless it is the shipped demo) and its labels, keyed by the records'
//! fingerprint so that labels of every data set the user worked on are kept.
//!
//! Keys of the one object store `kv`:
//! - `current`: JSON `{"fingerprint", "name", "demo"}`
//! - `files:<fingerprint>`: the records file and embeddings file as `[{name, bytes}]`
//! - `labels:<fingerprint>`: the label file (contract §2) as text: the snapshot the journal
//!   folds into ([`rewrite_labels`])
//! - `journal:<fingerprint>:<at>:<tab>:<seq>`: one human change each (`core::journal`),
//!   written when it is made ([`put_entries`]) and folded into the snapshot on load
//! - `weights:<input>`: classifier weights fine-tuned in the page, `{info: JSON, bytes}`
//! - `minilm:<sha-256 of a text>`: its embedding computed on this device (`Float32Array`)
//! - `generated:<fingerprint>:<id>`: a CoT sampled from the person's model for that data set,
//!   with its vector once computed (`core::generate::Stored`, JSON), kept as it arrives
//! - `judged:<fingerprint>:<id>`: the person's model's P(yes) for one CoT of that data set
//!   (`{"id", "p_yes"}`), kept as it arrives

use std::cell::RefCell;
use std::rc::Rc;

use rexie::{KeyRange, ObjectStore, Rexie, Store, Transaction, TransactionMode};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};

use super::browser::PageFile;
use crate::core::generate::Stored;
use crate::core::labels::journal::{Rewrite, StoredLabels};

const DB: &str = "cotlabel";
const STORE: &str = "kv";

thread_local! {
    static CONN: RefCell<Option<Rc<Rexie>>> = const { RefCell::new(None) };
    static RAW: RefCell<Option<web_sys::IdbDatabase>> = const { RefCell::new(None) };
}

/// Which data set was open when the page was last used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Current {
    /// Fingerprint of its records.
    pub fingerprint: String,
    /// Its name.
    pub name: String,
    /// Whether it is the shipped demo (then no files are stored).
    pub demo: bool,
}

/// Why this browser's storage could not do what was asked. The message is the browser's,
/// as it said it (the page shows it as it is).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StorageError {
    /// IndexedDB cannot be opened here (blocked storage, a private window of some browsers).
    #[error("IndexedDB is not available: {0}")]
    Unavailable(String),
    /// The browser refused a write for lack of room (`QuotaExceededError`).
    #[error("{0}")]
    Full(String),
    /// A read, a write or a transaction failed otherwise.
    #[error("{0}")]
    Failed(String),
    /// What is kept could not be read back as what it should be.
    #[error("{0}")]
    Unreadable(String),
}

impl StorageError {
    /// The error of a browser's message: [`Self::Full`] for a quota, else [`Self::Failed`].
    fn said(message: String) -> Self {
        if message.contains("QuotaExceeded") {
            Self::Full(message)
        } else {
            Self::Failed(message)
        }
    }
}

impl From<rexie::Error> for StorageError {
    fn from(e: rexie::Error) -> Self {
        Self::said(e.to_string())
    }
}

/// Callers that report every problem as text (the page's notices) take it as its message.
impl From<StorageError> for String {
    fn from(e: StorageError) -> Self {
        e.to_string()
    }
}

async fn db() -> Result<Rc<Rexie>, StorageError> {
    if let Some(db) = CONN.with(|c| c.borrow().clone()) {
        return Ok(db);
    }
    let db = Rexie::builder(DB)
        .version(1)
        .add_object_store(ObjectStore::new(STORE))
        .build()
        .await
        .map_err(|e| StorageError::Unavailable(e.to_string()))?;
    let db = Rc::new(db);
    CONN.with(|c| *c.borrow_mut() = Some(db.clone()));
    Ok(db)
}

/// A transaction on the one store, and the store.
async fn open(mode: TransactionMode) -> Result<(Transaction, Store), StorageError> {
    let db = db().await?;
    let tx = db.transaction(&[STORE], mode).map_err(StorageError::from)?;
    let store = tx.store(STORE).map_err(StorageError::from)?;
    Ok((tx, store))
}

async fn put(key: &str, value: &JsValue) -> Result<(), StorageError> {
    let (tx, store) = open(TransactionMode::ReadWrite).await?;
    store
        .put(value, Some(&JsValue::from_str(key)))
        .await
        .map_err(StorageError::from)?;
    tx.done().await.map(drop).map_err(StorageError::from)
}

async fn get(key: &str) -> Result<Option<JsValue>, StorageError> {
    let (_tx, store) = open(TransactionMode::ReadOnly).await?;
    let v = store
        .get(JsValue::from_str(key))
        .await
        .map_err(StorageError::from)?;
    Ok(v.filter(|v| !v.is_undefined() && !v.is_null()))
}

async fn delete(key: &str) -> Result<(), StorageError> {
    let (tx, store) = open(TransactionMode::ReadWrite).await?;
    store
        .delete(JsValue::from_str(key))
        .await
        .map_err(StorageError::from)?;
    tx.done().await.map(drop).map_err(StorageError::from)
}

/// The data set that was open last.
pub async fn current() -> Result<Option<Current>, StorageError> {
    let Some(v) = get("current").await? else {
        return Ok(None);
    };
    let text = v
        .as_string()
        .ok_or_else(|| StorageError::Unreadable("`current` is not text".into()))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| StorageError::Unreadable(format!("`current`: {e}")))
}

/// Records which data set is open.
pub async fn set_current(c: &Current) -> Result<(), StorageError> {
    put(
        "current",
        &JsValue::from_str(&serde_json::to_string(c).expect("plain data")),
    )
    .await
}

/// Stores the files a data set was read from.
pub async fn save_files(fingerprint: &str, files: &[PageFile]) -> Result<(), StorageError> {
    let arr = js_sys::Array::new();
    for f in files {
        let obj = js_sys::Object::new();
        js_sys::Reflect::set(&obj, &"name".into(), &JsValue::from_str(&f.name))
            .map_err(dom_error)?;
        // a Blob is stored by reference: no copy on the page
        js_sys::Reflect::set(&obj, &"blob".into(), &f.blob).map_err(dom_error)?;
        arr.push(&obj);
    }
    put(&format!("files:{fingerprint}"), &arr).await
}

/// The files a data set was read from, when stored (as blobs; files stored as bytes by
/// earlier versions are read too).
pub async fn load_files(fingerprint: &str) -> Result<Option<Vec<PageFile>>, StorageError> {
    let Some(v) = get(&format!("files:{fingerprint}")).await? else {
        return Ok(None);
    };
    let arr: js_sys::Array = v
        .dyn_into()
        .map_err(|_| StorageError::Unreadable("stored files are not a list".into()))?;
    let mut out = Vec::new();
    for item in arr.iter() {
        let get = |k: &str| js_sys::Reflect::get(&item, &k.into()).ok();
        let name = get("name").and_then(|n| n.as_string());
        let blob = get("blob").and_then(|b| b.dyn_into::<web_sys::Blob>().ok());
        let bytes = get("bytes").and_then(|b| b.dyn_into::<js_sys::Uint8Array>().ok());
        match (name, blob, bytes) {
            (Some(name), Some(blob), _) => out.push(PageFile { name, blob }),
            (Some(name), None, Some(bytes)) => out.push(
                PageFile::from_bytes(&name, &bytes)
                    .map_err(|e| StorageError::Unreadable(e.to_string()))?,
            ),
            _ => {
                return Err(StorageError::Unreadable(
                    "a stored file is unreadable".into(),
                ))
            }
        }
    }
    Ok(Some(out))
}

/// Deletes the stored files of a data set (its labels stay).
pub async fn delete_files(fingerprint: &str) -> Result<(), StorageError> {
    delete(&format!("files:{fingerprint}")).await
}

/// A second connection to the same database, through web-sys itself: journal writes issue
/// their requests and `commit()` in the same turn as the label key, with no round trip in
/// between, so a tab closed right after a burst of labels still stores them.
async fn raw_db() -> Result<web_sys::IdbDatabase, StorageError> {
    if let Some(db) = RAW.with(|c| c.borrow().clone()) {
        return Ok(db);
    }
    db().await?; // creates the database and its store when new
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or_else(|| StorageError::Unavailable("this window has no indexedDB".into()))?;
    let req = factory.open_with_u32(DB, 1).map_err(dom_error)?;
    let done = request_promise(&req);
    wasm_bindgen_futures::JsFuture::from(done)
        .await
        .map_err(dom_error)?;
    let db: web_sys::IdbDatabase = req.result().map_err(dom_error)?.unchecked_into();
    RAW.with(|c| *c.borrow_mut() = Some(db.clone()));
    Ok(db)
}

/// Opens the journal's connection ahead of the first label, so that even the first burst
/// of labels is written without waiting for it.
pub async fn open_journal() -> Result<(), StorageError> {
    raw_db().await.map(drop)
}

/// What a DOMException (or whatever was thrown) says, as `"QuotaExceededError: …"`; a full
/// storage is [`StorageError::Full`].
fn dom_error(e: JsValue) -> StorageError {
    StorageError::said(match e.dyn_ref::<web_sys::DomException>() {
        Some(d) => format!("{}: {}", d.name(), d.message()),
        None => e
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| e.as_string())
            .unwrap_or_else(|| format!("{e:?}")),
    })
}

/// Resolves when a request succeeds, rejects with its error.
fn request_promise(req: &web_sys::IdbRequest) -> js_sys::Promise {
    let req = req.clone();
    js_sys::Promise::new(&mut |resolve, reject| {
        let r = req.clone();
        let ok = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let fail = Closure::once_into_js(move || {
            let e = r
                .error()
                .ok()
                .flatten()
                .map(JsValue::from)
                .unwrap_or(JsValue::NULL);
            let _ = reject.call1(&JsValue::NULL, &e);
        });
        req.set_onsuccess(Some(ok.unchecked_ref()));
        req.set_onerror(Some(fail.unchecked_ref()));
    })
}

/// Writes journal entries (`(key, JSON)`) in one transaction, committed at once; resolves
/// when the browser says they are stored.
pub async fn put_entries(items: &[(String, String)]) -> Result<(), StorageError> {
    let db = raw_db().await?;
    let tx = db
        .transaction_with_str_and_mode(STORE, web_sys::IdbTransactionMode::Readwrite)
        .map_err(dom_error)?;
    let store = tx.object_store(STORE).map_err(dom_error)?;
    let done = {
        let t = tx.clone();
        js_sys::Promise::new(&mut |resolve, reject| {
            let ok = Closure::once_into_js(move || {
                let _ = resolve.call0(&JsValue::NULL);
            });
            let t2 = t.clone();
            let fail = Closure::<dyn FnMut()>::new(move || {
                let e = t2
                    .error()
                    .map(JsValue::from)
                    .unwrap_or_else(|| JsValue::from_str("the write was aborted"));
                let _ = reject.call1(&JsValue::NULL, &e);
            })
            .into_js_value();
            t.set_oncomplete(Some(ok.unchecked_ref()));
            t.set_onerror(Some(fail.unchecked_ref()));
            t.set_onabort(Some(fail.unchecked_ref()));
        })
    };
    for (k, v) in items {
        if let Err(e) = store.put_with_key(&JsValue::from_str(v), &JsValue::from_str(k)) {
            let _ = tx.abort();
            // the abort rejects `done`: wait for it, so no rejection goes unhandled
            let _ = wasm_bindgen_futures::JsFuture::from(done).await;
            return Err(dom_error(e));
        }
    }
    // web-sys marks `commit` deprecated (its WebIDL snapshot); every current browser has it
    #[allow(deprecated)]
    tx.commit().map_err(dom_error)?;
    wasm_bindgen_futures::JsFuture::from(done)
        .await
        .map(drop)
        .map_err(dom_error)
}

/// The keys of a data set's journal entries.
fn journal_range(fingerprint: &str) -> Result<KeyRange, StorageError> {
    prefix_range(&crate::core::labels::journal::key_prefix(fingerprint))
}

/// Every key that starts with `prefix`.
fn prefix_range(prefix: &str) -> Result<KeyRange, StorageError> {
    KeyRange::bound(
        &JsValue::from_str(prefix),
        &JsValue::from_str(&format!("{prefix}\u{ffff}")),
        Some(false),
        Some(false),
    )
    .map_err(|e| StorageError::said(e.to_string()))
}

/// Reads a data set's snapshot and journal, lets `f` decide, and writes what it says, all
/// in one transaction: another tab's write lands before or after it, never in between.
pub async fn rewrite_labels<T>(
    fingerprint: &str,
    now: i64,
    f: impl FnOnce(StoredLabels) -> (Option<Rewrite>, T),
) -> Result<T, StorageError> {
    let (tx, store) = open(TransactionMode::ReadWrite).await?;
    let err = StorageError::from;
    let key = format!("labels:{fingerprint}");
    let snapshot = store
        .get(JsValue::from_str(&key))
        .await
        .map_err(err)?
        .and_then(|v| v.as_string());
    let range = journal_range(fingerprint)?;
    let keys = store
        .get_all_keys(Some(range.clone()), None)
        .await
        .map_err(err)?;
    let values = store.get_all(Some(range), None).await.map_err(err)?;
    let entries = keys
        .iter()
        .zip(&values)
        .filter_map(|(k, v)| Some((k.as_string()?, v.as_string()?)))
        .collect();
    let (rewrite, out) = f(StoredLabels { snapshot, entries });
    if let Some(r) = rewrite {
        if let Some(old) = r.quarantine {
            store
                .put(
                    &JsValue::from_str(&old),
                    Some(&JsValue::from_str(&format!(
                        "unreadable-labels:{fingerprint}:{now}"
                    ))),
                )
                .await
                .map_err(err)?;
        }
        store
            .put(
                &JsValue::from_str(&r.snapshot),
                Some(&JsValue::from_str(&key)),
            )
            .await
            .map_err(err)?;
        for k in r.delete {
            store.delete(JsValue::from_str(&k)).await.map_err(err)?;
        }
    }
    tx.done().await.map_err(err)?;
    Ok(out)
}

/// Deletes the labels of a data set, snapshot and journal (start over).
pub async fn delete_labels(fingerprint: &str) -> Result<(), StorageError> {
    let (tx, store) = open(TransactionMode::ReadWrite).await?;
    let err = StorageError::from;
    store
        .delete(JsValue::from_str(&format!("labels:{fingerprint}")))
        .await
        .map_err(err)?;
    let range = journal_range(fingerprint)?;
    store.delete(range.into()).await.map_err(err)?;
    tx.done().await.map(drop).map_err(err)
}

/// Stores fine-tuned classifier weights (`info`: their JSON description).
pub async fn save_weights(input: &str, info: &str, bytes: &[u8]) -> Result<(), StorageError> {
    let obj = js_sys::Object::new();
    js_sys::Reflect::set(&obj, &"info".into(), &JsValue::from_str(info)).map_err(dom_error)?;
    js_sys::Reflect::set(&obj, &"bytes".into(), &js_sys::Uint8Array::from(bytes))
        .map_err(dom_error)?;
    put(&format!("weights:{input}"), &obj).await
}

/// Fine-tuned classifier weights, when stored: their JSON description and bytes.
pub async fn load_weights(input: &str) -> Result<Option<(String, Vec<u8>)>, StorageError> {
    let Some(v) = get(&format!("weights:{input}")).await? else {
        return Ok(None);
    };
    let info = js_sys::Reflect::get(&v, &"info".into())
        .ok()
        .and_then(|n| n.as_string());
    let bytes = js_sys::Reflect::get(&v, &"bytes".into())
        .ok()
        .and_then(|b| b.dyn_into::<js_sys::Uint8Array>().ok());
    match (info, bytes) {
        (Some(info), Some(bytes)) => Ok(Some((info, bytes.to_vec()))),
        _ => Err(StorageError::Unreadable(
            "the stored classifier weights are unreadable".into(),
        )),
    }
}

/// Forgets fine-tuned weights (the shipped ones are used again).
pub async fn delete_weights(input: &str) -> Result<(), StorageError> {
    delete(&format!("weights:{input}")).await
}

/// Embedding vectors cached under `keys` (one transaction); `None` where absent.
pub async fn load_vectors(keys: &[String]) -> Result<Vec<Option<Vec<f32>>>, StorageError> {
    let (_tx, store) = open(TransactionMode::ReadOnly).await?;
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let v = store
            .get(JsValue::from_str(k))
            .await
            .map_err(StorageError::from)?;
        out.push(
            v.and_then(|v| v.dyn_into::<js_sys::Float32Array>().ok())
                .map(|a| a.to_vec()),
        );
    }
    Ok(out)
}

/// Caches embedding vectors under their keys (one transaction).
pub async fn save_vectors(items: &[(String, &[f32])]) -> Result<(), StorageError> {
    let (tx, store) = open(TransactionMode::ReadWrite).await?;
    for (k, v) in items {
        store
            .put(&js_sys::Float32Array::from(*v), Some(&JsValue::from_str(k)))
            .await
            .map_err(StorageError::from)?;
    }
    tx.done().await.map(drop).map_err(StorageError::from)
}

/// The keys of a data set's generated CoTs (`generated:<fingerprint>:<id>`).
fn generated_range(fingerprint: &str) -> Result<KeyRange, StorageError> {
    prefix_range(&format!("generated:{fingerprint}:"))
}

/// Keeps generated CoTs of a data set (`(id, JSON)` each, [`crate::core::generate::Stored`])
/// in one transaction.
pub async fn put_generated(
    fingerprint: &str,
    items: &[(String, String)],
) -> Result<(), StorageError> {
    let keyed: Vec<(String, String)> = items
        .iter()
        .map(|(id, json)| (format!("generated:{fingerprint}:{id}"), json.clone()))
        .collect();
    put_entries(&keyed).await
}

/// Every generated CoT kept for a data set, and what could not be read (one message
/// each; those entries are left as they are).
pub async fn load_generated(fingerprint: &str) -> Result<(Vec<Stored>, Vec<String>), StorageError> {
    let (_tx, store) = open(TransactionMode::ReadOnly).await?;
    let values = store
        .get_all(Some(generated_range(fingerprint)?), None)
        .await
        .map_err(StorageError::from)?;
    let (mut kept, mut problems) = (Vec::new(), Vec::new());
    for text in values.iter().filter_map(JsValue::as_string) {
        match Stored::from_json(&text) {
            Ok(s) => kept.push(s),
            Err(e) => problems.push(e),
        }
    }
    Ok((kept, problems))
}

/// Forgets generated CoTs of a data set: those with these ids, or (`None`) all of them.
pub async fn delete_generated(
    fingerprint: &str,
    ids: Option<&[String]>,
) -> Result<(), StorageError> {
    let Some(ids) = ids else {
        return delete_range(generated_range(fingerprint)?).await;
    };
    let (tx, store) = open(TransactionMode::ReadWrite).await?;
    for id in ids {
        store
            .delete(JsValue::from_str(&format!("generated:{fingerprint}:{id}")))
            .await?;
    }
    tx.done().await.map(drop).map_err(StorageError::from)
}

/// One CoT judged by the person's model, as kept (`judged:<fingerprint>:<id>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Judged {
    id: String,
    p_yes: f32,
}

/// The keys of a data set's judge scores (`judged:<fingerprint>:<id>`).
fn judged_range(fingerprint: &str) -> Result<KeyRange, StorageError> {
    prefix_range(&format!("judged:{fingerprint}:"))
}

/// Keeps the judge's P(yes) of CoTs of a data set (`(id, P(yes))` each).
pub async fn put_judged(fingerprint: &str, items: &[(String, f32)]) -> Result<(), StorageError> {
    let keyed = items
        .iter()
        .map(|(id, p)| {
            let json = serde_json::to_string(&Judged {
                id: id.clone(),
                p_yes: *p,
            })
            .map_err(|e| StorageError::Failed(e.to_string()))?;
            Ok((format!("judged:{fingerprint}:{id}"), json))
        })
        .collect::<Result<Vec<_>, StorageError>>()?;
    put_entries(&keyed).await
}

/// The judge's P(yes) kept for a data set, by record id, and what could not be read (one
/// message each; those entries are left as they are).
pub async fn load_judged(
    fingerprint: &str,
) -> Result<(std::collections::HashMap<String, f32>, Vec<String>), StorageError> {
    let (_tx, store) = open(TransactionMode::ReadOnly).await?;
    let values = store
        .get_all(Some(judged_range(fingerprint)?), None)
        .await
        .map_err(StorageError::from)?;
    let (mut kept, mut problems) = (std::collections::HashMap::new(), Vec::new());
    for text in values.iter().filter_map(JsValue::as_string) {
        match serde_json::from_str::<Judged>(&text) {
            Ok(j) if (0.0..=1.0).contains(&j.p_yes) => {
                kept.insert(j.id, j.p_yes);
            }
            Ok(j) => problems.push(format!(
                "A kept judge score of CoT {} is not a probability ({}); it is left out.",
                j.id, j.p_yes
            )),
            Err(e) => problems.push(format!("A kept judge score could not be read: {e}")),
        }
    }
    Ok((kept, problems))
}

/// Forgets every judge score of a data set.
pub async fn delete_judged(fingerprint: &str) -> Result<(), StorageError> {
    delete_range(judged_range(fingerprint)?).await
}

/// Deletes every key in `range`, in one transaction.
async fn delete_range(range: KeyRange) -> Result<(), StorageError> {
    let (tx, store) = open(TransactionMode::ReadWrite).await?;
    store.delete(range.into()).await?;
    tx.done().await.map(drop).map_err(StorageError::from)
}
