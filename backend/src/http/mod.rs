//! hyper glue: the pipeline every port shares, the Argo CD trust boundary, the request
//! vocabulary handlers take and return (queries, replies, errors), limits and listeners. The
//! route tables that put handlers behind it are [`crate::routes`].

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
pub mod seclog;
