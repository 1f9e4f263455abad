//! The `eddy` command line.
//!
//! For now it runs the demo, eddy's main job: a realistic write workload on a
//! durable database with its change stream shown. Errors print one line and
//! exit non-zero.

mod demo;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// eddy: an embedded, durable change-data-capture database with DynamoDB's
/// item model.
#[derive(Debug, Parser)]
#[command(name = "eddy", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a mixed order-processing workload from several threads while a
    /// consumer follows the change log, then prints the last changes and a
    /// summary.
    ///
    /// Example: eddy demo --writers 8 --ops 20000 --durability sync
    Demo(demo::DemoArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EDDY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eddy: {e}");
            ExitCode::FAILURE
        }
    }
}
