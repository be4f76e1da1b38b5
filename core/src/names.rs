//! Kubernetes object-name rules, as the API server enforces them.
//!
//! Every name that reaches the backend from a header, a path or a query string goes through these
//! checks before it is used to look anything up, so an invalid name can never match an object.

/// The longest DNS-1123 label (namespaces).
pub const MAX_LABEL_LEN: usize = 63;
/// The longest DNS-1123 subdomain (most object names: Applications, AppProjects).
pub const MAX_SUBDOMAIN_LEN: usize = 253;

/// Is `s` a DNS-1123 label: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters?
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_LABEL_LEN && label_chars_ok(s)
}

/// Is `s` a DNS-1123 subdomain: dot-separated labels, at most 253 characters in all?
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SUBDOMAIN_LEN
        && s.split('.')
            .all(|part| !part.is_empty() && label_chars_ok(part))
}

fn label_chars_ok(s: &str) -> bool {
    let bytes = s.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|&b| alnum(b) || b == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_accept_what_kubernetes_accepts() {
        for ok in ["a", "argocd", "team-a", "0", "a0-b1", &"x".repeat(63)] {
            assert!(is_dns_label(ok), "{ok:?} should be a label");
        }
    }

    #[test]
    fn labels_reject_what_kubernetes_rejects() {
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a.b",
            "a_b",
            "a b",
            "ä",
            &"x".repeat(64),
        ] {
            assert!(!is_dns_label(bad), "{bad:?} should not be a label");
        }
    }

    #[test]
    fn subdomains_allow_dots_between_labels() {
        assert!(is_dns_subdomain("guestbook"));
        assert!(is_dns_subdomain("my.app-1"));
        assert!(is_dns_subdomain(&format!(
            "{}.{}",
            "a".repeat(63),
            "b".repeat(63)
        )));
        for bad in [
            "",
            ".a",
            "a.",
            "a..b",
            "A.b",
            "a/b",
            "a:b",
            &"a".repeat(254),
        ] {
            assert!(!is_dns_subdomain(bad), "{bad:?} should not be a subdomain");
        }
    }
}
