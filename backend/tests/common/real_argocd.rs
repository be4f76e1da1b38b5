//! The real argocd-server `make test-real` starts (testenv/real-argocd.sh): its settings, and a
//! login the way the browser does it.

use http::Method;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use testenv::http::send;

/// `KEY=value` lines of the env file `real-argocd.sh start` writes (`DRIFT_TEST_ARGOCD_ENV`).
pub fn env() -> HashMap<String, String> {
    let path =
        std::env::var("DRIFT_TEST_ARGOCD_ENV").expect("DRIFT_TEST_ARGOCD_ENV (run make test-real)");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}

/// argocd-server's address (`ARGOCD_URL` is plain HTTP on loopback).
pub fn addr(env: &HashMap<String, String>) -> SocketAddr {
    env["ARGOCD_URL"]
        .trim_start_matches("http://")
        .parse()
        .unwrap()
}

/// `POST /api/v1/session` as `user` (alice, bob or operator): the token the UI keeps in the
/// `argocd.token` cookie.
pub async fn login(env: &HashMap<String, String>, user: &str) -> String {
    let password = &env[&format!("ARGOCD_{}_PASSWORD", user.to_uppercase())];
    let body = json!({"username": user, "password": password}).to_string();
    let r = send(
        addr(env),
        Method::POST,
        "/api/v1/session",
        &[("content-type", "application/json")],
        body.into(),
    )
    .await
    .unwrap();
    assert_eq!(
        r.status,
        200,
        "login {user}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()["token"].as_str().unwrap().to_string()
}
