//! The wire to the workers: starts them, posts a job with its numbers (transferred, not
//! copied), decodes every reply, and cancels by terminating a worker and starting a fresh
//! one — so a cancelled job really stops. Two workers: the jobs worker (holds the data
//! set: load, map, propagation; started with the page) and the model worker (burn: the
//! classifier and MiniLM; started on first use, so the page never loads burn it does not
//! need). The app's features do not use this directly: they send jobs through
//! [`super::jobs::Jobs`], which routes each reply to the job that asked.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Worker};

pub use crate::worker::protocol::WorkerKind as Kind;
use crate::worker::protocol::{Beside, FailReason, Request, WorkerJob, WorkerReply};
use crate::worker::wasm::floats;

use super::browser::BrowserError;

fn url(kind: Kind) -> &'static str {
    match kind {
        Kind::Jobs => "./worker_loader.js",
        Kind::Model => "./model_worker_loader.js",
    }
}

type Queued = (
    String,
    js_sys::Float32Array,
    Option<js_sys::Uint8Array>,
    Option<js_sys::Array>,
);

struct Bridge {
    kind: Kind,
    worker: Worker,
    ready: bool,
    /// Jobs waiting for `Ready`, in order.
    queued: Vec<Queued>,
    /// Starts a fresh worker of this kind with the same reply handler (a cancel).
    respawn: Rc<dyn Fn() -> Result<(), BrowserError>>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

thread_local! {
    static BRIDGES: RefCell<Vec<Bridge>> = const { RefCell::new(Vec::new()) };
}

fn with_bridge<T>(kind: Kind, f: impl FnOnce(&mut Bridge) -> T) -> Option<T> {
    BRIDGES.with(|b| b.borrow_mut().iter_mut().find(|b| b.kind == kind).map(f))
}

/// Decodes a worker's message: JSON text, or `{reply: JSON text, bytes: Uint8Array}` when
/// values travel beside it. `None`: not a reply at all.
fn decode<R: WorkerReply>(data: &JsValue) -> Option<R> {
    let (text, bytes) = match data.as_string() {
        Some(text) => (text, None),
        None => {
            let get = |k: &str| js_sys::Reflect::get(data, &k.into()).ok();
            let text = get("reply").and_then(|v| v.as_string())?;
            let bytes = get("bytes").and_then(|v| v.dyn_into::<js_sys::Uint8Array>().ok());
            (text, bytes)
        }
    };
    let mut reply: R = match serde_json::from_str(&text) {
        Ok(r) => r,
        Err(e) => {
            return Some(R::failed(
                0,
                FailReason::Error,
                format!("unreadable worker reply: {e}"),
            ))
        }
    };
    let (Some(bytes), id) = (bytes, reply.id()) else {
        return Some(reply);
    };
    let put = match reply.beside() {
        // numbers are copied once, straight into the page's memory
        Some(Beside::Floats(v)) => {
            *v = floats(&bytes);
            Ok(())
        }
        Some(place) => place.put(bytes.to_vec()),
        None => Ok(()),
    };
    Some(match put {
        Ok(()) => reply,
        Err(message) => R::failed(id, FailReason::Error, message),
    })
}

fn spawn<R: WorkerReply>(kind: Kind, on_reply: Rc<dyn Fn(R)>) -> Result<(), BrowserError> {
    let worker = Worker::new(url(kind)).map_err(|e| BrowserError::Refused {
        what: "start the worker",
        why: format!("{e:?}"),
    })?;
    let handler = on_reply.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        let t = super::browser::performance_now();
        let Some(reply) = decode::<R>(&ev.data()) else {
            return;
        };
        if reply == R::READY {
            let queued = with_bridge(kind, |b| {
                b.ready = true;
                (b.worker.clone(), std::mem::take(&mut b.queued))
            });
            if let Some((worker, queued)) = queued {
                for (text, data, bytes, files) in queued {
                    post(&worker, &text, data, bytes, files);
                }
            }
            return;
        }
        let what = reply.kind();
        super::browser::measure(format_args!("reply-decode:{what}"), t);
        let t = super::browser::performance_now();
        handler(reply);
        super::browser::measure(format_args!("reply:{what}"), t);
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    BRIDGES.with(|b| {
        b.borrow_mut().push(Bridge {
            kind,
            worker,
            ready: false,
            queued: Vec::new(),
            respawn: Rc::new(move || spawn(kind, on_reply.clone())),
            _on_message: on_message,
        });
    });
    Ok(())
}

fn post(
    worker: &Worker,
    request: &str,
    data: js_sys::Float32Array,
    bytes: Option<js_sys::Uint8Array>,
    files: Option<js_sys::Array>,
) {
    let msg = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&msg, &"request".into(), &JsValue::from_str(request));
    let _ = js_sys::Reflect::set(&msg, &"data".into(), &data);
    if let Some(files) = files {
        // blobs cross by reference: the worker reads them
        let _ = js_sys::Reflect::set(&msg, &"files".into(), &files);
    }
    let transfer = js_sys::Array::of1(&data.buffer());
    if let Some(bytes) = bytes {
        let _ = js_sys::Reflect::set(&msg, &"bytes".into(), &bytes);
        transfer.push(&bytes.buffer());
    }
    if let Err(e) = worker.post_message_with_transfer(&msg, &transfer) {
        web_sys::console::warn_1(&e);
    }
}

/// Starts the worker that runs jobs of type `J` (once); `on_reply` gets every reply but
/// `Ready`.
pub fn start<J: WorkerJob>(on_reply: impl Fn(J::Reply) + 'static) -> Result<(), BrowserError> {
    if with_bridge(J::WORKER, |_| ()).is_some() {
        return Ok(());
    }
    spawn::<J::Reply>(J::WORKER, Rc::new(on_reply))
}

/// Sends a job, with its numbers (`req.rows × req.dim`, row-major), bytes (the model's
/// weights, records) and blobs the worker reads itself (files to load), to the worker that
/// runs jobs of its kind.
pub fn submit<J: WorkerJob>(
    req: &Request<J>,
    data: &[f32],
    bytes: Option<&[u8]>,
    files: Option<js_sys::Array>,
) {
    let kind = J::WORKER;
    let text = serde_json::to_string(req).expect("requests serialise");
    let array = js_sys::Float32Array::from(data);
    let bytes = bytes.map(js_sys::Uint8Array::from);
    let ready = with_bridge(kind, |b| (b.ready, b.worker.clone()));
    match ready {
        Some((true, worker)) => post(&worker, &text, array, bytes, files),
        Some((false, _)) => {
            with_bridge(kind, |b| b.queued.push((text, array, bytes, files)));
        }
        None => {}
    }
}

/// Stops whatever one worker is doing: terminates it and starts a fresh one. The other
/// worker carries on.
pub fn cancel(kind: Kind) {
    let old = BRIDGES.with(|b| {
        let mut b = b.borrow_mut();
        let (stop, keep): (Vec<Bridge>, Vec<Bridge>) = std::mem::take(&mut *b)
            .into_iter()
            .partition(|x| x.kind == kind);
        *b = keep;
        stop
    });
    for b in old {
        b.worker.terminate();
        let _ = (b.respawn)();
    }
}
