pub mod gsm8k;

/// Something a test needs is absent: under `CI=true` that fails loudly (CI must measure);
/// elsewhere the test says it skips and the caller returns.
#[allow(dead_code)] // not every test binary reads optional files
pub fn absent(what: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is missing under CI=true");
    }
    eprintln!("SKIP: {what} is absent");
}
