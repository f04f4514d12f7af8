//! The one door from the page to the worker: starts it, sends a job with its numbers
//! (transferred, not copied), hands every reply to the page, and cancels by terminating
//! the worker and starting a fresh one — so a cancelled job really stops.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, Worker};

use crate::worker::protocol::{Reply, Request};

type OnReply = Rc<dyn Fn(Reply)>;

struct Bridge {
    worker: Worker,
    ready: bool,
    /// Jobs waiting for `Ready`, in order.
    queued: Vec<(String, js_sys::Float32Array)>,
    on_reply: OnReply,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

thread_local! {
    static BRIDGE: RefCell<Option<Bridge>> = const { RefCell::new(None) };
}

fn spawn(on_reply: OnReply) -> Result<(), String> {
    let worker =
        Worker::new("./worker_loader.js").map_err(|e| format!("cannot start the worker: {e:?}"))?;
    let handler = on_reply.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        let Some(text) = ev.data().as_string() else {
            return;
        };
        let reply: Reply = match serde_json::from_str(&text) {
            Ok(r) => r,
            Err(e) => Reply::Failed {
                id: 0,
                cancelled: false,
                message: format!("unreadable worker reply: {e}"),
            },
        };
        if reply == Reply::Ready {
            let queued = BRIDGE.with(|b| {
                let mut b = b.borrow_mut();
                let b = b.as_mut()?;
                b.ready = true;
                Some((b.worker.clone(), std::mem::take(&mut b.queued)))
            });
            if let Some((worker, queued)) = queued {
                for (text, data) in queued {
                    post(&worker, &text, data);
                }
            }
            return;
        }
        handler(reply);
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    BRIDGE.with(|b| {
        *b.borrow_mut() = Some(Bridge {
            worker,
            ready: false,
            queued: Vec::new(),
            on_reply,
            _on_message: on_message,
        });
    });
    Ok(())
}

fn post(worker: &Worker, request: &str, data: js_sys::Float32Array) {
    let msg = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&msg, &"request".into(), &JsValue::from_str(request));
    let _ = js_sys::Reflect::set(&msg, &"data".into(), &data);
    let transfer = js_sys::Array::of1(&data.buffer());
    if let Err(e) = worker.post_message_with_transfer(&msg, &transfer) {
        web_sys::console::warn_1(&e);
    }
}

/// Starts the worker (once); `on_reply` gets every reply but `Ready`.
pub fn start(on_reply: impl Fn(Reply) + 'static) -> Result<(), String> {
    if BRIDGE.with(|b| b.borrow().is_some()) {
        return Ok(());
    }
    spawn(Rc::new(on_reply))
}

/// Sends a job with its matrix (row-major `rows × dim`).
pub fn submit(req: &Request, data: &[f32]) {
    let text = serde_json::to_string(req).expect("requests serialise");
    let array = js_sys::Float32Array::from(data);
    let ready = BRIDGE.with(|b| b.borrow().as_ref().map(|b| (b.ready, b.worker.clone())));
    match ready {
        Some((true, worker)) => post(&worker, &text, array),
        Some((false, _)) => BRIDGE.with(|b| {
            if let Some(b) = b.borrow_mut().as_mut() {
                b.queued.push((text, array));
            }
        }),
        None => {}
    }
}

/// Stops whatever the worker is doing: terminates it and starts a fresh one.
pub fn cancel() {
    let old = BRIDGE.with(|b| b.borrow_mut().take());
    if let Some(old) = old {
        old.worker.terminate();
        let _ = spawn(old.on_reply);
    }
}
