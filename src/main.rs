//! The cotlabel page: install the panic hook and mount the app.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(cotlabel::ui::Root);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("cotlabel is a web app: run ./scripts/serve and open http://127.0.0.1:8080/");
}
