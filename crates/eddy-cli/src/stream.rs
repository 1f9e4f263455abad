//! `eddy stream create|list|describe|delete|reshard|retention|tail|export`:
//! the database's Kinesis-style streams.
//!
//! Streams are named by name or ARN; shards by their id
//! (`shardId-000000000001`) or just their index (`1`).

use clap::{ArgGroup, Args, Subcommand};
use eddy::stream::{shard_id, CreateStream, Shard, StreamMode};
use eddy::Database;

use crate::common::{self, format_millis, CliResult, DataArg};
use crate::tail;

use crate::export;

/// Options of `eddy stream`.
#[derive(Debug, Args)]
pub struct StreamArgs {
    #[command(flatten)]
    data: DataArg,
    #[command(subcommand)]
    command: StreamCommand,
}

#[derive(Debug, Subcommand)]
enum StreamCommand {
    /// Creates a stream (4 shards unless told otherwise).
    #[command(
        group(ArgGroup::new("capacity").args(["shards", "on_demand"])),
        after_help = "Examples:\n  eddy stream create orders-changes --shards 2\n  eddy stream create clicks --on-demand"
    )]
    Create {
        /// The stream's name.
        name: String,
        /// Provisioned mode with this many shards.
        #[arg(long, value_name = "N")]
        shards: Option<u32>,
        /// On-demand capacity mode (no manual resharding).
        #[arg(long)]
        on_demand: bool,
    },
    /// Lists the streams, one name per line.
    #[command(after_help = "Example:\n  eddy stream list")]
    List,
    /// Shows a stream: ARN, mode, retention and its shards with their lineage.
    #[command(after_help = "Example:\n  eddy stream describe orders-changes")]
    Describe {
        /// The stream's name or ARN.
        name: String,
    },
    /// Deletes a stream and its records.
    #[command(after_help = "Example:\n  eddy stream delete orders-changes")]
    Delete {
        /// The stream's name or ARN.
        name: String,
    },
    /// Splits a shard, merges two adjacent shards, or scales to a shard count.
    #[command(
        group(ArgGroup::new("how").required(true).args(["split", "merge", "count"])),
        after_help = "Examples:\n  eddy stream reshard orders-changes --split shardId-000000000000 mid\n  eddy stream reshard orders-changes --split 1 170141183460469231731687303715884105728\n  eddy stream reshard orders-changes --merge 2 3\n  eddy stream reshard orders-changes --count 8"
    )]
    Reshard {
        /// The stream's name or ARN.
        name: String,
        /// Splits SHARD at HASH_KEY (a decimal, or `mid` for the middle of
        /// its range).
        #[arg(long, num_args = 2, value_names = ["SHARD", "HASH_KEY"])]
        split: Option<Vec<String>>,
        /// Merges two adjacent open shards.
        #[arg(long, num_args = 2, value_names = ["SHARD", "ADJACENT_SHARD"])]
        merge: Option<Vec<String>>,
        /// Scales uniformly to N open shards (between half and double the
        /// current count).
        #[arg(long, value_name = "N")]
        count: Option<u32>,
    },
    /// Sets the retention period (24 to 8760 hours), increasing or
    /// decreasing it as needed.
    #[command(after_help = "Example:\n  eddy stream retention orders-changes 168")]
    Retention {
        /// The stream's name or ARN.
        name: String,
        /// The new retention period in hours.
        hours: u32,
    },
    /// Prints a stream's records across all shards, parents before children.
    #[command(
        after_help = "Examples:\n  eddy stream tail orders-changes\n  eddy stream tail orders-changes --from latest --follow\n  eddy stream tail orders-changes --from 1700000000000 --json"
    )]
    Tail(tail::TailArgs),
    /// Writes a stream's records as newline-delimited JSON files, one set
    /// per time window, laid out as a Firehose delivery to object storage:
    /// DIR/YYYY/MM/DD/HH/STREAM-WINDOWSTART-N.jsonl.
    #[command(
        after_help = "Examples:\n  eddy stream export orders-changes --to ./export\n  eddy stream export orders-changes --to ./export --window 15m --from 2024-05-01T00:00:00Z --overwrite"
    )]
    Export(export::ExportArgs),
}

/// `shardId-000000000001` from `1` or the id itself.
pub fn shard_name(text: &str) -> String {
    match text.parse::<u32>() {
        Ok(index) => shard_id(index),
        Err(_) => text.to_string(),
    }
}

/// Runs `eddy stream …`.
pub fn run(args: StreamArgs) -> CliResult {
    match args.command {
        StreamCommand::Create {
            name,
            shards,
            on_demand,
        } => {
            let db = args.data.open_or_create()?;
            let mode = if on_demand {
                StreamMode::OnDemand
            } else {
                StreamMode::Provisioned
            };
            db.streams().create_stream(
                &name,
                CreateStream {
                    shard_count: shards,
                    mode,
                },
            )?;
            let d = db.streams().describe_stream(&name)?;
            println!(
                "created stream {} ({}, {} shards): {}",
                d.stream_name,
                d.stream_mode.as_str(),
                d.open_shard_count,
                d.stream_arn
            );
            common::finish(db)
        }
        StreamCommand::List => {
            let db = args.data.open_existing()?;
            for name in db.streams().list_streams() {
                println!("{name}");
            }
            common::close(db)
        }
        StreamCommand::Describe { name } => {
            let db = args.data.open_existing()?;
            describe(&db, &name)?;
            common::close(db)
        }
        StreamCommand::Delete { name } => {
            let db = args.data.open_existing()?;
            db.streams().delete_stream(&name)?;
            println!("deleted stream {name}");
            common::finish(db)
        }
        StreamCommand::Reshard {
            name,
            split,
            merge,
            count,
        } => {
            let db = args.data.open_existing()?;
            reshard(&db, &name, split, merge, count)?;
            describe(&db, &name)?;
            common::finish(db)
        }
        StreamCommand::Retention { name, hours } => {
            let db = args.data.open_existing()?;
            let current = db.streams().describe_stream(&name)?.retention_period_hours;
            if hours > current {
                db.streams().increase_retention(&name, hours)?;
            } else if hours < current {
                db.streams().decrease_retention(&name, hours)?;
            }
            println!("stream {name}: retention {current} -> {hours} hours");
            common::finish(db)
        }
        StreamCommand::Tail(tail_args) => tail::run(&args.data, tail_args),
        StreamCommand::Export(export_args) => export::run(&args.data, export_args),
    }
}

fn reshard(
    db: &Database,
    name: &str,
    split: Option<Vec<String>>,
    merge: Option<Vec<String>>,
    count: Option<u32>,
) -> CliResult {
    let streams = db.streams();
    if let Some([shard, key]) = split.as_deref() {
        let shard = shard_name(shard);
        let key = if key == "mid" {
            let range = streams
                .list_shards(name)?
                .into_iter()
                .find(|s| s.shard_id == shard)
                .ok_or_else(|| format!("stream {name} has no shard {shard}"))?
                .hash_key_range;
            let (a, b) = (range.starting_hash_key, range.ending_hash_key);
            (a + (b - a) / 2 + 1).to_string()
        } else {
            key.clone()
        };
        streams.split_shard(name, &shard, &key)?;
    } else if let Some([a, b]) = merge.as_deref() {
        streams.merge_shards(name, &shard_name(a), &shard_name(b))?;
    } else if let Some(n) = count {
        let out = streams.update_shard_count(name, n)?;
        println!(
            "stream {}: {} -> {} open shards",
            out.stream_name, out.current_shard_count, out.target_shard_count
        );
    }
    Ok(())
}

fn describe(db: &Database, name: &str) -> CliResult {
    let d = db.streams().describe_stream(name)?;
    let row = |label: &str, value: String| println!("{label:<14}{value}");
    row("stream", d.stream_name.clone());
    row("arn", d.stream_arn.clone());
    row("status", d.stream_status.as_str().to_string());
    row("mode", d.stream_mode.as_str().to_string());
    row("retention", format!("{} hours", d.retention_period_hours));
    row("created", format_millis(d.stream_creation_millis));
    row(
        "shards",
        format!("{} open, {} in all", d.open_shard_count, d.shards.len()),
    );
    row("consumers", d.consumer_count.to_string());
    row(
        "encryption",
        match &d.key_id {
            Some(key) => format!("{} ({key})", d.encryption_type),
            None => d.encryption_type.to_string(),
        },
    );
    for shard in &d.shards {
        println!("  {}", shard_line(shard));
    }
    Ok(())
}

fn shard_line(shard: &Shard) -> String {
    let parents: Vec<&str> = [&shard.parent_shard_id, &shard.adjacent_parent_shard_id]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    format!(
        "{} {:<6} hash {}..{} parents {}",
        shard.shard_id,
        if shard.ending_sequence_number.is_some() {
            "closed"
        } else {
            "open"
        },
        shard.hash_key_range.starting_hash_key,
        shard.hash_key_range.ending_hash_key,
        if parents.is_empty() {
            "-".to_string()
        } else {
            parents.join(",")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_accept_an_index() {
        assert_eq!(shard_name("3"), "shardId-000000000003");
        assert_eq!(shard_name("shardId-000000000003"), "shardId-000000000003");
    }
}
