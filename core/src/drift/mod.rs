//! Drift engine (work in progress).
pub mod compare;
pub mod jq;
pub mod managed;
pub mod path;
pub mod quantity;
pub mod schema;
