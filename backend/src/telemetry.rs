//! Logs: `tracing` events, JSON lines by default, filtered by `LOG_LEVEL`.
//!
//! Rejected requests are logged under the target `argocd_drift::security`, so they can be routed
//! or alerted on separately (and a filter such as `argocd_drift=debug` still includes them).

use crate::config::{Config, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, from `main`; tests leave logging alone.
pub fn init(config: &Config) -> anyhow::Result<()> {
    // kube-client logs a body it cannot parse at warn and error bodies at debug: bodies the
    // backend did not ask for (another object, a whole list) must never reach a log line, so its
    // events are kept to `error`, which carries none, whatever `LOG_LEVEL` says.
    let filter = EnvFilter::try_new(&config.log_level)?.add_directive("kube_client=error".parse()?);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match config.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        // Colours only on a terminal: a log file or a pipe gets plain text.
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot install the log subscriber: {e}"))
}
