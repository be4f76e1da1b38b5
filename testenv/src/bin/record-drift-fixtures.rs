//! Records the demo's live objects from a real API server.
//!
//! `record-drift-fixtures <kubeconfig> <out.yaml>` plays [`testenv::scenario`] against the
//! cluster in fresh namespaces, reads every object back, and writes them as fixtures: namespaces
//! renamed to the story's (`payments`, `web`, `guestbook`), server-assigned identity dropped
//! (`uid`, `resourceVersion`), and every time the server or the scenario wrote replaced by a
//! `{{now-…}}` placeholder for the step that wrote it. The `managedFields` are exactly what the
//! real server computed. `make record-fixtures` runs it against a freshly started real server.

use anyhow::{Context, bail};
use jiff::Timestamp;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};
use std::collections::HashMap;
use testenv::remap_namespaces;
use testenv::scenario::{self, Recording};

const STORY_NAMESPACES: [&str; 3] = ["guestbook", "payments", "web"];

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, kubeconfig, out] = args.as_slice() else {
        bail!("usage: record-drift-fixtures <kubeconfig> <out.yaml>");
    };
    let file = Kubeconfig::read_from(kubeconfig)?;
    let client = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await?,
    )?;
    let version = client
        .apiserver_version()
        .await
        .context("reaching the API server")?;

    let suffix = Timestamp::now().as_second().to_string();
    let to_cluster: HashMap<String, String> = STORY_NAMESPACES
        .iter()
        .map(|ns| (ns.to_string(), format!("rec-{suffix}-{ns}")))
        .collect();
    let namespaces = Api::<DynamicObject>::all_with(
        client.clone(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "Namespace")),
    );
    for ns in to_cluster.values() {
        let obj: DynamicObject = serde_json::from_value(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )?;
        namespaces
            .create(&PostParams::default(), &obj)
            .await
            .with_context(|| format!("creating namespace {ns}"))?;
    }

    let recording = scenario::play(&client, &|ns| to_cluster[ns].clone()).await?;
    let back: HashMap<String, String> = to_cluster
        .iter()
        .map(|(story, real)| (real.clone(), story.clone()))
        .collect();
    let mut documents = recording.read_back(&client).await?;
    for obj in &mut documents {
        normalize(obj, &recording);
        remap_namespaces(obj, &back);
    }
    for ns in to_cluster.values() {
        namespaces.delete(ns, &Default::default()).await.ok();
    }

    let mut text = format!(
        "# Live objects of the demo apps, recorded from a real kube-apiserver {} by\n\
         # `make record-fixtures` (testenv/src/bin/record-drift-fixtures.rs). Do not edit: re-record.\n\
         # The story (testenv/src/scenario.rs):\n",
        version.git_version
    );
    for mark in &recording.marks {
        text.push_str(&format!("#   {{{{{}}}}}  {}\n", mark.ago, mark.what));
    }
    for doc in &documents {
        text.push_str("---\n");
        text.push_str(&serde_saphyr::to_string(doc)?);
    }
    std::fs::write(out, text).with_context(|| format!("writing {out}"))?;
    eprintln!("recorded {} objects into {out}", documents.len());
    Ok(())
}

/// Drops what the server assigns per object and turns recorded times into story times.
fn normalize(obj: &mut Value, recording: &Recording) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("uid");
        meta.remove("resourceVersion");
    }
    story_times(obj, recording);
}

/// Every string that is a timestamp from the recording becomes `{{now-…}}`.
fn story_times(value: &mut Value, recording: &Recording) {
    match value {
        Value::String(s) => {
            if let Ok(at) = s.parse::<Timestamp>()
                && let Some(ago) = recording.story_time(at)
            {
                *s = format!("{{{{{ago}}}}}");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| story_times(v, recording)),
        Value::Object(fields) => fields.values_mut().for_each(|v| story_times(v, recording)),
        _ => {}
    }
}
