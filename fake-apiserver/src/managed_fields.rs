//! `metadata.managedFields`: an approximation of structured-merge-diff's field ownership.
//!
//! # Data model
//!
//! A [`FieldSet`] is a trie of [`PathElement`]s (`f:<field>`, `k:<json of key fields>`,
//! `v:<json value>`, `i:<index>`); a node is *owned* when the path to it is a member of the set.
//! It serialises as FieldsV1: every child becomes a key, an owned leaf is `{}`, and an owned
//! node that also has owned descendants carries `".": {}`.
//!
//! Each managedFields entry is (manager, operation `Apply`|`Update`, apiVersion, time,
//! subresource, set). Entries are sorted like the real server (operation, time, manager,
//! apiVersion, subresource).
//!
//! # Rules (mirroring the real `Updater`)
//!
//! - **Update** (create, PUT, every PATCH except apply): compare the object before and after
//!   ([`compare`]); the manager's set becomes `(old − removed) ∪ added ∪ modified`, and
//!   `added ∪ modified` is taken away from every other entry. Fields only removed stay listed
//!   with their previous owners, as in the real server. Entries left empty are dropped.
//! - **Apply**: the manager's Apply entry becomes exactly the fields of the applied
//!   configuration ([`to_field_set`]). Fields it would change that another entry owns are a
//!   conflict (`409`) unless `force=true`, which moves them. Fields the manager applied before
//!   but no longer does, and that nobody else owns, are removed from the object.
//! - Paths never tracked: `apiVersion`, `kind`, `metadata` itself and `metadata.name`,
//!   `namespace`, `uid`, `resourceVersion`, `creationTimestamp`, `generation`, `managedFields`,
//!   `selfLink`, `deletionTimestamp`, `deletionGracePeriodSeconds`. For a resource with a
//!   `/status` subresource the main endpoint does not track `status` and the status endpoint
//!   tracks only `status` (entries carry `subresource: status`). Without the subresource,
//!   `status` is an ordinary field, as in the real server.
//! - Comparison: maps recurse unless [`crate::schema`] says they are atomic structs or maps
//!   (`secretKeyRef`, selectors…: one leaf); lists recurse only when it knows their keys
//!   (otherwise they are atomic leaves), and items it marks atomic (`ownerReferences`,
//!   `imagePullSecrets`) are leaves `k:{…}: {}`; a map or list node that appears gets its own
//!   member path (hence `.`), except nodes that exist in every typed object of that kind (see
//!   [`Shape::always_present`]), which are not even a change when they appear empty (a
//!   template's `metadata: {}`).
//! - Decode-time defaults are already in the object an `Update` writes (so its entry owns
//!   them), and are added only after an `Apply` (see the `store` module docs).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::schema::{ListType, Shape, item_key, item_keys};

/// One step in a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PathElement {
    /// `f:<name>`: a field of an object.
    Field(String),
    /// `k:<json>`: an associative-list item, by its key fields.
    Key(String),
    /// `v:<json>`: a set member, by value.
    Value(String),
    /// `i:<n>`: a list item by index (only ever parsed, never produced).
    Index(usize),
}

impl PathElement {
    fn encode(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(json) => format!("k:{json}"),
            PathElement::Value(json) => format!("v:{json}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    fn decode(s: &str) -> Option<Self> {
        let (prefix, rest) = s.split_at_checked(2)?;
        match prefix {
            "f:" => Some(PathElement::Field(rest.to_string())),
            "k:" => Some(PathElement::Key(canonical_json(rest)?)),
            "v:" => Some(PathElement::Value(canonical_json(rest)?)),
            "i:" => rest.parse().ok().map(PathElement::Index),
            _ => None,
        }
    }
}

/// Re-serialises JSON with sorted object keys and no whitespace, so keys compare equal.
fn canonical_json(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    Some(canonical(&value))
}

fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", parts.join(","))
        }
        other => other.to_string(),
    }
}

/// A set of field paths, stored as a trie.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FieldSet {
    owned: bool,
    children: BTreeMap<PathElement, FieldSet>,
}

// === impl FieldSet ===

impl FieldSet {
    pub fn insert(&mut self, path: &[PathElement]) {
        match path.split_first() {
            None => self.owned = true,
            Some((first, rest)) => self.children.entry(first.clone()).or_default().insert(rest),
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.owned && self.children.values().all(FieldSet::is_empty)
    }

    pub fn union(&mut self, other: &FieldSet) {
        self.owned |= other.owned;
        for (pe, child) in &other.children {
            self.children.entry(pe.clone()).or_default().union(child);
        }
    }

    pub fn difference(&mut self, other: &FieldSet) {
        if other.owned {
            self.owned = false;
        }
        for (pe, child) in &other.children {
            if let Some(mine) = self.children.get_mut(pe) {
                mine.difference(child);
            }
        }
        self.children.retain(|_, c| !c.is_empty());
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            owned: self.owned && other.owned,
            children: BTreeMap::new(),
        };
        for (pe, child) in &self.children {
            if let Some(theirs) = other.children.get(pe) {
                let both = child.intersection(theirs);
                if !both.is_empty() {
                    out.children.insert(pe.clone(), both);
                }
            }
        }
        out
    }

    /// Whether `path` itself or anything below it is a member.
    pub fn owns_at_or_below(&self, path: &[PathElement]) -> bool {
        match path.split_first() {
            None => !self.is_empty(),
            Some((first, rest)) => self
                .children
                .get(first)
                .is_some_and(|child| child.owns_at_or_below(rest)),
        }
    }

    /// Every member path, depth-first.
    pub fn paths(&self) -> Vec<Vec<PathElement>> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect_paths(&mut prefix, &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Vec<PathElement>>) {
        if self.owned && !prefix.is_empty() {
            out.push(prefix.clone());
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// FieldsV1 JSON.
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.owned && !self.children.is_empty() {
            map.insert(".".to_string(), Value::Object(Map::new()));
        }
        for (pe, child) in &self.children {
            if !child.is_empty() {
                map.insert(pe.encode(), child.to_fields_v1());
            }
        }
        Value::Object(map)
    }

    /// Parses FieldsV1 JSON (unknown keys are skipped).
    pub fn from_fields_v1(value: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        let Some(map) = value.as_object() else {
            return set;
        };
        for (key, child) in map {
            if key == "." {
                set.owned = true;
                continue;
            }
            let Some(pe) = PathElement::decode(key) else {
                continue;
            };
            let mut child_set = FieldSet::from_fields_v1(child);
            if child.as_object().is_none_or(Map::is_empty) {
                child_set.owned = true;
            }
            set.children.insert(pe, child_set);
        }
        set
    }

    /// Renders paths like `.spec.replicas` for conflict messages.
    fn describe(&self) -> Vec<String> {
        self.paths()
            .iter()
            .map(|path| {
                path.iter()
                    .map(|pe| match pe {
                        PathElement::Field(name) => format!(".{name}"),
                        PathElement::Key(json) => format!("[{json}]"),
                        PathElement::Value(json) => format!("[={json}]"),
                        PathElement::Index(i) => format!("[{i}]"),
                    })
                    .collect::<String>()
            })
            .collect()
    }
}

// === walking objects ===

/// The differences between two objects, as sets of paths.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

struct Walker<'a> {
    shape: Shape<'a>,
    path: Vec<PathElement>,
    names: Vec<String>,
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum NodeKind {
    Map,
    List,
    Leaf,
}

fn node_kind(v: Option<&Value>) -> Option<NodeKind> {
    match v? {
        Value::Object(_) => Some(NodeKind::Map),
        Value::Array(_) => Some(NodeKind::List),
        _ => Some(NodeKind::Leaf),
    }
}

/// How the items of a list are addressed, or `None` when the list is atomic.
fn list_item_ids<'v, I>(shape: Shape<'_>, names: &[&str], all: I) -> Option<ListIds>
where
    I: IntoIterator<Item = &'v Value> + Clone,
{
    match shape.list_type(names, all.clone()) {
        ListType::Atomic => None,
        ListType::Set => Some(ListIds::Set),
        ListType::Map(keys) => item_keys(keys, all).map(|_| ListIds::Map(keys)),
    }
}

enum ListIds {
    Set,
    Map(&'static [&'static str]),
}

impl ListIds {
    fn id(&self, item: &Value) -> PathElement {
        match self {
            ListIds::Set => PathElement::Value(canonical(item)),
            ListIds::Map(keys) => PathElement::Key(item_key(keys, item).unwrap_or_default()),
        }
    }
}

// === impl Walker ===

impl Walker<'_> {
    fn names(&self) -> Vec<&str> {
        self.names.iter().map(String::as_str).collect()
    }

    fn in_field<R>(&mut self, name: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(PathElement::Field(name.to_string()));
        self.names.push(name.to_string());
        let out = f(self);
        self.names.pop();
        self.path.pop();
        out
    }

    fn in_item<R>(&mut self, pe: PathElement, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(pe);
        let out = f(self);
        self.path.pop();
        out
    }

    fn compare(&mut self, lhs: Option<&Value>, rhs: Option<&Value>, out: &mut Comparison) {
        let (lk, rk) = (node_kind(lhs), node_kind(rhs));
        if lk.is_some() && rk.is_some() && lk != rk {
            // A type change: the old node is gone, the new one appears.
            if !self.path.is_empty() {
                out.modified.insert(&self.path);
            }
            if rk != Some(NodeKind::Leaf) {
                self.compare(None, rhs, out);
            }
            return;
        }
        let names = self.names();
        match lk.or(rk) {
            None => {}
            Some(NodeKind::Map) if !self.shape.atomic_map(&names) => {
                let empty = Map::new();
                let lm = lhs.and_then(Value::as_object).unwrap_or(&empty);
                let rm = rhs.and_then(Value::as_object).unwrap_or(&empty);
                if lm.is_empty() && rm.is_empty() {
                    // An empty struct every typed object has (a template's `metadata: {}`)
                    // was there before: not a change.
                    if !(lhs.is_none() && self.struct_always_present()) {
                        self.leaf(lhs, rhs, out);
                    }
                    return;
                }
                let mut keys: Vec<&String> = lm.keys().chain(rm.keys()).collect();
                keys.sort();
                keys.dedup();
                for key in keys {
                    self.in_field(key, |w| w.compare(lm.get(key), rm.get(key), out));
                }
                self.presence(lhs, rhs, out);
            }
            Some(NodeKind::List) => {
                let empty = Vec::new();
                let ll = lhs.and_then(Value::as_array).unwrap_or(&empty);
                let rl = rhs.and_then(Value::as_array).unwrap_or(&empty);
                // Both lists' items, borrowed (an atomic list is one leaf: nothing is copied).
                let ids = list_item_ids(self.shape, &names, ll.iter().chain(rl));
                let atomic_items = self.shape.atomic_items(&names);
                let Some(ids) = ids.filter(|_| !(ll.is_empty() && rl.is_empty())) else {
                    self.leaf(lhs, rhs, out);
                    return;
                };
                let mut order: Vec<PathElement> = Vec::new();
                let mut left: BTreeMap<PathElement, &Value> = BTreeMap::new();
                let mut right: BTreeMap<PathElement, &Value> = BTreeMap::new();
                for item in ll {
                    let id = ids.id(item);
                    order.push(id.clone());
                    left.entry(id).or_insert(item);
                }
                for item in rl {
                    let id = ids.id(item);
                    order.push(id.clone());
                    right.entry(id).or_insert(item);
                }
                order.sort();
                order.dedup();
                for id in order {
                    let (li, ri) = (left.get(&id).copied(), right.get(&id).copied());
                    self.in_item(id, |w| match ids {
                        ListIds::Set => w.leaf(li, ri, out),
                        ListIds::Map(_) if atomic_items => w.leaf(li, ri, out),
                        ListIds::Map(_) => {
                            w.compare(li, ri, out);
                            // An item is always a member of its own (even when empty).
                            w.presence(li, ri, out);
                        }
                    });
                }
                self.presence(lhs, rhs, out);
            }
            Some(_) => self.leaf(lhs, rhs, out),
        }
    }

    fn leaf(&self, lhs: Option<&Value>, rhs: Option<&Value>, out: &mut Comparison) {
        if self.path.is_empty() {
            return;
        }
        match (lhs, rhs) {
            (None, Some(_)) => out.added.insert(&self.path),
            (Some(_), None) => out.removed.insert(&self.path),
            (Some(a), Some(b)) if a != b => out.modified.insert(&self.path),
            _ => {}
        }
    }

    /// Records a container node that appears or disappears as a member itself.
    fn presence(&self, lhs: Option<&Value>, rhs: Option<&Value>, out: &mut Comparison) {
        if self.path.is_empty() {
            return;
        }
        match (lhs, rhs) {
            (None, Some(_)) if !self.struct_always_present() => out.added.insert(&self.path),
            (Some(_), None) => out.removed.insert(&self.path),
            _ => {}
        }
    }

    /// Is the current node a struct field that exists in every typed object of the kind?
    fn struct_always_present(&self) -> bool {
        matches!(self.path.last(), Some(PathElement::Field(_)))
            && self.shape.always_present(&self.names())
    }

    fn collect(&mut self, value: &Value, set: &mut FieldSet) {
        let names = self.names();
        match value {
            Value::Object(map) if !self.shape.atomic_map(&names) => {
                if map.is_empty() {
                    set.insert(&self.path);
                }
                for (key, child) in map {
                    self.in_field(key, |w| w.collect(child, set));
                }
            }
            Value::Array(items) if !items.is_empty() => {
                let atomic_items = self.shape.atomic_items(&names);
                match list_item_ids(self.shape, &names, items) {
                    None => set.insert(&self.path),
                    Some(ids) => {
                        for item in items {
                            self.in_item(ids.id(item), |w| {
                                set.insert(&w.path);
                                if let (ListIds::Map(_), Value::Object(fields), false) =
                                    (&ids, item, atomic_items)
                                {
                                    for (key, child) in fields {
                                        w.in_field(key, |w| w.collect(child, set));
                                    }
                                }
                            });
                        }
                    }
                }
            }
            _ => set.insert(&self.path),
        }
    }
}

/// Every field path set in `value` (an applied configuration, already stripped).
pub(crate) fn to_field_set(value: &Value, shape: Shape<'_>) -> FieldSet {
    let mut set = FieldSet::default();
    let mut walker = Walker {
        shape,
        path: Vec::new(),
        names: Vec::new(),
    };
    if let Value::Object(map) = value {
        for (key, child) in map {
            walker.in_field(key, |w| w.collect(child, &mut set));
        }
    }
    set
}

/// Removes the member at `path` from `value`; returns whether something was removed.
fn remove_path(value: &mut Value, path: &[PathElement]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    match (first, value) {
        (PathElement::Field(name), Value::Object(map)) => {
            if rest.is_empty() {
                map.remove(name).is_some()
            } else {
                map.get_mut(name)
                    .is_some_and(|child| remove_path(child, rest))
            }
        }
        (PathElement::Key(key), Value::Array(items)) => {
            let Ok(Value::Object(wanted)) = serde_json::from_str::<Value>(key) else {
                return false;
            };
            let pos = items.iter().position(|item| {
                wanted.iter().all(|(field, value)| match item.get(field) {
                    Some(actual) => actual == value,
                    None => field == "protocol" && value == "TCP",
                })
            });
            match pos {
                Some(pos) if rest.is_empty() => {
                    items.remove(pos);
                    true
                }
                Some(pos) => remove_path(&mut items[pos], rest),
                None => false,
            }
        }
        (PathElement::Value(json), Value::Array(items)) if rest.is_empty() => {
            let before = items.len();
            items.retain(|item| canonical(item) != *json);
            items.len() != before
        }
        _ => false,
    }
}

// === entries ===

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: Option<String>,
    set: FieldSet,
}

impl Entry {
    fn same_owner(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    fn parse(value: &Value) -> Option<Entry> {
        let s = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Entry {
            manager: s("manager").unwrap_or_default(),
            operation: s("operation")?,
            api_version: s("apiVersion").unwrap_or_default(),
            time: s("time"),
            subresource: s("subresource").filter(|s| !s.is_empty()),
            set: value
                .get("fieldsV1")
                .map(FieldSet::from_fields_v1)
                .unwrap_or_default(),
        })
    }

    fn render(&self) -> Value {
        let mut map = Map::new();
        map.insert("manager".into(), self.manager.clone().into());
        map.insert("operation".into(), self.operation.clone().into());
        map.insert("apiVersion".into(), self.api_version.clone().into());
        if let Some(time) = &self.time {
            map.insert("time".into(), time.clone().into());
        }
        map.insert("fieldsType".into(), "FieldsV1".into());
        map.insert("fieldsV1".into(), self.set.to_fields_v1());
        if let Some(sub) = &self.subresource {
            map.insert("subresource".into(), sub.clone().into());
        }
        Value::Object(map)
    }
}

fn entries_of(obj: Option<&Value>) -> Vec<Entry> {
    obj.and_then(|o| o.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Entry::parse).collect())
        .unwrap_or_default()
}

fn write_entries(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|e| !e.set.is_empty());
    entries.sort_by(|a, b| {
        a.operation
            .cmp(&b.operation)
            .then_with(|| a.time.cmp(&b.time))
            .then_with(|| a.manager.cmp(&b.manager))
            .then_with(|| a.api_version.cmp(&b.api_version))
            .then_with(|| a.subresource.cmp(&b.subresource))
    });
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(Entry::render).collect()),
        );
    }
}

/// Metadata fields the field manager never tracks.
const UNTRACKED_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// Which part of the object a write may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The main endpoint of a resource; `status` is tracked unless it has a status subresource.
    Main { status_subresource: bool },
    /// The `/status` subresource: only `status`.
    Status,
}

/// The object as the field manager sees it: untracked fields removed.
pub(crate) fn strip(obj: &Value, scope: Scope) -> Value {
    Value::Object(
        tracked(obj, scope)
            .into_iter()
            .map(|(key, value)| (key.to_string(), value.into_owned()))
            .collect(),
    )
}

/// [`strip`]'s top-level fields, borrowed from `obj` (only `metadata` is rebuilt): what
/// [`compare_tracked`] walks without copying the object.
fn tracked(obj: &Value, scope: Scope) -> BTreeMap<&str, Cow<'_, Value>> {
    let Some(map) = obj.as_object() else {
        return BTreeMap::new();
    };
    let mut out = BTreeMap::new();
    for (key, value) in map {
        match (key.as_str(), scope) {
            ("apiVersion" | "kind", _) => {}
            ("status", Scope::Status) => {
                out.insert(key.as_str(), Cow::Borrowed(value));
            }
            (_, Scope::Status) => {}
            (
                "status",
                Scope::Main {
                    status_subresource: true,
                },
            ) => {}
            ("metadata", _) => {
                if let Some(meta) = value.as_object() {
                    let kept: Map<String, Value> = meta
                        .iter()
                        .filter(|(k, _)| !UNTRACKED_METADATA.contains(&k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    if !kept.is_empty() {
                        out.insert(key.as_str(), Cow::Owned(Value::Object(kept)));
                    }
                }
            }
            _ => {
                out.insert(key.as_str(), Cow::Borrowed(value));
            }
        }
    }
    out
}

/// Paths that changed between `old` and `new` as [`strip`] would leave them, found without
/// copying them: the root's fields are walked in place, sorted by name, as the walker walks
/// any map.
fn compare_tracked(old: &Value, new: &Value, scope: Scope, shape: Shape<'_>) -> Comparison {
    let mut out = Comparison::default();
    let (left, right) = (tracked(old, scope), tracked(new, scope));
    let mut walker = Walker {
        shape,
        path: Vec::new(),
        names: Vec::new(),
    };
    let mut keys: Vec<&str> = left.keys().chain(right.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        walker.in_field(key, |w| {
            w.compare(
                left.get(key).map(|v| &**v),
                right.get(key).map(|v| &**v),
                &mut out,
            )
        });
    }
    out
}

/// How the object was written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Operation<'a> {
    /// Create, update, or any non-apply patch.
    Update,
    /// Server-side apply of `config` (already parsed).
    Apply { config: &'a Value, force: bool },
}

/// Who wrote what.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Write<'a> {
    pub manager: &'a str,
    pub operation: Operation<'a>,
    pub api_version: &'a str,
    pub scope: Scope,
    pub shape: Shape<'a>,
    pub now: &'a str,
}

/// Server-side apply conflicts: (manager, field paths) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conflicts(pub Vec<(String, Vec<String>)>);

impl std::fmt::Display for Conflicts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count: usize = self.0.iter().map(|(_, paths)| paths.len()).sum();
        write!(
            f,
            "Apply failed with {count} conflict{}: ",
            if count == 1 { "" } else { "s" }
        )?;
        let parts: Vec<String> = self
            .0
            .iter()
            .flat_map(|(manager, paths)| {
                paths
                    .iter()
                    .map(move |p| format!("conflict with \"{manager}\": {p}"))
            })
            .collect();
        f.write_str(&parts.join("\n"))
    }
}

/// Updates `new.metadata.managedFields` for a write of `new` over `old` (`None` on create).
///
/// When the request itself carries a non-empty `managedFields` that differs from the stored
/// one (and this is not an apply), those entries are taken as the starting point, as the real
/// server does. For apply, fields the manager dropped from its configuration are removed from
/// `new` when nobody else owns them.
pub(crate) fn track(
    old: Option<&Value>,
    new: &mut Value,
    write: &Write<'_>,
) -> Result<(), Conflicts> {
    let old_entries = entries_of(old);
    let request_entries = entries_of(Some(new));
    let mut entries = match write.operation {
        Operation::Update if !request_entries.is_empty() && request_entries != old_entries => {
            request_entries
        }
        _ => old_entries,
    };
    let empty = Value::Object(Map::new());
    let subresource = match write.scope {
        Scope::Status => Some("status"),
        Scope::Main { .. } => None,
    };
    let mut changes = compare_tracked(old.unwrap_or(&empty), new, write.scope, write.shape);
    let mut changed = changes.added.clone();
    changed.union(&changes.modified);

    match write.operation {
        Operation::Update => {
            for entry in entries.iter_mut() {
                if !entry.same_owner(write.manager, "Update", subresource) {
                    entry.set.difference(&changed);
                }
            }
            let mut mine = entries
                .iter()
                .position(|e| e.same_owner(write.manager, "Update", subresource))
                .map(|pos| entries.remove(pos).set)
                .unwrap_or_default();
            mine.difference(&changes.removed);
            mine.union(&changed);
            entries.push(Entry {
                manager: write.manager.to_string(),
                operation: "Update".to_string(),
                api_version: write.api_version.to_string(),
                time: Some(write.now.to_string()),
                subresource: subresource.map(str::to_string),
                set: mine,
            });
        }
        Operation::Apply { config, force } => {
            let applied = to_field_set(&strip(config, write.scope), write.shape);
            let wanted = changed.intersection(&applied);
            let mut conflicts = Vec::new();
            for entry in entries.iter_mut() {
                if entry.same_owner(write.manager, "Apply", subresource) {
                    continue;
                }
                let clash = entry.set.intersection(&wanted);
                if clash.is_empty() {
                    continue;
                }
                if force {
                    entry.set.difference(&clash);
                } else {
                    conflicts.push((entry.manager.clone(), clash.describe()));
                }
            }
            if !conflicts.is_empty() {
                return Err(Conflicts(conflicts));
            }
            let previous = entries
                .iter()
                .position(|e| e.same_owner(write.manager, "Apply", subresource))
                .map(|pos| entries.remove(pos).set)
                .unwrap_or_default();
            // Like the real prune: drop what this manager applied last time and not now,
            // unless someone (this apply included) still owns it or anything below it.
            let mut owned = applied.clone();
            for entry in &entries {
                owned.union(&entry.set);
            }
            let mut dropped = previous;
            dropped.difference(&applied);
            let mut paths: Vec<_> = dropped
                .paths()
                .into_iter()
                .filter(|path| !owned.owns_at_or_below(path))
                .collect();
            paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for path in paths {
                remove_path(new, &path);
            }
            // Fields taken from others by force were already removed from their sets above.
            changes.removed = FieldSet::default();
            entries.push(Entry {
                manager: write.manager.to_string(),
                operation: "Apply".to_string(),
                api_version: write.api_version.to_string(),
                time: Some(write.now.to_string()),
                subresource: subresource.map(str::to_string),
                set: applied,
            });
        }
    }
    write_entries(new, entries);
    Ok(())
}

/// The manager name the real server derives from a User-Agent (`kubectl/v1.33 (...)` →
/// `kubectl`), or `unknown`.
pub(crate) fn manager_from_user_agent(user_agent: Option<&str>) -> String {
    user_agent
        .and_then(|ua| ua.split('/').next())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEPLOYMENT: Shape<'static> = Shape {
        builtin: true,
        kind: "Deployment",
    };

    fn write<'a>(manager: &'a str, operation: Operation<'a>) -> Write<'a> {
        Write {
            manager,
            operation,
            api_version: "apps/v1",
            scope: Scope::Main {
                status_subresource: true,
            },
            shape: DEPLOYMENT,
            now: "2026-01-01T00:00:00Z",
        }
    }

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": 1,
                "strategy": {"rollingUpdate": {"maxSurge": 1}},
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                    {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}
                ]}},
            },
            "status": {"replicas": 1},
        })
    }

    #[test]
    fn create_owns_every_field_with_dots_on_optional_nodes_only() {
        let mut obj = deployment();
        track(None, &mut obj, &write("kubectl-create", Operation::Update)).unwrap();
        let fields = obj.pointer("/metadata/managedFields/0/fieldsV1").unwrap();
        assert_eq!(
            *fields,
            json!({
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}}},
                    "f:template": {
                        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                            ".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                                ".": {}, "f:containerPort": {}
                            }},
                        }}},
                    },
                },
            })
        );
    }

    #[test]
    fn an_update_moves_only_the_changed_field_to_the_new_manager() {
        let mut old = deployment();
        track(None, &mut old, &write("creator", Operation::Update)).unwrap();
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(3);
        track(Some(&old), &mut new, &write("scaler", Operation::Update)).unwrap();
        let entries = new
            .pointer("/metadata/managedFields")
            .unwrap()
            .as_array()
            .unwrap();
        assert_eq!(entries.len(), 2);
        let creator = &entries[0];
        assert_eq!(creator["manager"], "creator");
        assert!(creator.pointer("/fieldsV1/f:spec/f:replicas").is_none());
        assert!(creator.pointer("/fieldsV1/f:spec/f:selector").is_some());
        assert_eq!(entries[1]["manager"], "scaler");
        assert_eq!(
            entries[1]["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}}})
        );
    }

    #[test]
    fn apply_conflicts_with_another_owner_unless_forced() {
        let mut old = deployment();
        track(None, &mut old, &write("creator", Operation::Update)).unwrap();
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                            "metadata": {"name": "web"}, "spec": {"replicas": 5}});
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(5);
        let err = track(
            Some(&old),
            &mut new.clone(),
            &write(
                "argocd-controller",
                Operation::Apply {
                    config: &config,
                    force: false,
                },
            ),
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            vec![("creator".to_string(), vec![".spec.replicas".to_string()])]
        );
        track(
            Some(&old),
            &mut new,
            &write(
                "argocd-controller",
                Operation::Apply {
                    config: &config,
                    force: true,
                },
            ),
        )
        .unwrap();
        let entries = new["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(entries[0]["manager"], "argocd-controller");
        assert_eq!(entries[0]["operation"], "Apply");
        assert_eq!(
            entries[0]["fieldsV1"],
            json!({"f:spec": {"f:replicas": {}}})
        );
    }

    #[test]
    fn apply_removes_fields_the_manager_stopped_applying() {
        let first = json!({"metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}});
        let mut obj = first.clone();
        track(
            None,
            &mut obj,
            &write(
                "me",
                Operation::Apply {
                    config: &first,
                    force: false,
                },
            ),
        )
        .unwrap();
        let second = json!({"metadata": {"name": "c", "labels": {"a": "1"}}});
        let mut new = obj.clone();
        track(
            Some(&obj),
            &mut new,
            &write(
                "me",
                Operation::Apply {
                    config: &second,
                    force: false,
                },
            ),
        )
        .unwrap();
        assert_eq!(new["metadata"]["labels"], json!({"a": "1"}));
    }

    #[test]
    fn apply_keeps_a_map_whose_node_was_dropped_but_whose_keys_are_still_applied() {
        // Previous Apply entry owned `labels` itself (".") and `labels.a`, as kubectl's
        // client-side-apply upgrade writes it; the new configuration still sets `labels.a`.
        let old = json!({"metadata": {"name": "c", "labels": {"a": "1"},
            "annotations": {"last": "x"},
            "managedFields": [{"manager": "me", "operation": "Apply", "apiVersion": "v1",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {
                    "f:labels": {".": {}, "f:a": {}},
                    "f:annotations": {".": {}, "f:last": {}}}}}]}});
        let config = json!({"metadata": {"name": "c", "labels": {"a": "1"}}});
        let mut new = old.clone();
        track(
            Some(&old),
            &mut new,
            &write(
                "me",
                Operation::Apply {
                    config: &config,
                    force: false,
                },
            ),
        )
        .unwrap();
        assert_eq!(new["metadata"]["labels"], json!({"a": "1"}));
        assert!(new["metadata"].get("annotations").is_none(), "{new}");
    }

    #[test]
    fn fields_v1_round_trips() {
        let v1 = json!({"f:metadata": {"f:finalizers": {".": {}, "v:\"a\"": {}}},
                        "f:spec": {".": {}, "f:x": {}}});
        assert_eq!(FieldSet::from_fields_v1(&v1).to_fields_v1(), v1);
    }

    #[test]
    fn the_manager_defaults_to_the_user_agent_prefix() {
        assert_eq!(
            manager_from_user_agent(Some("kubectl/v1.33.0 (linux/amd64)")),
            "kubectl"
        );
        assert_eq!(manager_from_user_agent(None), "unknown");
    }
}
