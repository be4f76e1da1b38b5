//! The memory of a full report store (issue 17): argocd-drift, started as its own process (the
//! built binary), lists the largest store its default limits allow from a fake API server, serves
//! `/status.json` once (the rendered body is cached), and its peak RSS (`VmHWM`) must stay inside
//! the chart's memory limit.
//!
//! The suite runs one shape (the one that holds the most: 1,000 long file names a report, all
//! also in `/status.json`); `make bench-report-memory` runs every shape on a release build and
//! prints the figures for docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use argocd_drift::reports::Limits;
use drift_core::reports::model::{
    LastCheck, Report, ReportFile, ReportKey, StoredReport, SyncStatus,
};
use drift_core::reports::resource::{name_for, to_object};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The chart's memory limit (`resources.limits.memory: 256Mi`).
const CHART_LIMIT_BYTES: u64 = 256 << 20;

/// How the reports of a full store are made up.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Few big reports: 31 files with 16 KiB diffs each.
    Diffs,
    /// Few big reports: 1,000 files with long names (all served by `/status.json`).
    Names,
    /// `REPORTS_MAX_TOTAL` small reports of 20 long file names.
    Many,
}

fn report(shape: Shape, i: usize) -> StoredReport {
    let (files, name_len, diff_len) = match shape {
        Shape::Diffs => (31, 40, 16 << 10),
        Shape::Names => (1000, 440, 0),
        Shape::Many => (18, 440, 0),
    };
    let files = (0..files)
        .map(|f| ReportFile {
            name: format!("{f:05}-{}", "n".repeat(name_len - 6)),
            state: None,
            diff: (diff_len > 0).then(|| "d".repeat(diff_len)),
        })
        .collect();
    // Checked now: a report not refreshed for REPORT_EXPIRE_AFTER_SECONDS (7 days) is deleted by
    // the store's upkeep a second after it is listed, which raced the count below once the
    // fixed date of these reports was more than a week old.
    let now = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).unwrap();
    let text = now.to_string();
    StoredReport {
        report: Report {
            key: ReportKey::new(format!("repo{}", i % 97), format!("server-{i}")),
            sync_status: SyncStatus::OutOfSync,
            drift_count: 3,
            files,
            last_check: LastCheck {
                at: text.parse().unwrap(),
                text,
            },
            application: None,
        },
        updated_at: Some(now),
        reporter: Some(format!("reporter-{}", i % 64)),
    }
}

/// As many reports of `shape` as the default limits allow in all.
fn full_store(shape: Shape, namespace: &str) -> (Vec<Value>, usize) {
    let limits = Limits::default();
    let mut objects = Vec::new();
    let mut bytes = 0;
    for i in 0..limits.total_reports {
        let stored = report(shape, i);
        let weight = stored.report.weight();
        if bytes + weight > limits.total_bytes {
            break;
        }
        bytes += weight;
        let mut object = to_object(&name_for(&stored.report.key), None, &stored);
        object["apiVersion"] = "argocd-drift.io/v1alpha1".into();
        object["kind"] = "DriftReport".into();
        object["metadata"]["namespace"] = namespace.into();
        objects.push(object);
    }
    (objects, bytes)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Backend(Child);

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Peak RSS of argocd-drift after it has listed a full store of `shape` and served
/// `/status.json` once, and the bytes the store held.
async fn peak_rss(shape: Shape) -> (u64, usize, usize) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let (objects, bytes) = full_store(shape, "argocd");
    let count = objects.len();
    let fake = fake_apiserver::FakeApiServer::builder()
        .seed_dir(testenv::fixture_dir("crds"))
        .seed_dir(root.join("helm/argocd-drift/crds"))
        .seed_yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: argocd}\n")
        .seed_objects(objects)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig_yaml()).unwrap();
    let (api, service, reports) = (free_port(), free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_argocd-drift"))
        .envs([
            ("BIND_ADDRESS", "127.0.0.1"),
            ("PORT", &api.to_string()),
            ("SERVICE_PORT", &service.to_string()),
            ("REPORTS_PORT", &reports.to_string()),
            ("PROXY_TOKEN", common::TOKEN),
            ("KUBECONFIG", &kubeconfig.display().to_string()),
            ("ARGOCD_NAMESPACES", "argocd"),
            ("POD_NAMESPACE", "argocd"),
            ("REPORTS_INSECURE_NO_AUTH", "true"),
            ("LOG_LEVEL", "warn"),
            ("SHUTDOWN_DELAY_SECONDS", "0"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let backend = Backend(child);
    let service: std::net::SocketAddr = ([127, 0, 0, 1], service).into();
    let reports: std::net::SocketAddr = ([127, 0, 0, 1], reports).into();
    common::eventually(Duration::from_secs(120), || async {
        testenv::http::get(service, "/readyz", &[])
            .await
            .is_ok_and(|r| r.status == 200)
    })
    .await
    .expect("argocd-drift never became ready");
    let health = testenv::http::get(reports, "/health", &[]).await.unwrap();
    assert_eq!(health.json()["tracked_repos"], count, "every report listed");
    let all = testenv::http::get(reports, "/status.json", &[])
        .await
        .unwrap();
    assert_eq!(all.status, 200);
    let status = std::fs::read_to_string(format!("/proc/{}/status", backend.0.id())).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    (kib * 1024, bytes, count)
}

fn report_line(shape: Shape, (peak, bytes, count): (u64, usize, usize)) {
    println!(
        "{shape:?}: {count} reports, {:.1} MiB held by the limits' count → peak RSS {:.1} MiB ({:.0} % of the chart's 256 MiB)",
        bytes as f64 / (1 << 20) as f64,
        peak as f64 / (1 << 20) as f64,
        peak as f64 * 100.0 / CHART_LIMIT_BYTES as f64
    );
}

#[tokio::test]
async fn a_full_store_starts_inside_the_charts_memory_limit() {
    let measured = peak_rss(Shape::Names).await;
    report_line(Shape::Names, measured);
    assert!(
        measured.0 < CHART_LIMIT_BYTES,
        "peak RSS {} bytes at a full store",
        measured.0
    );
}

#[tokio::test]
#[ignore = "long: make bench-report-memory"]
async fn every_shape_of_a_full_store_starts_inside_the_charts_memory_limit() {
    for shape in [Shape::Diffs, Shape::Names, Shape::Many] {
        let measured = peak_rss(shape).await;
        report_line(shape, measured);
        assert!(measured.0 < CHART_LIMIT_BYTES, "{shape:?}");
    }
}
