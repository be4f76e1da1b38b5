//! `fake-apiserver`: run the fake Kubernetes API server, seeded from YAML fixtures.
//!
//! ```text
//! fake-apiserver --seed <dir> [--seed <dir2>] [--port 0] [--bind 127.0.0.1] [--tls]
//!                [--token T] [--kubeconfig-out <path>]
//! ```
//!
//! Prints the URL on stdout, writes a kubeconfig if asked, and serves until SIGINT/SIGTERM.
//! Logs go to stderr (`RUST_LOG=debug` shows one line per request).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use fake_apiserver::FakeApiServer;
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: fake-apiserver [--seed <dir>]... [--port <port>] [--bind <ip>] \
                     [--tls] [--token <token>] [--kubeconfig-out <path>] [--bookmark-interval-ms <ms>]";

#[derive(Debug, Default)]
struct Args {
    seeds: Vec<PathBuf>,
    port: u16,
    bind: Option<IpAddr>,
    tls: bool,
    token: Option<String>,
    kubeconfig_out: Option<PathBuf>,
    bookmark_interval: Option<Duration>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Args> {
    let mut out = Args::default();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> anyhow::Result<String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => args
                    .next()
                    .with_context(|| format!("{name} needs a value\n{USAGE}")),
            }
        };
        match flag.as_str() {
            "--seed" => out.seeds.push(value("--seed")?.into()),
            "--port" => {
                out.port = value("--port")?
                    .parse()
                    .context("--port must be a number between 0 and 65535")?;
            }
            "--bind" => {
                out.bind = Some(
                    value("--bind")?
                        .parse()
                        .context("--bind must be an IP address")?,
                )
            }
            "--tls" => out.tls = true,
            "--token" => out.token = Some(value("--token")?),
            "--kubeconfig-out" => out.kubeconfig_out = Some(value("--kubeconfig-out")?.into()),
            "--bookmark-interval-ms" => {
                let ms: u64 = value("--bookmark-interval-ms")?
                    .parse()
                    .context("--bookmark-interval-ms must be a number")?;
                out.bookmark_interval = Some(Duration::from_millis(ms.max(1)));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    Ok(out)
}

async fn shutdown_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            result.context("waiting for SIGINT")?;
            Ok("SIGINT")
        }
        _ = term.recv() => Ok("SIGTERM"),
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        seeds,
        port,
        bind,
        tls,
        token,
        kubeconfig_out,
        bookmark_interval,
    } = args;
    let ip = bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let mut builder = FakeApiServer::builder()
        .bind(SocketAddr::new(ip, port))
        .tls(tls);
    for dir in &seeds {
        builder = builder.seed_dir(dir);
    }
    if let Some(token) = token {
        builder = builder.token(token);
    }
    if let Some(interval) = bookmark_interval {
        builder = builder.bookmark_interval(interval);
    }
    let server = builder
        .start()
        .await
        .context("starting the fake API server")?;
    if let Some(path) = &kubeconfig_out {
        std::fs::write(path, server.kubeconfig_yaml())
            .with_context(|| format!("writing the kubeconfig to {}", path.display()))?;
        tracing::info!(path = %path.display(), "kubeconfig written");
    }
    println!("{}", server.url());
    tracing::info!(
        url = %server.url(),
        objects_rv = server.store().current_resource_version(),
        "serving; stop with SIGINT or SIGTERM"
    );
    let signal = shutdown_signal().await?;
    tracing::info!(signal, "shutting down");
    server.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let args = parse_args(std::env::args().skip(1))?;
    run(args).await
}
