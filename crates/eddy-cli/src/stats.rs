//! `eddy stats`: what a data directory holds: tables with their item
//! counts and destinations, the change log, the streaming destinations'
//! progress, and the streams with their consumers' lag.
//!
//! For each stream the output lists every shard's tip (the newest record's
//! sequence number and arrival time, and how many records the shard has
//! received), then its consumers:
//!
//! * applications reading it with a checkpointing `StreamConsumer` (found
//!   by their lease tables), with each shard's checkpoint and the lag
//!   behind the tip **in records**: the tip's per-shard record number minus
//!   the checkpoint's, which the sequence numbers encode, so nothing is
//!   read to compute it (a lag in milliseconds would need the checkpointed
//!   record's arrival time, which a sequence number holds only to the
//!   second);
//! * registered enhanced fan-out consumers with their status (the engine
//!   keeps no position for them, so they have no lag to show).
//!
//! A streaming destination's lag is the number of LSNs between the change
//! log's last LSN and the last one its publisher handled. The figures are
//! a snapshot: opening the directory restarts the publishers, which may be
//! catching up while `stats` prints.

use std::collections::BTreeMap;

use clap::Args;
use eddy::stream::{SequenceNumber, ShardTip};
use eddy::{ConsumerCheckpoint, Database, DestinationStatus, SHARD_END};

use crate::common::{self, format_millis, CliResult, DataArg};
use crate::export::count;
use crate::table::key_text;

/// Options of `eddy stats`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  eddy stats --data ./eddy-data")]
pub struct StatsArgs {
    #[command(flatten)]
    data: DataArg,
}

/// A table's destination: table, stream ARN, status and published LSN.
type DestinationRow = (String, String, DestinationStatus, Option<u64>);

/// Runs `eddy stats`.
pub fn run(args: StatsArgs) -> CliResult {
    let db = args.data.open_existing()?;
    println!("data directory  {}", db.path().display());

    let tables = db.list_tables()?;
    let mut destination_rows: Vec<DestinationRow> = Vec::new();
    println!("\ntables ({})", tables.len());
    for name in &tables {
        let d = db.describe_table(name)?;
        let destinations = db.describe_kinesis_streaming_destination(name)?;
        let streaming: Vec<String> = destinations
            .iter()
            .map(|dest| {
                format!(
                    "-> {} {}",
                    short_arn(&dest.stream_arn),
                    dest.status.as_str()
                )
            })
            .collect();
        for dest in destinations {
            let published = db.streaming_published_lsn(name, &dest.stream_arn)?;
            destination_rows.push((name.clone(), dest.stream_arn, dest.status, published));
        }
        println!(
            "  {:<24} {:>10} items {:>12} bytes  ({}) {}",
            name,
            d.item_count,
            d.size_bytes,
            key_text(&d.def.key_schema),
            streaming.join(", ")
        );
    }

    let stats = db.stats();
    let recovery = db.recovery_report();
    println!("\nchange log");
    println!("  segments        {}", stats.log.segments);
    println!("  bytes on disk   {}", stats.log.bytes_on_disk);
    println!("  oldest LSN      {}", db.oldest_lsn());
    println!("  last LSN        {}", stats.last_lsn);
    println!("  checkpoint LSN  {}", stats.checkpoint_lsn);
    println!(
        "  snapshot LSN    {} (the log is kept after it)",
        stats.snapshot_lsn
    );
    println!(
        "  opening         replayed {} changes ({} bytes) in {} ms{}",
        recovery.replayed,
        recovery.replayed_bytes,
        recovery.elapsed.as_millis(),
        recovery
            .torn_tail
            .as_ref()
            .map_or(String::new(), |t| format!("; cut a torn tail: {t}"))
    );

    println!("\nstreaming destinations ({})", destination_rows.len());
    let last_lsn = db.last_lsn();
    for (table, arn, status, published) in &destination_rows {
        println!(
            "  {:<24} -> {:<24} {:<14} {}",
            table,
            short_arn(arn).trim_start_matches("stream/"),
            status.as_str(),
            destination_lag(*status, *published, last_lsn)
        );
    }

    let checkpoints = db.stream_consumer_checkpoints()?;
    let streams = db.streams().list_streams();
    println!("\nstreams ({})", streams.len());
    for name in &streams {
        let d = db.streams().describe_stream(name)?;
        println!(
            "  {:<24} {:>3} open shards ({} in all), {}, retention {} h, {} consumers",
            name,
            d.open_shard_count,
            d.shards.len(),
            d.stream_mode.as_str(),
            d.retention_period_hours,
            d.consumer_count
        );
        stream_lag(&db, &d.stream_name, &d.stream_arn, &checkpoints)?;
    }
    common::close(db)
}

/// `published LSN 40, log at 42, 2 changes behind`, or why there is no lag.
fn destination_lag(status: DestinationStatus, published: Option<u64>, last_lsn: u64) -> String {
    let Some(published) = published else {
        return String::new();
    };
    match status {
        DestinationStatus::EnableFailed => format!("published LSN {published} (not publishing)"),
        DestinationStatus::Disabled | DestinationStatus::Disabling => {
            format!("published LSN {published} (stopped)")
        }
        _ => format!(
            "published LSN {published}, log at {last_lsn}, {} behind",
            count(last_lsn.saturating_sub(published), "change")
        ),
    }
}

/// Prints a stream's shard tips and its consumers' positions.
fn stream_lag(
    db: &Database,
    name: &str,
    arn: &str,
    checkpoints: &[ConsumerCheckpoint],
) -> CliResult {
    let tips = db.streams().shard_tips(name)?;
    let shards = db.streams().list_shards(name)?;
    for tip in &tips {
        let open = shards
            .iter()
            .find(|s| s.shard_id == tip.shard_id)
            .is_some_and(|s| s.ending_sequence_number.is_none());
        println!(
            "    {} {:<6} {}",
            tip.shard_id,
            if open { "open" } else { "closed" },
            tip_text(tip)
        );
    }
    // Application → shard → checkpoint, for this stream (named by name or
    // by ARN when the consumer was opened).
    let mut applications: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for c in checkpoints
        .iter()
        .filter(|c| c.stream == name || c.stream == arn)
    {
        applications
            .entry(c.application.as_str())
            .or_default()
            .insert(c.shard_id.as_str(), c.checkpoint.as_str());
    }
    for (application, positions) in &applications {
        println!("    application {application} (checkpoints in table {application})");
        for tip in &tips {
            println!(
                "      {} {}",
                tip.shard_id,
                checkpoint_lag(tip, positions.get(tip.shard_id.as_str()).copied())
            );
        }
    }
    for consumer in db.streams().list_stream_consumers(name)? {
        println!(
            "    consumer {} {} (enhanced fan-out, registered {})",
            consumer.consumer_name,
            consumer.consumer_status.as_str(),
            format_millis(consumer.consumer_creation_millis)
        );
    }
    Ok(())
}

/// `tip 4960… at 2024-05-01T10:00:00.123Z (12 records)`.
fn tip_text(tip: &ShardTip) -> String {
    match (&tip.sequence_number, tip.approximate_arrival_millis) {
        (Some(seq), Some(millis)) => format!(
            "tip {seq} at {} ({})",
            format_millis(millis),
            count(tip.records, "record")
        ),
        _ if tip.records == 0 => "tip - (no records)".to_string(),
        _ => format!(
            "tip - ({}, the newest trimmed)",
            count(tip.records, "record")
        ),
    }
}

/// A checkpoint and how far behind the tip it is, in records.
fn checkpoint_lag(tip: &ShardTip, checkpoint: Option<&str>) -> String {
    match checkpoint {
        None => format!("no checkpoint, {} behind", count(tip.records, "record")),
        Some(SHARD_END) => "SHARD_END (finished), 0 records behind".to_string(),
        Some(seq) => match seq.parse::<SequenceNumber>() {
            Ok(s) => format!(
                "checkpoint {seq}, {} behind",
                count(tip.records.saturating_sub(s.seq_ix), "record")
            ),
            Err(_) => format!("checkpoint {seq} (not a sequence number)"),
        },
    }
}

/// `stream/orders-changes` from a full ARN.
fn short_arn(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tip(records: u64) -> ShardTip {
        ShardTip {
            shard_id: "shardId-000000000000".into(),
            records,
            sequence_number: None,
            approximate_arrival_millis: None,
        }
    }

    #[test]
    fn lag_is_counted_in_records() {
        let seq = SequenceNumber::new(1_700_000_000, 0, 3, 1_700_000_100).to_string();
        assert_eq!(
            checkpoint_lag(&tip(10), Some(&seq)),
            format!("checkpoint {seq}, 7 records behind")
        );
        assert_eq!(
            checkpoint_lag(&tip(10), None),
            "no checkpoint, 10 records behind"
        );
        assert!(checkpoint_lag(&tip(10), Some(SHARD_END)).contains("0 records behind"));
        assert!(checkpoint_lag(&tip(10), Some("x")).contains("not a sequence number"));
        assert_eq!(tip_text(&tip(0)), "tip - (no records)");
        assert_eq!(
            destination_lag(DestinationStatus::Active, Some(40), 42),
            "published LSN 40, log at 42, 2 changes behind"
        );
        assert!(destination_lag(DestinationStatus::Disabled, Some(40), 42).contains("stopped"));
    }
}
