//! The cost of one app's reports with few and with many reports held (issue 17: every status
//! answer used to scan every report). Run: `cargo bench -p argocd-drift --bench report_store`.
//! Compare the two sizes as a ratio measured in the same run: with the index by app and repo, an
//! app's answer costs its own reports, so the ratio stays near 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use argocd_drift::cluster::{OwnSink, Stored};
use argocd_drift::reports::{ReportStore, Timing};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use drift_core::app::AppKey;
use drift_core::reports::links::ReportLink;
use drift_core::reports::model::{
    LastCheck, Report, ReportFile, ReportKey, StoredReport, SyncStatus,
};
use drift_core::reports::resource::{name_for, to_object};
use std::hint::black_box;
use std::time::Duration;

fn stored(repo: &str, server: &str, app: Option<AppKey>) -> Stored {
    let text = "2026-04-21T10:32:15Z".to_string();
    let report = StoredReport {
        report: Report {
            key: ReportKey::new(repo, server),
            sync_status: SyncStatus::OutOfSync,
            drift_count: 1,
            files: vec![ReportFile::named("a.conf")],
            last_check: LastCheck {
                at: text.parse().unwrap(),
                text,
            },
            application: app,
        },
        updated_at: Some("2026-04-21T10:32:16Z".parse().unwrap()),
        reporter: Some("bench".into()),
    };
    let name = name_for(&report.report.key);
    Stored {
        object: to_object(&name, Some("1"), &report),
        name,
        resource_version: "1".into(),
    }
}

/// A store holding `others` reports of other apps and repos, plus the app's own four: two that
/// name it, two of a repo its annotation links.
fn store(others: usize) -> ReportStore {
    let store = ReportStore::new(Timing::default(), None);
    let app = AppKey::new("argocd", "payments-api");
    let mut objects: Vec<Stored> = (0..others)
        .map(|i| {
            let other = AppKey::new("argocd", format!("app-{}", i % 500));
            stored(
                &format!("repo-{}", i % 1000),
                &format!("srv-{i}"),
                Some(other),
            )
        })
        .collect();
    objects.push(stored("payments-proxy", "edge-1", Some(app.clone())));
    objects.push(stored("payments-proxy", "edge-2", Some(app.clone())));
    objects.push(stored("billing-conf", "bill-1", None));
    objects.push(stored("billing-conf", "bill-2", None));
    store.replace(objects, jiff::Timestamp::now());
    store
}

fn bench(c: &mut Criterion) {
    let app = AppKey::new("argocd", "payments-api");
    let links = vec![ReportLink {
        repo: "billing-conf".into(),
        server: None,
    }];
    let now = jiff::Timestamp::now();
    let mut group = c.benchmark_group("one app's reports summary");
    for others in [10usize, 5_000, 20_000] {
        let store = store(others);
        assert_eq!(store.for_app(&app, &links).len(), 4);
        group.bench_with_input(BenchmarkId::from_parameter(others), &store, |b, store| {
            b.iter(|| store.summary_for(black_box(&app), black_box(&links), now))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
