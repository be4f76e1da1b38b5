//! Every way a request is refused at the Argo CD trust boundary, end to end over HTTP.
//! Runs against the fake API server, or a real one with `DRIFT_TEST_CLUSTER=real`.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod common;

use common::{STATUS, TOKEN, app_header, demo};
use testenv::http::get;

fn assert_error(r: &testenv::http::Response, status: u16, code: &str) {
    assert_eq!(
        r.status,
        status,
        "body: {}",
        String::from_utf8_lossy(&r.body)
    );
    let body = r.json();
    assert_eq!(body["status"], "error");
    assert_eq!(body["code"], code);
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn a_request_without_the_shared_secret_is_unauthenticated() {
    let (cluster, app) = demo(&[]).await;
    let payments = app_header(&cluster, "argocd", "payments-api");
    let r = get(
        app.api,
        STATUS,
        &[
            ("Argocd-Application-Name", &payments),
            ("Argocd-Project-Name", "team-payments"),
        ],
    )
    .await
    .unwrap();
    assert_error(&r, 401, "MISSING_CREDENTIALS");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"argocd-drift\"")
    );
}

#[tokio::test]
async fn a_request_with_a_wrong_secret_is_unauthenticated_whatever_else_it_says() {
    let (cluster, app) = demo(&[]).await;
    let payments = app_header(&cluster, "argocd", "payments-api");
    for auth in [
        "Bearer not-the-token-0123456789",
        TOKEN,
        &format!("Bearer {TOKEN}0"),
        &format!("Basic {TOKEN}"),
    ] {
        let r = get(
            app.api,
            STATUS,
            &[
                ("Authorization", auth),
                ("Argocd-Application-Name", &payments),
                ("Argocd-Project-Name", "team-payments"),
            ],
        )
        .await
        .unwrap();
        assert_error(&r, 401, "INVALID_CREDENTIALS");
    }
    // Unauthenticated callers learn nothing about routes either.
    let r = get(
        app.api,
        "/no/such/route",
        &[("Authorization", "Bearer wrong-0123456789abcdef")],
    )
    .await
    .unwrap();
    assert_error(&r, 401, "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn missing_identity_headers_are_named_in_the_code() {
    let (cluster, app) = demo(&[]).await;
    let auth = format!("Bearer {TOKEN}");
    let r = get(
        app.api,
        STATUS,
        &[("Authorization", &auth), ("Argocd-Project-Name", "default")],
    )
    .await
    .unwrap();
    assert_error(&r, 400, "MISSING_ARGOCD_APPLICATION_NAME");
    let guestbook = app_header(&cluster, "argocd", "guestbook");
    let r = get(
        app.api,
        STATUS,
        &[
            ("Authorization", &auth),
            ("Argocd-Application-Name", &guestbook),
        ],
    )
    .await
    .unwrap();
    assert_error(&r, 400, "MISSING_ARGOCD_PROJECT_NAME");
}

#[tokio::test]
async fn malformed_identity_headers_are_refused() {
    let (cluster, app) = demo(&[]).await;
    let guestbook = app_header(&cluster, "argocd", "guestbook");
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
        let r = app.status(value, project).await;
        assert_error(&r, 400, code);
    }
    let r = app
        .get_as(
            STATUS,
            &guestbook,
            "default",
            &[("Argocd-Target-Cluster-URL", "not a url")],
        )
        .await;
    assert_error(&r, 400, "INVALID_ARGOCD_TARGET_CLUSTER_URL");
}

#[tokio::test]
async fn duplicated_identity_headers_are_refused_even_when_one_copy_is_right() {
    let (cluster, app) = demo(&[]).await;
    let guestbook = app_header(&cluster, "argocd", "guestbook");
    let payments = app_header(&cluster, "argocd", "payments-api");
    let r = app
        .get_as(
            STATUS,
            &guestbook,
            "default",
            &[("Argocd-Application-Name", &payments)],
        )
        .await;
    assert_error(&r, 400, "DUPLICATE_ARGOCD_APPLICATION_NAME");
    let r = app
        .get_as(
            STATUS,
            &guestbook,
            "default",
            &[("Argocd-Project-Name", "default")],
        )
        .await;
    assert_error(&r, 400, "DUPLICATE_ARGOCD_PROJECT_NAME");
    let r = app
        .get_as(
            STATUS,
            &guestbook,
            "default",
            &[("Argocd-User-Groups", "a"), ("Argocd-User-Groups", "b")],
        )
        .await;
    assert_error(&r, 400, "DUPLICATE_ARGOCD_USER_GROUPS");
}

#[tokio::test]
async fn an_unknown_app_is_not_found_and_an_unwatched_namespace_says_so() {
    let (cluster, app) = demo(&[]).await;
    let r = app
        .status(&app_header(&cluster, "argocd", "no-such-app"), "default")
        .await;
    assert_error(&r, 404, "APP_NOT_FOUND");
    let r = app.status("kube-system:guestbook", "default").await;
    assert_error(&r, 404, "APP_NAMESPACE_NOT_WATCHED");
}

#[tokio::test]
async fn an_app_claimed_under_another_project_is_forbidden() {
    let (cluster, app) = demo(&[]).await;
    let payments = app_header(&cluster, "argocd", "payments-api");
    let r = app.status(&payments, "default").await;
    assert_error(&r, 403, "PROJECT_MISMATCH");
    // Apps-in-any-namespace: same rule.
    let analytics = app_header(&cluster, "team-apps", "analytics");
    assert_error(
        &app.status(&analytics, "team-payments").await,
        403,
        "PROJECT_MISMATCH",
    );
    assert_eq!(app.status(&analytics, "team-web").await.status, 200);
}

#[tokio::test]
async fn injected_cluster_headers_that_contradict_the_destination_are_forbidden() {
    let (cluster, app) = demo(&[]).await;
    // payments-api's destination is given by server URL only: Argo CD never sends a cluster name.
    let payments = app_header(&cluster, "argocd", "payments-api");
    let ok = app
        .get_as(
            STATUS,
            &payments,
            "team-payments",
            &[(
                "Argocd-Target-Cluster-URL",
                "https://kubernetes.default.svc",
            )],
        )
        .await;
    assert_eq!(ok.status, 200);
    let injected_name = app
        .get_as(
            STATUS,
            &payments,
            "team-payments",
            &[("Argocd-Target-Cluster-Name", "in-cluster")],
        )
        .await;
    assert_error(&injected_name, 403, "CLUSTER_MISMATCH");
    let other_url = app
        .get_as(
            STATUS,
            &payments,
            "team-payments",
            &[("Argocd-Target-Cluster-URL", "https://prod.example.com")],
        )
        .await;
    assert_error(&other_url, 403, "CLUSTER_MISMATCH");
    // web-frontend's destination is by name: a URL header is the injected one.
    let web = app_header(&cluster, "argocd", "web-frontend");
    assert_eq!(
        app.get_as(
            STATUS,
            &web,
            "team-web",
            &[("Argocd-Target-Cluster-Name", "in-cluster")]
        )
        .await
        .status,
        200
    );
    let injected_url = app
        .get_as(
            STATUS,
            &web,
            "team-web",
            &[(
                "Argocd-Target-Cluster-URL",
                "https://kubernetes.default.svc",
            )],
        )
        .await;
    assert_error(&injected_url, 403, "CLUSTER_MISMATCH");
}

#[tokio::test]
async fn a_forged_group_claim_changes_nothing() {
    let (cluster, app) = demo(&[]).await;
    let payments = app_header(&cluster, "argocd", "payments-api");
    let forged = [(
        "Argocd-User-Groups",
        "system:masters, argocd-admins, payments-oncall",
    )];

    // Same answer with and without the claim…
    let plain = app.status(&payments, "team-payments").await;
    let claimed = app
        .get_as(STATUS, &payments, "team-payments", &forged)
        .await;
    assert_eq!((plain.status.as_u16(), claimed.status.as_u16()), (200, 200));
    let (mut a, mut b) = (plain.json(), claimed.json());
    a.as_object_mut().unwrap().remove("generatedAt");
    b.as_object_mut().unwrap().remove("generatedAt");
    assert_eq!(a, b);

    // …and no refusal is lifted by it.
    let r = app.get_as(STATUS, &payments, "default", &forged).await;
    assert_error(&r, 403, "PROJECT_MISMATCH");
    let r = app
        .get_as(
            &format!("{STATUS}?namespace=kube-system"),
            &payments,
            "team-payments",
            &forged,
        )
        .await;
    assert_error(&r, 403, "OUT_OF_SCOPE");
}

#[tokio::test]
async fn namespaces_clusters_and_resources_named_in_the_query_must_be_the_apps() {
    let (cluster, app) = demo(&[]).await;
    let payments = app_header(&cluster, "argocd", "payments-api");
    for query in [
        "namespace=kube-system",
        "cluster=https://prod.example.com",
        "resource=/Secret/kube-system/bootstrap-token",
    ] {
        let r = app
            .get_as(
                &format!("{STATUS}?{query}"),
                &payments,
                "team-payments",
                &[],
            )
            .await;
        assert_error(&r, 403, "OUT_OF_SCOPE");
    }
    // Another app's namespace is out of scope too.
    let web_ns = cluster.ns("web");
    let r = app
        .get_as(
            &format!("{STATUS}?namespace={web_ns}"),
            &payments,
            "team-payments",
            &[],
        )
        .await;
    assert_error(&r, 403, "OUT_OF_SCOPE");
    // In scope, but the status route takes no parameters.
    let own_ns = cluster.ns("payments");
    let r = app
        .get_as(
            &format!("{STATUS}?namespace={own_ns}"),
            &payments,
            "team-payments",
            &[],
        )
        .await;
    assert_error(&r, 400, "UNKNOWN_QUERY_PARAMETER");
}

#[tokio::test]
async fn every_rejection_is_counted_by_code() {
    let (cluster, app) = demo(&[]).await;
    let payments = app_header(&cluster, "argocd", "payments-api");
    app.status(&payments, "default").await;
    get(app.api, STATUS, &[]).await.unwrap();
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"argocd_drift_rejected_requests_total{code="PROJECT_MISMATCH"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"argocd_drift_rejected_requests_total{code="MISSING_CREDENTIALS"} 1"#)
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_json() {
    let (cluster, app) = demo(&[]).await;
    let guestbook = app_header(&cluster, "argocd", "guestbook");
    let r = app
        .get_as("/api/v1/nothing", &guestbook, "default", &[])
        .await;
    assert_error(&r, 404, "ROUTE_NOT_FOUND");
    let auth = format!("Bearer {TOKEN}");
    let r = testenv::http::send(
        app.api,
        http::Method::DELETE,
        STATUS,
        &[("Authorization", &auth)],
        bytes::Bytes::new(),
    )
    .await
    .unwrap();
    assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("allow"), Some("GET"));
    // The probes are not on the API port.
    let r = app.get_as("/metrics", &guestbook, "default", &[]).await;
    assert_error(&r, 404, "ROUTE_NOT_FOUND");
}
