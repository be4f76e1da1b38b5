//! Handlers: typed inputs in (the app the gate admitted, the route's parsed query), a typed view
//! or an [`ApiError`](crate::http::error::ApiError) out. They call pure `drift_core` logic, never
//! build HTTP responses (the route table does) and never talk to Kubernetes themselves.

pub mod drift;
pub mod fleet;
pub mod history;
pub mod probes;
pub mod reports;
pub mod status;
