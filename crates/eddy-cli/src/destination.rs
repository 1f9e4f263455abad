//! `eddy destination enable|describe|update|disable`: streaming a table's
//! changes into a stream of the same database (Kinesis Data Streams for
//! DynamoDB).
//!
//! Streams may be named by name or ARN; a name is turned into the ARN the
//! destination records.

use clap::{Args, Subcommand, ValueEnum};
use eddy::{Database, DestinationChange, DestinationStatus, Precision};

use crate::common::{self, CliResult, DataArg};

/// Options of `eddy destination`.
#[derive(Debug, Args)]
pub struct DestinationArgs {
    #[command(flatten)]
    data: DataArg,
    #[command(subcommand)]
    command: DestinationCommand,
}

/// `ApproximateCreationDateTimePrecision`.
#[derive(Debug, Clone, Copy, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
enum PrecisionArg {
    /// Epoch milliseconds (the default).
    Millisecond,
    /// Epoch microseconds.
    Microsecond,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Precision {
        match p {
            PrecisionArg::Millisecond => Precision::Millisecond,
            PrecisionArg::Microsecond => Precision::Microsecond,
        }
    }
}

#[derive(Debug, Subcommand)]
enum DestinationCommand {
    /// Streams the table's changes from now on into a stream.
    #[command(
        after_help = "Example:\n  eddy destination enable orders orders-changes --precision MICROSECOND"
    )]
    Enable {
        /// The table.
        table: String,
        /// The stream's name or ARN.
        stream: String,
        /// The precision of ApproximateCreationDateTime in the records.
        #[arg(long, value_enum, ignore_case = true)]
        precision: Option<PrecisionArg>,
    },
    /// Shows the table's streaming destinations.
    #[command(after_help = "Example:\n  eddy destination describe orders")]
    Describe {
        /// The table.
        table: String,
    },
    /// Changes the timestamp precision of an active destination.
    #[command(
        after_help = "Example:\n  eddy destination update orders orders-changes --precision MILLISECOND"
    )]
    Update {
        /// The table.
        table: String,
        /// The stream's name or ARN.
        stream: String,
        /// The new precision.
        #[arg(long, value_enum, ignore_case = true)]
        precision: PrecisionArg,
    },
    /// Stops streaming the table's changes (those already made are still
    /// delivered).
    #[command(after_help = "Example:\n  eddy destination disable orders orders-changes")]
    Disable {
        /// The table.
        table: String,
        /// The stream's name or ARN.
        stream: String,
    },
}

/// The ARN of a stream given by name or ARN.
fn stream_arn(db: &Database, stream: &str) -> CliResult<String> {
    if stream.starts_with("arn:") {
        Ok(stream.to_string())
    } else {
        Ok(db.streams().stream_arn(stream)?)
    }
}

fn print_change(change: &DestinationChange) {
    println!(
        "{} -> {}: {}{}",
        change.table_name,
        change.stream_arn,
        change.status.as_str(),
        change
            .precision
            .map_or(String::new(), |p| format!(" (precision {})", p.as_str()))
    );
}

/// Runs `eddy destination …`.
pub fn run(args: DestinationArgs) -> CliResult {
    let db = args.data.open_existing()?;
    match args.command {
        DestinationCommand::Enable {
            table,
            stream,
            precision,
        } => {
            let arn = stream_arn(&db, &stream)?;
            let change =
                db.enable_kinesis_streaming_destination(&table, &arn, precision.map(Into::into))?;
            print_change(&change);
            // eddy enables synchronously: report where the destination is.
            if let Some(d) = db
                .describe_kinesis_streaming_destination(&table)?
                .into_iter()
                .find(|d| d.stream_arn == arn)
            {
                if d.status == DestinationStatus::EnableFailed {
                    common::finish(db)?;
                    return Err(format!(
                        "the destination is ENABLE_FAILED: {}",
                        d.status_description.unwrap_or_default()
                    )
                    .into());
                }
                println!("destination is {}", d.status.as_str());
            }
        }
        DestinationCommand::Describe { table } => {
            let destinations = db.describe_kinesis_streaming_destination(&table)?;
            if destinations.is_empty() {
                println!("table {table} has no streaming destination");
            }
            for d in destinations {
                println!(
                    "{} {} precision {}{}",
                    d.stream_arn,
                    d.status.as_str(),
                    d.precision.unwrap_or_default().as_str(),
                    d.status_description
                        .map_or(String::new(), |s| format!(" ({s})"))
                );
            }
            return common::close(db);
        }
        DestinationCommand::Update {
            table,
            stream,
            precision,
        } => {
            let arn = stream_arn(&db, &stream)?;
            let change =
                db.update_kinesis_streaming_destination(&table, &arn, Some(precision.into()))?;
            print_change(&change);
        }
        DestinationCommand::Disable { table, stream } => {
            let arn = stream_arn(&db, &stream)?;
            let change = db.disable_kinesis_streaming_destination(&table, &arn)?;
            print_change(&change);
        }
    }
    common::finish(db)
}
