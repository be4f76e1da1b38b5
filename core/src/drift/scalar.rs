//! Equality of JSON values the way Kubernetes means it: numbers by value (`3` is `3.0`), the
//! rest exactly. Its own module because both the comparison ([`super::compare`]) and the schema's
//! defaults ([`super::schema`]) need it, and neither should depend on the other for it.

use serde_json::Value;

/// Scalar equality: numbers by value, everything else exactly. Containers compare structurally.
pub fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => num_eq(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| scalar_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| scalar_eq(v, w)))
        }
        _ => a == b,
    }
}

fn num_eq(x: &serde_json::Number, y: &serde_json::Number) -> bool {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return a == b;
    }
    // serde_json's default float parser may land one ulp off when a number goes through text
    // (the last-applied annotation is text): a few ulps are the same number.
    match (x.as_f64(), y.as_f64()) {
        (Some(a), Some(b)) => a == b || (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs()),
        _ => false,
    }
}
