//! The argocd-drift binary: `argocd-drift [serve]` runs the backend ([`run`]); `argocd-drift
//! check` checks a live install and prints each link with its fix ([`check::run`]). Both read
//! the same environment.

use argocd_drift::{Config, Shutdown, check, run, telemetry};
use envconfig::Envconfig;
use std::process::ExitCode;

const USAGE: &str = "usage: argocd-drift [serve]   run the backend (configuration: environment variables, see README)
       argocd-drift check     check a live install: the Kubernetes API, Applications, the CRDs, the
                              backend's readiness, and Argo CD's wiring; each failure with its fix";

/// jemalloc, not the C library's malloc. At 50,000 Applications glibc kept 20–70 MiB of the
/// start-up lists' freed memory resident (which of the two depended on timing) and its search of
/// that fragmented heap was ~40 % of a `/status` request's CPU; jemalloc hands freed pages back
/// after a few seconds and keeps the read path's cost flat (docs/benchmarks.md, "Allocator").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => serve().await,
        ["check"] => check().await,
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

async fn serve() -> ExitCode {
    let config = match Config::init_from_env()
        .map_err(anyhow::Error::from)
        .and_then(|c| {
            c.validate()?;
            Ok(c)
        }) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("argocd-drift: invalid configuration: {error:#}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = telemetry::init(&config) {
        eprintln!("argocd-drift: {error:#}");
        return ExitCode::from(2);
    }
    let result = match Shutdown::os_signals() {
        Ok(shutdown) => run(config, shutdown).await,
        Err(error) => Err(anyhow::Error::new(error).context("installing signal handlers")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "argocd-drift failed");
            ExitCode::FAILURE
        }
    }
}

/// The self-check needs no proxy token: it only reads, with the same identity as the backend.
async fn check() -> ExitCode {
    let config = match Config::init_from_env()
        .map_err(anyhow::Error::from)
        .and_then(|c| {
            c.validate_settings()?;
            Ok(c)
        }) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("argocd-drift check: invalid configuration: {error:#}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout();
    match check::run(&config, &mut stdout).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("argocd-drift check: {error:#}");
            ExitCode::from(2)
        }
    }
}
