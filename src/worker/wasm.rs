//! The Web Workers' wire: `{request: JSON text, data: Float32Array, bytes, files}` in, a
//! reply's JSON text out (`{reply: JSON text, bytes: Uint8Array}` when values travel
//! beside it, [`WorkerReply::beside`]), and the jobs worker's message loop. Each worker
//! says `Ready` first; the page sends nothing before that.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use super::protocol::{Beside, FailReason, Job, JobsReply, Request, WorkerJob, WorkerReply};

/// Little-endian `f32`s sent as bytes, copied once into the page's memory (the
/// platforms wasm runs on are little-endian).
pub(crate) fn floats(bytes: &js_sys::Uint8Array) -> Vec<f32> {
    let n = bytes.length() as usize / 4;
    if bytes.byte_offset().is_multiple_of(4) {
        let view = js_sys::Float32Array::new_with_byte_offset_and_length(
            &bytes.buffer(),
            bytes.byte_offset(),
            n as u32,
        );
        let mut out = vec![0f32; n];
        view.copy_to(&mut out);
        out
    } else {
        bytes
            .to_vec()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    }
}

/// Sends a reply to the page; the values that travel beside it go as transferred bytes.
pub(crate) fn post<R: WorkerReply>(scope: &DedicatedWorkerGlobalScope, mut reply: R) {
    let bytes = reply.beside().map(Beside::take);
    let text = serde_json::to_string(&reply).expect("replies serialise");
    let Some(bytes) = bytes else {
        let _ = scope.post_message(&JsValue::from_str(&text));
        return;
    };
    let msg = js_sys::Object::new();
    let array = js_sys::Uint8Array::from(bytes.as_slice());
    let _ = js_sys::Reflect::set(&msg, &"reply".into(), &JsValue::from_str(&text));
    let _ = js_sys::Reflect::set(&msg, &"bytes".into(), &array);
    let _ = scope.post_message_with_transfer(&msg, &js_sys::Array::of1(&array.buffer()));
}

/// A message from the page: the request (a job of this worker's enum: another worker's
/// job is unreadable here), its numbers and (for the model worker) the
/// weights' bytes. An unreadable one comes back as the `Failed` reply to send.
pub(crate) fn read_message<J: WorkerJob + serde::de::DeserializeOwned>(
    ev: &MessageEvent,
) -> Result<(Request<J>, Vec<f32>, Vec<u8>), J::Reply> {
    let msg = ev.data();
    let get = |k: &str| js_sys::Reflect::get(&msg, &k.into()).ok();
    let data = get("data")
        .and_then(|v| v.dyn_into::<js_sys::Float32Array>().ok())
        .map(|a| a.to_vec())
        .unwrap_or_default();
    let mut bytes = get("bytes")
        .and_then(|v| v.dyn_into::<js_sys::Uint8Array>().ok())
        .map(|a| a.to_vec())
        .unwrap_or_default();
    // files to load, as blobs: read here, in the worker, one after the other
    if let Some(files) = get("files").and_then(|v| v.dyn_into::<js_sys::Array>().ok()) {
        let reader = web_sys::FileReaderSync::new().map_err(|e| {
            J::Reply::failed(
                0,
                FailReason::Error,
                format!("the worker cannot read files: {e:?}"),
            )
        })?;
        for blob in files.iter() {
            let Ok(blob) = blob.dyn_into::<web_sys::Blob>() else {
                continue;
            };
            match reader.read_as_array_buffer(&blob) {
                Ok(buf) => bytes.extend(js_sys::Uint8Array::new(&buf).to_vec()),
                Err(e) => {
                    return Err(J::Reply::failed(
                        0,
                        FailReason::Error,
                        format!("a file could not be read: {e:?}"),
                    ))
                }
            }
        }
    }
    match get("request")
        .and_then(|v| v.as_string())
        .as_deref()
        .map(serde_json::from_str)
    {
        Some(Ok(req)) => Ok((req, data, bytes)),
        other => Err(J::Reply::failed(
            0,
            FailReason::Error,
            match other {
                Some(Err(e)) => format!("unreadable request: {e}"),
                _ => "a message without a request".to_string(),
            },
        )),
    }
}

/// Installs the jobs worker's message handler and says `Ready`.
pub fn start() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let me = scope.clone();
    let mut worker = super::Worker::default();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        let (req, data, bytes) = match read_message::<Job>(&ev) {
            Ok(m) => m,
            Err(reply) => return post(&me, reply),
        };
        let id = req.id;
        let mut last = -1.0f64;
        let replies = worker.run(&req, &data, &bytes, &mut |stage, fraction| {
            // At most ~100 progress messages per job.
            if fraction - last >= 0.01 || fraction >= 1.0 {
                last = fraction;
                post(&me, JobsReply::progress(id, stage, fraction));
            }
            true
        });
        drop((data, bytes));
        for reply in replies {
            post(&me, reply);
        }
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    post(&scope, JobsReply::READY);
}
