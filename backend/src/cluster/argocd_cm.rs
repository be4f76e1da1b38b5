//! Watches Argo CD's `argocd-cm` into [`ArgoCdSettings`].

use super::watch::Sink;
use crate::argocd_settings::ArgoCdSettings;
use jiff::Timestamp;
use kube::api::DynamicObject;
use std::collections::BTreeMap;

/// The ConfigMap Argo CD reads its settings from.
pub const ARGOCD_CM: &str = "argocd-cm";

pub(super) struct SettingsSink(pub ArgoCdSettings);

/// The ConfigMap's `data`; values that are not strings are skipped.
fn data(object: &DynamicObject) -> BTreeMap<String, String> {
    object.data["data"]
        .as_object()
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

impl Sink for SettingsSink {
    type Listed = DynamicObject;

    fn listed(&self, object: DynamicObject) -> Option<DynamicObject> {
        Some(object)
    }

    fn replace(&self, objects: Vec<DynamicObject>, _now: Timestamp) {
        let found = objects
            .iter()
            .find(|o| o.metadata.name.as_deref() == Some(ARGOCD_CM));
        self.0.set(found.map(data));
    }

    fn apply(&self, object: DynamicObject, _now: Timestamp) {
        if object.metadata.name.as_deref() == Some(ARGOCD_CM) {
            self.0.set(Some(data(&object)));
        }
    }

    fn delete(&self, object: DynamicObject, _now: Timestamp) {
        if object.metadata.name.as_deref() == Some(ARGOCD_CM) {
            self.0.set(None);
        }
    }

    fn stale(&self, _why: &str, _now: Timestamp) {}

    fn fresh(&self) {}
}
