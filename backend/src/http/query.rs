//! Query strings: decoded once, each parameter at most once, unknown parameters refused.

use super::error::ApiError;
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
        fn any_query_string_parses_or_fails_cleanly(s in "\\PC{0,200}") {
            let _ = Query::parse(Some(&s));
        }
    }
}
