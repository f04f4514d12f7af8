//! The Web Worker that runs cotlabel's heavy jobs (built by Trunk as `worker.js`).

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    cotlabel::worker::wasm::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the cotlabel worker runs in a browser; see ./scripts/serve");
}
