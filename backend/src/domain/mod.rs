//! Pure logic: no IO, no Kubernetes client, no clocks. Every function takes the time it needs.

pub mod app;
pub mod names;
pub mod scope;
pub mod status;
pub mod tracking;
