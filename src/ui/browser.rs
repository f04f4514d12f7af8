//! Browser glue: reading dropped files, fetching the demo, downloads, the clock.
//! The only module besides `persist` that touches web-sys directly.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::core::io::import::check_size;
use crate::core::ImportError;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Milliseconds since the page opened (high resolution).
pub fn performance_now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// `2026-11-25` in UTC, for file names.
pub fn today() -> String {
    crate::core::export::labelfile::format_time(now_ms())[..10].to_string()
}

/// What the browser refused, naming the file, address or action.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrowserError {
    /// A file could not be read.
    #[error("{name}: the browser could not read the file ({why})")]
    Read {
        /// The file.
        name: String,
        /// The browser's words.
        why: String,
    },
    /// A file shipped with the page could not be fetched (network, or not 2xx).
    #[error("{url}: {why}")]
    Fetch {
        /// Its address.
        url: String,
        /// The status or the browser's words.
        why: String,
    },
    /// The browser refused to make a file, or to offer a download.
    #[error("the browser could not {what}: {why}")]
    Refused {
        /// What was asked of it.
        what: &'static str,
        /// Its words.
        why: String,
    },
}

impl From<BrowserError> for String {
    fn from(e: BrowserError) -> Self {
        e.to_string()
    }
}

fn refused(what: &'static str) -> impl Fn(JsValue) -> BrowserError {
    move |e| BrowserError::Refused {
        what,
        why: js_error(e),
    }
}

fn js_error(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

/// A file to read: its name and contents as a `Blob`. The page never reads the bytes; the
/// jobs worker does (a `Blob` crosses to it, and into IndexedDB, without a copy).
#[derive(Clone, Debug)]
pub struct PageFile {
    /// The file's name (only its extension is interpreted).
    pub name: String,
    /// Its contents.
    pub blob: web_sys::Blob,
}

impl PageFile {
    /// A file of this text.
    pub fn from_text(name: &str, text: &str) -> Result<Self, BrowserError> {
        let parts = js_sys::Array::of1(&JsValue::from_str(text));
        let blob = web_sys::Blob::new_with_str_sequence(&parts).map_err(refused("make a file"))?;
        Ok(Self {
            name: name.to_string(),
            blob,
        })
    }

    /// A file of these bytes (copied once, into the browser's blob store).
    pub fn from_bytes(name: &str, bytes: &js_sys::Uint8Array) -> Result<Self, BrowserError> {
        let parts = js_sys::Array::of1(bytes);
        let blob =
            web_sys::Blob::new_with_u8_array_sequence(&parts).map_err(refused("make a file"))?;
        Ok(Self {
            name: name.to_string(),
            blob,
        })
    }

    /// Its text (small files only: the page reads it).
    pub async fn text(&self) -> Result<String, BrowserError> {
        let read = |why: String| BrowserError::Read {
            name: self.name.clone(),
            why,
        };
        JsFuture::from(self.blob.text())
            .await
            .map_err(|e| read(js_error(e)))?
            .as_string()
            .ok_or_else(|| read("not text".into()))
    }

    /// Its size in bytes.
    pub fn size(&self) -> usize {
        self.blob.size() as usize
    }
}

/// The files the user picked or dropped, unread. A file too large to hold is refused with
/// an error naming it.
pub fn read_files(files: Vec<web_sys::File>) -> Result<Vec<PageFile>, Vec<ImportError>> {
    let errors: Vec<ImportError> = files
        .iter()
        .filter_map(|f| check_size(&f.name(), f.size() as u64).err())
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(files
        .into_iter()
        .map(|f| PageFile {
            name: f.name(),
            blob: f.into(),
        })
        .collect())
}

/// The files of a `FileList` (input or drop).
pub fn file_list(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// The response to a GET of a file shipped with the page (relative URL), when it is 2xx.
async fn fetch(url: &str) -> Result<gloo::net::http::Response, BrowserError> {
    let failed = |why: String| BrowserError::Fetch {
        url: url.to_string(),
        why,
    };
    let resp = gloo::net::http::Request::get(url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !resp.ok() {
        return Err(failed(format!("HTTP {}", resp.status())));
    }
    Ok(resp)
}

/// Fetches a file shipped with the page (relative URL).
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, BrowserError> {
    let resp = fetch(url).await?;
    resp.binary().await.map_err(|e| BrowserError::Fetch {
        url: url.to_string(),
        why: e.to_string(),
    })
}

/// Fetches a file shipped with the page (relative URL) as a file to read, unread.
pub async fn fetch_file(url: &str) -> Result<PageFile, BrowserError> {
    let resp = fetch(url).await?;
    let raw: web_sys::Response = resp.into();
    let failed = |e| BrowserError::Fetch {
        url: url.to_string(),
        why: js_error(e),
    };
    let blob = JsFuture::from(raw.blob().map_err(failed)?)
        .await
        .map_err(failed)?;
    Ok(PageFile {
        name: url.rsplit('/').next().unwrap_or(url).to_string(),
        blob: blob.unchecked_into(),
    })
}

/// A file the page's address names to open (`?data=URL&embeddings=URL&labels=URL&share=URL`;
/// `labels` may repeat), resolved against the page's address.
#[derive(Debug, Clone, PartialEq)]
pub struct Linked {
    /// The absolute address.
    pub url: String,
    /// The file's name (the address's last path segment).
    pub name: String,
    /// Its host (`host:port`) when it is not on the page's own site (scheme, host and port).
    pub foreign: Option<String>,
}

/// The files the page's address names, in the order data, embeddings, labels, share; an
/// address that does not parse is named in the error.
pub fn linked_files() -> Result<Vec<Linked>, BrowserError> {
    let Some(href) = web_sys::window().and_then(|w| w.location().href().ok()) else {
        return Ok(Vec::new());
    };
    let page = web_sys::Url::new(&href).map_err(refused("read the page's address"))?;
    let params = page.search_params();
    let mut out = Vec::new();
    for key in ["data", "embeddings", "labels", "share"] {
        for v in params.get_all(key).iter() {
            let Some(v) = v.as_string().filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let url = web_sys::Url::new_with_base(&v, &href).map_err(|_| BrowserError::Fetch {
                url: v.clone(),
                why: format!("`{key}={v}` is not an address"),
            })?;
            let name = url
                .pathname()
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty())
                .map(|n| {
                    js_sys::decode_uri_component(n).map_or_else(|_| n.to_string(), String::from)
                })
                .unwrap_or_else(|| format!("{key}.json"));
            out.push(Linked {
                url: url.href(),
                name,
                foreign: (url.origin() != page.origin()).then(|| url.host()),
            });
        }
    }
    Ok(out)
}

/// Fetches a file the page's address named, as a file to read.
pub async fn fetch_linked(l: &Linked) -> Result<PageFile, BrowserError> {
    let file = fetch_file(&l.url).await?;
    Ok(PageFile {
        name: l.name.clone(),
        blob: file.blob,
    })
}

/// Whether the page's address carries `?name` (or `&name`) — switches for tests.
pub fn query_flag(name: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .is_some_and(|q| {
            q.trim_start_matches('?')
                .split('&')
                .any(|kv| kv.split('=').next() == Some(name))
        })
}

/// The value of `name` in the page's query (`?name=value`), when given.
pub fn query_value(name: &str) -> Option<String> {
    let q = web_sys::window()?.location().search().ok()?;
    q.trim_start_matches('?').split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// Workers to embed `texts` texts with (a pool on the CPU): `?workers=N` when given, else
/// this device's cores but one, bounded by its memory (`navigator.deviceMemory`, Chromium
/// only) and by the job's size ([`crate::core::signals::embed::pool_size`]).
pub fn model_workers(texts: usize) -> usize {
    let nav = web_sys::window().map(|w| w.navigator());
    let cores = nav
        .as_ref()
        .map_or(1, |n| n.hardware_concurrency() as usize);
    let memory = nav
        .as_ref()
        .and_then(|n| js_sys::Reflect::get(n, &"deviceMemory".into()).ok())
        .and_then(|v| v.as_f64());
    let asked = query_value("workers").and_then(|v| v.parse().ok());
    crate::core::signals::embed::pool_size(texts, MINILM_BATCH, cores, memory, asked)
}

/// MiniLM's files, without their endings (copied into the site by Trunk from `weights/`).
pub const MINILM: &str = "weights/minilm";

/// Texts per batch sent through MiniLM.
pub const MINILM_BATCH: usize = 16;

/// Where models run: the CPU when the page was opened with `?cpu`, WebGPU whatever the
/// adapter with `?webgpu`, else WebGPU when the browser has a hardware adapter.
pub fn model_backend() -> crate::worker::protocol::Backend {
    if query_flag("cpu") {
        crate::worker::protocol::Backend::Cpu
    } else if query_flag("webgpu") {
        crate::worker::protocol::Backend::Gpu
    } else {
        crate::worker::protocol::Backend::Auto
    }
}

/// Offers `text` as a file download.
pub fn download(filename: &str, text: &str) -> Result<(), BrowserError> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    download_parts(filename, &parts, "application/json")
}

/// Offers text made of `parts` (written in slices) as one file download.
pub fn download_text_parts(
    filename: &str,
    parts: &[String],
    mime: &str,
) -> Result<(), BrowserError> {
    let array = js_sys::Array::new();
    for p in parts {
        array.push(&JsValue::from_str(p));
    }
    download_parts(filename, &array, mime)
}

/// Gives the event loop a turn (a zero-delay timeout): long work done in slices awaits this
/// between slices, so no task blocks the page.
pub async fn yield_now() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// A value this browser keeps for this page (localStorage), if any.
pub fn local_get(key: &str) -> Option<String> {
    web_sys::window()?
        .local_storage()
        .ok()??
        .get_item(key)
        .ok()?
}

/// Keeps a small value for this page (localStorage); a full or blocked storage is ignored
/// (what is kept there is a convenience, never the person's work).
pub fn local_set(key: &str, value: &str) {
    if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = s.set_item(key, value);
    }
}

/// Forgets a value kept with [`local_set`].
pub fn local_remove(key: &str) {
    if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = s.remove_item(key);
    }
}

/// Offers `bytes` as a file download.
pub fn download_bytes(filename: &str, bytes: &[u8]) -> Result<(), BrowserError> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    download_parts(filename, &parts, "application/octet-stream")
}

fn download_parts(filename: &str, parts: &js_sys::Array, mime: &str) -> Result<(), BrowserError> {
    let offer = refused("offer a download");
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob =
        web_sys::Blob::new_with_buffer_source_sequence_and_options(parts, &opts).map_err(&offer)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(&offer)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| offer("no document".into()))?;
    let a: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(&offer)?
        .dyn_into()
        .map_err(|_| offer("not an anchor".into()))?;
    a.set_href(&url);
    a.set_download(filename);
    a.click();
    // Revoke later: the download starts asynchronously.
    gloo::timers::callback::Timeout::new(10_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
    Ok(())
}

/// Marks a point on the page's performance timeline (read by the end-to-end test).
pub fn mark(name: &str) {
    if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
        let _ = p.mark(name);
    }
}

/// Records a span of page work that took at least 16 ms on the performance timeline
/// (`cotlabel:<what>`, from `start` = [`performance_now`] to now): the end-to-end tests
/// read these to say which step a long main-thread task was, and so can the browser's
/// profiler.
pub fn measure(what: std::fmt::Arguments, start: f64) {
    let end = performance_now();
    if end - start < 16.0 {
        return;
    }
    let Some(p) = web_sys::window().and_then(|w| w.performance()) else {
        return;
    };
    // performance.measure(name, {start, end})
    let opts = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&opts, &"start".into(), &start.into());
    let _ = js_sys::Reflect::set(&opts, &"end".into(), &end.into());
    if let Some(f) = js_sys::Reflect::get(&p, &"measure".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
    {
        let _ = f.call2(&p, &format!("cotlabel:{what}").into(), &opts);
    }
}

/// Whether keyboard shortcuts should ignore this event: a modifier is held, or the user
/// is typing in a text field or choosing in a menu (checkboxes and buttons do not count).
pub fn typing_in_field(ev: &web_sys::KeyboardEvent) -> bool {
    if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
        return true;
    }
    let Some(el) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
    else {
        return false;
    };
    match el.tag_name().as_str() {
        "TEXTAREA" | "SELECT" => true,
        "INPUT" => !matches!(
            el.get_attribute("type").unwrap_or_default().as_str(),
            "checkbox" | "radio" | "button" | "file" | "submit" | "reset"
        ),
        _ => el
            .get_attribute("contenteditable")
            .is_some_and(|v| v != "false"),
    }
}

/// Takes the focus off the control an event came from, so that the list's keys (j/k/1/2…)
/// work again after a menu choice.
pub fn release_focus(ev: &web_sys::Event) {
    if let Some(el) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = el.blur();
    }
}

/// Moves the focus to the element with this `data-testid`, when it is drawn and can take it.
pub fn focus_test_id(id: &str) {
    let el = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| {
            d.query_selector(&format!("[data-testid='{id}']"))
                .ok()
                .flatten()
        })
        .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(el) = el {
        let _ = el.focus();
    }
}

/// The element of the overlay `name` (`[data-overlay=name]`), when it is drawn.
fn overlay_element(name: &str) -> Option<web_sys::Element> {
    web_sys::window()?
        .document()?
        .query_selector(&format!("[data-overlay='{name}']"))
        .ok()
        .flatten()
}

/// The controls inside `container` that take the keyboard focus, in document order.
fn focusables(container: &web_sys::Element) -> Vec<web_sys::HtmlElement> {
    let Ok(list) = container.query_selector_all(
        "button:not([disabled]), input:not([disabled]):not([type=hidden]), \
         select:not([disabled]), textarea:not([disabled]), a[href], \
         [tabindex]:not([tabindex='-1'])",
    ) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i)?.dyn_into::<web_sys::HtmlElement>().ok())
        .collect()
}

/// Moves the focus to the first control of the overlay `name` once it is drawn (the next
/// frame: the view renders it after the signal that opens it).
pub fn focus_overlay(name: &'static str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let then = wasm_bindgen::closure::Closure::once_into_js(move || {
        if let Some(first) = overlay_element(name).and_then(|el| focusables(&el).into_iter().next())
        {
            let _ = first.focus();
        }
    });
    let _ = window.request_animation_frame(then.unchecked_ref());
}

/// Tab and Shift+Tab wrap inside the overlay `name`, so the focus never leaves it (and a
/// focus outside it is brought back in). Returns whether it moved the focus.
pub fn trap_tab(ev: &web_sys::KeyboardEvent, name: &str) -> bool {
    if ev.key() != "Tab" {
        return false;
    }
    let Some(el) = overlay_element(name) else {
        return false;
    };
    let items = focusables(&el);
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return false;
    };
    let active = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.active_element());
    let is = |x: &web_sys::HtmlElement| {
        active
            .as_ref()
            .is_some_and(|a| a == x.as_ref() as &web_sys::Element)
    };
    let inside = active.as_ref().is_some_and(|a| el.contains(Some(a)));
    let to = if !inside {
        Some(if ev.shift_key() { last } else { first })
    } else if ev.shift_key() && is(first) {
        Some(last)
    } else if !ev.shift_key() && is(last) {
        Some(first)
    } else {
        None
    };
    match to {
        Some(t) => {
            ev.prevent_default();
            let _ = t.focus();
            true
        }
        None => false,
    }
}
