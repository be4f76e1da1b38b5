//! Query strings: decoded once, each parameter at most once, then parsed into the typed query of
//! the route ([`FromQuery`]) before any handler runs.
//!
//! Every API route also accepts nothing it does not declare, and every route checks the
//! [`ScopeClaims`] — a `namespace`, `cluster` or `resource` anywhere in the query must belong to
//! the app (the gate checks that), whether or not the route takes it.
//!
//! Errors are ranked, not found in query order, so a malformed value gets the same code whatever
//! else the query holds: an undecodable or repeated parameter, or a malformed value of any known
//! parameter → `INVALID_QUERY` (first); a name that is not the app's → `OUT_OF_SCOPE`; a
//! parameter the route does not take → `UNKNOWN_QUERY_PARAMETER` (last).

use super::error::ApiError;
use drift_core::scope::ResourceRef;
use percent_encoding::percent_decode_str;

/// The longest query string read; anything longer is refused before decoding.
pub const MAX_QUERY_LEN: usize = 4096;

/// A decoded query string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes `a=1&b=x%20y` (`+` is a space). A repeated parameter is an error: which of two
    /// values a route would use must never be left to chance.
    pub fn parse(raw: Option<&str>) -> Result<Query, ApiError> {
        let raw = raw.unwrap_or("");
        if raw.len() > MAX_QUERY_LEN {
            return Err(ApiError::InvalidQuery("query string too long".into()));
        }
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let (k, v) = (decode(k)?, decode(v)?);
            if pairs.iter().any(|(existing, _)| *existing == k) {
                return Err(ApiError::InvalidQuery(format!(
                    "parameter {k:?} is repeated"
                )));
            }
            pairs.push((k, v));
        }
        Ok(Query { pairs })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Refuses any parameter the route does not take.
    pub fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self
            .pairs
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
        {
            Some((k, _)) => Err(ApiError::UnknownQueryParameter(k.clone())),
            None => Ok(()),
        }
    }
}

/// A route's query parameters, typed. Parsing checks syntax only; whether a value belongs to the
/// app is the gate's business.
pub trait FromQuery: Sized + Send {
    /// Every parameter the route takes; any other is refused.
    const PARAMS: &'static [&'static str];

    /// The typed query, or `INVALID_QUERY` for a malformed value of a known parameter.
    fn from_query(query: &Query) -> Result<Self, ApiError>;

    /// Scope names (`namespace`, …) this route defines as its own parameters: they are checked
    /// through [`claimed_resource`](Self::claimed_resource), not as generic claims.
    const OWN_SCOPE_NAMES: &'static [&'static str] = &[];

    /// A resource the query names beyond the generic `resource` claim, which must be the app's.
    fn claimed_resource(&self) -> Option<ResourceRef> {
        None
    }

    /// The version the query names for [`claimed_resource`](Self::claimed_resource): the app's
    /// entry for that resource must list exactly this version (a version is part of the URL the
    /// backend builds, so it must never be the caller's free text).
    fn claimed_version(&self) -> Option<&str> {
        None
    }
}

/// The query of a route that takes no parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoParams;

impl FromQuery for NoParams {
    const PARAMS: &'static [&'static str] = &[];

    fn from_query(_: &Query) -> Result<Self, ApiError> {
        Ok(NoParams)
    }
}

/// Names any request may carry, on any route; each must belong to the app.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeClaims {
    pub namespace: Option<String>,
    pub cluster: Option<String>,
    /// `resource=group/kind/namespace/name` (empty group = core, empty namespace = cluster scope).
    pub resource: Option<ResourceRef>,
}

impl ScopeClaims {
    /// The claims in a query, but for the names the route defines itself (`own`). An empty
    /// value is refused rather than read as "cluster scope" or "all": a cluster-scoped object is
    /// named with `resource`, never with an empty `namespace`.
    pub fn parse(query: &Query, own: &[&str]) -> Result<ScopeClaims, ApiError> {
        let non_empty = |name: &str| match query.get(name) {
            _ if own.contains(&name) => Ok(None),
            Some("") => Err(ApiError::InvalidQuery(format!("{name} must not be empty"))),
            other => Ok(other.map(str::to_string)),
        };
        let namespace = non_empty("namespace")?;
        let cluster = non_empty("cluster")?;
        let resource = non_empty("resource")?
            .map(|raw| {
                ResourceRef::parse(&raw).ok_or_else(|| {
                    ApiError::InvalidQuery("resource must be group/kind/namespace/name".into())
                })
            })
            .transpose()?;
        Ok(ScopeClaims {
            namespace,
            cluster,
            resource,
        })
    }
}

/// Parses `true`/`false` (and an empty value, `?all`, as true).
pub fn parse_bool(query: &Query, name: &str) -> Result<bool, ApiError> {
    match query.get(name) {
        None | Some("false") => Ok(false),
        Some("") | Some("true") => Ok(true),
        Some(_) => Err(ApiError::InvalidQuery(format!(
            "{name} must be true or false"
        ))),
    }
}

fn decode(s: &str) -> Result<String, ApiError> {
    let spaced = s.replace('+', " ");
    let text = percent_decode_str(&spaced)
        .decode_utf8()
        .map_err(|_| ApiError::InvalidQuery("not UTF-8 after percent-decoding".into()))?;
    if text.chars().any(char::is_control) {
        return Err(ApiError::InvalidQuery("control characters".into()));
    }
    Ok(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_percent_escapes_and_plus() {
        let q = Query::parse(Some("namespace=guest%2Dbook&name=a+b&flag")).unwrap();
        assert_eq!(q.get("namespace"), Some("guest-book"));
        assert_eq!(q.get("name"), Some("a b"));
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(q.get("other"), None);
    }

    #[test]
    fn repeated_parameters_and_bad_encodings_are_refused() {
        for bad in [
            "a=1&a=2",
            "a=%ff",
            "a=%0a",
            &format!("a={}", "x".repeat(MAX_QUERY_LEN)),
        ] {
            let err = Query::parse(Some(bad)).unwrap_err();
            assert_eq!(err.code(), "INVALID_QUERY", "{bad:?}");
        }
    }

    #[test]
    fn only_lists_what_a_route_accepts() {
        let q = Query::parse(Some("namespace=x&verbose=1")).unwrap();
        assert!(q.only(&["namespace", "verbose"]).is_ok());
        let err = q.only(&["namespace"]).unwrap_err();
        assert_eq!(err.code(), "UNKNOWN_QUERY_PARAMETER");
        assert!(Query::parse(None).unwrap().only(&[]).is_ok());
    }

    proptest! {
        #[test]
        fn any_query_string_parses_or_fails_with_the_documented_code(s in "\\PC{0,200}") {
            match Query::parse(Some(&s)) {
                Ok(q) => {
                    // Whatever parsed has no repeated names and no control characters.
                    let mut names: Vec<&str> = q.pairs.iter().map(|(k, _)| k.as_str()).collect();
                    let n = names.len();
                    names.sort_unstable();
                    names.dedup();
                    prop_assert_eq!(names.len(), n);
                    prop_assert!(q.pairs.iter().all(|(k, v)| !k.chars().chain(v.chars()).any(char::is_control)));
                }
                Err(e) => prop_assert_eq!(e.code(), "INVALID_QUERY"),
            }
        }

        #[test]
        fn encoded_parameters_round_trip(
            pairs in proptest::collection::btree_map("[a-z]{1,8}", "[ -~]{0,20}", 0..6)
        ) {
            let raw: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)))
                .collect();
            let q = Query::parse(Some(&raw.join("&"))).unwrap();
            for (k, v) in &pairs {
                prop_assert_eq!(q.get(k), Some(v.as_str()));
            }
        }
    }

    #[test]
    fn scope_claims_parse_each_name_and_refuse_empty_or_malformed_values() {
        let q = Query::parse(Some(
            "namespace=guestbook&resource=apps/Deployment/guestbook/ui",
        ))
        .unwrap();
        let claims = ScopeClaims::parse(&q, &[]).unwrap();
        assert_eq!(claims.namespace.as_deref(), Some("guestbook"));
        assert_eq!(
            claims.resource.unwrap().to_string(),
            "apps/Deployment/guestbook/ui"
        );
        for bad in ["namespace=", "cluster=", "resource=", "resource=Service/x"] {
            let q = Query::parse(Some(bad)).unwrap();
            assert_eq!(
                ScopeClaims::parse(&q, &[]).unwrap_err().code(),
                "INVALID_QUERY",
                "{bad}"
            );
        }
        // A route that defines `namespace` itself (empty = cluster scope) checks it its own way.
        let q = Query::parse(Some("namespace=")).unwrap();
        assert_eq!(
            ScopeClaims::parse(&q, &["namespace"]).unwrap(),
            ScopeClaims::default()
        );
    }

    #[test]
    fn booleans_are_true_false_or_a_bare_flag() {
        let q = Query::parse(Some("a=true&b=false&c&d=yes")).unwrap();
        assert!(parse_bool(&q, "a").unwrap());
        assert!(!parse_bool(&q, "b").unwrap());
        assert!(parse_bool(&q, "c").unwrap());
        assert!(!parse_bool(&q, "missing").unwrap());
        assert_eq!(parse_bool(&q, "d").unwrap_err().code(), "INVALID_QUERY");
    }
}
