//! Keeping Secret values in: Argo CD's masking scheme (ARGOCD-DIFF.md §3), applied to everything
//! the engine returns about a Secret, and to annotations listed in
//! `resource.sensitive.mask.annotations` on any kind.
//!
//! Per key, every distinct value seen across desired and live gets a run of `+`: the first
//! distinct value 8, the next 12, then 16, … So equal values show equal runs and a change shows as
//! two different runs, and nothing about the value itself is left. The run lengths mean something
//! only within one answer.
//!
//! What is masked in a Secret: every value under `data` and `stringData`, and the
//! `last-applied-configuration` annotation (it holds the data in base64 and `stringData` in clear),
//! replaced whole by `++++++++`; the same annotation is masked whole on any kind when sensitive
//! annotations are configured, since it repeats their desired values. The engine compares real values and masks the result; masking is
//! the last step before a value leaves it.

use super::normalize::LAST_APPLIED;
use super::path::Seg;
use serde_json::Value;
use std::collections::HashMap;

pub const MASK: &str = "++++++++";

/// Replacement runs for the values of one object pair.
#[derive(Default)]
pub struct Masker {
    secret: bool,
    sensitive_annotations: Vec<String>,
    /// (section, key) → [(value, mask)]; section is `data` or `annotations`.
    seen: HashMap<(&'static str, String), Vec<(Value, String)>>,
}

// The masker holds real values: Debug must not show them.
impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Masker {{ secret: {}, keys: {} }}",
            self.secret,
            self.seen.len()
        )
    }
}

impl Masker {
    /// A masker for one resource. `objects` are the normalized desired and live objects, in that
    /// order (the order decides which value gets the shortest run, as in Argo CD).
    pub fn new(
        secret: bool,
        sensitive_annotations: &[String],
        objects: &[Option<&Value>],
    ) -> Masker {
        let mut m = Masker {
            secret,
            sensitive_annotations: sensitive_annotations.to_vec(),
            seen: HashMap::new(),
        };
        for obj in objects.iter().flatten() {
            if secret {
                for section in ["data", "stringData"] {
                    if let Some(Value::Object(map)) = obj.get(section) {
                        for (k, v) in map {
                            m.mask("data", k, v);
                        }
                    }
                }
            }
            if let Some(Value::Object(ann)) =
                obj.get("metadata").and_then(|md| md.get("annotations"))
            {
                for a in &m.sensitive_annotations.clone() {
                    if let Some(v) = ann.get(a) {
                        m.mask("annotations", a, v);
                    }
                }
            }
        }
        m
    }

    /// Does this resource have anything to mask?
    pub fn active(&self) -> bool {
        self.secret || !self.sensitive_annotations.is_empty()
    }

    fn mask(&mut self, section: &'static str, key: &str, value: &Value) -> String {
        let runs = self.seen.entry((section, key.to_string())).or_default();
        if let Some((_, m)) = runs.iter().find(|(v, _)| v == value) {
            return m.clone();
        }
        let m = "+".repeat(8 + 4 * runs.len());
        runs.push((value.clone(), m.clone()));
        m
    }

    /// Masks, in place, every sensitive value inside `value`, which sits at `path` in the object.
    pub fn mask_at(&mut self, path: &[Seg], value: &mut Value) {
        if !self.active() {
            return;
        }
        let mut p = path.to_vec();
        self.walk(&mut p, value);
    }

    /// Masks a whole object.
    pub fn mask_object(&mut self, value: &mut Value) {
        self.mask_at(&[], value)
    }

    fn walk(&mut self, path: &mut Vec<Seg>, value: &mut Value) {
        if let Some(replacement) = self.sensitive(path, value) {
            *value = Value::String(replacement);
            return;
        }
        match value {
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    path.push(Seg::Key(k.clone()));
                    self.walk(path, v);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    path.push(Seg::Index(i));
                    self.walk(path, v);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// The replacement for the value at `path`, if it is sensitive. Index segments count as
    /// keys here: a Secret data key may be all digits.
    fn sensitive(&mut self, path: &[Seg], value: &Value) -> Option<String> {
        let segs: Vec<String> = path
            .iter()
            .map(|s| match s {
                Seg::Key(k) => k.clone(),
                Seg::Index(i) => i.to_string(),
            })
            .collect();
        let secret_section = |s: &str| s == "data" || s == "stringData";
        match segs.as_slice() {
            [section, k] if self.secret && secret_section(section) => {
                Some(self.mask("data", k, value))
            }
            // Anything deeper under data is not a Secret shape; mask it whole.
            [section, _, _, ..] if self.secret && secret_section(section) => Some(MASK.to_string()),
            [m, a, k] if m == "metadata" && a == "annotations" => {
                // The record holds the desired values of everything masked here, so with anything
                // to mask it goes whole (Argo CD re-serializes it masked; a whole mask is simpler
                // and leaks nothing).
                if k == LAST_APPLIED && (self.secret || !self.sensitive_annotations.is_empty()) {
                    Some(MASK.to_string())
                } else if self.sensitive_annotations.iter().any(|s| s == k) {
                    Some(self.mask("annotations", k, value))
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// Scanning output for Secret values in every encoding the issue names: plain, base64, base64
/// embedded at any offset of a longer base64 text, and hex. For tests, here and in the backend.
#[cfg(any(test, feature = "fixtures"))]
pub mod leak {
    use base64::Engine as _;

    /// Every string that would betray `secret` in some encoding: plain, hex, base64 (standard
    /// and URL-safe), the part of a longer base64 text that encodes only the secret (at each of
    /// the three alignments), and the same for the secret's base64 (a Secret's last-applied
    /// annotation holds it, and that annotation may itself end up base64-encoded).
    pub fn patterns(secret: &str) -> Vec<String> {
        let b = secret.as_bytes();
        let std = base64::engine::general_purpose::STANDARD;
        let url = base64::engine::general_purpose::URL_SAFE;
        let once = std.encode(b);
        let mut out = vec![
            secret.to_string(),
            hex(b, false),
            hex(b, true),
            once.trim_end_matches('=').to_string(),
            url.encode(b).trim_end_matches('=').to_string(),
        ];
        out.extend(embedded(b));
        out.extend(embedded(once.as_bytes()));
        out.retain(|p| p.len() >= 6);
        out.sort();
        out.dedup();
        out
    }

    /// The base64 characters that depend only on `bytes` when they sit at offset 0, 1 or 2 of a
    /// 3-byte group inside a longer text.
    fn embedded(bytes: &[u8]) -> Vec<String> {
        let std = base64::engine::general_purpose::STANDARD;
        (0..3usize)
            .filter_map(|pad| {
                let mut buf = vec![0u8; pad];
                buf.extend_from_slice(bytes);
                let enc = std.encode(&buf);
                let start = (8 * pad).div_ceil(6);
                let end = 8 * (pad + bytes.len()) / 6;
                (end > start).then(|| enc[start..end].to_string())
            })
            .collect()
    }

    fn hex(b: &[u8], upper: bool) -> String {
        b.iter()
            .map(|x| {
                if upper {
                    format!("{x:02X}")
                } else {
                    format!("{x:02x}")
                }
            })
            .collect()
    }

    /// The first secret (and the pattern) found in `text`, if any.
    pub fn find<'a>(text: &str, secrets: &'a [&'a str]) -> Option<(&'a str, String)> {
        for s in secrets {
            for p in patterns(s) {
                if text.contains(&p) {
                    return Some((s, p));
                }
            }
        }
        None
    }

    /// Panics naming the secret if `text` contains any of `secrets` in any encoding.
    pub fn assert_none(text: &str, secrets: &[&str]) {
        if let Some((s, p)) = find(text, secrets) {
            let at = text.find(&p).unwrap_or(0);
            panic!(
                "secret {s:?} leaked as {p:?} near: {}",
                &text[at.saturating_sub(60)..(at + p.len() + 20).min(text.len())]
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    #[test]
    fn equal_values_get_equal_runs_and_each_new_value_a_longer_one() {
        let desired = json!({"data": {"a": "MQ==", "b": "Mg=="}});
        let live = json!({"data": {"a": "MQ==", "b": "Mw=="}});
        let mut m = Masker::new(true, &[], &[Some(&desired), Some(&live)]);
        let (mut d, mut l) = (desired.clone(), live.clone());
        m.mask_object(&mut d);
        m.mask_object(&mut l);
        assert_eq!(d, json!({"data": {"a": "++++++++", "b": "++++++++"}}));
        assert_eq!(l, json!({"data": {"a": "++++++++", "b": "++++++++++++"}}));
    }

    #[test]
    fn the_last_applied_annotation_of_a_secret_is_masked_whole() {
        let mut live = json!({"metadata": {"annotations": {LAST_APPLIED: "{\"data\":{\"a\":\"c2VjcmV0\"}}", "x": "y"}}});
        Masker::new(true, &[], &[]).mask_object(&mut live);
        assert_eq!(
            live,
            json!({"metadata": {"annotations": {LAST_APPLIED: MASK, "x": "y"}}})
        );
    }

    #[test]
    fn sensitive_annotations_are_masked_on_any_kind_and_nothing_else_is() {
        let obj = json!({"metadata": {"annotations": {"token": "abc", "plain": "p"}}, "data": {"k": "v"}});
        let mut m = Masker::new(false, &["token".to_string()], &[Some(&obj)]);
        let mut out = obj.clone();
        m.mask_object(&mut out);
        assert_eq!(
            out,
            json!({"metadata": {"annotations": {"token": "++++++++", "plain": "p"}}, "data": {"k": "v"}})
        );
        let mut untouched = obj.clone();
        Masker::new(false, &[], &[]).mask_object(&mut untouched);
        assert_eq!(untouched, obj);
    }

    #[test]
    fn a_value_at_a_data_path_is_masked_when_given_alone() {
        let mut m = Masker::new(true, &[], &[]);
        let mut v = json!("c2VjcmV0");
        m.mask_at(&[Seg::key("data"), Seg::key("k")], &mut v);
        assert_eq!(v, json!(MASK));
        let mut whole = json!({"k": "c2VjcmV0"});
        m.mask_at(&[Seg::key("data")], &mut whole);
        assert_eq!(whole, json!({"k": MASK}));
    }

    #[test]
    fn the_leak_scanner_finds_a_secret_in_every_encoding() {
        let secret = "correct-horse-battery-staple";
        let b64 = base64::engine::general_purpose::STANDARD;
        let texts = [
            format!("x {secret} y"),
            b64.encode(secret),
            "636f72726563742d686f7273652d626174746572792d737461706c65".to_string(),
            // Embedded in a longer base64 text at every alignment.
            b64.encode(format!("{{\"data\":{{\"p\":\"{secret}\"}}}}")),
            b64.encode(format!("a{secret}zz")),
            b64.encode(format!("ab{secret}z")),
            // base64 of the base64 (a Secret's last-applied annotation inside another base64).
            b64.encode(format!("{{\"x\":\"{}\"}}", b64.encode(secret))),
        ];
        for t in &texts {
            assert!(leak::find(t, &[secret]).is_some(), "missed in {t}");
        }
        assert!(leak::find("nothing to see", &[secret]).is_none());
    }
}
