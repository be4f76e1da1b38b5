//! A jq rule nested deep enough once overflowed the stack of the thread that compiled it,
//! aborting the process (found by the `jq` fuzz target: 231 `-` before a `.`). An app owner writes
//! `ignoreDifferences`, so the bound must hold on a small thread's stack (2 MiB, Rust's default
//! for spawned threads and tokio's blocking pool).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use drift_core::drift::jq::{JqCache, JqError, MAX_OPERATORS, Unlimited};
use serde_json::json;

fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .expect("no stack overflow")
}

#[test]
fn a_deeply_nested_rule_is_refused_not_a_stack_overflow() {
    for expr in [
        format!("{}.", "-".repeat(231)),
        format!("{}.", "-".repeat(2000)),
        format!("{}.{}", "(".repeat(600), ")".repeat(600)),
        vec![".a"; 600].join("=="),
    ] {
        let result =
            on_small_stack(move || JqCache::new().paths(&expr, &json!({"a": 1}), &mut Unlimited));
        assert!(matches!(result, Err(JqError::Unsupported(_))), "{result:?}");
    }
}

#[test]
fn rules_within_the_bound_still_work_on_a_small_stack() {
    let expr = format!("{}.a", "-".repeat(MAX_OPERATORS));
    let result =
        on_small_stack(move || JqCache::new().paths(&expr, &json!({"a": 1}), &mut Unlimited));
    assert!(
        result.is_ok()
            || matches!(
                result,
                Err(JqError::Unsupported(_)) | Err(JqError::BadPath) | Err(JqError::Runtime)
            ),
        "{result:?}"
    );
    let ordinary = r#".spec.template.spec.containers[] | select(.name == "app") | .image"#;
    let paths = on_small_stack(|| {
        JqCache::new().paths(
            ordinary,
            &json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x"}]}}}}),
            &mut Unlimited,
        )
    })
    .unwrap();
    assert_eq!(paths.len(), 1);
}
