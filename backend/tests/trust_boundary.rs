//! Every way a request is refused at the Argo CD trust boundary.
//!
//! Each check is written once against [`Client`] and runs in-process (one test each, no socket,
//! no cluster), and all of them run again, in one test, over HTTP against a served argocd-drift on
//! the test cluster (the fake, or a real API server with `DRIFT_TEST_CLUSTER=real`).
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use bytes::Bytes;
use common::{Client, STATUS, TOKEN, assert_error, metric};
use http::Method;

async fn a_request_without_the_shared_secret_is_unauthenticated(c: &impl Client) {
    let payments = c.app("argocd", "payments-api");
    let r = c
        .get(
            STATUS,
            &[
                ("Argocd-Application-Name", &payments),
                ("Argocd-Project-Name", "team-payments"),
            ],
        )
        .await;
    assert_error(&r, 401, "MISSING_CREDENTIALS");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"argocd-drift\"")
    );
}

async fn a_request_with_a_wrong_secret_is_unauthenticated_whatever_else_it_says(c: &impl Client) {
    let payments = c.app("argocd", "payments-api");
    for auth in [
        "Bearer not-the-token-0123456789",
        TOKEN,
        &format!("Bearer {TOKEN}0"),
        &format!("Basic {TOKEN}"),
    ] {
        let r = c
            .get(
                STATUS,
                &[
                    ("Authorization", auth),
                    ("Argocd-Application-Name", &payments),
                    ("Argocd-Project-Name", "team-payments"),
                ],
            )
            .await;
        assert_error(&r, 401, "INVALID_CREDENTIALS");
    }
    // Unauthenticated callers learn nothing about routes either.
    let r = c
        .get(
            "/no/such/route",
            &[("Authorization", "Bearer wrong-0123456789abcdef")],
        )
        .await;
    assert_error(&r, 401, "INVALID_CREDENTIALS");
}

async fn missing_identity_headers_are_named_in_the_code(c: &impl Client) {
    let auth = format!("Bearer {TOKEN}");
    let r = c
        .get(
            STATUS,
            &[("Authorization", &auth), ("Argocd-Project-Name", "default")],
        )
        .await;
    assert_error(&r, 400, "MISSING_ARGOCD_APPLICATION_NAME");
    let guestbook = c.app("argocd", "guestbook");
    let r = c
        .get(
            STATUS,
            &[
                ("Authorization", &auth),
                ("Argocd-Application-Name", &guestbook),
            ],
        )
        .await;
    assert_error(&r, 400, "MISSING_ARGOCD_PROJECT_NAME");
}

async fn malformed_identity_headers_are_refused(c: &impl Client) {
    let guestbook = c.app("argocd", "guestbook");
    for (value, project, code) in [
        ("guestbook", "default", "INVALID_ARGOCD_APPLICATION_NAME"),
        (
            "argocd:Guest_Book",
            "default",
            "INVALID_ARGOCD_APPLICATION_NAME",
        ),
        (":guestbook", "default", "INVALID_ARGOCD_APPLICATION_NAME"),
        (&guestbook, "Default Project", "INVALID_ARGOCD_PROJECT_NAME"),
    ] {
        let r = c.get_as(STATUS, value, project, &[]).await;
        assert_error(&r, 400, code);
    }
    let r = c
        .get_as(
            STATUS,
            &guestbook,
            "default",
            &[("Argocd-Target-Cluster-URL", "not a url")],
        )
        .await;
    assert_error(&r, 400, "INVALID_ARGOCD_TARGET_CLUSTER_URL");
}

async fn duplicated_identity_headers_are_refused_even_when_one_copy_is_right(c: &impl Client) {
    let guestbook = c.app("argocd", "guestbook");
    let payments = c.app("argocd", "payments-api");
    for (extra, code) in [
        (
            vec![("Argocd-Application-Name", payments.as_str())],
            "DUPLICATE_ARGOCD_APPLICATION_NAME",
        ),
        (
            vec![("Argocd-Project-Name", "default")],
            "DUPLICATE_ARGOCD_PROJECT_NAME",
        ),
        (
            vec![("Argocd-User-Groups", "a"), ("Argocd-User-Groups", "b")],
            "DUPLICATE_ARGOCD_USER_GROUPS",
        ),
    ] {
        let r = c.get_as(STATUS, &guestbook, "default", &extra).await;
        assert_error(&r, 400, code);
    }
}

async fn an_unknown_app_is_not_found_and_an_unwatched_namespace_says_so(c: &impl Client) {
    let r = c
        .get_as(STATUS, &c.app("argocd", "no-such-app"), "default", &[])
        .await;
    assert_error(&r, 404, "APP_NOT_FOUND");
    let r = c
        .get_as(STATUS, "kube-system:guestbook", "default", &[])
        .await;
    assert_error(&r, 404, "APP_NAMESPACE_NOT_WATCHED");
}

async fn an_app_claimed_under_another_project_is_forbidden(c: &impl Client) {
    let payments = c.app("argocd", "payments-api");
    assert_error(
        &c.get_as(STATUS, &payments, "default", &[]).await,
        403,
        "PROJECT_MISMATCH",
    );
    // Apps-in-any-namespace: same rule.
    let analytics = c.app("team-apps", "analytics");
    assert_error(
        &c.get_as(STATUS, &analytics, "team-payments", &[]).await,
        403,
        "PROJECT_MISMATCH",
    );
    assert_eq!(
        c.get_as(STATUS, &analytics, "team-web", &[]).await.status,
        200
    );
}

async fn injected_cluster_headers_that_contradict_the_destination_are_forbidden(c: &impl Client) {
    // payments-api's destination is given by server URL only: Argo CD never sends a cluster name.
    let payments = c.app("argocd", "payments-api");
    let url = (
        "Argocd-Target-Cluster-URL",
        "https://kubernetes.default.svc",
    );
    let name = ("Argocd-Target-Cluster-Name", "in-cluster");
    let ok = c.get_as(STATUS, &payments, "team-payments", &[url]).await;
    assert_eq!(ok.status, 200);
    let r = c.get_as(STATUS, &payments, "team-payments", &[name]).await;
    assert_error(&r, 403, "CLUSTER_MISMATCH");
    let other = ("Argocd-Target-Cluster-URL", "https://prod.example.com");
    let r = c.get_as(STATUS, &payments, "team-payments", &[other]).await;
    assert_error(&r, 403, "CLUSTER_MISMATCH");
    // web-frontend's destination is by name: a URL header is the injected one.
    let web = c.app("argocd", "web-frontend");
    assert_eq!(
        c.get_as(STATUS, &web, "team-web", &[name]).await.status,
        200
    );
    let r = c.get_as(STATUS, &web, "team-web", &[url]).await;
    assert_error(&r, 403, "CLUSTER_MISMATCH");
}

async fn a_forged_group_claim_changes_nothing(c: &impl Client) {
    let payments = c.app("argocd", "payments-api");
    let forged = [(
        "Argocd-User-Groups",
        "system:masters, argocd-admins, payments-oncall",
    )];
    // Same answer with and without the claim…
    let plain = c.get_as(STATUS, &payments, "team-payments", &[]).await;
    let claimed = c.get_as(STATUS, &payments, "team-payments", &forged).await;
    assert_eq!((plain.status.as_u16(), claimed.status.as_u16()), (200, 200));
    let (mut a, mut b) = (plain.json(), claimed.json());
    a.as_object_mut().unwrap().remove("generatedAt");
    b.as_object_mut().unwrap().remove("generatedAt");
    assert_eq!(a, b);
    // …and no refusal is lifted by it.
    let r = c.get_as(STATUS, &payments, "default", &forged).await;
    assert_error(&r, 403, "PROJECT_MISMATCH");
    let path = format!("{STATUS}?namespace=kube-system");
    let r = c.get_as(&path, &payments, "team-payments", &forged).await;
    assert_error(&r, 403, "OUT_OF_SCOPE");
}

async fn namespaces_clusters_and_resources_named_in_the_query_must_be_the_apps(c: &impl Client) {
    let payments = c.app("argocd", "payments-api");
    let web_ns = c.ns("web");
    for query in [
        "namespace=kube-system",
        "cluster=https://prod.example.com",
        "resource=/Secret/kube-system/bootstrap-token",
        // Another app's namespace is out of scope too.
        &format!("namespace={web_ns}"),
    ] {
        let path = format!("{STATUS}?{query}");
        let r = c.get_as(&path, &payments, "team-payments", &[]).await;
        assert_error(&r, 403, "OUT_OF_SCOPE");
    }
    // In scope, but the status route takes no parameters.
    let path = format!("{STATUS}?namespace={}", c.ns("payments"));
    let r = c.get_as(&path, &payments, "team-payments", &[]).await;
    assert_error(&r, 400, "UNKNOWN_QUERY_PARAMETER");
    // A malformed value is INVALID_QUERY whatever else the query holds.
    for query in ["resource=nope", "namespace=kube-system&resource=nope&x=1"] {
        let path = format!("{STATUS}?{query}");
        let r = c.get_as(&path, &payments, "team-payments", &[]).await;
        assert_error(&r, 400, "INVALID_QUERY");
    }
}

async fn every_rejection_is_counted_by_code(c: &impl Client) {
    let series = |code: &str| format!(r#"argocd_drift_rejected_requests_total{{code="{code}"}}"#);
    let count = |text: &str, code: &str| metric(text, &series(code)).unwrap_or(0.0);
    let before = c.metrics_text().await;
    let payments = c.app("argocd", "payments-api");
    c.get_as(STATUS, &payments, "default", &[]).await;
    c.get(STATUS, &[]).await;
    c.get(STATUS, &[]).await;
    let after = c.metrics_text().await;
    assert_eq!(
        count(&after, "PROJECT_MISMATCH") - count(&before, "PROJECT_MISMATCH"),
        1.0,
        "{after}"
    );
    assert_eq!(
        count(&after, "MISSING_CREDENTIALS") - count(&before, "MISSING_CREDENTIALS"),
        2.0
    );
}

async fn unknown_routes_and_methods_answer_in_json(c: &impl Client) {
    let guestbook = c.app("argocd", "guestbook");
    let r = c
        .get_as("/api/v1/nothing", &guestbook, "default", &[])
        .await;
    assert_error(&r, 404, "ROUTE_NOT_FOUND");
    let auth = format!("Bearer {TOKEN}");
    let r = c
        .send(
            Method::DELETE,
            STATUS,
            &[("Authorization", &auth)],
            Bytes::new(),
        )
        .await;
    assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("allow"), Some("GET"));
    // The probes are not on the API port.
    let r = c.get_as("/metrics", &guestbook, "default", &[]).await;
    assert_error(&r, 404, "ROUTE_NOT_FOUND");
}

async fn the_secret_is_checked_before_any_other_refusal(c: &impl Client) {
    // An unauthenticated request with a huge declared body is a 401, not a 413: a caller
    // without the secret learns nothing, and the refusal is a security event.
    let r = c
        .send(
            Method::POST,
            STATUS,
            &[("Content-Length", "99999999")],
            Bytes::new(),
        )
        .await;
    assert_error(&r, 401, "MISSING_CREDENTIALS");
}

crate::in_process_and_over_http!(
    every_check_holds_over_http_on_the_test_cluster:
    a_request_without_the_shared_secret_is_unauthenticated,
    a_request_with_a_wrong_secret_is_unauthenticated_whatever_else_it_says,
    missing_identity_headers_are_named_in_the_code,
    malformed_identity_headers_are_refused,
    duplicated_identity_headers_are_refused_even_when_one_copy_is_right,
    an_unknown_app_is_not_found_and_an_unwatched_namespace_says_so,
    an_app_claimed_under_another_project_is_forbidden,
    injected_cluster_headers_that_contradict_the_destination_are_forbidden,
    a_forged_group_claim_changes_nothing,
    namespaces_clusters_and_resources_named_in_the_query_must_be_the_apps,
    every_rejection_is_counted_by_code,
    unknown_routes_and_methods_answer_in_json,
    the_secret_is_checked_before_any_other_refusal,
);
