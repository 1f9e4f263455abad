//! The `eddy` command line.
//!
//! `eddy demo` runs a realistic write workload with its change stream
//! shown. The other commands work on a data directory (`--data`, default
//! `./eddy-data`): tables and items (`table`, `put`, `get`, `delete`,
//! `query`, `scan`), streams (`stream`, including `stream tail`), streaming
//! destinations (`destination`), and the directory as a whole (`stats`,
//! `check`). One module per command group. Errors print one line,
//! `eddy: <message>`, and exit non-zero.

mod check;
mod common;
mod demo;
mod destination;
mod export;
mod item;
mod json;
mod serve;
mod stats;
mod stream;
mod table;
mod tail;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// eddy's write path allocates on one thread and frees on another (the
/// writer and the stream publisher); glibc's malloc serialises that on its
/// arena locks, mimalloc does not (docs/benchmarks.md, "The allocator").
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// eddy: an embedded, durable change-data-capture database with DynamoDB's
/// item model.
#[derive(Debug, Parser)]
#[command(
    name = "eddy",
    version,
    about,
    long_about = None,
    after_help = r#"Examples:
  eddy demo
  eddy table create orders --pk customer:S --sk order:N
  eddy stream create orders-changes --shards 2
  eddy destination enable orders orders-changes
  eddy put orders --plain '{"customer":"c1","order":1,"total":9.5}'
  eddy stream tail orders-changes"#
)]
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
    /// Creates, lists, describes and deletes tables.
    #[command(after_help = "Example:\n  eddy table create orders --pk customer:S --sk order:N")]
    Table(table::TableArgs),
    /// Writes an item (replacing any item with the same key).
    Put(item::PutArgs),
    /// Reads an item by its key.
    Get(item::GetArgs),
    /// Deletes an item by its key.
    Delete(item::DeleteArgs),
    /// Reads the items of one partition key, in sort-key order.
    Query(item::QueryArgs),
    /// Reads every item of a table.
    Scan(item::ScanArgs),
    /// Creates, describes, reshards and tails Kinesis-style streams.
    #[command(
        after_help = "Example:\n  eddy stream create orders-changes --shards 2\n  eddy stream tail orders-changes --follow"
    )]
    Stream(stream::StreamArgs),
    /// Streams a table's changes into a stream (Kinesis Data Streams for
    /// DynamoDB).
    #[command(after_help = "Example:\n  eddy destination enable orders orders-changes")]
    Destination(destination::DestinationArgs),
    /// Shows tables, item counts, the change log and the streams.
    Stats(stats::StatsArgs),
    /// Verifies the change log, the tables against it, and every stream
    /// record; exits non-zero on any problem.
    Check(check::CheckArgs),
    /// Serves the DynamoDB and Kinesis APIs over HTTP on one port, for
    /// boto3, the AWS CLI and the AWS SDKs.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EDDY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Table(args) => table::run(args),
        Command::Put(args) => item::put(args),
        Command::Get(args) => item::get(args),
        Command::Delete(args) => item::delete(args),
        Command::Query(args) => item::query(args),
        Command::Scan(args) => item::scan(args),
        Command::Stream(args) => stream::run(args),
        Command::Destination(args) => destination::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Check(args) => check::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The error and each of its causes, on one line.
            let message = eddy::error_chain(e.as_ref());
            eprintln!("eddy: {}", message.lines().collect::<Vec<_>>().join(" "));
            ExitCode::FAILURE
        }
    }
}

/// Help and version print as clap prints them; a usage error prints as one
/// line, like every other error, and exits with 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let text = e.render().to_string();
    let message: Vec<&str> = text
        .lines()
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more"))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let message = message.join(" ");
    eprintln!(
        "eddy: {} (see --help)",
        message.strip_prefix("error: ").unwrap_or(&message)
    );
    ExitCode::from(2)
}
