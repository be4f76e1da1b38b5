//! The argocd-drift binary: configuration from the environment, logs, then [`run`].

use argocd_drift::{Config, Shutdown, run, telemetry};
use envconfig::Envconfig;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
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
