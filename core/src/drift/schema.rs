//! What the engine knows about Kubernetes types without a cluster: the Go types Argo CD diffs
//! built-in kinds with (ARGOCD-DIFF.md §1.3–§1.5, §7.2).
//!
//! Argo CD's legacy diff turns on whether a kind is a Go type in client-go's scheme (the exact
//! group, **version** and kind): such an object is round-tripped through its type (`remarshal`:
//! `omitempty` fields with zero or empty values dropped, quantities canonical) and patched with a
//! strategic merge patch whose list semantics are the type's struct tags (`patchMergeKey`,
//! `patchStrategy`); the API server's defaulting is applied to both predicted and live. Anything
//! else — custom resources, CRDs, APIServices, versions the scheme lacks — goes through a JSON
//! merge patch: every list atomic, `null` meaningless.
//!
//! The types come from `k8s-types.txt`, generated from the module versions Argo CD v3.5.7 is built
//! with (`make k8s-types`, `testenv/go/argocd/k8stypes/`): per kind its type, per type its JSON
//! fields with their shape (pointer, slice, map, struct, scalar, quantity, …), `omitempty`, merge
//! key and strategy, and the value defaulting gives the field, if any. It is parsed once, on first
//! use.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

const TABLE: &str = include_str!("k8s-types.txt");

/// Index of a struct type in the table.
pub type TypeId = u32;

/// The JSON shape of a field.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    String,
    Bool,
    Int,
    Float,
    /// `resource.Quantity`: canonical text, a string or a number in JSON.
    Quantity,
    /// `intstr.IntOrString`: a string or an integer, never equal to each other.
    IntOrString,
    /// `metav1.Time` / `MicroTime`.
    Time,
    /// `metav1.Duration`: Go duration text.
    Duration,
    /// `[]byte`: base64 text.
    Bytes,
    /// Opaque (`runtime.RawExtension`, `interface{}`, types with their own JSON form).
    Raw,
    Struct(TypeId),
    Ptr(Box<Shape>),
    Slice(Box<Shape>),
    /// A map with string keys.
    Map(Box<Shape>),
}

impl Shape {
    /// The shape behind any pointers.
    pub fn pointee(&self) -> &Shape {
        match self {
            Shape::Ptr(inner) => inner.pointee(),
            other => other,
        }
    }

    pub fn is_ptr(&self) -> bool {
        matches!(self, Shape::Ptr(_))
    }

    /// The struct type behind pointers, if this is one.
    pub fn struct_id(&self) -> Option<TypeId> {
        match self.pointee() {
            Shape::Struct(id) => Some(*id),
            _ => None,
        }
    }
}

/// What defaulting sets a field to.
#[derive(Clone, Debug, PartialEq)]
pub enum Dflt {
    None,
    Value(Value),
    /// A value that depends on other fields.
    Any,
}

/// One JSON field of a struct type.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub shape: Shape,
    pub omitempty: bool,
    /// `patchMergeKey`.
    pub merge_key: Option<String>,
    /// `patchStrategy` contains `merge`.
    pub merge: bool,
    /// `patchStrategy` contains `retainKeys`.
    pub retain_keys: bool,
    pub default: Dflt,
}

impl Field {
    /// Would Go's `omitempty` drop `v` when the typed object is marshalled? A pointer only when
    /// `null`; a struct never; otherwise `null` and the zero or empty value.
    pub fn omits(&self, v: &Value) -> bool {
        self.omitempty && omitted(&self.shape, v)
    }

    /// Does defaulting give this field the value `v` (so predicted and live agree on it)?
    pub fn defaults_to(&self, v: &Value) -> bool {
        match &self.default {
            Dflt::None => false,
            Dflt::Any => true,
            Dflt::Value(d) => super::scalar::scalar_eq(d, v),
        }
    }
}

/// `omitempty` on a value of `shape`.
pub fn omitted(shape: &Shape, v: &Value) -> bool {
    match shape {
        Shape::Ptr(_) | Shape::Raw => v.is_null(),
        // Structs (and the struct-backed quantity and int-or-string) are never omitted.
        Shape::Struct(_) | Shape::Quantity | Shape::IntOrString | Shape::Time => false,
        Shape::Slice(_) | Shape::Bytes => match v {
            Value::Null => true,
            Value::Array(a) => a.is_empty(),
            Value::String(s) => s.is_empty(),
            _ => false,
        },
        Shape::Map(_) => match v {
            Value::Null => true,
            Value::Object(o) => o.is_empty(),
            _ => false,
        },
        Shape::String | Shape::Duration => matches!(v, Value::Null) || v.as_str() == Some(""),
        Shape::Bool => matches!(v, Value::Null | Value::Bool(false)),
        Shape::Int | Shape::Float => {
            v.is_null() || v.as_f64() == Some(0.0) || v.as_i64() == Some(0)
        }
    }
}

/// One struct type.
#[derive(Clone, Debug, Default)]
pub struct TypeDef {
    pub name: String,
    fields: HashMap<String, Field>,
}

impl TypeDef {
    pub fn field(&self, json: &str) -> Option<&Field> {
        self.fields.get(json)
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, &Field)> {
        self.fields.iter().map(|(k, f)| (k.as_str(), f))
    }
}

/// The parsed table.
#[derive(Debug, Default)]
pub struct Schema {
    types: Vec<TypeDef>,
    by_name: HashMap<String, TypeId>,
    kinds: HashMap<String, TypeId>,
    /// Lines that did not parse (a test asserts there are none).
    pub problems: Vec<String>,
}

static SCHEMA: OnceLock<Schema> = OnceLock::new();

/// The built-in types (parsed on first use).
pub fn schema() -> &'static Schema {
    SCHEMA.get_or_init(|| Schema::parse(TABLE))
}

impl Schema {
    /// The type of a kind Argo CD's scheme knows (`apps`, `v1`, `Deployment`), or `None`: then
    /// Argo CD diffs it as an unknown type (JSON merge patch).
    pub fn kind(&self, group: &str, version: &str, kind: &str) -> Option<TypeId> {
        self.kinds
            .get(&format!("{group}/{version}/{kind}"))
            .copied()
    }

    /// A type by its name (`core/v1/PodSpec`), as argocd-cm's `knownTypeFields` names them.
    pub fn by_name(&self, name: &str) -> Option<TypeId> {
        self.by_name.get(name).copied()
    }

    pub fn ty(&self, id: TypeId) -> &TypeDef {
        static EMPTY: OnceLock<TypeDef> = OnceLock::new();
        self.types
            .get(id as usize)
            .unwrap_or_else(|| EMPTY.get_or_init(TypeDef::default))
    }

    /// The field `key` of struct type `id`.
    pub fn field(&self, id: TypeId, key: &str) -> Option<&Field> {
        self.ty(id).field(key)
    }

    fn parse(text: &str) -> Schema {
        let mut s = Schema::default();
        // Type names first, so fields can refer to types defined later.
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("type ") {
                let id = s.types.len() as TypeId;
                s.types.push(TypeDef {
                    name: name.to_string(),
                    fields: HashMap::new(),
                });
                s.by_name.insert(name.to_string(), id);
            }
        }
        let mut current: Option<TypeId> = None;
        for (n, line) in text.lines().enumerate() {
            let mut words = line.split_whitespace();
            match words.next() {
                None => {}
                Some(w) if w.starts_with('#') => {}
                Some("kind") => match (words.next(), words.next().and_then(|t| s.id(t))) {
                    (Some(gvk), Some(id)) => {
                        s.kinds.insert(gvk.to_string(), id);
                    }
                    _ => s.problems.push(format!("line {}: {line}", n + 1)),
                },
                Some("type") => current = words.next().and_then(|t| s.id(t)),
                Some("field") => {
                    let parsed = (|| {
                        let json = words.next()?;
                        let shape = s.shape(words.next()?)?;
                        let mut f = Field {
                            shape,
                            omitempty: false,
                            merge_key: None,
                            merge: false,
                            retain_keys: false,
                            default: Dflt::None,
                        };
                        for flag in words.by_ref() {
                            match flag.split_once('=') {
                                None if flag == "omitempty" => f.omitempty = true,
                                Some(("merge", key)) => f.merge_key = Some(key.to_string()),
                                Some(("strategy", st)) => {
                                    f.merge = st.split(',').any(|x| x == "merge");
                                    f.retain_keys = st.split(',').any(|x| x == "retainKeys");
                                }
                                Some(("default", "*")) => f.default = Dflt::Any,
                                Some(("default", v)) => {
                                    f.default = Dflt::Value(serde_json::from_str(v).ok()?)
                                }
                                _ => return None,
                            }
                        }
                        Some((json.to_string(), f))
                    })();
                    match (parsed, current) {
                        (Some((json, f)), Some(id)) => {
                            s.types[id as usize].fields.insert(json, f);
                        }
                        _ => s.problems.push(format!("line {}: {line}", n + 1)),
                    }
                }
                Some(_) => s.problems.push(format!("line {}: {line}", n + 1)),
            }
        }
        s
    }

    fn id(&self, name: &str) -> Option<TypeId> {
        self.by_name.get(name).copied()
    }

    fn shape(&self, text: &str) -> Option<Shape> {
        if let Some(inner) = text.strip_prefix('*') {
            return Some(Shape::Ptr(Box::new(self.shape(inner)?)));
        }
        if let Some(inner) = text.strip_prefix("[]") {
            return Some(Shape::Slice(Box::new(self.shape(inner)?)));
        }
        if let Some(inner) = text.strip_prefix("map[").and_then(|t| t.strip_suffix(']')) {
            return Some(Shape::Map(Box::new(self.shape(inner)?)));
        }
        Some(match text {
            "string" => Shape::String,
            "bool" => Shape::Bool,
            "int" => Shape::Int,
            "float" => Shape::Float,
            "quantity" => Shape::Quantity,
            "intorstring" => Shape::IntOrString,
            "time" => Shape::Time,
            "duration" => Shape::Duration,
            "bytes" => Shape::Bytes,
            "raw" => Shape::Raw,
            name => Shape::Struct(self.id(name)?),
        })
    }
}

/// Does `value` decode into `shape` without error? (Argo CD's typed round trip falls back to the
/// object as it is when any field is unknown or of the wrong JSON type.)
pub fn conforms(sc: &Schema, shape: &Shape, value: &Value) -> bool {
    if value.is_null() {
        return true;
    }
    match shape {
        Shape::Ptr(inner) => conforms(sc, inner, value),
        Shape::Raw => true,
        Shape::String | Shape::Time | Shape::Duration | Shape::Bytes => value.is_string(),
        Shape::Bool => value.is_boolean(),
        Shape::Int => value.as_i64().is_some() || value.as_u64().is_some(),
        Shape::Float => value.is_number(),
        Shape::Quantity => value.is_string() || value.is_number(),
        Shape::IntOrString => value.is_string() || value.as_i64().is_some(),
        Shape::Slice(inner) => value
            .as_array()
            .is_some_and(|a| a.iter().all(|x| conforms(sc, inner, x))),
        Shape::Map(inner) => value
            .as_object()
            .is_some_and(|m| m.values().all(|x| conforms(sc, inner, x))),
        Shape::Struct(id) => value.as_object().is_some_and(|m| {
            let t = sc.ty(*id);
            m.iter()
                .all(|(k, v)| t.field(k).is_some_and(|f| conforms(sc, &f.shape, v)))
        }),
    }
}

/// `apps/v1` → (`apps`, `v1`); `v1` → (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(ty: &str, key: &str) -> &'static Field {
        let sc = schema();
        sc.field(sc.by_name(ty).unwrap(), key).unwrap()
    }

    #[test]
    fn the_table_parses_completely() {
        let sc = schema();
        assert!(
            sc.problems.is_empty(),
            "{:?}",
            &sc.problems[..5.min(sc.problems.len())]
        );
        assert!(sc.kinds.len() > 100 && sc.types.len() > 500);
    }

    #[test]
    fn kinds_are_built_in_by_group_version_and_kind() {
        let sc = schema();
        assert!(sc.kind("apps", "v1", "Deployment").is_some());
        assert!(sc.kind("", "v1", "ConfigMap").is_some());
        assert!(sc.kind("resource.k8s.io", "v1", "DeviceClass").is_some());
        assert!(
            sc.kind(
                "storagemigration.k8s.io",
                "v1beta1",
                "StorageVersionMigration"
            )
            .is_some()
        );
        // Not in Argo CD's scheme: JSON merge semantics.
        assert!(
            sc.kind(
                "storagemigration.k8s.io",
                "v1alpha1",
                "StorageVersionMigration"
            )
            .is_none()
        );
        assert!(
            sc.kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
                .is_none()
        );
        assert!(sc.kind("argoproj.io", "v1alpha1", "Rollout").is_none());
    }

    #[test]
    fn fields_carry_their_go_semantics() {
        let env = field("core/v1/Container", "env");
        assert_eq!((env.merge_key.as_deref(), env.merge), (Some("name"), true));
        let tolerations = field("core/v1/PodSpec", "tolerations");
        assert!(!tolerations.merge, "atomic");
        let automount = field("core/v1/PodSpec", "automountServiceAccountToken");
        assert!(automount.shape.is_ptr() && !automount.omits(&json!(false)));
        let host_network = field("core/v1/PodSpec", "hostNetwork");
        assert!(host_network.omits(&json!(false)));
        assert!(field("core/v1/PodSpec", "nodeSelector").omits(&json!({})));
        assert!(!field("core/v1/Volume", "emptyDir").omits(&json!({})));
        assert!(field("core/v1/Volume", "emptyDir").omits(&Value::Null));
        let average = field("autoscaling/v2/MetricTarget", "averageValue");
        assert_eq!(average.shape.pointee(), &Shape::Quantity);
        let volumes = field("core/v1/PodSpec", "volumes");
        assert!(volumes.merge && volumes.retain_keys);
        let policy = field("core/v1/Container", "terminationMessagePolicy");
        assert!(policy.defaults_to(&json!("File")) && !policy.defaults_to(&json!("x")));
    }

    #[test]
    fn conformance_finds_unknown_fields_and_wrong_types() {
        let sc = schema();
        let dep = Shape::Struct(sc.kind("apps", "v1", "Deployment").unwrap());
        assert!(conforms(
            sc,
            &dep,
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a"},
                    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "a",
                    "resources": {"limits": {"cpu": 0.5}}}]}}}})
        ));
        assert!(!conforms(sc, &dep, &json!({"spec": {"replicas": "2"}})));
        assert!(!conforms(sc, &dep, &json!({"spec": {"replica": 2}})));
    }
}
