//! Label and field selectors, parsed like the real API server.
//!
//! Label selectors: comma-separated requirements, all of which must hold: `k=v`, `k==v`,
//! `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`. As in Kubernetes, `k!=v` and `k notin (…)`
//! also match objects without the label.
//!
//! Field selectors: `field=value`, `field==value`, `field!=value`, comma = AND. Every kind
//! supports `metadata.name` and `metadata.namespace`; a few built-in kinds support the extra
//! fields the real server indexes (Secret `type`, Pod `spec.nodeName`/`status.phase`, Event
//! `involvedObject.*`/`reason`/`type`, Namespace `status.phase`). Others are a `400`.

use serde_json::Value;

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector (empty = everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector(Vec<Requirement>);

/// A parsed field selector (empty = everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

/// Everything a list or watch filters on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

// === impl Filter ===

impl Filter {
    pub fn matches(&self, obj: &Value) -> bool {
        if let Some(ns) = &self.namespace
            && obj.pointer("/metadata/namespace").and_then(Value::as_str) != Some(ns.as_str())
        {
            return false;
        }
        self.labels.matches(obj) && self.fields.matches(obj)
    }

    pub fn has_selectors(&self) -> bool {
        !self.labels.0.is_empty() || !self.fields.0.is_empty()
    }
}

/// Characters allowed in a label key (prefix/name) or value.
fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Op(&'static str),
    Comma,
    Open,
    Close,
    End,
}

impl<'a> Lexer<'a> {
    fn skip_ws(&mut self) {
        while self.input[self.pos..].starts_with(' ') {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Result<Token<'a>, String> {
        let saved = self.pos;
        let token = self.next();
        self.pos = saved;
        token
    }

    fn next(&mut self) -> Result<Token<'a>, String> {
        self.skip_ws();
        let rest = &self.input[self.pos..];
        let Some(c) = rest.chars().next() else {
            return Ok(Token::End);
        };
        for op in ["==", "!=", "=", "!"] {
            if rest.starts_with(op) {
                self.pos += op.len();
                return Ok(Token::Op(op));
            }
        }
        let single = match c {
            ',' => Some(Token::Comma),
            '(' => Some(Token::Open),
            ')' => Some(Token::Close),
            _ => None,
        };
        if let Some(token) = single {
            self.pos += 1;
            return Ok(token);
        }
        let len = rest.find(|c: char| !is_label_char(c)).unwrap_or(rest.len());
        if len == 0 {
            return Err(format!(
                "unable to parse requirement: unexpected character {c:?}"
            ));
        }
        self.pos += len;
        Ok(Token::Word(&rest[..len]))
    }
}

fn validate_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !name.contains('/');
    let prefix_ok = prefix.is_none_or(|p| !p.is_empty() && p.len() <= 253);
    if name_ok && prefix_ok {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: invalid label key {key:?}"
        ))
    }
}

fn validate_value(value: &str) -> Result<(), String> {
    let ok = value.is_empty()
        || (value.len() <= 63
            && !value.contains('/')
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "unable to parse requirement: invalid label value {value:?}"
        ))
    }
}

// === impl LabelSelector ===

impl LabelSelector {
    pub fn parse(input: &str) -> Result<Self, String> {
        let mut lexer = Lexer { input, pos: 0 };
        let mut reqs = Vec::new();
        if input.trim().is_empty() {
            return Ok(Self(reqs));
        }
        loop {
            reqs.push(Self::requirement(&mut lexer)?);
            match lexer.next()? {
                Token::End => return Ok(Self(reqs)),
                Token::Comma => {}
                other => {
                    return Err(format!("found {other:?}, expected: ',' or end of string"));
                }
            }
        }
    }

    fn requirement(lexer: &mut Lexer<'_>) -> Result<Requirement, String> {
        if lexer.peek()? == Token::Op("!") {
            lexer.next()?;
            let Token::Word(key) = lexer.next()? else {
                return Err("unable to parse requirement: expected a label key after '!'".into());
            };
            validate_key(key)?;
            return Ok(Requirement::NotExists(key.to_string()));
        }
        let Token::Word(key) = lexer.next()? else {
            return Err("unable to parse requirement: found '', expected: identifier".into());
        };
        validate_key(key)?;
        let key = key.to_string();
        match lexer.peek()? {
            Token::End | Token::Comma => Ok(Requirement::Exists(key)),
            Token::Op(op @ ("=" | "==" | "!=")) => {
                lexer.next()?;
                let value = match lexer.peek()? {
                    Token::Word(v) => {
                        lexer.next()?;
                        v
                    }
                    _ => "",
                };
                validate_value(value)?;
                if op == "!=" {
                    Ok(Requirement::NotEquals(key, value.to_string()))
                } else {
                    Ok(Requirement::Equals(key, value.to_string()))
                }
            }
            Token::Word(op @ ("in" | "notin")) => {
                lexer.next()?;
                if lexer.next()? != Token::Open {
                    return Err(format!(
                        "unable to parse requirement: expected '(' after {op}"
                    ));
                }
                let mut values = Vec::new();
                loop {
                    match lexer.next()? {
                        Token::Word(v) => {
                            validate_value(v)?;
                            values.push(v.to_string());
                        }
                        Token::Comma => {}
                        Token::Close => break,
                        other => {
                            return Err(format!(
                                "unable to parse requirement: found {other:?} in value list"
                            ));
                        }
                    }
                }
                if op == "in" {
                    Ok(Requirement::In(key, values))
                } else {
                    Ok(Requirement::NotIn(key, values))
                }
            }
            other => Err(format!(
                "unable to parse requirement: found {other:?}, expected: in, notin, =, ==, !="
            )),
        }
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|req| match req {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        })
    }
}

/// Extra field-selector fields a kind supports besides `metadata.name`/`metadata.namespace`.
fn supported_fields(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("", "Secret") => &["type"],
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
        ],
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "Namespace") => &["status.phase"],
        _ => &[],
    }
}

// === impl FieldSelector ===

impl FieldSelector {
    pub fn parse(input: &str, group: &str, kind: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                ));
            };
            let field = field.trim();
            if field != "metadata.name"
                && field != "metadata.namespace"
                && !supported_fields(group, kind).contains(&field)
            {
                return Err(format!("field label not supported: {field}"));
            }
            reqs.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(Self(reqs))
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, equal, value)| {
            let pointer = format!("/{}", field.replace('.', "/"));
            let actual = obj.pointer(&pointer).and_then(Value::as_str).unwrap_or("");
            (actual == value) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "a", "namespace": "ns", "labels": labels}})
    }

    #[test]
    fn every_label_operator_matches_like_kubernetes() {
        let o = obj(json!({"app": "web", "tier": "front"}));
        for (selector, expected) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app!=db", true),
            ("missing!=x", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("app in (web, db)", true),
            ("app in (db)", false),
            ("app notin (db)", true),
            ("missing notin (db)", true),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
            ("", true),
        ] {
            let parsed = LabelSelector::parse(selector).unwrap();
            assert_eq!(parsed.matches(&o), expected, "{selector}");
        }
    }

    #[test]
    fn malformed_label_selectors_are_rejected() {
        for bad in [
            "app=",
            "=web",
            "app in web",
            "app in (a",
            "app=web,",
            "a b",
            "app=(x)",
        ] {
            if bad == "app=" {
                // An empty value is valid: it matches the empty label value.
                assert!(LabelSelector::parse(bad).is_ok());
                continue;
            }
            assert!(LabelSelector::parse(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn field_selectors_support_name_namespace_and_kind_specific_fields() {
        let o = json!({"metadata": {"name": "a", "namespace": "ns"}, "type": "Opaque"});
        let sel =
            FieldSelector::parse("metadata.name=a,metadata.namespace!=other", "", "ConfigMap")
                .unwrap();
        assert!(sel.matches(&o));
        assert!(
            FieldSelector::parse("type=Opaque", "", "Secret")
                .unwrap()
                .matches(&o)
        );
        assert!(FieldSelector::parse("spec.foo=bar", "", "ConfigMap").is_err());
        assert!(FieldSelector::parse("nonsense", "", "ConfigMap").is_err());
    }
}
