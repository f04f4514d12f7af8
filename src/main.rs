//! The cotlabel page (wasm32: install the panic hook and mount the app); built natively,
//! the `cotlabel` command line ([`cotlabel::cli`]).

/// A panic aborts the page's WebAssembly (wasm32 has no unwinding): log it, and say so on
/// the page instead of leaving it silently frozen.
#[cfg(target_arch = "wasm32")]
fn on_panic(info: &std::panic::PanicHookInfo) {
    console_error_panic_hook::hook(info);
    let text = format!(
        "cotlabel stopped: {info}. Your labels are saved in this browser: reload the page. \
         If a file you just dropped caused this, it is damaged; please report it."
    )
    .replace('&', "&amp;")
    .replace('<', "&lt;")
    .replace('>', "&gt;");
    if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
        if let (Ok(el), Some(body)) = (doc.create_element("div"), doc.body()) {
            let _ = el.set_attribute("role", "alert");
            let _ = el.set_attribute("class", "crash");
            let _ = el.set_attribute("data-testid", "error");
            el.set_inner_html(&text);
            let _ = body.prepend_with_node_1(&el);
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {
    std::panic::set_hook(Box::new(on_panic));
    leptos::mount::mount_to_body(cotlabel::ui::Root);
}

/// Natively, the same binary is the command line (`cotlabel --help`).
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(cotlabel::cli::main());
}
