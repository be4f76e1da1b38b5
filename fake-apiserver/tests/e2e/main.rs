//! End-to-end tests: a real `kube::Client` (kube 5) against the fake API server.

// Helpers outside `#[test]` functions panic on failure too: that is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_tls;
mod common;
mod crud;
mod discovery;
mod faults;
mod managed_fields;
mod seeding;
mod typed;
mod watch;
