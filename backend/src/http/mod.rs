//! hyper glue: the route tables, the pipeline every port shares, the Argo CD trust boundary,
//! limits, listeners, replies and errors.

pub mod argocd;
pub mod compat;
pub mod credentials;
pub mod endpoint;
pub mod error;
pub mod gate;
pub mod limits;
pub mod listener;
pub mod query;
pub mod reply;
pub mod reporters;
pub mod routes;
pub mod seclog;
