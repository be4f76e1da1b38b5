//! The comparison itself: which fields differ between what Argo CD applied and live, the way
//! Argo CD's legacy three-way diff finds them (ARGOCD-DIFF.md §1.3–§1.5, §7.1).
//!
//! Two modes:
//!
//! - [`subset`] — desired is the last-applied record. With the record as both "last applied"
//!   and "Git" (Git has not moved), Argo CD's diff reduces to:
//!   - **Built-in kinds** (in Argo CD's scheme, [`Rules::root`]): the desired object is
//!     round-tripped through its Go type when it decodes cleanly ([`Rules::typed_desired`]).
//!     A field that round trip drops (`omitempty` with a zero or empty value: `[]`, `{}` on a map,
//!     `null`, `false`/`0`/`""` on a non-pointer) is in the record but not in the config, so the
//!     strategic merge patch *deletes* it: drift if live has a value there other than the one
//!     defaulting gives. A pointer zero (`automountServiceAccountToken: false`) and a struct `{}`
//!     (`emptyDir: {}`) survive and must be live. Live-only fields are never drift, except inside
//!     an atomic list: a list that differs is replaced, so its items must be equal, keys that
//!     defaulting fills aside. Merge lists match items by their merge key (a different relative
//!     order of the desired items is drift: `$setElementOrder`); duplicate keys (ports 53/TCP and
//!     53/UDP) pair up item by item. A `retainKeys` field (volumes, the deployment strategy)
//!     that changes loses the live keys the desired item does not name. Quantities compare by
//!     value.
//!   - **Other kinds** (custom resources, and kinds or versions the scheme lacks): a JSON merge
//!     patch. `null` in desired says nothing (a change to `null` is dropped from the patch);
//!     every list is atomic: it differs when live, its items cut to the desired items' keys, is
//!     not equal to desired; then the whole live list differs from the desired one. Fields of a
//!     Kubernetes type (argocd-cm `knownTypeFields`, a Rollout's `spec.template.spec`) are first
//!     round-tripped through that type on both sides.
//! - [`symmetric`] — both sides are complete (Argo CD's `normalizedLiveState` against its
//!   `predictedLiveState`): every difference counts, keyed lists matched by key.
//!
//! Numbers compare by value (`3` = `3.0`); a string never equals a number (`"80"` ≠ `80`, as
//! for IntOrString).
//!
//! Paths are in live coordinates: a matched merge-list item is addressed by its live index, a
//! desired item missing live by the index it would be appended at.

use super::path::{Path, Seg};
use super::quantity;
use super::schema::{self, Field, Schema, Shape, TypeId};
use serde_json::{Map, Value};

/// What kind of difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffKind {
    /// Both sides have a value and they differ.
    Changed,
    /// Desired has it, live does not.
    MissingLive,
    /// Live has it, desired does not (a complete desired object, an atomic list's item, or a
    /// field the desired object says must be absent).
    LiveOnly,
    /// The same keyed items, in another order.
    Order,
}

/// One difference, before attribution and masking.
#[derive(Clone, PartialEq)]
pub struct Diff {
    pub path: Path,
    pub display: String,
    pub desired: Option<Value>,
    pub live: Option<Value>,
    pub kind: DiffKind,
}

// Values may be Secret data: Debug shows where, never what.
impl std::fmt::Debug for Diff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diff")
            .field("display", &self.display)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// How to compare one object.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// The object's Go type when Argo CD's scheme knows its group, version and kind
    /// (strategic-merge semantics); `None`: a JSON merge patch.
    pub root: Option<TypeId>,
    /// The desired object decodes into its type, so Argo CD round-trips it (drops `omitempty`
    /// zero values: deletions). A record with an unknown field is used as it is.
    pub typed_desired: bool,
    /// Whether a reorder of merge-keyed items is drift.
    pub keyed_order_is_drift: bool,
    /// Whether what the record has and the typed config drops is deleted live (Argo CD's
    /// three-way patch). Off under server-side diff: the dry-run apply of the config leaves
    /// fields it does not name alone.
    pub deletions: bool,
}

pub use super::scalar::scalar_eq;

/// `null`, `[]` and `{}`.
pub fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// One step of the walk, borrowed: no allocation per node visited; the owned path and the
/// display text are built only for a difference.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
    /// A merge-list item: its live index and its merge key's value.
    Keyed(usize, &'a str, &'a Value),
}

fn owned_path(steps: &[Step<'_>]) -> Path {
    steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => Seg::Key((*k).to_string()),
            Step::Index(i) | Step::Keyed(i, _, _) => Seg::Index(*i),
        })
        .collect()
}

/// Appends one object key to a readable path: `.name` when it is a plain word, `["a.b/c"]`
/// (quoted as JSON) otherwise.
pub(super) fn push_key(out: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    } else {
        out.push('[');
        out.push_str(&Value::String(key.to_string()).to_string());
        out.push(']');
    }
}

/// Human-readable path: `spec.template.spec.containers[name=api].image`, `["a.b/c"]`, `[3]`.
fn display(steps: &[Step<'_>]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for s in steps {
        match s {
            Step::Key(k) => push_key(&mut out, k),
            Step::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Step::Keyed(_, k, Value::String(v)) => {
                let _ = write!(out, "[{k}={v}]");
            }
            Step::Keyed(_, k, v) => {
                let _ = write!(out, "[{k}={v}]");
            }
        }
    }
    if out.is_empty() {
        out.push_str("(object)");
    }
    out
}

struct Walker {
    rules: Rules,
    sc: &'static Schema,
    out: Vec<Diff>,
}

/// Differences between a desired (last-applied) object and live, desired-driven.
pub fn subset(desired: &Value, live: &Value, rules: Rules) -> Vec<Diff> {
    let mut w = Walker::new(rules);
    let mut steps = Vec::new();
    match (rules.root, desired, live) {
        (Some(root), Value::Object(d), Value::Object(l)) => w.t_struct(root, d, l, &mut steps),
        _ => w.u_value(desired, live, &mut steps),
    }
    w.finish()
}

/// Every difference between two complete objects (Argo CD's predicted and normalized live).
pub fn symmetric(desired: &Value, live: &Value, rules: Rules) -> Vec<Diff> {
    let mut w = Walker::new(rules);
    let root = rules.root.map(Shape::Struct);
    w.s_value(root.as_ref(), desired, live, &mut Vec::new());
    w.finish()
}

/// The value a quantity field compares by.
fn quantity_eq(d: &Value, l: &Value) -> bool {
    matches!(
        (quantity::canonical_value(d), quantity::canonical_value(l)),
        (Some(a), Some(b)) if a == b
    )
}

impl Walker {
    fn new(rules: Rules) -> Self {
        Walker {
            rules,
            sc: schema::schema(),
            out: Vec::new(),
        }
    }

    fn finish(mut self) -> Vec<Diff> {
        self.out.sort_by(|a, b| a.path.cmp(&b.path));
        self.out
    }

    fn push(&mut self, steps: &[Step<'_>], d: Option<&Value>, l: Option<&Value>, kind: DiffKind) {
        self.out.push(Diff {
            path: owned_path(steps),
            display: display(steps),
            desired: d.cloned(),
            live: l.cloned(),
            kind,
        });
    }

    /// Equal scalars of `shape` (quantities by value).
    fn same(&self, shape: Option<&Shape>, d: &Value, l: &Value) -> bool {
        scalar_eq(d, l)
            || (matches!(shape.map(Shape::pointee), Some(Shape::Quantity)) && quantity_eq(d, l))
    }

    // === built-in kinds: the strategic merge patch of the typed record ===

    /// The live value of `f` as the typed round trip of live leaves it (`omitempty` zeros and
    /// `null` gone).
    fn live_of<'a>(f: Option<&Field>, v: Option<&'a Value>) -> Option<&'a Value> {
        v.filter(|v| !v.is_null() && !f.is_some_and(|f| f.omits(v)))
    }

    /// Adds a sub-walk's differences under `steps`.
    fn absorb(&mut self, steps: &[Step<'_>], sub: Vec<Diff>) {
        let prefix = owned_path(steps);
        let shown = display(steps);
        for mut x in sub {
            let mut p = prefix.clone();
            p.extend(x.path);
            x.path = p;
            x.display = if x.display == "(object)" {
                shown.clone()
            } else if x.display.starts_with('[') || shown == "(object)" {
                format!("{}{}", shown.trim_start_matches("(object)"), x.display)
            } else {
                format!("{shown}.{}", x.display)
            };
            self.out.push(x);
        }
    }

    fn t_struct<'a>(
        &mut self,
        id: TypeId,
        d: &'a Map<String, Value>,
        l: &'a Map<String, Value>,
        steps: &mut Vec<Step<'a>>,
    ) {
        let ty = self.sc.ty(id);
        for (k, dv) in d {
            let f = ty.field(k);
            let lv = Self::live_of(f, l.get(k));
            steps.push(Step::Key(k));
            let dropped = match f {
                Some(f) => self.rules.typed_desired && f.omits(dv),
                None => false,
            };
            if dropped || dv.is_null() {
                // In the record, not in the config: the patch deletes it.
                if self.rules.deletions
                    && let Some(lv) = lv
                    && !f.is_some_and(|f| f.defaults_to(lv))
                {
                    self.push(steps, Some(dv), Some(lv), DiffKind::LiveOnly);
                }
            } else {
                match (f, lv) {
                    (Some(f), None) if f.defaults_to(dv) => {}
                    // A map or merge list given empty (kept: no `omitempty`) merges as a no-op.
                    (Some(f), None)
                        if is_empty(dv) && !f.shape.is_ptr() && !is_struct(&f.shape) => {}
                    (_, None) => self.push(steps, Some(dv), None, DiffKind::MissingLive),
                    (Some(f), Some(lv)) => self.t_value(f, &f.shape, dv, lv, steps),
                    (None, Some(lv)) => self.u_value(dv, lv, steps),
                }
            }
            steps.pop();
        }
    }

    fn t_value<'a>(
        &mut self,
        f: &'static Field,
        shape: &'static Shape,
        d: &'a Value,
        l: &'a Value,
        steps: &mut Vec<Step<'a>>,
    ) {
        match (shape, d, l) {
            (Shape::Ptr(inner), _, _) => self.t_value(f, inner, d, l, steps),
            (Shape::Struct(id), Value::Object(dm), Value::Object(lm)) => {
                if f.retain_keys {
                    self.retain_keys(*id, dm, lm, steps, |w, steps| {
                        w.t_struct(*id, dm, lm, steps)
                    });
                } else {
                    self.t_struct(*id, dm, lm, steps)
                }
            }
            (Shape::Map(elem), Value::Object(dm), Value::Object(lm)) => {
                for (k, dv) in dm {
                    steps.push(Step::Key(k));
                    match lm.get(k) {
                        _ if dv.is_null() => {
                            if let Some(lv) = lm.get(k) {
                                self.push(steps, Some(dv), Some(lv), DiffKind::LiveOnly);
                            }
                        }
                        None => self.push(steps, Some(dv), None, DiffKind::MissingLive),
                        Some(lv) => self.t_elem(elem, dv, lv, steps),
                    }
                    steps.pop();
                }
            }
            (Shape::Slice(elem), Value::Array(da), Value::Array(la)) => {
                let key = f.merge_key.as_deref();
                match (f.merge, elem.struct_id(), key) {
                    (true, Some(id), Some(key)) if da.iter().all(|it| it.get(key).is_some()) => {
                        self.t_keyed(id, key, f.retain_keys, da, la, steps)
                    }
                    (true, None, _) => {
                        // A merged list of scalars (`finalizers`): every desired item live.
                        let missing = da.iter().any(|x| !la.iter().any(|y| scalar_eq(x, y)));
                        if missing {
                            self.push(steps, Some(d), Some(l), DiffKind::Changed);
                        }
                    }
                    _ => self.exact(Some(shape), d, l, steps),
                }
            }
            _ => self.exact(Some(shape), d, l, steps),
        }
    }

    /// A map value or list item: a struct recurses, anything else must be equal.
    fn t_elem<'a>(
        &mut self,
        elem: &'static Shape,
        d: &'a Value,
        l: &'a Value,
        steps: &mut Vec<Step<'a>>,
    ) {
        match (elem.pointee(), d, l) {
            (Shape::Struct(id), Value::Object(dm), Value::Object(lm)) => {
                self.t_struct(*id, dm, lm, steps)
            }
            _ => self.exact(Some(elem), d, l, steps),
        }
    }

    /// `retainKeys`: when anything inside differs, the live keys desired does not name go too.
    fn retain_keys<'a>(
        &mut self,
        id: TypeId,
        d: &'a Map<String, Value>,
        l: &'a Map<String, Value>,
        steps: &mut Vec<Step<'a>>,
        inner: impl FnOnce(&mut Self, &mut Vec<Step<'a>>),
    ) {
        let before = self.out.len();
        inner(self, steps);
        if self.out.len() == before {
            return;
        }
        let ty = self.sc.ty(id);
        for (k, lv) in l {
            let f = ty.field(k);
            if d.contains_key(k) || Self::live_of(f, Some(lv)).is_none() {
                continue;
            }
            if f.is_some_and(|f| f.defaults_to(lv)) {
                continue;
            }
            steps.push(Step::Key(k));
            self.push(steps, None, Some(lv), DiffKind::LiveOnly);
            steps.pop();
        }
    }

    /// A merge list: desired items matched to live ones by key (duplicate keys pair up one to
    /// one, the best match first); extra live items are not drift.
    fn t_keyed<'a>(
        &mut self,
        id: TypeId,
        key: &'a str,
        retain: bool,
        d: &'a [Value],
        l: &'a [Value],
        steps: &mut Vec<Step<'a>>,
    ) {
        let matched = pair_items(key, d, l);
        let mut appended = l.len();
        for (dv, found) in d.iter().zip(&matched) {
            let Some(kv) = dv.get(key) else { continue };
            match found {
                Some(i) => {
                    steps.push(Step::Keyed(*i, key, kv));
                    match (dv, &l[*i]) {
                        (Value::Object(dm), Value::Object(lm)) if retain => {
                            self.retain_keys(id, dm, lm, steps, |w, steps| {
                                w.t_struct(id, dm, lm, steps)
                            })
                        }
                        (Value::Object(dm), Value::Object(lm)) => self.t_struct(id, dm, lm, steps),
                        (dv, lv) => self.exact(None, dv, lv, steps),
                    }
                    steps.pop();
                }
                None => {
                    steps.push(Step::Keyed(appended, key, kv));
                    appended += 1;
                    self.push(steps, Some(dv), None, DiffKind::MissingLive);
                    steps.pop();
                }
            }
        }
        if self.rules.keyed_order_is_drift
            && let Some((want, have)) = reordered(key, d, l, &matched)
        {
            self.push(steps, Some(&want), Some(&have), DiffKind::Order);
        }
    }

    /// Replace semantics: both sides round-tripped, then equal except where defaulting fills a
    /// live value desired leaves out. Same-length lists are compared item by item.
    fn exact<'a>(
        &mut self,
        shape: Option<&Shape>,
        d: &'a Value,
        l: &'a Value,
        steps: &mut Vec<Step<'a>>,
    ) {
        let shape = shape.map(Shape::pointee);
        match (shape, d, l) {
            (Some(Shape::Struct(id)), Value::Object(dm), Value::Object(lm)) => {
                let ty = self.sc.ty(*id);
                let mut matched = 0;
                for (k, dv) in dm {
                    let f = ty.field(k);
                    let dv = Some(dv)
                        .filter(|v| !(self.rules.typed_desired && f.is_some_and(|f| f.omits(v))));
                    let raw = lm.get(k);
                    matched += usize::from(raw.is_some());
                    let lv = Self::live_of(f, raw);
                    steps.push(Step::Key(k));
                    match (dv, lv) {
                        (None, None) => {}
                        (Some(dv), None) if f.is_some_and(|f| f.defaults_to(dv)) => {}
                        (Some(dv), None) => self.push(steps, Some(dv), None, DiffKind::MissingLive),
                        (None, Some(lv)) if f.is_some_and(|f| f.defaults_to(lv)) => {}
                        (None, Some(lv)) => self.push(steps, None, Some(lv), DiffKind::LiveOnly),
                        (Some(dv), Some(lv)) => self.exact(f.map(|f| &f.shape), dv, lv, steps),
                    }
                    steps.pop();
                }
                for (k, lv) in lm.iter().filter(|_| matched < lm.len()) {
                    if dm.contains_key(k) {
                        continue;
                    }
                    let f = ty.field(k);
                    let Some(lv) = Self::live_of(f, Some(lv)) else {
                        continue;
                    };
                    // What defaulting fills (a scalar's default, a struct it creates) is on both.
                    if f.is_some_and(|f| f.defaults_to(lv))
                        || lv.as_object().is_some_and(Map::is_empty)
                    {
                        continue;
                    }
                    steps.push(Step::Key(k));
                    self.push(steps, None, Some(lv), DiffKind::LiveOnly);
                    steps.pop();
                }
            }
            (Some(Shape::Map(elem)), Value::Object(dm), Value::Object(lm)) => {
                let mut matched = 0;
                for (k, dv) in dm {
                    steps.push(Step::Key(k));
                    match lm.get(k) {
                        None => self.push(steps, Some(dv), None, DiffKind::MissingLive),
                        Some(lv) => {
                            matched += 1;
                            self.exact(Some(elem), dv, lv, steps)
                        }
                    }
                    steps.pop();
                }
                for (k, lv) in lm.iter().filter(|_| matched < lm.len()) {
                    if !dm.contains_key(k) {
                        steps.push(Step::Key(k));
                        self.push(steps, None, Some(lv), DiffKind::LiveOnly);
                        steps.pop();
                    }
                }
            }
            (Some(Shape::Slice(elem)), Value::Array(da), Value::Array(la))
                if da.len() == la.len() =>
            {
                for (i, (dv, lv)) in da.iter().zip(la).enumerate() {
                    steps.push(Step::Index(i));
                    self.exact(Some(elem), dv, lv, steps);
                    steps.pop();
                }
            }
            (None | Some(Shape::Raw), Value::Object(dm), Value::Object(lm)) => {
                // Untyped (raw): every key; the live-only ones looked for only when live has more.
                let mut matched = 0;
                for (k, dv) in dm {
                    steps.push(Step::Key(k));
                    match lm.get(k) {
                        None => self.push(steps, Some(dv), None, DiffKind::MissingLive),
                        Some(lv) => {
                            matched += 1;
                            self.exact(None, dv, lv, steps)
                        }
                    }
                    steps.pop();
                }
                if matched < lm.len() {
                    for (k, lv) in lm {
                        if !dm.contains_key(k) {
                            steps.push(Step::Key(k));
                            self.push(steps, None, Some(lv), DiffKind::LiveOnly);
                            steps.pop();
                        }
                    }
                }
            }
            (None | Some(Shape::Raw), Value::Array(da), Value::Array(la))
                if da.len() == la.len() =>
            {
                for (i, (dv, lv)) in da.iter().zip(la).enumerate() {
                    steps.push(Step::Index(i));
                    self.exact(None, dv, lv, steps);
                    steps.pop();
                }
            }
            (_, d, l) if self.same(shape, d, l) => {}
            (_, d, l) => self.push(steps, Some(d), Some(l), DiffKind::Changed),
        }
    }

    // === other kinds: the JSON merge patch of the record ===

    fn u_value<'a>(&mut self, d: &'a Value, l: &'a Value, steps: &mut Vec<Step<'a>>) {
        match (d, l) {
            (Value::Object(dm), Value::Object(lm)) => {
                for (k, dv) in dm {
                    if dv.is_null() {
                        continue;
                    }
                    steps.push(Step::Key(k));
                    match lm.get(k) {
                        None => self.push(steps, Some(dv), None, DiffKind::MissingLive),
                        Some(lv) => self.u_value(dv, lv, steps),
                    }
                    steps.pop();
                }
            }
            (Value::Array(da), Value::Array(la)) => {
                // The list is replaced by desired (its nulls pruned) unless desired equals live
                // cut to desired's keys; then where it differs from live is drift.
                if !has_nulls(d) {
                    // One pass: differences that are all live-only keys inside items mean the
                    // cut lists are equal, and nothing is replaced.
                    let before = self.out.len();
                    self.exact(None, d, l, steps);
                    if self.out[before..]
                        .iter()
                        .all(|x| x.kind == DiffKind::LiveOnly)
                    {
                        self.out.truncate(before);
                    }
                } else if !cut_list_eq(da, la) {
                    let mut pruned = d.clone();
                    prune_nulls(&mut pruned);
                    let mut sub = Walker {
                        rules: self.rules,
                        sc: self.sc,
                        out: Vec::new(),
                    };
                    sub.exact(None, &pruned, l, &mut Vec::new());
                    self.absorb(steps, sub.out);
                }
            }
            (d, l) if scalar_eq(d, l) => {}
            (d, l) => self.push(steps, Some(d), Some(l), DiffKind::Changed),
        }
    }

    // === symmetric: two complete objects ===

    fn s_value<'a>(
        &mut self,
        shape: Option<&Shape>,
        d: &'a Value,
        l: &'a Value,
        steps: &mut Vec<Step<'a>>,
    ) {
        let shape = shape.map(Shape::pointee);
        match (d, l) {
            (Value::Object(dm), Value::Object(lm)) => {
                let field = |k: &str| -> Option<&Shape> {
                    match shape? {
                        Shape::Struct(id) => self.sc.field(*id, k).map(|f| &f.shape),
                        Shape::Map(elem) => Some(elem),
                        _ => None,
                    }
                };
                // Bookkeeping, never compared: `metadata.managedFields`.
                let in_metadata = matches!(steps.as_slice(), [Step::Key("metadata")]);
                let skip = |k: &str| in_metadata && k == "managedFields";
                for (k, dv) in dm {
                    if skip(k) {
                        continue;
                    }
                    steps.push(Step::Key(k));
                    match lm.get(k) {
                        None => self.push(steps, Some(dv), None, DiffKind::MissingLive),
                        Some(lv) => {
                            let sh = field(k).cloned();
                            self.s_list_or_value(shape, k, sh.as_ref(), dv, lv, steps)
                        }
                    }
                    steps.pop();
                }
                for (k, lv) in lm {
                    if !dm.contains_key(k) && !skip(k) {
                        steps.push(Step::Key(k));
                        self.push(steps, None, Some(lv), DiffKind::LiveOnly);
                        steps.pop();
                    }
                }
            }
            (Value::Array(da), Value::Array(la)) if da.len() == la.len() => {
                let elem = match shape {
                    Some(Shape::Slice(e)) => Some(e.as_ref()),
                    _ => None,
                };
                for (i, (dv, lv)) in da.iter().zip(la).enumerate() {
                    steps.push(Step::Index(i));
                    self.s_value(elem, dv, lv, steps);
                    steps.pop();
                }
            }
            (d, l) if self.same(shape, d, l) => {}
            (d, l) => self.push(steps, Some(d), Some(l), DiffKind::Changed),
        }
    }

    fn s_list_or_value<'a>(
        &mut self,
        parent: Option<&Shape>,
        key: &str,
        shape: Option<&Shape>,
        d: &'a Value,
        l: &'a Value,
        steps: &mut Vec<Step<'a>>,
    ) {
        let field = match parent {
            Some(Shape::Struct(id)) => self.sc.field(*id, key),
            _ => None,
        };
        let merge_key = field
            .filter(|f| f.merge)
            .and_then(|f| f.merge_key.as_deref());
        match (merge_key, shape.map(Shape::pointee), d, l) {
            (Some(mk), Some(Shape::Slice(elem)), Value::Array(da), Value::Array(la))
                if da.iter().chain(la).all(|it| it.get(mk).is_some()) =>
            {
                let elem = elem.as_ref().clone();
                let matched = pair_items(mk, da, la);
                let mut taken = vec![false; la.len()];
                for (dv, found) in da.iter().zip(&matched) {
                    let kv = dv.get(mk).unwrap_or(&Value::Null);
                    match found {
                        Some(i) => {
                            taken[*i] = true;
                            steps.push(Step::Keyed(*i, mk, kv));
                            self.s_value(Some(&elem), dv, &la[*i], steps);
                            steps.pop();
                        }
                        None => {
                            steps.push(Step::Keyed(la.len(), mk, kv));
                            self.push(steps, Some(dv), None, DiffKind::MissingLive);
                            steps.pop();
                        }
                    }
                }
                for (i, lv) in la.iter().enumerate() {
                    if !taken[i] {
                        let kv = lv.get(mk).unwrap_or(&Value::Null);
                        steps.push(Step::Keyed(i, mk, kv));
                        self.push(steps, None, Some(lv), DiffKind::LiveOnly);
                        steps.pop();
                    }
                }
                if self.rules.keyed_order_is_drift && reordered(mk, da, la, &matched).is_some() {
                    self.push(steps, Some(d), Some(l), DiffKind::Order);
                }
            }
            (_, _, Value::Array(da), Value::Array(la)) if da.len() != la.len() => {
                self.push(steps, Some(d), Some(l), DiffKind::Changed)
            }
            _ => self.s_value(shape, d, l, steps),
        }
    }
}

fn is_struct(shape: &Shape) -> bool {
    matches!(shape.pointee(), Shape::Struct(_))
}

/// Pairs each desired item of a merge list with a distinct live item of the same key: the one
/// most like it first (ports 53/TCP and 53/UDP share `containerPort`), then the first free one.
fn pair_items(key: &str, d: &[Value], l: &[Value]) -> Vec<Option<usize>> {
    // Live items by key value, for lists long enough that a scan per item would cost.
    let index: Option<std::collections::HashMap<String, Vec<usize>>> = (l.len() > 16).then(|| {
        let mut m: std::collections::HashMap<String, Vec<usize>> =
            std::collections::HashMap::with_capacity(l.len());
        for (i, lv) in l.iter().enumerate() {
            if let Some(kv) = lv.get(key) {
                m.entry(kv.to_string()).or_default().push(i);
            }
        }
        m
    });
    let mut taken = vec![false; l.len()];
    let mut out = Vec::with_capacity(d.len());
    for dv in d {
        let Some(kv) = dv.get(key) else {
            out.push(None);
            continue;
        };
        let candidates: Vec<usize> = match &index {
            Some(m) => m.get(&kv.to_string()).cloned().unwrap_or_else(|| {
                (0..l.len())
                    .filter(|&i| l[i].get(key).is_some_and(|x| scalar_eq(x, kv)))
                    .collect()
            }),
            None => (0..l.len())
                .filter(|&i| l[i].get(key).is_some_and(|x| scalar_eq(x, kv)))
                .collect(),
        };
        let free: Vec<usize> = candidates.into_iter().filter(|&i| !taken[i]).collect();
        // With several candidates, the one whose scalar fields agree with desired's most.
        let best = if free.len() > 1 {
            free.iter().copied().max_by_key(|&i| {
                let agree = dv.as_object().map_or(0, |dm| {
                    dm.iter()
                        .filter(|(k, v)| l[i].get(k.as_str()).is_some_and(|w| scalar_eq(v, w)))
                        .count()
                });
                (agree, std::cmp::Reverse(i))
            })
        } else {
            free.first().copied()
        };
        if let Some(i) = best {
            taken[i] = true;
        }
        out.push(best);
    }
    out
}

/// The merge keys of the matched desired items in desired's order and in live's, when they
/// differ (`$setElementOrder`: duplicate keys in another order are the same order).
fn reordered(
    key: &str,
    d: &[Value],
    l: &[Value],
    matched: &[Option<usize>],
) -> Option<(Value, Value)> {
    let mut live_idx: Vec<usize> = matched.iter().flatten().copied().collect();
    if live_idx.windows(2).all(|w| w[0] < w[1]) {
        return None;
    }
    let want: Vec<Value> = d
        .iter()
        .zip(matched)
        .filter(|(_, m)| m.is_some())
        .filter_map(|(it, _)| it.get(key).cloned())
        .collect();
    live_idx.sort_unstable();
    let have: Vec<Value> = live_idx
        .into_iter()
        .filter_map(|i| l[i].get(key).cloned())
        .collect();
    (want.len() != have.len() || want.iter().zip(&have).any(|(a, b)| !scalar_eq(a, b)))
        .then_some((Value::Array(want), Value::Array(have)))
}

/// Does desired equal live with live's items cut to the desired items' keys (Argo CD's
/// `RemoveListFields`: by index, recursively; extra live items kept)? Compared in place, not
/// built.
fn cut_list_eq(d: &[Value], l: &[Value]) -> bool {
    d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| cut_eq(dv, lv))
}

/// Does `d` equal `l` cut to `d`'s keys (`RemoveMapFields`)?
fn cut_eq(d: &Value, l: &Value) -> bool {
    match (d, l) {
        (_, Value::Null) => d.is_null(),
        (Value::Object(dm), Value::Object(lm)) => dm
            .iter()
            .all(|(k, dv)| lm.get(k).is_some_and(|lv| cut_eq(dv, lv))),
        (Value::Array(da), Value::Array(la)) => cut_list_eq(da, la),
        (d, l) => scalar_eq(d, l),
    }
}

/// Does an object anywhere in `v` have a `null` field?
fn has_nulls(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().any(|x| x.is_null() || has_nulls(x)),
        Value::Array(a) => a.iter().any(has_nulls),
        _ => false,
    }
}

/// Removes `null` fields of objects, at every depth (a JSON merge patch's list value applied).
fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(prune_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

/// A value as `json.Marshal` of its Go type leaves it: `omitempty` fields with zero or empty
/// values dropped, quantities and durations canonical (Argo CD's known-types normalizer).
pub fn typed_normalize(sc: &Schema, shape: &Shape, v: &mut Value) {
    match (shape.pointee(), v) {
        (Shape::Struct(id), Value::Object(m)) => {
            // Unknown fields do not survive the typed round trip either.
            let ty = sc.ty(*id);
            m.retain(|k, x| ty.field(k).is_some_and(|f| !f.omits(x)));
            for (k, x) in m.iter_mut() {
                if let Some(f) = ty.field(k) {
                    typed_normalize(sc, &f.shape, x);
                }
            }
        }
        (Shape::Slice(elem), Value::Array(a)) => {
            for x in a.iter_mut() {
                typed_normalize(sc, elem, x);
            }
        }
        (Shape::Map(elem), Value::Object(m)) => {
            for x in m.values_mut() {
                typed_normalize(sc, elem, x);
            }
        }
        (Shape::Quantity, v) => {
            if let Some(c) = quantity::canonical_value(v) {
                *v = c;
            }
        }
        (Shape::Duration, Value::String(s)) => {
            if let Some(c) = quantity::canonical_duration(s) {
                *s = c;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn typed(group: &str, version: &str, kind: &str) -> Rules {
        Rules {
            root: schema::schema().kind(group, version, kind),
            typed_desired: true,
            keyed_order_is_drift: true,
            deletions: true,
        }
    }

    fn deployment() -> Rules {
        typed("apps", "v1", "Deployment")
    }

    const CR: Rules = Rules {
        root: None,
        typed_desired: false,
        keyed_order_is_drift: true,
        deletions: true,
    };

    fn pod(spec: Value) -> Value {
        json!({"spec": {"template": {"spec": spec}}})
    }

    fn containers(containers: Value) -> Value {
        pod(json!({"containers": containers}))
    }

    fn shown(diffs: &[Diff]) -> Vec<&str> {
        diffs.iter().map(|d| d.display.as_str()).collect()
    }

    fn pointers(diffs: &[Diff]) -> Vec<String> {
        diffs
            .iter()
            .map(|d| super::super::path::to_pointer(&d.path))
            .collect()
    }

    #[test]
    fn fields_only_live_are_not_drift_but_changed_ones_are() {
        let desired = json!({"spec": {"replicas": 3}});
        let live = json!({"spec": {"replicas": 5, "revisionHistoryLimit": 10}});
        let diffs = subset(&desired, &live, deployment());
        assert_eq!(shown(&diffs), ["spec.replicas"]);
        assert_eq!(pointers(&diffs), ["/spec/replicas"]);
        assert_eq!(diffs[0].desired, Some(json!(3)));
        assert_eq!(diffs[0].live, Some(json!(5)));
    }

    #[test]
    fn keyed_lists_match_by_key_and_ignore_extra_live_items() {
        let desired = containers(json!([{"name": "api", "image": "a:1"}]));
        let live =
            containers(json!([{"name": "sidecar", "image": "s"}, {"name": "api", "image": "a:2"}]));
        let diffs = subset(&desired, &live, deployment());
        assert_eq!(
            shown(&diffs),
            ["spec.template.spec.containers[name=api].image"]
        );
        assert_eq!(pointers(&diffs), ["/spec/template/spec/containers/1/image"]);
    }

    #[test]
    fn a_reorder_of_keyed_items_is_drift_at_the_list() {
        let desired = containers(json!([{"name": "a"}, {"name": "b"}]));
        let live = containers(json!([{"name": "b"}, {"name": "x"}, {"name": "a"}]));
        let diffs = subset(&desired, &live, deployment());
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].kind, DiffKind::Order);
        assert_eq!(diffs[0].desired, Some(json!(["a", "b"])));
        assert_eq!(diffs[0].live, Some(json!(["b", "a"])));
        let unordered = Rules {
            keyed_order_is_drift: false,
            ..deployment()
        };
        assert!(subset(&desired, &live, unordered).is_empty());
    }

    #[test]
    fn a_desired_item_missing_live_is_addressed_where_it_would_be_appended() {
        let desired = containers(
            json!([{"name": "api", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]),
        );
        let live = containers(
            json!([{"name": "api", "env": [{"name": "A", "value": "1"}, {"name": "X", "value": "9"}]}]),
        );
        let diffs = subset(&desired, &live, deployment());
        assert_eq!(
            shown(&diffs),
            ["spec.template.spec.containers[name=api].env[name=B]"]
        );
        assert_eq!(diffs[0].kind, DiffKind::MissingLive);
        assert_eq!(pointers(&diffs), ["/spec/template/spec/containers/0/env/2"]);
    }

    #[test]
    fn atomic_list_items_must_equal_live_but_for_what_defaulting_fills() {
        let desired = pod(
            json!({"containers": [{"name": "api", "args": ["--a", "--b"]}],
            "tolerations": [{"key": "k", "operator": "Exists"}]}),
        );
        // A key defaulting fills (a container port's protocol) is no drift inside an atomic
        // list's item; one a person added (tolerationSeconds) is.
        let mut live = desired.clone();
        live["spec"]["template"]["spec"]["tolerations"][0]["tolerationSeconds"] = json!(30);
        assert_eq!(
            pointers(&subset(&desired, &live, deployment())),
            ["/spec/template/spec/tolerations/0/tolerationSeconds"]
        );
        live["spec"]["template"]["spec"]["tolerations"][0] =
            json!({"key": "k", "operator": "Exists"});
        live["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["--a"]);
        assert_eq!(
            shown(&subset(&desired, &live, deployment())),
            ["spec.template.spec.containers[name=api].args"]
        );
        let netpol = typed("networking.k8s.io", "v1", "NetworkPolicy");
        let want = json!({"spec": {"ingress": [{"ports": [{"port": 80}]}]}});
        let have = json!({"spec": {"ingress": [{"ports": [{"port": 80, "protocol": "TCP"}]}]}});
        assert!(
            subset(&want, &have, netpol).is_empty(),
            "protocol is defaulted"
        );
        let udp = json!({"spec": {"ingress": [{"ports": [{"port": 80, "protocol": "UDP"}]}]}});
        assert_eq!(subset(&want, &udp, netpol).len(), 1);
    }

    #[test]
    fn values_defaulting_puts_in_a_whole_default_item_are_no_field_defaults() {
        // An HPA's metrics emptied by hand: defaulting adds a CPU-utilization metric, whose
        // averageUtilization 80 is not a default of the field.
        let hpa = typed("autoscaling", "v2", "HorizontalPodAutoscaler");
        let target = |t: Value| json!({"spec": {"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": t}}]}});
        let desired = target(json!({"type": "AverageValue", "averageValue": 0.5}));
        let live = target(json!({"type": "Utilization", "averageUtilization": 80}));
        assert_eq!(
            pointers(&subset(&desired, &live, hpa)),
            [
                "/spec/metrics/0/resource/target/averageUtilization",
                "/spec/metrics/0/resource/target/averageValue",
                "/spec/metrics/0/resource/target/type"
            ]
        );
    }

    #[test]
    fn what_the_typed_round_trip_drops_from_the_record_must_be_absent_live() {
        let dep = deployment();
        // Each: Git's value, a live value that is then drift.
        for (field, git, live) in [
            ("imagePullSecrets", json!([]), json!([{"name": "pull"}])),
            ("nodeSelector", json!({}), json!({"disk": "ssd"})),
            ("hostNetwork", json!(false), json!(true)),
            ("priorityClassName", json!(null), json!("high")),
        ] {
            let desired = pod(json!({field: git}));
            let with = pod(json!({field: live}));
            assert_eq!(
                pointers(&subset(&desired, &with, dep)),
                [format!("/spec/template/spec/{field}")],
                "{field}"
            );
            assert!(
                subset(&desired, &pod(json!({})), dep).is_empty(),
                "{field} absent live"
            );
        }
        // Template annotations `{}`, then `kubectl rollout restart`.
        let desired = json!({"spec": {"template": {"metadata": {"annotations": {}}}}});
        let restarted = json!({"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2026-01-01T00:00:00Z"}}}}});
        assert_eq!(subset(&desired, &restarted, dep).len(), 1);
        // A container's `env: []` with an injected variable; `resources: {limits: null}`.
        let desired = containers(json!([{"name": "a", "env": [], "resources": {"limits": null}}]));
        let live = containers(json!([{"name": "a", "env": [{"name": "X", "value": "1"}],
            "resources": {"limits": {"cpu": "1"}}}]));
        assert_eq!(
            pointers(&subset(&desired, &live, dep)),
            [
                "/spec/template/spec/containers/0/env",
                "/spec/template/spec/containers/0/resources/limits"
            ]
        );
        // A dropped field live at its default value is no drift (the default comes back).
        let desired = containers(json!([{"name": "a", "terminationMessagePolicy": ""}]));
        let live = containers(json!([{"name": "a", "terminationMessagePolicy": "File"}]));
        assert!(subset(&desired, &live, dep).is_empty());
    }

    #[test]
    fn a_pointer_zero_and_a_struct_given_empty_must_be_live() {
        let dep = deployment();
        let desired = pod(json!({"automountServiceAccountToken": false}));
        assert_eq!(
            pointers(&subset(&desired, &pod(json!({})), dep)),
            ["/spec/template/spec/automountServiceAccountToken"]
        );
        // `emptyDir: {}` switched to a claim live: the volume keeps only what Git names
        // (`retainKeys`), so both show.
        let desired = pod(json!({"volumes": [{"name": "data", "emptyDir": {}}]}));
        let live = pod(
            json!({"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}]}),
        );
        assert_eq!(
            pointers(&subset(&desired, &live, dep)),
            [
                "/spec/template/spec/volumes/0/emptyDir",
                "/spec/template/spec/volumes/0/persistentVolumeClaim"
            ]
        );
    }

    #[test]
    fn a_record_with_an_unknown_field_is_not_round_tripped() {
        let desired = pod(json!({"hostNetwork": false, "imagePullSecrets": []}));
        let live = pod(json!({"hostNetwork": true, "imagePullSecrets": [{"name": "p"}]}));
        let untyped = Rules {
            typed_desired: false,
            ..deployment()
        };
        // `false` is compared as it is; `[]` merges into a merge list as nothing.
        assert_eq!(
            pointers(&subset(&desired, &live, untyped)),
            ["/spec/template/spec/hostNetwork"]
        );
    }

    #[test]
    fn duplicate_merge_keys_pair_up_one_to_one() {
        let ports = json!([{"containerPort": 53, "protocol": "UDP", "name": "dns"},
                           {"containerPort": 53, "protocol": "TCP", "name": "dns-tcp"}]);
        let desired = containers(json!([{"name": "a", "ports": ports}]));
        assert!(subset(&desired, &desired.clone(), deployment()).is_empty());
        // In the other order live: each still pairs with its own, and 53, 53 is one order.
        let mut swapped = desired.clone();
        swapped["spec"]["template"]["spec"]["containers"][0]["ports"]
            .as_array_mut()
            .unwrap()
            .reverse();
        assert!(subset(&desired, &swapped, deployment()).is_empty());
        let mut live = desired.clone();
        live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"] = json!("renamed");
        assert_eq!(
            pointers(&subset(&desired, &live, deployment())),
            ["/spec/template/spec/containers/0/ports/0/name"]
        );
        let svc = typed("", "v1", "Service");
        let desired = json!({"spec": {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}});
        assert!(subset(&desired, &desired.clone(), svc).is_empty());
    }

    #[test]
    fn quantities_compare_by_value_wherever_the_type_has_one() {
        let hpa = typed("autoscaling", "v2", "HorizontalPodAutoscaler");
        let metric = |v: Value| {
            json!({"spec": {"metrics": [{"type": "Pods", "pods": {"metric": {"name": "rps"},
                "target": {"type": "AverageValue", "averageValue": v}}}]}})
        };
        assert!(subset(&metric(json!(0.5)), &metric(json!("500m")), hpa).is_empty());
        assert!(subset(&metric(json!(100)), &metric(json!("100")), hpa).is_empty());
        assert_eq!(
            subset(&metric(json!(1)), &metric(json!("500m")), hpa).len(),
            1
        );
        let cap = typed("storage.k8s.io", "v1", "CSIStorageCapacity");
        assert!(
            subset(
                &json!({"capacity": "1024Mi"}),
                &json!({"capacity": "1Gi"}),
                cap
            )
            .is_empty()
        );
        let desired = containers(
            json!([{"name": "a", "resources": {"limits": {"cpu": 0.5}}, "image": "0.5"}]),
        );
        let live = containers(
            json!([{"name": "a", "resources": {"limits": {"cpu": "500m"}}, "image": "500m"}]),
        );
        assert_eq!(
            shown(&subset(&desired, &live, deployment())),
            ["spec.template.spec.containers[name=a].image"]
        );
        assert_eq!(
            subset(&desired, &live, CR).len(),
            2,
            "no quantities in a custom resource"
        );
    }

    #[test]
    fn custom_resource_lists_are_atomic_even_when_their_items_have_names() {
        let desired = json!({"spec": {"items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}]}});
        let live = json!({"spec": {"items": [{"name": "b", "v": 2}, {"name": "a", "v": 1}]}});
        assert_eq!(
            shown(&subset(&desired, &live, CR)),
            [
                "spec.items[0].name",
                "spec.items[0].v",
                "spec.items[1].name",
                "spec.items[1].v"
            ]
        );
        let longer = json!({"spec": {"items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}, {"name": "c"}]}});
        assert_eq!(shown(&subset(&desired, &longer, CR)), ["spec.items"]);
        // Live items with more keys than desired's are equal when cut to them.
        let richer =
            json!({"spec": {"items": [{"name": "a", "v": 1, "x": 0}, {"name": "b", "v": 2}]}});
        assert!(subset(&desired, &richer, CR).is_empty());
    }

    #[test]
    fn a_custom_resource_null_says_nothing() {
        let desired = json!({"spec": {"owner": null, "size": 1}});
        assert!(subset(&desired, &json!({"spec": {"size": 1}}), CR).is_empty());
        assert!(
            subset(
                &desired,
                &json!({"spec": {"owner": "defaulted", "size": 1}}),
                CR
            )
            .is_empty(),
            "a change to null is dropped from the merge patch"
        );
    }

    #[test]
    fn numbers_compare_by_value_but_int_or_string_stays_strict() {
        let svc = typed("", "v1", "Service");
        let desired = json!({"spec": {"ports": [{"port": 80, "targetPort": "80"}], "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 3}}}});
        let live = json!({"spec": {"ports": [{"port": 80.0, "targetPort": 80}], "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 3.0}}}});
        assert_eq!(
            pointers(&subset(&desired, &live, svc)),
            ["/spec/ports/0/targetPort"]
        );
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let desired = json!({"metadata": {"finalizers": ["a"]}});
        assert!(
            subset(
                &desired,
                &json!({"metadata": {"finalizers": ["b", "a"]}}),
                deployment()
            )
            .is_empty()
        );
        assert_eq!(
            subset(
                &desired,
                &json!({"metadata": {"finalizers": ["b"]}}),
                deployment()
            )
            .len(),
            1
        );
    }

    #[test]
    fn symmetric_mode_reports_both_sides() {
        let predicted = json!({"spec": {"replicas": 3, "a": 1}});
        let live = json!({"spec": {"replicas": 5, "b": 2}});
        let diffs = symmetric(&predicted, &live, deployment());
        assert_eq!(shown(&diffs), ["spec.a", "spec.b", "spec.replicas"]);
        assert_eq!(diffs[1].kind, DiffKind::LiveOnly);
    }

    #[test]
    fn odd_keys_are_quoted_in_the_display_path() {
        let desired = json!({"metadata": {"labels": {"app.kubernetes.io/name": "a"}}});
        let live = json!({"metadata": {"labels": {"app.kubernetes.io/name": "b"}}});
        assert_eq!(
            shown(&subset(&desired, &live, deployment())),
            [r#"metadata.labels["app.kubernetes.io/name"]"#]
        );
    }
}
