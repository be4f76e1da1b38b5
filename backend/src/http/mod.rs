//! hyper glue: the route table, the Argo CD trust boundary, limits, JSON and errors.

pub mod argocd;
pub mod credentials;
pub mod error;
pub mod gate;
pub mod json;
pub mod limits;
pub mod query;
pub mod routes;
pub mod server;
