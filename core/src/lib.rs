//! argocd-drift's pure logic: no IO, no Kubernetes client, no async runtime, no clock. Every
//! function takes the time it needs, so every rule is unit-tested with plain values.
//!
//! The backend feeds it what the cluster layer read (Applications, live objects) and serves what
//! it returns. That the crate depends on none of kube, tokio or hyper is checked by the compiler:
//! they are not in its `Cargo.toml`.

pub mod api;
pub mod app;
pub mod compact;
pub mod drift;
pub mod history;
pub mod install;
pub mod names;
pub mod pack;
pub mod reports;
pub mod scope;
pub mod status;
pub mod tracking;
#[cfg(feature = "ts")]
pub mod ts;
