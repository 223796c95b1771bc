//! The `sluice` command line: `run` and `validate`. The only place `anyhow` is used.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tokio::sync::watch;

use sluice::config;

use sluice::pipeline::run_connector;
use sluice::telemetry::{self, Telemetry};

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
    /// Run every connector the config defines until SIGINT/SIGTERM.
    Run {
        /// Path to the YAML config.
        #[arg(long, short)]
        config: PathBuf,
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
        Command::Run { config } => {
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
            match rt.block_on(run(settings)) {
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

async fn run(settings: config::Settings) -> anyhow::Result<()> {
    telemetry::init_logging(settings.service.log_format);
    let telemetry = Telemetry::new();
    let (stop_tx, stop_rx) = watch::channel(false);

    let listener = tokio::net::TcpListener::bind(&settings.service.http_listen_addr)
        .await
        .with_context(|| {
            format!(
                "cannot listen on service.http_listen_addr {}",
                settings.service.http_listen_addr
            )
        })?;
    tracing::info!(addr = %settings.service.http_listen_addr, "http api listening (/metrics, /health)");
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(telemetry::serve(listener, telemetry.clone(), async move {
        let _ = http_stop.wait_for(|s| *s).await;
    }));

    let mut tasks = tokio::task::JoinSet::new();
    for (name, c) in settings.connectors {
        let t = telemetry.clone();
        let dir = settings.service.offsets_dir.clone();
        let stop = stop_rx.clone();
        let c = Arc::new(c);
        tasks.spawn(async move {
            let r = run_connector(name.clone(), c, &dir, t, stop).await;
            (name, r)
        });
    }

    let mut failures = Vec::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = &mut signal, if !*stop_tx.borrow() => {
                tracing::info!("shutdown requested; draining in-flight events");
                let _ = stop_tx.send(true);
            }
            joined = tasks.join_next() => {
                match joined {
                    None => break,
                    Some(Ok((name, Err(e)))) => {
                        failures.push(format!("connector {name}: {e}\n  hint: {}", e.hint()));
                        let _ = stop_tx.send(true);
                    }
                    Some(Ok((_, Ok(())))) => {}
                    Some(Err(e)) => {
                        failures.push(format!("connector task ended abnormally: {e}"));
                        let _ = stop_tx.send(true);
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
