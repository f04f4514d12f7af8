//! What survives a reload, in IndexedDB (through rexie): the data set in use, the files it
//! was read from (unless it is the shipped demo) and its labels, keyed by the records'
//! fingerprint so that labels of every data set the user worked on are kept.
//!
//! Keys of the one object store `kv`:
//! - `current`: JSON `{"fingerprint", "name", "demo"}`
//! - `files:<fingerprint>`: the records file and embeddings file as `[{name, bytes}]`
//! - `labels:<fingerprint>`: the label file (contract §2) as text
//! - `weights:<input>`: classifier weights fine-tuned in the page, `{info: JSON, bytes}`
//! - `minilm:<sha-256 of a text>`: its embedding computed on this device (`Float32Array`)

use std::cell::RefCell;
use std::rc::Rc;

use rexie::{ObjectStore, Rexie, Store, Transaction, TransactionMode};
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

use crate::core::import::InputFile;

const DB: &str = "cotlabel";
const STORE: &str = "kv";

thread_local! {
    static CONN: RefCell<Option<Rc<Rexie>>> = const { RefCell::new(None) };
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

async fn db() -> Result<Rc<Rexie>, String> {
    if let Some(db) = CONN.with(|c| c.borrow().clone()) {
        return Ok(db);
    }
    let db = Rexie::builder(DB)
        .version(1)
        .add_object_store(ObjectStore::new(STORE))
        .build()
        .await
        .map_err(|e| format!("IndexedDB is not available: {e}"))?;
    let db = Rc::new(db);
    CONN.with(|c| *c.borrow_mut() = Some(db.clone()));
    Ok(db)
}

/// A transaction on the one store, and the store.
async fn open(mode: TransactionMode) -> Result<(Transaction, Store), String> {
    let db = db().await?;
    let tx = db.transaction(&[STORE], mode).map_err(|e| e.to_string())?;
    let store = tx.store(STORE).map_err(|e| e.to_string())?;
    Ok((tx, store))
}

async fn put(key: &str, value: &JsValue) -> Result<(), String> {
    let (tx, store) = open(TransactionMode::ReadWrite).await?;
    store
        .put(value, Some(&JsValue::from_str(key)))
        .await
        .map_err(|e| e.to_string())?;
    tx.done().await.map(drop).map_err(|e| e.to_string())
}

async fn get(key: &str) -> Result<Option<JsValue>, String> {
    let (_tx, store) = open(TransactionMode::ReadOnly).await?;
    let v = store
        .get(JsValue::from_str(key))
        .await
        .map_err(|e| e.to_string())?;
    Ok(v.filter(|v| !v.is_undefined() && !v.is_null()))
}

async fn delete(key: &str) -> Result<(), String> {
    let (tx, store) = open(TransactionMode::ReadWrite).await?;
    store
        .delete(JsValue::from_str(key))
        .await
        .map_err(|e| e.to_string())?;
    tx.done().await.map(drop).map_err(|e| e.to_string())
}

/// The data set that was open last.
pub async fn current() -> Result<Option<Current>, String> {
    let Some(v) = get("current").await? else {
        return Ok(None);
    };
    let text = v.as_string().ok_or("`current` is not text")?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Records which data set is open.
pub async fn set_current(c: &Current) -> Result<(), String> {
    put(
        "current",
        &JsValue::from_str(&serde_json::to_string(c).expect("plain data")),
    )
    .await
}

/// Stores the files a data set was read from.
pub async fn save_files(fingerprint: &str, files: &[InputFile]) -> Result<(), String> {
    let arr = js_sys::Array::new();
    for f in files {
        let obj = js_sys::Object::new();
        js_sys::Reflect::set(&obj, &"name".into(), &JsValue::from_str(&f.name))
            .map_err(|e| format!("{e:?}"))?;
        let bytes = js_sys::Uint8Array::from(f.bytes.as_slice());
        js_sys::Reflect::set(&obj, &"bytes".into(), &bytes).map_err(|e| format!("{e:?}"))?;
        arr.push(&obj);
    }
    put(&format!("files:{fingerprint}"), &arr).await
}

/// The files a data set was read from, when stored.
pub async fn load_files(fingerprint: &str) -> Result<Option<Vec<InputFile>>, String> {
    let Some(v) = get(&format!("files:{fingerprint}")).await? else {
        return Ok(None);
    };
    let arr: js_sys::Array = v.dyn_into().map_err(|_| "stored files are not a list")?;
    let mut out = Vec::new();
    for item in arr.iter() {
        let name = js_sys::Reflect::get(&item, &"name".into())
            .ok()
            .and_then(|n| n.as_string());
        let bytes = js_sys::Reflect::get(&item, &"bytes".into())
            .ok()
            .and_then(|b| b.dyn_into::<js_sys::Uint8Array>().ok());
        match (name, bytes) {
            (Some(name), Some(bytes)) => out.push(InputFile::new(name, bytes.to_vec())),
            _ => return Err("a stored file is unreadable".into()),
        }
    }
    Ok(Some(out))
}

/// Deletes the stored files of a data set (its labels stay).
pub async fn delete_files(fingerprint: &str) -> Result<(), String> {
    delete(&format!("files:{fingerprint}")).await
}

/// Stores the label file of a data set.
pub async fn save_labels(fingerprint: &str, json: &str) -> Result<(), String> {
    put(&format!("labels:{fingerprint}"), &JsValue::from_str(json)).await
}

/// The stored label file of a data set.
pub async fn load_labels(fingerprint: &str) -> Result<Option<String>, String> {
    Ok(get(&format!("labels:{fingerprint}"))
        .await?
        .and_then(|v| v.as_string()))
}

/// Keeps an unreadable label file aside instead of overwriting it.
pub async fn quarantine_labels(fingerprint: &str, json: &str, now: i64) -> Result<(), String> {
    put(
        &format!("unreadable-labels:{fingerprint}:{now}"),
        &JsValue::from_str(json),
    )
    .await
}

/// Deletes the labels of a data set (start over).
pub async fn delete_labels(fingerprint: &str) -> Result<(), String> {
    delete(&format!("labels:{fingerprint}")).await
}

/// Stores fine-tuned classifier weights (`info`: their JSON description).
pub async fn save_weights(input: &str, info: &str, bytes: &[u8]) -> Result<(), String> {
    let obj = js_sys::Object::new();
    js_sys::Reflect::set(&obj, &"info".into(), &JsValue::from_str(info))
        .map_err(|e| format!("{e:?}"))?;
    js_sys::Reflect::set(&obj, &"bytes".into(), &js_sys::Uint8Array::from(bytes))
        .map_err(|e| format!("{e:?}"))?;
    put(&format!("weights:{input}"), &obj).await
}

/// Fine-tuned classifier weights, when stored: their JSON description and bytes.
pub async fn load_weights(input: &str) -> Result<Option<(String, Vec<u8>)>, String> {
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
        _ => Err("the stored classifier weights are unreadable".into()),
    }
}

/// Forgets fine-tuned weights (the shipped ones are used again).
pub async fn delete_weights(input: &str) -> Result<(), String> {
    delete(&format!("weights:{input}")).await
}

/// Embedding vectors cached under `keys` (one transaction); `None` where absent.
pub async fn load_vectors(keys: &[String]) -> Result<Vec<Option<Vec<f32>>>, String> {
    let (_tx, store) = open(TransactionMode::ReadOnly).await?;
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        let v = store
            .get(JsValue::from_str(k))
            .await
            .map_err(|e| e.to_string())?;
        out.push(
            v.and_then(|v| v.dyn_into::<js_sys::Float32Array>().ok())
                .map(|a| a.to_vec()),
        );
    }
    Ok(out)
}

/// Caches embedding vectors under their keys (one transaction).
pub async fn save_vectors(items: &[(String, &[f32])]) -> Result<(), String> {
    let (tx, store) = open(TransactionMode::ReadWrite).await?;
    for (k, v) in items {
        store
            .put(&js_sys::Float32Array::from(*v), Some(&JsValue::from_str(k)))
            .await
            .map_err(|e| e.to_string())?;
    }
    tx.done().await.map(drop).map_err(|e| e.to_string())
}
