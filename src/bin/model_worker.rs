//! The Web Worker that runs the binary-choice classifier (burn on WebGPU or the CPU), built
//! by Trunk as `model_worker.js` and started only when the page first classifies.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    cotlabel::worker::model_wasm::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the cotlabel model worker runs in a browser; see ./scripts/serve");
}
