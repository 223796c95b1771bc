//! The `sluice` command line: `run` and `validate`. The only place `anyhow` is used.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use sluice::config;

use sluice::pipeline::control::Controls;
use sluice::pipeline::run_connector;
use sluice::telemetry::{self, Health, Telemetry};

#[derive(Debug, Parser)]
#[command(
    name = "sluice",
    version,
    about = "Change-data-capture into compacted Kafka topics, Debezium-compatible"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every connector the config defines until SIGINT/SIGTERM. A connector that fails
    /// definitively stops alone; the process exits non-zero once every connector has
    /// stopped and one of them failed.
    Run {
        /// Path to the YAML config.
        #[arg(long, short)]
        config: PathBuf,
        /// Stop every connector, and exit non-zero, as soon as one fails definitively.
        #[arg(long)]
        fail_fast: bool,
    },
    /// Check a config file without connecting to anything.
    Validate {
        /// Path to the YAML config.
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { config } => match config::load(&config) {
            Ok(s) => {
                eprintln!(
                    "config {} is valid: {} connector(s): {}",
                    config.display(),
                    s.connectors.len(),
                    s.connectors.keys().cloned().collect::<Vec<_>>().join(", ")
                );
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                std::process::ExitCode::from(2)
            }
        },
        Command::Run { config, fail_fast } => {
            let settings = match config::load(&config) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return std::process::ExitCode::from(2);
                }
            };
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            match rt.block_on(run(settings, fail_fast)) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Whether the API is reachable from other hosts (anything but loopback).
fn beyond_loopback(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return false;
    }
    host.parse::<std::net::IpAddr>()
        .map_or(true, |ip| !ip.is_loopback())
}

async fn run(settings: config::Settings, fail_fast: bool) -> anyhow::Result<()> {
    telemetry::init_logging(settings.service.log_format);
    let telemetry = Telemetry::new();
    let controls = Controls::default();
    let (stop_tx, stop_rx) = watch::channel(false);

    let addr = settings.service.http_listen_addr.clone();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on service.http_listen_addr {addr}"))?;
    if beyond_loopback(&addr) && settings.service.http_auth_token.is_none() {
        tracing::warn!(addr = %addr, "the HTTP API listens beyond loopback without service.http_auth_token: anyone who reaches it can read metrics and pause, resume or restart connectors");
    }
    tracing::info!(addr = %addr, auth = settings.service.http_auth_token.is_some(), "http api listening (/metrics, /health, /ready, /connectors)");
    let cluster_view = sluice::api::Cluster::default();
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(sluice::api::serve(
        listener,
        telemetry.clone(),
        controls.clone(),
        (
            settings.service.http_auth_token.clone(),
            cluster_view.clone(),
        ),
        async move {
            let _ = http_stop.wait_for(|s| *s).await;
        },
    ));

    if settings.service.cluster.is_some() {
        // A cluster worker: the group decides which connectors run here.
        let worker = sluice::cluster::run(
            settings,
            telemetry.clone(),
            controls.clone(),
            cluster_view,
            stop_rx.clone(),
        );
        tokio::pin!(worker);
        let signal = shutdown_signal();
        tokio::pin!(signal);
        let r = loop {
            tokio::select! {
                _ = &mut signal, if !*stop_tx.borrow() => {
                    tracing::info!("shutdown requested; draining in-flight events, then leaving the cluster");
                    let _ = stop_tx.send(true);
                }
                r = &mut worker => break r,
            }
        };
        let _ = stop_tx.send(true);
        let _ = http.await;
        return r.context("cluster worker");
    }

    let mut tasks = tokio::task::JoinSet::new();
    let names: Vec<String> = settings.connectors.keys().cloned().collect();
    for (name, c) in settings.connectors {
        let t = telemetry.clone();
        let service = settings.service.clone();
        let stop = stop_rx.clone();
        let control = controls.register(&name);
        let c = Arc::new(c);
        tasks.spawn(async move {
            let r = run_connector(name.clone(), c, &service, t, stop, control).await;
            (name, r)
        });
    }

    let mut failures = Vec::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = &mut signal, if !*stop_tx.borrow() => {
                tracing::info!("shutdown requested; draining in-flight events");
                let _ = stop_tx.send(true);
            }
            _ = tick.tick(), if !*stop_tx.borrow() => {
                // A failed connector waits for a restart request; the process ends when no
                // connector runs any more (or at the first failure with --fail-fast).
                let health = telemetry.health();
                let failed: Vec<&String> = names
                    .iter()
                    .filter(|n| matches!(health.get(*n), Some(Health::Failed { .. })))
                    .collect();
                let running = names.iter().any(|n| {
                    !matches!(health.get(n), Some(Health::Failed { .. } | Health::Stopped) | None)
                        || controls.is_paused(n)
                });
                if !failed.is_empty() && (fail_fast || !running) {
                    tracing::error!(failed = ?failed, fail_fast, "stopping: {}", if fail_fast { "a connector failed (--fail-fast)" } else { "no connector is running" });
                    let _ = stop_tx.send(true);
                }
            }
            joined = tasks.join_next() => {
                match joined {
                    None => break,
                    Some(Ok((name, Err(e)))) => {
                        failures.push(format!("connector {name}: {e}\n  hint: {}", e.hint()));
                    }
                    Some(Ok((_, Ok(())))) => {}
                    Some(Err(e)) => {
                        failures.push(format!("connector task ended abnormally: {e}"));
                    }
                }
            }
        }
    }
    let _ = stop_tx.send(true);
    let _ = http.await;
    if failures.is_empty() {
        tracing::info!("all connectors stopped");
        Ok(())
    } else {
        anyhow::bail!("{}", failures.join("\n"))
    }
}
