#![cfg_attr(feature = "fuzz-afl", allow(dead_code))]
//! Fuzzing of every parser a dropped file reaches: records (JSONL, JSON, CSV, Parquet, and
//! the training shapes inside them), embeddings (`.npy`), label files and mapping files.
//!
//! Two engines, one target function ([`run`]):
//! - `cargo afl build --release --features fuzz-afl --bin fuzz` then
//!   `cargo afl fuzz -i fuzz/corpus/<target> -o target/afl/<target> target/release/fuzz`
//!   with `COTLABEL_FUZZ=<target>`: coverage-guided (AFL++, from crates.io's `afl`).
//! - `cargo run --release --bin fuzz -- <target> <seconds>`: a mutation fuzzer with no
//!   dependency (bit flips, byte edits, splices and truncations of the seeds in
//!   `fuzz/corpus/<target>`), where AFL++ cannot build.
//!
//! Both check: no panic (the process aborts and the input is kept), no input slower than
//! [`SLOW`], and no allocation beyond the documented limit ([`limit`]: 64 MB plus 64 × the
//! input's size). `scripts/fuzz` runs every target for a given time; none of this is part of
//! the normal test run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cotlabel::core::export::labelfile::LabelFile;
use cotlabel::core::io::import::{parse_file, parse_npy, InputFile};
use cotlabel::core::io::mapping::Mapping;

/// Every target and the file name its bytes are given as.
const TARGETS: [(&str, &str); 8] = [
    ("jsonl", "f.jsonl"),
    ("json", "f.json"),
    ("csv", "f.csv"),
    ("parquet", "f.parquet"),
    ("chat", "f.jsonl"),
    ("npy", "f.npy"),
    ("labels", "f.json"),
    ("mapping", "f.json"),
];

/// An input slower than this is a finding (a hang).
const SLOW: Duration = Duration::from_secs(2);

/// The most one input may hold allocated at once: 64 MB plus 64 bytes per input byte.
fn limit(input: usize) -> usize {
    (64 << 20) + 64 * input
}

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static CAP: AtomicUsize = AtomicUsize::new(usize::MAX);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        if now > CAP.load(Ordering::Relaxed) {
            // A finding: report and abort, so AFL++ keeps the input as a crash.
            CAP.store(usize::MAX, Ordering::Relaxed);
            eprintln!("allocation beyond the limit: {now} bytes live");
            std::process::abort();
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Feeds `data` to the parser of `target`.
fn run(target: &str, data: &[u8]) {
    let name = TARGETS
        .iter()
        .find(|t| t.0 == target)
        .map_or("f.bin", |t| t.1);
    CAP.store(
        LIVE.load(Ordering::Relaxed) + limit(data.len()),
        Ordering::Relaxed,
    );
    match target {
        "npy" => drop(parse_npy(name, data)),
        "labels" => {
            if let Ok(text) = std::str::from_utf8(data) {
                drop(LabelFile::parse(name, text));
            }
        }
        "mapping" => {
            if let Ok(text) = std::str::from_utf8(data) {
                drop(Mapping::parse(name, text));
            }
        }
        _ => drop(parse_file(&InputFile::new(name, data.to_vec()))),
    }
    CAP.store(usize::MAX, Ordering::Relaxed);
}

#[cfg(feature = "fuzz-afl")]
fn main() {
    let target = std::env::var("COTLABEL_FUZZ").expect("COTLABEL_FUZZ=<target>");
    // no panic hook: a panic the parsers turn into an error (Parquet) must not abort
    afl::fuzz_nohook!(|data: &[u8]| run(&target, data));
}

/// A small xorshift generator (the fuzzer needs no quality, only speed and a seed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [&[u8]; 14] = [
    b"\0",
    b"\xff",
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"\n",
    b"NaN",
    b"-1",
    b"99999999999999999999",
    b"PAR1",
    b"\x93NUMPY",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(8) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 if !v.is_empty() => {
                let n = rng.below(16).min(v.len() - at.min(v.len()));
                v.drain(at.min(v.len())..at.min(v.len()) + n);
            }
            3 => {
                let s = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(at..at, s.iter().copied());
            }
            4 => v.truncate(at),
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let from = rng.below(other.len());
                    let n = rng.below(64).min(other.len() - from);
                    v.splice(at..at, other[from..from + n].iter().copied());
                }
            }
            6 if v.len() >= 4 => {
                // a little-endian length or offset set to something large
                let i = rng.below(v.len() - 3);
                let x = [u32::MAX, 1 << 31, 1 << 24, 0][rng.below(4)];
                v[i..i + 4].copy_from_slice(&x.to_le_bytes());
            }
            _ => {
                if !v.is_empty() {
                    let i = rng.below(v.len());
                    let b = v[i];
                    v.insert(i, b);
                }
            }
        }
    }
    v
}

#[cfg(not(feature = "fuzz-afl"))]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(target), Some(secs)) = (args.get(1), args.get(2).and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!(
            "usage: fuzz <target> <seconds>   targets: {}",
            TARGETS.map(|t| t.0).join(", ")
        );
        std::process::exit(2);
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ secs);
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/fuzz-findings")
        .join(target);
    std::fs::create_dir_all(&out).expect("target/fuzz-findings");
    let start = std::time::Instant::now();
    let (mut execs, mut slowest) = (0u64, Duration::ZERO);
    let mut peak_share = 0f64;
    while start.elapsed() < Duration::from_secs(secs) {
        let base = seeds[rng.below(seeds.len())].clone();
        let input = mutate(&mut rng, &seeds, &base);
        // the input is written before it runs, so a crash leaves it behind
        std::fs::write(out.join("current"), &input).expect("write input");
        PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
        let before = LIVE.load(Ordering::Relaxed);
        let t = std::time::Instant::now();
        let r = std::panic::catch_unwind(|| run(target, &input));
        let took = t.elapsed();
        if r.is_err() {
            let path = out.join(format!("panic-{execs}"));
            std::fs::write(&path, &input).expect("write crash");
            eprintln!("PANIC on {} ({} bytes)", path.display(), input.len());
            std::process::exit(1);
        }
        if took > SLOW {
            let path = out.join(format!("slow-{execs}"));
            std::fs::write(&path, &input).expect("write slow input");
            eprintln!("SLOW: {:?} on {}", took, path.display());
            std::process::exit(1);
        }
        slowest = slowest.max(took);
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(before);
        peak_share = peak_share.max(peak as f64 / limit(input.len()) as f64);
        execs += 1;
        // keep inputs that still parse as new seeds now and then (a crude corpus growth)
        if execs % 97 == 0 && seeds.len() < 4096 {
            seeds.push(input);
        }
    }
    println!(
        "{target}: {execs} inputs in {secs} s, no panic, slowest {:.1} ms (limit {} s), peak memory ≤ {:.1} % of the limit",
        slowest.as_secs_f64() * 1e3,
        SLOW.as_secs(),
        peak_share * 100.0
    );
}
