//! The TypeScript declarations of every API view, generated from the Rust types (cargo feature
//! `ts`), so the Argo CD tab (`ui/`) reads exactly what the backend serves.
//!
//! [`files`] groups the views by route: each file declares the types its roots reach that no
//! earlier file declared, and imports the others. `core/tests/typescript.rs` compares the result
//! with `ui/src/generated/` (and rewrites it with `UPDATE_TS_TYPES=1`, i.e. `make ui-types`).
//!
//! Mapping: `Option<T>` is `T | null` (every key is always present), `usize`, `u64` and `i64` are
//! `number` (no count or age the API serves comes near 2^53), `jiff::Timestamp` is an RFC 3339
//! `string`, `serde_json::Value` is `JsonValue`.

use crate::api::{ErrorBody, ResourceQuery};
use crate::drift::view::{DriftReport, ResourceDetail};
use crate::history::view::HistoryView;
use crate::reports::view::AppReportsView;
use crate::status::StatusView;
use std::collections::{BTreeMap, BTreeSet};
use ts_rs::{Config, TS, TypeVisitor};

/// One generated file: its name under `ui/src/generated/` and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub contents: String,
}

/// A type's declaration, found by walking a root's dependencies.
struct Decl {
    name: String,
    text: String,
}

struct Collect<'a> {
    cfg: &'a Config,
    seen: BTreeSet<String>,
    out: &'a mut Vec<Decl>,
}

impl TypeVisitor for Collect<'_> {
    fn visit<T: TS + 'static + ?Sized>(&mut self) {
        // Only declared types (derived ones, `JsonValue`) have a file; primitives, `Option`,
        // `Vec` and maps are inlined and reach their own dependencies through their generics.
        if T::output_path().is_none() {
            return;
        }
        let name = T::ident(self.cfg);
        if !self.seen.insert(name.clone()) {
            return;
        }
        let docs = T::docs().unwrap_or_default();
        let text = format!("{docs}export {}", T::decl(self.cfg));
        self.out.push(Decl { name, text });
        T::visit_dependencies(self);
    }
}

fn reach<T: TS + 'static>(cfg: &Config, out: &mut Vec<Decl>) {
    let mut visitor = Collect {
        cfg,
        seen: out.iter().map(|d| d.name.clone()).collect(),
        out,
    };
    visitor.visit::<T>();
}

type Roots = fn(&Config, &mut Vec<Decl>);

/// The generated files, in a stable order, with stable contents.
pub fn files() -> Vec<File> {
    let cfg = Config::new().with_large_int("number");
    let groups: [(&str, &str, Roots); 5] = [
        ("status.ts", "GET /api/v1/status", |cfg, out| {
            reach::<StatusView>(cfg, out)
        }),
        (
            "drift.ts",
            "GET /api/v1/drift and GET /api/v1/drift/resource",
            |cfg, out| {
                reach::<DriftReport>(cfg, out);
                reach::<ResourceDetail>(cfg, out);
                reach::<ResourceQuery>(cfg, out);
            },
        ),
        ("reports.ts", "GET /api/v1/reports", |cfg, out| {
            reach::<AppReportsView>(cfg, out)
        }),
        ("history.ts", "GET /api/v1/history", |cfg, out| {
            reach::<HistoryView>(cfg, out)
        }),
        ("errors.ts", "every route's error answer", |cfg, out| {
            reach::<ErrorBody>(cfg, out)
        }),
    ];
    // Which file declares each type: the first group that reaches it.
    let mut home: BTreeMap<String, String> = BTreeMap::new();
    let mut files = Vec::new();
    for (file, routes, roots) in groups {
        let mut reached = Vec::new();
        roots(&cfg, &mut reached);
        let module = format!("./{}", file.trim_end_matches(".ts"));
        let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut decls: Vec<&Decl> = Vec::new();
        for decl in &reached {
            match home.get(&decl.name) {
                Some(other) => {
                    imports
                        .entry(other.clone())
                        .or_default()
                        .insert(decl.name.clone());
                }
                None => {
                    home.insert(decl.name.clone(), module.clone());
                    decls.push(decl);
                }
            }
        }
        decls.sort_by(|a, b| a.name.cmp(&b.name));
        let mut text = format!(
            "// Generated from the Rust types of {routes} by core/src/ts.rs.\n\
             // Do not edit: change the Rust type, then run `make ui-types`.\n"
        );
        for (module, names) in &imports {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            text.push_str(&format!(
                "import type {{ {} }} from \"{module}\";\n",
                names.join(", ")
            ));
        }
        for decl in decls {
            text.push('\n');
            text.push_str(&decl.text);
            text.push('\n');
        }
        files.push(File {
            name: file.to_string(),
            contents: text,
        });
    }
    files
}
