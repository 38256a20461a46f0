use std::process::ExitCode;
use std::sync::Arc;

use boards_tenant_gateway::api::AppState;
use boards_tenant_gateway::app::router;
use boards_tenant_gateway::config::{Config, LogFormat};
use boards_tenant_gateway::db::Db;
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

/// SIGTERM or SIGINT.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    init_logs(config.log_format);
    let db = match Db::new(&config) {
        Ok(db) => Arc::new(db),
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::FAILURE;
        }
    };
    let app = router(AppState { db: db.clone() }, &config);
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(error = %e, listen = %config.listen, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            tracing::error!(error = %e, "no local address");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%addr, pool_size = config.pool_size, "listening");
    // One line on stdout for whoever started us (tests, scripts): the address in use.
    println!("boards-tenant-gateway listening on http://{addr}");
    let shutdown_timeout = config.shutdown_timeout();
    let signal = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: draining in-flight requests");
        tokio::spawn(async move {
            tokio::time::sleep(shutdown_timeout).await;
            tracing::error!("in-flight requests did not finish in time; exiting");
            std::process::exit(1);
        });
    };
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .await;
    db.close();
    match served {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}
