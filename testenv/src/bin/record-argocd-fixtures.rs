//! Records what a real Argo CD says about drift scenarios played for real.
//!
//! `record-argocd-fixtures <argocd.env> <out dir> [scenario...]` connects to the control plane
//! `real-argocd.sh start --control-plane` started (its env file), plays the scenarios of
//! [`testenv::oracle`] (all of them by default) concurrently, and writes one
//! `<out dir>/<scenario>.json` per scenario plus `fixture-secret-values.json`. A recording whose
//! Argo CD verdict disagrees with the scenario's intent, or that is malformed, is not written
//! into `<out dir>` (it goes to the temporary directory, for a look) and the run fails.
//! `make record-fixtures` runs it against a freshly started control plane.

use anyhow::{Context, bail};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use testenv::argocd::ArgoCd;
use testenv::oracle::{Player, SCENARIOS, SECRET_VALUES};
use testenv::recording::{Recording, SECRET_VALUES_FILE};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [env_file, out, only @ ..] = args.as_slice() else {
        bail!("usage: record-argocd-fixtures <argocd.env> <out dir> [scenario...]");
    };
    let out = PathBuf::from(out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let names: Vec<&str> = if only.is_empty() {
        SCENARIOS.to_vec()
    } else {
        only.iter().map(String::as_str).collect()
    };
    let argocd = ArgoCd::connect(Path::new(env_file)).await?;
    let player = Player::new(argocd).await?;
    let started = std::time::Instant::now();
    let results = player.play_all(&names).await;
    eprintln!(
        "played {} scenarios in {:.1} s",
        names.len(),
        started.elapsed().as_secs_f64()
    );

    let allowed: BTreeSet<String> = SECRET_VALUES.iter().map(|s| s.to_string()).collect();
    write_json(
        &out.join(SECRET_VALUES_FILE),
        &json!({
            "description": "Every Secret value the recorded scenarios write, in plain text (testenv/src/oracle.rs). \
                            No other Secret value may appear in a recording, in plain text, base64 or hex.",
            "values": SECRET_VALUES,
        }),
    )?;
    let mut failed = 0;
    for (name, result) in results {
        let recording = match result {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{name}: FAILED: {e:#}");
                failed += 1;
                continue;
            }
        };
        let problems: Vec<String> = recording
            .disagreements()
            .into_iter()
            .chain(recording.malformations(&allowed))
            .collect();
        if problems.is_empty() {
            write_recording(&out.join(format!("{name}.json")), &recording)?;
            eprintln!("{name}: Argo CD agrees with the scenario; written");
        } else {
            let aside = std::env::temp_dir().join(format!("{name}.rejected.json"));
            write_recording(&aside, &recording)?;
            eprintln!(
                "{name}: NOT written ({} problems; the recording is in {}):",
                problems.len(),
                aside.display()
            );
            for p in problems {
                eprintln!("  - {p}");
            }
            failed += 1;
        }
    }
    if failed > 0 {
        bail!("{failed} scenario(s) failed");
    }
    Ok(())
}

fn write_recording(path: &Path, recording: &Recording) -> anyhow::Result<()> {
    write_json(path, &serde_json::to_value(recording)?)
}

/// Pretty JSON with sorted keys (serde_json's maps are ordered by key) and a final newline.
fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
