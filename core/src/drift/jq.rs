//! `jqPathExpressions` (ARGOCD-DIFF.md §2.2), with jaq instead of gojq.
//!
//! Argo CD wraps each expression as `del(<expr>)`, compiles it once, runs it under a timeout
//! (1 s by default, per expression and per object) and skips the rule when it fails to parse,
//! errors, yields other than one output, or times out. Here the expression is compiled as
//! `path(<expr>)`; its outputs are the paths `del` would remove, which the engine removes itself.
//! That keeps the same answer and gives the engine a point between outputs to stop.
//!
//! **Builtins.** jaq's standard library, plus gojq's builtins it lacks (`IN`, `INDEX`, `ascii`,
//! `leaf_paths`, `isvalid`, `toarray`, jq's bottom-up `walk`, …). Reading the clock, the
//! environment or stdin fails (`now`, `env`, `input`); `debug` and `stderr` pass values through.
//! An expression that does not compile (an unknown builtin, a user `def`, `$ENV`, the `*`
//! operator, more than one `..`) is [`JqError::Unsupported`]: the engine then cannot know what
//! Argo CD ignores and does not inspect the resource.
//!
//! **Bounded work.** Every step of a generator that is not bounded by the input (`range`,
//! `repeat`, `while`, `until`, `recurse(f)`, `combinations`, `walk`) spends one unit of a budget
//! of [`MAX_STEPS`] per run; recursion is at most [`MAX_DEPTH`] deep. Running out fails the
//! expression as over budget. Everything else a run does is bounded by the size of the object.
//!
//! **Time.** The crate has no clock, so the caller passes a [`JqBudget`]: [`JqBudget::start`] is
//! called when an expression starts on an object (Argo CD gives each its own 1 s), and
//! [`JqBudget::exhausted`] is asked before it runs and between the paths it yields; `true` stops
//! it (over budget; the rule is skipped). A budget composes: wrap one to add a condition (a
//! cancelled request) without changing the engine.
//!
//! An expression outside what is supported is reported on the resource, never a panic or a 500.
//! Runtime error messages are not passed on (they can quote object values, and an object may be
//! a Secret): the report says only that the expression failed.

use super::path::{Path, Seg};
use jaq_core::load::parse::{BinaryOp, Pattern, Term};
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// When to stop running jq rules.
pub trait JqBudget {
    /// An expression starts on one object: its own time starts now (Argo CD's timeout is per
    /// expression and per object). The default does nothing.
    fn start(&mut self) {}

    /// Asked before an expression runs and between its outputs; `true` = stop now.
    fn exhausted(&mut self) -> bool;

    /// A check for inside a run, asked every [`CHECK_EVERY`] steps of its unbounded generators
    /// (after [`JqBudget::start`]), so an expression that works long before yielding anything is
    /// still stopped; `true` = stop now. `None` (the default): only between outputs.
    fn interrupt(&self) -> Option<Interrupt> {
        None
    }
}

/// See [`JqBudget::interrupt`].
pub type Interrupt = Box<dyn Fn() -> bool>;

/// How many steps pass between two [`JqBudget::interrupt`] checks.
pub const CHECK_EVERY: u64 = 1024;

/// A closure is a budget that never restarts (the caller's own deadline).
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
/// Steps of unbounded generators one run may take.
pub const MAX_STEPS: u64 = 1_000_000;
/// How deep a recursive generator may go.
pub const MAX_DEPTH: i64 = 1_000;

thread_local! {
    /// Steps left in the current run, and whether the run spent them all.
    static STEPS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static SPENT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The current run's [`JqBudget::interrupt`].
    static INTERRUPT: std::cell::RefCell<Option<Interrupt>> = const { std::cell::RefCell::new(None) };
}

/// Clears the run's interrupt when the run ends, however it ends.
struct InterruptSet;

impl InterruptSet {
    fn new(interrupt: Option<Interrupt>) -> Self {
        INTERRUPT.with(|i| *i.borrow_mut() = interrupt);
        InterruptSet
    }
}

impl Drop for InterruptSet {
    fn drop(&mut self) {
        INTERRUPT.with(|i| *i.borrow_mut() = None);
    }
}

/// Spends one step; `false` when none is left.
fn step_ok() -> bool {
    STEPS.with(|s| match s.get() {
        0 => {
            SPENT.set(true);
            false
        }
        n => {
            if n % CHECK_EVERY == 0 && INTERRUPT.with(|i| i.borrow().as_ref().is_some_and(|f| f()))
            {
                s.set(0);
                SPENT.set(true);
                return false;
            }
            s.set(n - 1);
            true
        }
    })
}

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

    /// Expressions compiled (or refused) so far.
    pub fn len(&self) -> usize {
        self.compiled.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

    /// Whether `expr` can be run here at all: `Err` with a parse, compile or unsupported error
    /// when not (then what Argo CD ignores with it is not known).
    pub fn check(&self, expr: &str) -> Result<(), JqError> {
        self.get(expr).map(|_| ())
    }

    /// The paths `del(<expr>)` would delete from `input`, checking `budget` between outputs.
    pub fn paths(
        &self,
        expr: &str,
        input: &Value,
        budget: &mut dyn JqBudget,
    ) -> Result<Vec<Path>, JqError> {
        let filter = self.get(expr)?;
        budget.start();
        if budget.exhausted() {
            return Err(JqError::OverBudget);
        }
        STEPS.set(MAX_STEPS);
        SPENT.set(false);
        let _interrupt = InterruptSet::new(budget.interrupt());
        let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
        let mut out = Vec::new();
        for item in filter.id.run((ctx, to_val(input))).map(unwrap_valr) {
            let val = item.map_err(|_| {
                if SPENT.get() {
                    JqError::OverBudget
                } else {
                    JqError::Runtime
                }
            })?;

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
        .chain(jaq_json::defs())
        .chain(extra_defs());
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

/// gojq's builtins jaq lacks, and metered versions of the generators that are not bounded by
/// their input (they shadow jaq's: later definitions win).
const EXTRA_DEFS: &str = r#"
def range($from; $upto; $by): __range($from; $upto; $by);
def range($from; $upto): __range($from; $upto; 1);
def range($upto): __range(0; $upto; 1);
def repeat(f): def rec($d): __depth($d) | f, rec($d + 1); rec(0);
def recurse(f): def rec($d): __depth($d) | ., (f | rec($d + 1)); rec(0);
def recurse(f; cond): recurse(f | select(cond));
def while(cond; update): def rec($d): __depth($d) | if cond then ., (update | rec($d + 1)) else empty end; rec(0);
def until(cond; update): def rec($d): __depth($d) | if cond then . else update | rec($d + 1) end; rec(0);
def combinations: .[][] |= [.] | reduce .[] as $a ([]; . + $a[] | __depth(0));
def combinations($n): [limit($n; repeat(.))] | combinations;
def walk(f): def w($d): __depth($d) | if type == "object" then map_values(w($d + 1)) elif type == "array" then map(w($d + 1)) else . end | f; w(0);
def IN(s): any(s == .; .);
def IN(src; s): any(src == s; .);
def INDEX(stream; idx_expr): reduce stream as $row ({}; .[$row | idx_expr | tostring] |= $row);
def INDEX(idx_expr): INDEX(.[]; idx_expr);
def ascii: [.] | implode;
def leaf_paths: paths(scalars);
def isvalid(f): try (f | true) catch false;
def toarray: if type == "array" then . else [.] end;
def have_literal_numbers: true;
def have_decnum: false;
"#;

fn extra_defs() -> impl Iterator<Item = jaq_core::load::parse::Def<&'static str>> {
    // The text is this crate's own; a failure is a bug a test catches (no definitions then).
    jaq_core::load::parse(EXTRA_DEFS, |p| p.defs())
        .unwrap_or_default()
        .into_iter()
}

type D = data::JustLut<Val>;

/// jaq's natives, minus those that read the clock, the environment or stdin: replaced by ones
/// that fail, so the standard definitions that mention them still compile; `debug` and `stderr`
/// pass values through silently; plus the metering natives `__range` and `__depth`.
fn natives() -> impl Iterator<Item = jaq_core::native::Fun<D>> {
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
    ]
    .into_iter()
    .map(|(name, arity)| {
        run::<D>((name, v(arity), |_| {
            bome(Err(jaq_core::Error::str("not available")))
        }))
    });
    let quiet = ["debug_empty", "stderr_empty"]
        .into_iter()
        .map(|name| run::<D>((name, v(0), |_| Box::new(std::iter::empty()))));
    let depth = jaq_core::Native::<D>::new(|mut cv| {
        let d = cv.0.pop_var();
        jaq_core::box_iter::box_once(depth_ok(&d).map(|()| cv.1).map_err(jaq_core::Exn::from))
    })
    .with_paths(|mut cv| {
        let d = cv.0.pop_var();
        jaq_core::box_iter::box_once(depth_ok(&d).map(|()| cv.1).map_err(jaq_core::Exn::from))
    });
    let range = run::<D>(("__range", v(3), |mut cv| {
        let by = cv.0.pop_var();
        let to = cv.0.pop_var();
        let from = cv.0.pop_var();
        metered_range(from, to, by)
    }));
    pure.chain(stubs)
        .chain(quiet)
        .chain([("__depth", v(1), depth), range])
}

/// One step, at most [`MAX_DEPTH`] deep.
fn depth_ok(d: &Val) -> Result<(), jaq_core::Error<Val>> {
    let deep = match d {
        Val::Num(n) => n.as_isize().is_none_or(|n| n as i64 > MAX_DEPTH),
        _ => true,
    };
    if deep {
        SPENT.set(true);
    }
    if deep || !step_ok() {
        return Err(jaq_core::Error::str("over the step budget"));
    }
    Ok(())
}

/// `range(from; to; by)`, one step per output.
fn metered_range<'a>(from: Val, to: Val, by: Val) -> jaq_core::ValXs<'a, Val> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let dir = by.partial_cmp(&Val::from(0isize)).unwrap_or(Equal);
    let mut next = Some(from);
    Box::new(std::iter::from_fn(move || {
        let x = next.take()?;
        let more = match dir {
            Greater => x < to,
            Less => x > to,
            // A zero step never ends: nothing, rather than the whole budget.
            Equal => false,
        };
        if !more {
            return None;
        }
        if !step_ok() {
            return Some(Err(jaq_core::Exn::from(jaq_core::Error::str(
                "over the step budget",
            ))));
        }
        match x.clone() + by.clone() {
            Ok(n) => next = Some(n),
            Err(e) => return Some(Err(jaq_core::Exn::from(e))),
        }
        Some(Ok(x))
    }))
}

#[derive(Default)]
struct Subset {
    recursions: usize,
}

/// Functions that walk the whole input (counted like `..`).
const RECURSIVE: &[&str] = &["paths", "leaf_paths"];

/// Refuses what jaq would run without bound or what reads outside the object: user
/// definitions (recursion), `$ENV`, the `*` operator (string repetition), and more than one
/// walk of the whole input (`..`, `paths`; nested they are quadratic).
fn check_subset(t: &Term<&str>, st: &mut Subset) -> Result<(), String> {
    match t {
        Term::Id | Term::Num(_) | Term::Break(_) => Ok(()),
        Term::Recurse => recursion(st),
        Term::Str(_, parts) => parts.iter().try_for_each(|p| match p {
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
            if (RECURSIVE.contains(name) || (*name == "recurse" && args.is_empty()))
                && args.len() <= 1
            {
                recursion(st)?;
            }
            if name.starts_with("__") {
                return Err(format!("the function `{name}`"));
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
            Err(JqError::Compile(_))
        ));
        assert_eq!(paths(".a | error", &v), Err(JqError::Runtime));
        assert_eq!(paths(".a.b", &json!({"a": 1})), Err(JqError::Runtime));
    }

    #[test]
    fn what_could_run_without_bound_or_read_outside_the_object_is_refused() {
        let v = json!({"a": "x"});
        for expr in [
            "def f: f; f",
            ".a * 1000000000",
            "$ENV.HOME",
            "[..|..]",
            "nosuchbuiltin",
            "__depth(0)",
        ] {
            assert!(
                matches!(
                    paths(expr, &v),
                    Err(JqError::Unsupported(_) | JqError::Compile(_))
                ),
                "{expr}"
            );
        }
        for expr in ["env", "now", "input"] {
            assert_eq!(paths(expr, &v), Err(JqError::Runtime), "{expr}");
        }
    }

    #[test]
    fn generators_without_a_bound_stop_at_the_step_budget() {
        let v = json!({"a": "x"});
        for expr in [
            ".a | select(last(range(1e18)) > 0)",
            ".a | select([repeat(1)] | length > 0)",
            ".a | select((0 | until(false; . + 1)) > 0)",
            ".a | select([limit(5000; repeat(1))] | length > 0)",
            ".a | select([[range(40)], [range(40)], [range(40)], [range(40)], [range(40)]] | [combinations] | length > 0)",
        ] {
            assert_eq!(paths(expr, &v), Err(JqError::OverBudget), "{expr}");
        }
        // Within the budget, the same generators work.
        assert_eq!(
            paths(".a | select([limit(500; repeat(1))] | length == 500)", &v).unwrap(),
            ["/a"]
        );
        assert_eq!(
            paths(".a | select(last(range(100000)) == 99999)", &v).unwrap(),
            ["/a"]
        );
    }

    #[test]
    fn the_deepest_recursion_allowed_fits_a_small_thread_stack() {
        // The backend runs the engine on tokio's blocking threads (2 MiB stacks).
        let out = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let v = json!({"a": 1});
                let expr = format!(
                    ".a | select([limit({MAX_DEPTH}; recurse([.]))] | length == {MAX_DEPTH})"
                );
                paths(&expr, &v)
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(out.unwrap(), ["/a"]);
    }

    #[test]
    fn gojq_builtins_beyond_jaqs_work() {
        let v = json!({"spec": {"containers": [
            {"name": "app", "image": "a:1"}, {"name": "istio-proxy", "image": "p:1"},
            {"name": "vault-agent", "image": "v:1"}],
            "data": "c2VjcmV0", "labels": {"a": "1", "b": "2"}}});
        for (expr, want) in [
            (
                r#".spec.containers[] | select(.name | IN("istio-proxy", "vault-agent")) | .image"#,
                vec!["/spec/containers/1/image", "/spec/containers/2/image"],
            ),
            (
                r#".spec.containers[] | select([.] | INDEX(.name) | has("app")) | .image"#,
                vec!["/spec/containers/0/image"],
            ),
            (
                r#"nth(1; .spec.containers[]) | .image"#,
                vec!["/spec/containers/1/image"],
            ),
            (
                r#"limit(1; .spec.containers[] | select(.name | test("-"))) | .image"#,
                vec!["/spec/containers/1/image"],
            ),
            (
                r#".spec | select(.data | @base64d == "secret") | .data"#,
                vec!["/spec/data"],
            ),
            (
                r#".spec.containers[] | select([.name | scan("a")] | length > 1) | .name"#,
                vec!["/spec/containers/2/name"],
            ),
            (
                r#".spec | select(walk(if type == "string" then ascii_upcase else . end) | .labels.a == "1") | .labels"#,
                vec!["/spec/labels"],
            ),
            (
                r#".spec.labels | to_entries[] | select(.value == "2") | .key as $k | $k"#,
                vec![],
            ),
        ] {
            match paths(expr, &v) {
                Ok(got) => assert_eq!(got, want, "{expr}"),
                // A value, not a path: jq and gojq fail too.
                Err(e) => assert!(want.is_empty() && e == JqError::Runtime, "{expr}: {e}"),
            }
        }
        assert_eq!(
            paths(
                ".spec | leaf_paths as $p | getpath($p) | select(. == \"2\")",
                &v
            )
            .unwrap(),
            ["/spec/labels/b"]
        );
    }

    #[test]
    fn the_interrupt_stops_an_expression_before_its_first_output() {
        struct Stop(std::rc::Rc<std::cell::Cell<u32>>);
        impl JqBudget for Stop {
            fn exhausted(&mut self) -> bool {
                false
            }
            fn interrupt(&self) -> Option<Interrupt> {
                let asked = std::rc::Rc::clone(&self.0);
                Some(Box::new(move || {
                    asked.set(asked.get() + 1);
                    asked.get() >= 3
                }))
            }
        }
        let asked = std::rc::Rc::new(std::cell::Cell::new(0));
        let v = serde_json::json!({"a": 1});
        let slow = "select([range(0; 500000)] | length > 0) | .a";
        assert_eq!(
            JqCache::new().paths(slow, &v, &mut Stop(std::rc::Rc::clone(&asked))),
            Err(JqError::OverBudget)
        );
        assert_eq!(
            asked.get(),
            3,
            "stopped at the third check, long before its output"
        );
        // Without an interrupt the same expression yields its path.
        assert_eq!(
            JqCache::new()
                .paths(slow, &v, &mut Unlimited)
                .map(|p| p.len()),
            Ok(1)
        );
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
