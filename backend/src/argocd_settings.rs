//! Argo CD's settings that decide what counts as a difference: the `argocd-cm` ConfigMap in Argo
//! CD's namespace (`resource.customizations.ignoreDifferences.*`, `resource.compareoptions`,
//! `resource.sensitive.mask.annotations`, …), watched by the cluster layer and read by drift.
//!
//! Kept as the raw key/value data with a generation number that changes with every update, so
//! drift parses it once per version. An absent `argocd-cm` reads as empty (Argo CD's defaults).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The latest `argocd-cm` seen. Cheap to clone.
#[derive(Clone, Default)]
pub struct ArgoCdSettings {
    inner: Arc<RwLock<Snapshot>>,
}

/// One version of the settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// `argocd-cm`'s `data` (empty when the ConfigMap does not exist).
    pub data: Arc<BTreeMap<String, String>>,
    /// Whether the ConfigMap exists.
    pub present: bool,
    /// Increases with every change seen; 0 before the first list.
    pub generation: u64,
}

impl ArgoCdSettings {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn snapshot(&self) -> Snapshot {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Stores a new version (`None`: the ConfigMap is gone).
    pub fn set(&self, data: Option<BTreeMap<String, String>>) {
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let present = data.is_some();
        let data = Arc::new(data.unwrap_or_default());
        if inner.present == present && inner.data == data && inner.generation > 0 {
            return;
        }
        inner.generation += 1;
        inner.data = data;
        inner.present = present;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_is_a_new_generation_and_a_repeat_is_not() {
        let settings = ArgoCdSettings::new();
        assert_eq!(settings.snapshot().generation, 0);
        settings.set(None);
        assert_eq!(
            (settings.snapshot().generation, settings.snapshot().present),
            (1, false)
        );
        let data = BTreeMap::from([("resource.compareoptions".to_string(), "x".to_string())]);
        settings.set(Some(data.clone()));
        settings.set(Some(data));
        let snapshot = settings.snapshot();
        assert_eq!((snapshot.generation, snapshot.present), (2, true));
        assert_eq!(snapshot.data["resource.compareoptions"], "x");
    }
}
