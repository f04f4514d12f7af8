//! The house plan, checked: no import cycle between the modules of `core`.
//!
//! Each file of `src/core` is a module (`mod.rs` its folder). Every path a file names —
//! `crate::core::…`, `super::…`, in `use` lines and in code, brace groups expanded — is
//! resolved to the module that holds it (an item re-exported by a `mod.rs`, by name or by
//! `*`, to the module it comes from). A cycle in that graph fails the test, naming its
//! modules. Comments are not read (a doc link is not a dependency), nor the `#[cfg(test)]`
//! modules inside a file (a test of propagation may pick labels the way `select` does).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module: its path below `core` (`["io", "import"]`; `[]` is core itself).
type Module = Vec<String>;

struct Tree {
    /// Every module, with its source.
    modules: BTreeMap<Module, String>,
    /// Items a `mod.rs` re-exports by name: (module, item) → the module it comes from.
    named: BTreeMap<(Module, String), Module>,
    /// Modules a `mod.rs` re-exports whole (`pub use x::*`): module → the children.
    globbed: BTreeMap<Module, Vec<Module>>,
}

fn read(dir: &Path, at: &Module, out: &mut BTreeMap<Module, String>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("src/core is readable")
        .map(|e| e.expect("an entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() {
            let mut m = at.clone();
            m.push(name);
            read(&p, &m, out);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            let mut m = at.clone();
            if stem != "mod" {
                m.push(stem.to_string());
            }
            out.insert(m, std::fs::read_to_string(&p).expect("a source file"));
        }
    }
}

/// The source without comments, string literals kept as they are.
fn code(src: &str) -> String {
    src.lines()
        .map(|l| match l.find("//") {
            // a `//` inside a string literal ("http://…") is not a comment
            Some(i) if l[..i].matches('"').count() % 2 == 0 => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path after `start` in `text`, brace groups expanded: `a::{b, c::d}` → `[a, b]`,
/// `[a, c, d]`.
fn expand(text: &str) -> Vec<Vec<String>> {
    fn group(s: &[char], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        let mut path = prefix;
        let mut word = String::new();
        while *i < s.len() {
            let c = s[*i];
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
                *i += 1;
            } else if c == ':' && s.get(*i + 1) == Some(&':') {
                path.push(std::mem::take(&mut word));
                *i += 2;
                if s.get(*i) == Some(&'{') {
                    *i += 1;
                    loop {
                        while *i < s.len() && s[*i].is_whitespace() {
                            *i += 1;
                        }
                        if *i >= s.len() || s[*i] == '}' {
                            *i += 1;
                            return;
                        }
                        group(s, i, path.clone(), out);
                        while *i < s.len() && (s[*i].is_whitespace() || s[*i] == ',') {
                            *i += 1;
                        }
                        if *i < s.len() && s[*i] == '}' {
                            *i += 1;
                            return;
                        }
                    }
                }
            } else {
                break;
            }
        }
        if !word.is_empty() {
            path.push(word);
        }
        // stop at the end of this element (`as x`, `,`, `}`)
        while *i < s.len() && !matches!(s[*i], ',' | '}' | ';') && !s[*i].is_whitespace() {
            *i += 1;
        }
        out.push(path);
    }
    let s: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    group(&s, &mut i, Vec::new(), &mut out);
    out
}

impl Tree {
    fn load() -> Self {
        let mut modules = BTreeMap::new();
        read(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/core"),
            &Vec::new(),
            &mut modules,
        );
        let mut named = BTreeMap::new();
        let mut globbed: BTreeMap<Module, Vec<Module>> = BTreeMap::new();
        for (m, src) in &modules {
            for l in code(src).lines() {
                let Some(rest) = l.trim().strip_prefix("pub use ") else {
                    continue;
                };
                // `pub use child::*;`: every item of the child
                if let Some(child) = rest.trim().strip_suffix("::*;") {
                    let mut at = m.clone();
                    at.extend(child.split("::").map(str::to_string));
                    globbed.entry(m.clone()).or_default().push(at);
                    continue;
                }
                for p in expand(rest.trim_end_matches(';')) {
                    let (item, from) = p.split_last().expect("a path");
                    let mut at = m.clone();
                    at.extend(from.iter().cloned());
                    named.insert((m.clone(), item.clone()), at);
                }
            }
        }
        Tree {
            modules,
            named,
            globbed,
        }
    }

    /// The module that holds what `path` (below core) names.
    fn resolve(&self, path: &[String]) -> Option<Module> {
        let mut at: Module = Vec::new();
        for seg in path {
            let mut next = at.clone();
            next.push(seg.clone());
            if self.modules.contains_key(&next) {
                at = next;
                continue;
            }
            if let Some(from) = self.named.get(&(at.clone(), seg.clone())) {
                return Some(self.deepest(from));
            }
            if let Some(children) = self.globbed.get(&at) {
                // an item of a module re-exported whole: the child that declares it
                for c in children {
                    if self.modules.get(c).is_some_and(|src| declares(src, seg)) {
                        return Some(c.clone());
                    }
                }
            }
            return Some(at);
        }
        Some(at)
    }

    fn deepest(&self, m: &Module) -> Module {
        let mut m = m.clone();
        while !self.modules.contains_key(&m) && !m.is_empty() {
            m.pop();
        }
        m
    }

    /// The modules `m` depends on.
    fn edges(&self, m: &Module) -> BTreeSet<Module> {
        let src = code(&self.modules[m]);
        let mut out = BTreeSet::new();
        // inline modules (`mod tests {`) deepen what `super` means
        let mut depth = 0i64;
        let mut inline: Vec<i64> = Vec::new();
        let (mut cfg_test, mut test_at): (bool, Option<i64>) = (false, None);
        for l in src.lines() {
            let t = l.trim_start();
            let opens = (t.starts_with("mod ")
                || t.starts_with("pub mod ")
                || t.starts_with("pub(crate) mod "))
                && t.trim_end().ends_with('{');
            if t.starts_with("#[cfg(test)]") || t.starts_with("#[cfg(all(test") {
                cfg_test = true;
            }
            if opens && cfg_test && test_at.is_none() {
                test_at = Some(depth);
            }
            if !opens && !t.starts_with("#[") && !t.is_empty() {
                cfg_test = false;
            }
            let in_test = test_at.is_some();
            for (i, _) in l.match_indices("crate::core::").filter(|_| !in_test) {
                let before = l[..i].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                for p in expand(&l[i + "crate::core::".len()..]) {
                    if let Some(to) = self.resolve(&p) {
                        out.insert(to);
                    }
                }
            }
            for (i, _) in l.match_indices("super::").filter(|_| !in_test) {
                let before = l[..i].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                let mut rest = &l[i..];
                let mut ups = 0usize;
                while let Some(r) = rest.strip_prefix("super::") {
                    ups += 1;
                    rest = r;
                }
                let inner = inline.len();
                if ups <= inner {
                    continue; // the file itself
                }
                // `super` is the module above (a file's folder; a mod.rs's parent folder)
                let mut base = m.clone();
                for _ in 0..ups - inner {
                    base.pop();
                }
                for p in expand(rest) {
                    let mut full = base.clone();
                    full.extend(p);
                    if let Some(to) = self.resolve(&full) {
                        out.insert(to);
                    }
                }
            }
            if opens {
                inline.push(depth);
            }
            depth += l.matches('{').count() as i64 - l.matches('}').count() as i64;
            while inline.last().is_some_and(|&d| depth <= d) {
                inline.pop();
            }
            if test_at.is_some_and(|d| depth <= d) {
                test_at = None;
            }
        }
        out.remove(m);
        // a folder's mod.rs names its children (its table of contents), and they it: not a
        // dependency either way
        out.retain(|to| !(to.len() < m.len() && m.starts_with(to) && self.is_toc(to)));
        if self.is_toc(m) {
            out.retain(|to| !(to.len() > m.len() && to.starts_with(m)));
        }
        out
    }

    /// A `mod.rs` that only declares and re-exports.
    fn is_toc(&self, m: &Module) -> bool {
        let is_folder = self
            .modules
            .keys()
            .any(|k| k.len() > m.len() && k.starts_with(m));
        is_folder
            && !m.is_empty()
            && code(&self.modules[m]).lines().all(|l| {
                let t = l.trim();
                t.is_empty()
                    || t.starts_with("pub mod ")
                    || t.starts_with("mod ")
                    || t.starts_with("pub use ")
                    || t.starts_with("#[")
            })
    }
}

/// Whether `src` declares `name` at its top (a fn, type, const, static, trait or module).
fn declares(src: &str, name: &str) -> bool {
    code(src).lines().any(|l| {
        let t = l.trim_start();
        let t = t
            .strip_prefix("pub ")
            .or_else(|| t.strip_prefix("pub(crate) "))
            .unwrap_or(t);
        [
            "fn ", "struct ", "enum ", "const ", "static ", "trait ", "type ", "mod ",
        ]
        .iter()
        .any(|k| {
            t.strip_prefix(k).is_some_and(|r| {
                r.starts_with(name)
                    && !r[name.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            })
        })
    })
}

/// The cycles of a graph: its strongly connected components of more than one module.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    // Tarjan
    struct S<'a> {
        g: &'a BTreeMap<Module, BTreeSet<Module>>,
        index: BTreeMap<Module, usize>,
        low: BTreeMap<Module, usize>,
        stack: Vec<Module>,
        on: BTreeSet<Module>,
        next: usize,
        out: Vec<Vec<Module>>,
    }
    fn visit(s: &mut S, v: &Module) {
        s.index.insert(v.clone(), s.next);
        s.low.insert(v.clone(), s.next);
        s.next += 1;
        s.stack.push(v.clone());
        s.on.insert(v.clone());
        for w in s.g.get(v).into_iter().flatten() {
            if !s.g.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let l = s.low[v].min(s.low[w]);
                s.low.insert(v.clone(), l);
            } else if s.on.contains(w) {
                let l = s.low[v].min(s.index[w]);
                s.low.insert(v.clone(), l);
            }
        }
        if s.low[v] == s.index[v] {
            let mut c = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(&w);
                let done = &w == v;
                c.push(w);
                if done {
                    break;
                }
            }
            if c.len() > 1 {
                c.sort();
                s.out.push(c);
            }
        }
    }
    let mut s = S {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "core".into()
    } else {
        format!("core::{}", m.join("::"))
    }
}

#[test]
fn paths_expand_and_resolve() {
    assert_eq!(
        expand("io::{import::{plan_import, InputFile}, error::ImportError};"),
        vec![
            vec!["io", "import", "plan_import"],
            vec!["io", "import", "InputFile"],
            vec!["io", "error", "ImportError"],
        ]
    );
    assert_eq!(expand("data::Dataset;"), vec![vec!["data", "Dataset"]]);
    let t = Tree::load();
    let r = |p: &str| {
        name(
            &t.resolve(&p.split("::").map(str::to_string).collect::<Vec<_>>())
                .unwrap(),
        )
    };
    assert_eq!(r("io::import::plan_import"), "core::io::import");
    // re-exported whole by a mod.rs: the child that declares it
    assert_eq!(r("labels::LabelStore"), "core::labels::store");
    assert_eq!(r("data::Dataset"), "core::data::records");
    // re-exported by name by core
    assert_eq!(r("Session"), "core::labels::session");
    assert!(declares("pub fn knn(x: u8) {}", "knn") && !declares("pub fn knn2() {}", "knn"));
    let g: BTreeMap<Module, BTreeSet<Module>> = [
        (
            vec!["a".to_string()],
            [vec!["b".to_string()]].into_iter().collect(),
        ),
        (
            vec!["b".to_string()],
            [vec!["a".to_string()]].into_iter().collect(),
        ),
        (
            vec!["c".to_string()],
            [vec!["a".to_string()]].into_iter().collect(),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        cycles(&g),
        vec![vec![vec!["a".to_string()], vec!["b".to_string()]]]
    );
}

#[test]
fn core_has_no_import_cycle() {
    let t = Tree::load();
    let graph: BTreeMap<Module, BTreeSet<Module>> =
        t.modules.keys().map(|m| (m.clone(), t.edges(m))).collect();
    let found = cycles(&graph);
    let said: Vec<String> = found
        .iter()
        .map(|c| {
            let names: Vec<String> = c.iter().map(name).collect();
            let edges: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    graph[a]
                        .iter()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("{} -> {}", name(a), name(b)))
                })
                .collect();
            format!("{} ({})", names.join(", "), edges.join("; "))
        })
        .collect();
    assert!(
        found.is_empty(),
        "import cycles in core: {}",
        said.join(" | ")
    );
    // the check sees the dependencies it is meant to see
    assert!(graph[&vec!["io".to_string(), "import".to_string()]]
        .contains(&vec!["io".to_string(), "error".to_string()]));
}
