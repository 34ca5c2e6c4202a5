//! `sluice serve|demo`: see `sluice --help` and README.md.

use std::process::ExitCode;
use std::sync::Arc;

use sluice_server::cli::{self, Command};
use sluice_server::server::AppState;

fn main() -> ExitCode {
    let mut filter = std::env::var("SLUICE_LOG").unwrap_or_else(|_| "info".into());
    // srt-tokio logs every malformed datagram at WARN: anyone could flood the log. Sluice logs
    // what matters about SRT callers itself; ask for `srt_protocol=debug` to see the rest.
    if !filter.contains("srt_") {
        filter.push_str(",srt_protocol=error,srt_tokio=error");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, config) = match cli::parse(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    sluice_server::tls::install_crypto_provider();
    let hub = sluice_server::hub_from_config(&config);
    let hls_js = sluice_server::load_hls_js(&config);
    if hls_js.is_none() {
        tracing::warn!(
            "hls.js not found: the dashboard cannot play until `npm ci --prefix web` is run"
        );
    }
    let state = Arc::new(AppState::new(hub.clone(), hls_js, &config));
    match sluice_server::runtime::run(&config, hub, state, command == Command::Demo) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
