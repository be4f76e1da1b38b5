//! Kubernetes `resource.Quantity` canonical form (ARGOCD-DIFF.md §1.4, §7.2 item 3).
//!
//! Argo CD round-trips built-in objects through their Go types, so `cpu: 0.5` in Git and
//! `cpu: 500m` live compare equal there. k8s-openapi's `Quantity` is a plain string, so the
//! canonicalisation is written here, following `k8s.io/apimachinery/pkg/api/resource`:
//!
//! - the suffix family is kept: binary (`Ki`…`Ei`), decimal SI (`n u m "" k M G T P E`) or decimal
//!   exponent (`e3`, `E-6`);
//! - decimal values get the largest exponent that is a multiple of three and keeps the mantissa
//!   whole (`1000m` → `1`, `0.5` → `500m`, `1500` → `1500`, `2000` → `2k`);
//! - binary values get the largest power of 1024 that divides them (`1024Mi` → `1Gi`); a binary
//!   value below 1024 or not a whole number is written in decimal SI (`0.5Ki` → `512`);
//! - precision finer than `n` (10⁻⁹) is rounded up, away from zero, as Kubernetes does;
//! - JSON numbers are quantities too (`cpu: 2` → `"2"`).
//!
//! Anything that does not parse is left as it is, as Argo CD leaves `"invalid"`.

use serde_json::Value;

/// The canonical text of a quantity, or `None` if `s` is not one (or is out of range).
pub fn canonical(s: &str) -> Option<String> {
    let q = parse(s.trim())?;
    format(q)
}

/// A quantity value: a number (string or JSON number) in canonical form as a JSON string.
pub fn canonical_value(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => canonical(s).map(Value::String),
        Value::Number(n) => canonical(&n.to_string()).map(Value::String),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Family {
    Binary,
    DecimalSi,
    DecimalExponent,
}

/// `mantissa × 10^exp10 × 1024^pow1024`.
#[derive(Clone, Copy, Debug)]
struct Parsed {
    mantissa: i128,
    exp10: i32,
    pow1024: u32,
    family: Family,
}

fn parse(s: &str) -> Option<Parsed> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut mantissa: i128 = 0;
    let mut exp10: i32 = 0;
    let mut digits = 0;
    let mut seen_dot = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                // Past 30 significant digits the value is out of any range Kubernetes accepts.
                if mantissa.unsigned_abs() >= 10u128.pow(30) {
                    return None;
                }
                mantissa = mantissa * 10 + i128::from(b - b'0');
                if seen_dot {
                    exp10 -= 1;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if negative {
        mantissa = -mantissa;
    }
    let suffix = &s[i..];
    let (family, extra10, pow1024) = match suffix {
        "" => (Family::DecimalSi, 0, 0),
        "n" => (Family::DecimalSi, -9, 0),
        "u" => (Family::DecimalSi, -6, 0),
        "m" => (Family::DecimalSi, -3, 0),
        "k" => (Family::DecimalSi, 3, 0),
        "M" => (Family::DecimalSi, 6, 0),
        "G" => (Family::DecimalSi, 9, 0),
        "T" => (Family::DecimalSi, 12, 0),
        "P" => (Family::DecimalSi, 15, 0),
        "E" => (Family::DecimalSi, 18, 0),
        "Ki" => (Family::Binary, 0, 1),
        "Mi" => (Family::Binary, 0, 2),
        "Gi" => (Family::Binary, 0, 3),
        "Ti" => (Family::Binary, 0, 4),
        "Pi" => (Family::Binary, 0, 5),
        "Ei" => (Family::Binary, 0, 6),
        _ => {
            let rest = suffix.strip_prefix(['e', 'E'])?;
            let e: i32 = parse_signed_int(rest)?;
            (Family::DecimalExponent, e, 0)
        }
    };
    Some(Parsed {
        mantissa,
        exp10: exp10.checked_add(extra10)?,
        pow1024,
        family,
    })
}

fn parse_signed_int(s: &str) -> Option<i32> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 4 {
        return None;
    }
    s.parse().ok()
}

fn pow10(e: u32) -> Option<i128> {
    10i128.checked_pow(e)
}

fn format(q: Parsed) -> Option<String> {
    match q.family {
        Family::Binary => {
            let factor = 1024i128.checked_pow(q.pow1024)?;
            let scaled = q.mantissa.checked_mul(factor)?;
            // A whole number of bytes?
            let whole = if q.exp10 >= 0 {
                Some(scaled.checked_mul(pow10(q.exp10.unsigned_abs())?)?)
            } else {
                let d = pow10(q.exp10.unsigned_abs())?;
                (scaled % d == 0).then(|| scaled / d)
            };
            match whole {
                Some(v) if v.unsigned_abs() >= 1024 => {
                    let mut v = v;
                    let mut k = 0;
                    while k < 6 && v % 1024 == 0 {
                        v /= 1024;
                        k += 1;
                    }
                    let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k];
                    Some(format!("{v}{suffix}"))
                }
                Some(v) => format_decimal(v, 0, Family::DecimalSi),
                None => format_decimal(scaled, q.exp10, Family::DecimalSi),
            }
        }
        family => format_decimal(q.mantissa, q.exp10, family),
    }
}

fn format_decimal(mut mantissa: i128, mut exp: i32, family: Family) -> Option<String> {
    if mantissa == 0 {
        return Some("0".to_string());
    }
    // Round up to nano precision, away from zero.
    if exp < -9 {
        let d = pow10((-9 - exp).unsigned_abs())?;
        let (q, r) = (mantissa / d, mantissa % d);
        mantissa = if r == 0 { q } else { q + mantissa.signum() };
        exp = -9;
        if mantissa == 0 {
            return Some("0".to_string());
        }
    }
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exp += 1;
    }
    let mut target = exp.div_euclid(3) * 3;
    target = target.clamp(-9, 18);
    let shift = exp - target;
    if shift < 0 {
        return None;
    }
    let mantissa = mantissa.checked_mul(pow10(shift.unsigned_abs())?)?;
    let suffix = match family {
        Family::DecimalExponent if target == 0 => String::new(),
        Family::DecimalExponent => format!("e{target}"),
        _ => match target {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            _ => "E",
        }
        .to_string(),
    };
    Some(format!("{mantissa}{suffix}"))
}

/// The canonical text of a Go duration (`metav1.Duration`, a known type for argocd-cm's
/// `knownTypeFields`): `90m` → `1h30m0s`, `0.5s` → `500ms`, as Go's `time.Duration.String`
/// writes it. `None` when `s` is not a Go duration.
pub fn canonical_duration(s: &str) -> Option<String> {
    let ns = parse_duration(s)?;
    Some(format_duration(ns))
}

fn parse_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_end);
        if num.is_empty() || num == "." {
            return None;
        }
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_end);
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
        let whole: i128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut part = whole.checked_mul(scale)?;
        let mut f_scale = scale;
        for digit in frac.bytes().take(18) {
            f_scale /= 10;
            part += i128::from(digit - b'0') * f_scale;
        }
        total = total.checked_add(part)?;
        rest = next;
    }
    // Go's Duration is an int64 of nanoseconds.
    (total <= i128::from(i64::MAX)).then_some(if neg { -total } else { total })
}

fn format_duration(ns: i128) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let frac = |v: u128, digits: u32| -> String {
        let div = 10u128.pow(digits);
        let (w, f) = (v / div, v % div);
        if f == 0 {
            w.to_string()
        } else {
            let f = format!("{f:0width$}", width = digits as usize);
            format!("{w}.{}", f.trim_end_matches('0'))
        }
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", frac(u, 3));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 6));
    }
    let secs = u % 60_000_000_000;
    let mins = (u / 60_000_000_000) % 60;
    let hours = u / 3_600_000_000_000;
    let s = format!("{}s", frac(secs, 9));
    match (hours, mins) {
        (0, 0) => format!("{sign}{s}"),
        (0, m) => format!("{sign}{m}m{s}"),
        (h, m) => format!("{sign}{h}h{m}m{s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimal_quantities_take_the_largest_whole_exponent_of_three() {
        for (input, want) in [
            ("0.5", "500m"),
            ("1000m", "1"),
            ("100m", "100m"),
            ("1.5", "1500m"),
            ("2000", "2k"),
            ("1500", "1500"),
            ("0.1m", "100u"),
            ("1e3", "1e3"),
            ("1.5e3", "1500"),
            ("12e6", "12e6"),
            ("0", "0"),
            ("0.000000000001", "1n"),
            ("-0.5", "-500m"),
            ("+2", "2"),
            ("10M", "10M"),
        ] {
            assert_eq!(canonical(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn binary_quantities_keep_their_family_unless_small_or_fractional() {
        for (input, want) in [
            ("128Mi", "128Mi"),
            ("1024Mi", "1Gi"),
            ("0.5Gi", "512Mi"),
            ("1.5Gi", "1536Mi"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("2048Ki", "2Mi"),
            ("1024Ei", "1024Ei"),
        ] {
            assert_eq!(canonical(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn numbers_become_quantity_strings_and_garbage_is_left_alone() {
        assert_eq!(canonical_value(&json!(0.5)), Some(json!("500m")));
        assert_eq!(canonical_value(&json!(2)), Some(json!("2")));
        assert_eq!(canonical_value(&json!("invalid")), None);
        assert_eq!(canonical_value(&json!(true)), None);
        for bad in ["", "Mi", "1.2.3", "1Xi", "1e", "1e99999", "--1", "."] {
            assert_eq!(canonical(bad), None, "{bad}");
        }
    }

    #[test]
    fn durations_are_written_as_go_writes_them() {
        for (input, want) in [
            ("90m", "1h30m0s"),
            ("1h", "1h0m0s"),
            ("0.5s", "500ms"),
            ("1.5h", "1h30m0s"),
            ("300s", "5m0s"),
            ("2s", "2s"),
            ("1500us", "1.5ms"),
            ("0", "0s"),
            ("-1m", "-1m0s"),
        ] {
            assert_eq!(canonical_duration(input).as_deref(), Some(want), "{input}");
        }
        assert_eq!(canonical_duration("5 minutes"), None);
        assert_eq!(canonical_duration(""), None);
    }
}
