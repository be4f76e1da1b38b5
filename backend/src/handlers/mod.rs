//! Handlers: a typed request in, a response out. They read the index through what the gate
//! admitted, call pure `drift_core` logic, and never talk to Kubernetes themselves.

pub mod probes;
pub mod status;
