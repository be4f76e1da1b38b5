//! The module graph has no cycles: in `core/src` and `backend/src`, no two sibling modules use
//! each other, directly or round a longer loop. A child using its ancestors is how Rust modules
//! work and does not count; `#[cfg(test)]` modules do not count.
//!
//! Edges are read from the source (`crate::…` and `super::…` paths, `use` lists included) and
//! lifted to the siblings under the two modules' nearest common ancestor, so `index` using
//! `history::Turn` and `history::writer` using `index::AppIndex` is the cycle `index ↔ history`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles that exist and are being removed by the rooms that own them; the test fails when one
/// is gone (take it off) or a new one appears.
const KNOWN: &[(&str, &str)] = &[];

type Module = Vec<String>;

fn modules(root: &Path, krate: &str) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path: PathBuf = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(root).unwrap();
            let mut parts: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            match parts.last().map(String::as_str) {
                Some("lib") if parts.len() == 1 => parts.clear(),
                Some("main") if parts.len() == 1 => continue,
                Some("mod") => {
                    parts.pop();
                }
                _ => {}
            }
            let mut module = vec![krate.to_string()];
            module.extend(parts);
            let text = std::fs::read_to_string(&path).unwrap();
            // Comments aside (docs name modules they do not use).
            let text: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            // Test modules aside.
            let text = match text.find("#[cfg(test)]\nmod tests") {
                Some(at) => text[..at].to_string(),
                None => text,
            };
            out.insert(module, text);
        }
    }
    out
}

/// Every path a module's text names: `crate::a::b`, `super::a`, and the entries of `use …::{…}`.
fn paths(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    for anchor in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(anchor) {
            let start = from + i;
            from = start + anchor.len();
            // Not part of a longer identifier (`drift_core::…` is another crate).
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let base = anchor.trim_end_matches("::").to_string();
            let mut supers = vec![base.clone()];
            let mut rest = &text[from..];
            while let Some(r) = rest.strip_prefix("super::") {
                supers.push("super".into());
                rest = r;
            }
            let head = supers.join("::");
            if let Some(list) = rest.strip_prefix('{') {
                for entry in top_level_entries(list) {
                    out.push((head.clone(), segments(entry.trim())));
                }
            } else {
                out.push((head, segments(rest)));
            }
        }
    }
    out
}

/// The comma-separated entries of a `{…}` list (its opening brace already taken), nested lists
/// kept whole.
fn top_level_entries(list: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in list.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                out.push(&list[start..i]);
                return out;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out
}

fn segments(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for seg in s.split("::") {
        let ident: String = seg
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            break;
        }
        let whole = ident.len() == seg.len();
        out.push(ident);
        if !whole {
            break;
        }
    }
    out
}

fn edges(mods: &BTreeMap<Module, String>) -> BTreeSet<(Module, Module)> {
    let mut out = BTreeSet::new();
    for (module, text) in mods {
        for (head, segs) in paths(text) {
            let mut target: Module = if head.starts_with("crate") {
                vec![module[0].clone()]
            } else {
                let ups = head.split("::").count();
                if ups > module.len() - 1 {
                    continue;
                }
                module[..module.len() - ups].to_vec()
            };
            // The longest prefix that is a module.
            let mut best = target.clone();
            for seg in segs {
                target.push(seg);
                if mods.contains_key(&target) {
                    best = target.clone();
                } else {
                    break;
                }
            }
            out.insert((module.clone(), best));
        }
    }
    out
}

/// The edge between the two siblings under the nearest common ancestor, unless one module is
/// the other's ancestor.
fn lift(a: &Module, b: &Module) -> Option<(Module, Module)> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if common == a.len() || common == b.len() {
        return None;
    }
    Some((a[..=common].to_vec(), b[..=common].to_vec()))
}

fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> BTreeSet<(String, String)> {
    // A pair is in a cycle when each reaches the other.
    let reach = |from: &Module| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(m) = stack.pop() {
            for next in graph.get(&m).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let mut out = BTreeSet::new();
    for (a, outs) in graph {
        for b in outs {
            if reach(b).contains(a) {
                let (x, y) = (a.join("::"), b.join("::"));
                out.insert(if x < y { (x, y) } else { (y, x) });
            }
        }
    }
    out
}

#[test]
fn no_two_modules_use_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = BTreeSet::new();
    for (dir, krate) in [("core/src", "drift_core"), ("backend/src", "argocd_drift")] {
        let mods = modules(&root.join(dir), krate);
        let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (a, b) in edges(&mods) {
            if let Some((a, b)) = lift(&a, &b) {
                graph.entry(a).or_default().insert(b);
            }
        }
        found.extend(cycles(&graph));
    }
    let known: BTreeSet<(String, String)> = KNOWN
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(new.is_empty(), "modules that use each other: {new:?}");
    assert!(
        gone.is_empty(),
        "no longer cycles, take them off KNOWN: {gone:?}"
    );
}

#[test]
fn the_reader_sees_the_paths_a_module_names() {
    let text = "use crate::index::{AppIndex, Turn};\nuse super::super::state::Pending;\n\
                fn f() { crate::clock::now(); }\nuse crate::{a::{b, x}, c};";
    let found = paths(text);
    assert!(found.contains(&("crate".into(), vec!["index".into()])));
    assert!(found.contains(&("crate".into(), vec!["a".into()])));
    assert!(!found.contains(&("crate".into(), vec!["x".into()])));
    assert!(found.contains(&(
        "super::super".into(),
        vec!["state".into(), "Pending".into()]
    )));
    assert!(found.contains(&("crate".into(), vec!["clock".into(), "now".into()])));
    assert!(found.contains(&("crate".into(), vec!["c".into()])));
    assert_eq!(
        lift(
            &vec!["k".into(), "index".into()],
            &vec!["k".into(), "history".into(), "writer".into()]
        ),
        Some((
            vec!["k".into(), "index".into()],
            vec!["k".into(), "history".into()]
        ))
    );
    assert_eq!(
        lift(
            &vec!["k".into(), "history".into(), "state".into()],
            &vec!["k".into(), "history".into()]
        ),
        None
    );
}
