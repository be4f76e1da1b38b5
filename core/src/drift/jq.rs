//! `jqPathExpressions` (ARGOCD-DIFF.md §2.2), with jaq instead of gojq.
//!
//! Argo CD wraps each expression as `del(<expr>)`, compiles it once, runs it under a timeout
//! (1 s by default) and skips the rule when it fails to parse, errors, yields other than one
//! output, or times out. Here the expression is compiled as `path(<expr>)`; its outputs are the
//! paths `del` would remove, which the engine removes itself. That keeps the same answer and gives
//! the engine a point between outputs to stop.
//!
//! **Time limit.** The crate has no clock, so the caller passes a [`JqBudget`]: it is asked before
//! each expression runs and between the paths it yields, and a `true` answer stops the expression
//! (reported as over budget; the rule is skipped). A single step cannot loop for long, because
//! only a terminating subset of jq is accepted ([`check_subset`]): no user `def`s (no recursion),
//! none of `range`, `repeat`, `while`, `until`, `limit`, `recurse(f)`, `input`, `env`, `$ENV`,
//! `now`, no string repetition (`*`), no `@format`, and at most one `..`. Within that subset a step
//! is at worst a pass over the object. The backend still runs each inspection under a hard timeout
//! of its own (its budget closure reads the deadline), as defence in depth.
//!
//! An expression outside the subset is reported on the resource as unsupported, never a panic or a
//! 500. Runtime error messages are not passed on (they can quote object values, and an object may
//! be a Secret): the report says only that the expression failed.

use super::path::{Path, Seg};
use jaq_core::load::parse::{BinaryOp, Pattern, Term};
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Asked before an expression runs and between its outputs; `true` = stop now.
pub trait JqBudget {
    fn exhausted(&mut self) -> bool;
}

impl<F: FnMut() -> bool> JqBudget for F {
    fn exhausted(&mut self) -> bool {
        self()
    }
}

/// A budget that never runs out (tests; callers that enforce time outside).
pub struct Unlimited;

impl JqBudget for Unlimited {
    fn exhausted(&mut self) -> bool {
        false
    }
}

/// Why an expression was skipped. Messages never quote object values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JqError {
    /// The text is not one jq expression.
    #[error("does not parse as a jq expression")]
    Parse,
    /// Outside the subset the engine runs (see the module docs).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// jaq rejected it while compiling (e.g. an unknown function).
    #[error("does not compile: {0}")]
    Compile(String),
    /// The expression failed on this object (the message is not repeated: it may quote values).
    #[error("failed on this object")]
    Runtime,
    /// A path the engine cannot delete (a slice, a negative index out of range).
    #[error("yields a path that cannot be deleted")]
    BadPath,
    #[error("yields more than {MAX_PATHS} paths")]
    TooManyPaths,
    /// The caller's budget ran out.
    #[error("exceeded its time budget")]
    OverBudget,
}

pub const MAX_EXPRESSION_LEN: usize = 2048;
/// The deepest nesting of brackets in one expression.
pub const MAX_NESTING: usize = 32;
/// The most operator characters (`|`, `,`, comparisons, arithmetic, `?`, `:`) in one expression.
pub const MAX_OPERATORS: usize = 128;
pub const MAX_PATHS: usize = 10_000;

type Filter = jaq_core::Filter<data::JustLut<Val>>;

/// Compiled expressions, by text. Compile once, use for every resource.
#[derive(Default)]
pub struct JqCache {
    compiled: Mutex<HashMap<String, Result<Arc<Filter>, JqError>>>,
}

impl std::fmt::Debug for JqCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.compiled.lock().map(|m| m.len()).unwrap_or(0);
        write!(f, "JqCache({n} expressions)")
    }
}

impl JqCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Compiles (or finds) `expr`.
    fn get(&self, expr: &str) -> Result<Arc<Filter>, JqError> {
        if let Ok(map) = self.compiled.lock()
            && let Some(hit) = map.get(expr)
        {
            return hit.clone();
        }
        let result = compile(expr).map(Arc::new);
        if let Ok(mut map) = self.compiled.lock() {
            map.insert(expr.to_string(), result.clone());
        }
        result
    }

    /// The paths `del(<expr>)` would delete from `input`, checking `budget` between outputs.
    pub fn paths(
        &self,
        expr: &str,
        input: &Value,
        budget: &mut dyn JqBudget,
    ) -> Result<Vec<Path>, JqError> {
        let filter = self.get(expr)?;
        if budget.exhausted() {
            return Err(JqError::OverBudget);
        }
        let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
        let mut out = Vec::new();
        for item in filter.id.run((ctx, to_val(input))).map(unwrap_valr) {
            let val = item.map_err(|_| JqError::Runtime)?;
            out.push(to_path(&val, input).ok_or(JqError::BadPath)?);
            if out.len() > MAX_PATHS {
                return Err(JqError::TooManyPaths);
            }
            if budget.exhausted() {
                return Err(JqError::OverBudget);
            }
        }
        Ok(out)
    }
}

fn compile(expr: &str) -> Result<Filter, JqError> {
    if expr.len() > MAX_EXPRESSION_LEN {
        return Err(JqError::Unsupported(format!(
            "longer than {MAX_EXPRESSION_LEN} bytes"
        )));
    }
    // Parsing, checking and compiling recurse once per level of the expression's tree: a program
    // nested deep enough (`------…`, `a==b==c…` two thousand times) overflows a thread's stack and
    // aborts the process (found by fuzzing). Bound the tree from the text, conservatively.
    let (mut depth, mut deepest, mut operators) = (0usize, 0usize, 0usize);
    for c in expr.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '|' | ',' | '=' | '<' | '>' | '!' | '+' | '-' | '*' | '/' | '%' | '?' | ':' => {
                operators += 1
            }
            _ => {}
        }
    }
    if deepest > MAX_NESTING || operators > MAX_OPERATORS {
        return Err(JqError::Unsupported(format!(
            "nested deeper than {MAX_NESTING} brackets or with more than {MAX_OPERATORS} operators"
        )));
    }
    let code = format!("path({expr})");
    // Parse on our own first: the text must be exactly `path(<one term>)` (no `.a), (.b`), and
    // the term must be in the terminating subset.
    let term: Term<&str> = jaq_core::load::parse(&code, |p| p.term()).ok_or(JqError::Parse)?;
    match &term {
        Term::Call("path", args) if args.len() == 1 => {
            let mut st = Subset::default();
            check_subset(&args[0], &mut st).map_err(JqError::Unsupported)?;
        }
        _ => return Err(JqError::Parse),
    }
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(
            &arena,
            File {
                code: code.as_str(),
                path: (),
            },
        )
        .map_err(|_| JqError::Parse)?;
    Compiler::default()
        .with_funs(natives())
        .compile(modules)
        .map_err(|errs| {
            let names: Vec<String> = errs
                .iter()
                .flat_map(|(_, es)| es.iter().map(|(name, _)| name.to_string()))
                .collect();
            JqError::Compile(format!("undefined: {}", names.join(", ")))
        })
}

/// jaq's natives, minus those that read the clock, the environment or stdin: replaced by ones
/// that fail, so the standard definitions that mention them still compile.
fn natives() -> impl Iterator<Item = jaq_core::native::Fun<data::JustLut<Val>>> {
    use jaq_core::native::{bome, run, v};
    const IMPURE: &[&str] = &[
        "env",
        "now",
        "halt",
        "input",
        "inputs",
        "debug_empty",
        "stderr_empty",
        "localtime",
        "strflocaltime",
        "mktime",
        "gmtime",
        "strftime",
        "strptime",
    ];
    let pure = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(|(name, _, _)| !IMPURE.contains(name));
    let stubs = [
        ("env", 0),
        ("now", 0),
        ("halt", 1),
        ("input", 0),
        ("inputs", 0),
        ("debug_empty", 0),
        ("stderr_empty", 0),
    ]
    .into_iter()
    .map(|(name, arity)| {
        run::<data::JustLut<Val>>((name, v(arity), |_| {
            bome(Err(jaq_core::Error::str("not available")))
        }))
    });
    pure.chain(stubs)
}

#[derive(Default)]
struct Subset {
    recursions: usize,
}

/// Functions allowed in expressions, by name and arity. All terminate on finite input.
const ALLOWED: &[(&str, &[usize])] = &[
    ("select", &[1]),
    ("empty", &[0]),
    ("error", &[0, 1]),
    ("not", &[0]),
    ("true", &[0]),
    ("false", &[0]),
    ("null", &[0]),
    ("length", &[0]),
    ("utf8bytelength", &[0]),
    ("keys", &[0]),
    ("keys_unsorted", &[0]),
    ("values", &[0]),
    ("has", &[1]),
    ("in", &[1]),
    ("contains", &[1]),
    ("inside", &[1]),
    ("startswith", &[1]),
    ("endswith", &[1]),
    ("ltrimstr", &[1]),
    ("rtrimstr", &[1]),
    ("trim", &[0]),
    ("ltrim", &[0]),
    ("rtrim", &[0]),
    ("test", &[1, 2]),
    ("match", &[1, 2]),
    ("capture", &[1, 2]),
    ("sub", &[2, 3]),
    ("gsub", &[2, 3]),
    ("ascii_downcase", &[0]),
    ("ascii_upcase", &[0]),
    ("split", &[1, 2]),
    ("join", &[1]),
    ("tostring", &[0]),
    ("tonumber", &[0]),
    ("tojson", &[0]),
    ("fromjson", &[0]),
    ("type", &[0]),
    ("arrays", &[0]),
    ("objects", &[0]),
    ("iterables", &[0]),
    ("booleans", &[0]),
    ("numbers", &[0]),
    ("strings", &[0]),
    ("nulls", &[0]),
    ("scalars", &[0]),
    ("map", &[1]),
    ("map_values", &[1]),
    ("to_entries", &[0]),
    ("from_entries", &[0]),
    ("with_entries", &[1]),
    ("any", &[0, 1, 2]),
    ("all", &[0, 1, 2]),
    ("first", &[0, 1]),
    ("last", &[0, 1]),
    ("add", &[0]),
    ("index", &[1]),
    ("rindex", &[1]),
    ("indices", &[1]),
    ("getpath", &[1]),
    ("min", &[0]),
    ("max", &[0]),
    ("min_by", &[1]),
    ("max_by", &[1]),
    ("sort", &[0]),
    ("sort_by", &[1]),
    ("group_by", &[1]),
    ("unique", &[0]),
    ("unique_by", &[1]),
    ("reverse", &[0]),
    ("flatten", &[0]),
    ("isempty", &[1]),
    ("ascii", &[0]),
];

/// Functions that walk the whole input (counted like `..`).
const RECURSIVE: &[&str] = &["recurse", "paths", "leaf_paths"];

/// Accepts only the terminating subset described in the module docs.
fn check_subset(t: &Term<&str>, st: &mut Subset) -> Result<(), String> {
    match t {
        Term::Id | Term::Num(_) | Term::Break(_) => Ok(()),
        Term::Recurse => recursion(st),
        Term::Str(Some(_), _) => Err("@format strings".into()),
        Term::Str(None, parts) => parts.iter().try_for_each(|p| match p {
            jaq_core::load::lex::StrPart::Term(t) => check_subset(t, st),
            _ => Ok(()),
        }),
        Term::Arr(inner) => inner.as_deref().map_or(Ok(()), |t| check_subset(t, st)),
        Term::Obj(kvs) => kvs.iter().try_for_each(|(k, v)| {
            check_subset(k, st)?;
            v.as_ref().map_or(Ok(()), |v| check_subset(v, st))
        }),
        Term::Neg(t) => check_subset(t, st),
        Term::BinOp(l, op, r) => {
            match op {
                BinaryOp::Math(jaq_core::ops::Math::Mul)
                | BinaryOp::UpdateMath(jaq_core::ops::Math::Mul) => {
                    return Err("`*` (string repetition)".into());
                }
                BinaryOp::Pipe(Some(p)) => check_pattern(p, st)?,
                _ => {}
            }
            check_subset(l, st)?;
            check_subset(r, st)
        }
        Term::Label(_, t) => check_subset(t, st),
        Term::Fold(_, xs, pattern, args) => {
            check_subset(xs, st)?;
            check_pattern(pattern, st)?;
            args.iter().try_for_each(|a| check_subset(a, st))
        }
        Term::TryCatch(t, c) => {
            check_subset(t, st)?;
            c.as_deref().map_or(Ok(()), |c| check_subset(c, st))
        }
        Term::IfThenElse(branches, otherwise) => {
            for (cond, then) in branches {
                check_subset(cond, st)?;
                check_subset(then, st)?;
            }
            otherwise.as_deref().map_or(Ok(()), |t| check_subset(t, st))
        }
        Term::Def(..) => Err("function definitions".into()),
        Term::Var(name) => {
            if *name == "$ENV" {
                Err("$ENV".into())
            } else {
                Ok(())
            }
        }
        Term::Call(name, args) => {
            if RECURSIVE.contains(name) && (args.is_empty() || *name == "paths") {
                recursion(st)?;
            } else if !ALLOWED
                .iter()
                .any(|(n, arities)| n == name && arities.contains(&args.len()))
            {
                return Err(format!("the function `{name}/{}`", args.len()));
            }
            args.iter().try_for_each(|a| check_subset(a, st))
        }
        Term::Path(t, path) => {
            check_subset(t, st)?;
            path.0.iter().try_for_each(|(part, _)| match part {
                jaq_core::path::Part::Index(i) => check_subset(i, st),
                jaq_core::path::Part::Range(a, b) => {
                    a.as_ref().map_or(Ok(()), |a| check_subset(a, st))?;
                    b.as_ref().map_or(Ok(()), |b| check_subset(b, st))
                }
            })
        }
    }
}

fn check_pattern(p: &Pattern<&str>, st: &mut Subset) -> Result<(), String> {
    match p {
        Pattern::Var(_) => Ok(()),
        Pattern::Arr(ps) => ps.iter().try_for_each(|p| check_pattern(p, st)),
        Pattern::Obj(kvs) => kvs.iter().try_for_each(|(k, p)| {
            check_subset(k, st)?;
            check_pattern(p, st)
        }),
    }
}

fn recursion(st: &mut Subset) -> Result<(), String> {
    st.recursions += 1;
    if st.recursions > 1 {
        Err("more than one `..`/`recurse`/`paths`".into())
    } else {
        Ok(())
    }
}

/// serde_json → jaq value.
fn to_val(v: &Value) -> Val {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => match n.as_i64().and_then(|i| isize::try_from(i).ok()) {
            Some(i) => Val::from(i),
            None => Val::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Val::from(s.clone()),
        Value::Array(items) => items.iter().map(to_val).collect(),
        Value::Object(map) => {
            let mut m = jaq_json::Map::default();
            for (k, v) in map {
                m.insert(Val::from(k.clone()), to_val(v));
            }
            Val::obj(m)
        }
    }
}

/// A jq path (an array of keys and indices) as an engine path, resolved against `input` so that
/// negative indices count from the end. `None` for slices and other shapes.
fn to_path(val: &Val, input: &Value) -> Option<Path> {
    let Val::Arr(parts) = val else { return None };
    let mut out = Vec::with_capacity(parts.len());
    let mut cur = Some(input);
    for part in parts.iter() {
        let seg = match part {
            Val::TStr(b) | Val::BStr(b) => Seg::Key(String::from_utf8(b.to_vec()).ok()?),
            Val::Num(n) => {
                let i = n.as_isize()?;
                let len = cur.and_then(Value::as_array).map_or(0, Vec::len);
                let i = if i < 0 {
                    isize::try_from(len).ok()? + i
                } else {
                    i
                };
                Seg::Index(usize::try_from(i).ok()?)
            }
            _ => return None,
        };
        cur = cur.and_then(|c| match &seg {
            Seg::Key(k) => c.get(k),
            Seg::Index(i) => c.get(i),
        });
        out.push(seg);
    }
    Some(out)
}

/// Deletes `paths` from `value` the way jq's `delpaths` does: deepest and last first, so earlier
/// deletions do not shift later ones.
pub fn delete_paths(value: &mut Value, mut paths: Vec<Path>) {
    paths.sort();
    paths.dedup();
    for p in paths.iter().rev() {
        super::path::remove(value, p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(expr: &str, v: &Value) -> Result<Vec<String>, JqError> {
        JqCache::new().paths(expr, v, &mut Unlimited).map(|ps| {
            ps.iter()
                .map(|p| super::super::path::to_pointer(p))
                .collect()
        })
    }

    #[test]
    fn a_select_expression_yields_the_paths_del_would_remove() {
        let v = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        assert_eq!(
            paths(r#".spec.containers[] | select(.name == "b") | .image"#, &v).unwrap(),
            ["/spec/containers/1/image"]
        );
        assert_eq!(
            paths(".metadata.missing", &v).unwrap(),
            ["/metadata/missing"]
        );
        let mut deleted = v.clone();
        delete_paths(
            &mut deleted,
            JqCache::new()
                .paths(".spec.containers[] | .image", &v, &mut Unlimited)
                .unwrap(),
        );
        assert_eq!(
            deleted,
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}})
        );
    }

    #[test]
    fn deleting_several_array_items_removes_the_right_ones() {
        let mut v = json!({"a": [0, 1, 2, 3]});
        let ps = JqCache::new()
            .paths(".a[1], .a[3]", &v, &mut Unlimited)
            .unwrap();
        delete_paths(&mut v, ps);
        assert_eq!(v, json!({"a": [0, 2]}));
    }

    #[test]
    fn expressions_that_do_not_parse_or_compile_are_errors_not_panics() {
        let v = json!({});
        assert_eq!(paths(".a[", &v), Err(JqError::Parse));
        assert_eq!(
            paths(".a), (.b", &v),
            Err(JqError::Parse),
            "no escaping the wrapper"
        );
        assert!(matches!(
            paths("nosuchfunction", &v),
            Err(JqError::Unsupported(_))
        ));
        assert_eq!(paths(".a | error", &v), Err(JqError::Runtime));
        assert_eq!(paths(".a.b", &json!({"a": 1})), Err(JqError::Runtime));
    }

    #[test]
    fn unbounded_constructs_are_refused_before_they_run() {
        let v = json!({"a": "x"});
        for expr in [
            "def f: f; f",
            "last(range(1e18)) as $x | .a",
            ".a | until(false; .)",
            "[repeat(.)] | .a",
            ".a * 1000000000",
            "$ENV.HOME",
            "env",
            "now",
            "input",
            "[..|..]",
            "@base64d",
            "recurse(.[])",
        ] {
            assert!(
                matches!(paths(expr, &v), Err(JqError::Unsupported(_))),
                "{expr}"
            );
        }
    }

    #[test]
    fn the_budget_stops_an_expression_between_outputs() {
        let v = json!({"a": (0..100).collect::<Vec<_>>()});
        let mut calls = 0;
        let mut budget = || {
            calls += 1;
            calls > 3
        };
        assert_eq!(
            JqCache::new().paths(".a[]", &v, &mut budget),
            Err(JqError::OverBudget)
        );
        assert_eq!(
            calls, 4,
            "asked before running and after each output until it ran out"
        );
    }

    #[test]
    fn too_many_paths_stop_the_expression() {
        let v = json!({"a": vec![0; MAX_PATHS + 5]});
        assert_eq!(paths(".a[]", &v), Err(JqError::TooManyPaths));
    }

    #[test]
    fn compiled_expressions_are_cached_by_text() {
        let cache = JqCache::new();
        let v = json!({"a": 1});
        cache.paths(".a", &v, &mut Unlimited).unwrap();
        cache.paths(".a", &v, &mut Unlimited).unwrap();
        let _ = cache.paths(".a[", &v, &mut Unlimited);
        assert_eq!(format!("{cache:?}"), "JqCache(2 expressions)");
    }
}
