//! `boards-tenant`: the operator's command line of the boards_tenant extension.
//! See `boards-tenant --help` and cli/README.md.

mod app;
mod cli;
mod config;
mod error;
mod jwks_source;
mod keys_sync;
mod plan;
mod render;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Usage errors exit with 2 (clap's default).
    let cli = cli::Cli::parse();
    match app::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprint!("{e}");
            ExitCode::from(1)
        }
    }
}
