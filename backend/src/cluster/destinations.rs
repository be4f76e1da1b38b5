//! Which cluster an app's live objects are read from.
//!
//! [`Destinations`] turns an Application's `spec.destination` into a [`Cluster`] handle: the
//! cluster argocd-drift runs in (`https://kubernetes.default.svc`, or the name `in-cluster`),
//! through the backend's own credentials, or — when `DRIFT_REMOTE_CLUSTERS` is on — a cluster
//! Argo CD knows from one of its cluster Secrets ([`super::remote`]).
//!
//! Each cluster ([`super::live`]) keeps a discovery cache ([`super::discovery`]: bounded, failures
//! remembered briefly, only valid group/versions ever requested): a kind is resolved to its
//! resource (plural name, namespaced or not). Objects read are kept in a short-lived cache bounded
//! in bytes, shared by every cluster.

use super::live::ReadLimits;
use super::live::{Cluster, Shared};
use super::read_error::ReadError;
use super::remote::RemoteClusters;
use crate::metrics::Metrics;
use drift_core::app::Destination;
use std::sync::Arc;
use std::time::Duration;

/// Argo CD's address and name for the cluster it runs in.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
pub const IN_CLUSTER_NAME: &str = "in-cluster";

/// The clusters argocd-drift can read. Cheap to clone.
#[derive(Clone)]
pub struct Destinations {
    in_cluster: Cluster,
    remote: Option<RemoteClusters>,
    shared: Arc<Shared>,
}

impl Destinations {
    pub(super) fn new(
        client: kube::Client,
        request_timeout: Duration,
        limits: ReadLimits,
        remote_clusters: bool,
    ) -> Self {
        let shared = Arc::new(Shared::new(limits, request_timeout));
        Destinations {
            in_cluster: Cluster::new(IN_CLUSTER_SERVER.to_string(), client, Arc::clone(&shared)),
            remote: remote_clusters.then(|| RemoteClusters::new(Arc::clone(&shared))),
            shared,
        }
    }

    /// Whether `app` (`namespace/name`) may have a forced fresh read now: at most one per
    /// `refresh_min_interval`. A `true` counts as the app's refresh.
    pub fn may_refresh(&self, app: &str) -> bool {
        self.shared.may_refresh(app)
    }

    /// Objects being read now (each read shared by every caller that wants it).
    pub fn reads_in_flight(&self) -> usize {
        self.shared.reads_in_flight()
    }

    /// Counts the read path's maps (cache, reads under way, refreshes) at each scrape.
    pub fn count_held(&self, metrics: &Metrics) {
        for i in 0..4 {
            let shared = Arc::downgrade(&self.shared);
            let (map, _) = self.shared.held()[i];
            metrics.count_held(map, move || shared.upgrade().map(|s| s.held()[i].1));
        }
        if let Some(remote) = &self.remote {
            metrics.count_held("remote_clusters", remote.counter());
        }
    }

    /// The remote-cluster registry, when remote clusters are on.
    pub(super) fn remote(&self) -> Option<&RemoteClusters> {
        self.remote.as_ref()
    }

    /// The cluster an app deploys to.
    pub fn cluster(&self, destination: &Destination) -> Result<Cluster, ReadError> {
        match (destination.server(), destination.name()) {
            (Some(IN_CLUSTER_SERVER), _) | (None, Some(IN_CLUSTER_NAME)) => {
                return Ok(self.in_cluster.clone());
            }
            _ => {}
        }
        let named = destination
            .server()
            .or(destination.name())
            .unwrap_or("(none)")
            .to_string();
        match &self.remote {
            Some(remote) => remote
                .cluster(destination.server(), destination.name())
                .unwrap_or(Err(ReadError::ClusterNotReadable(named))),
            None => Err(ReadError::ClusterNotReadable(named)),
        }
    }
}
