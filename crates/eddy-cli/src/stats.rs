//! `eddy stats`: what a data directory holds: tables with their item
//! counts and destinations, the change log, and the streams.

use clap::Args;

use crate::common::{self, CliResult, DataArg};
use crate::table::key_text;

/// Options of `eddy stats`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  eddy stats --data ./eddy-data")]
pub struct StatsArgs {
    #[command(flatten)]
    data: DataArg,
}

/// Runs `eddy stats`.
pub fn run(args: StatsArgs) -> CliResult {
    let db = args.data.open_existing()?;
    println!("data directory  {}", db.path().display());

    let tables = db.list_tables()?;
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
        "  opening         replayed {} changes ({} bytes) in {} ms{}",
        recovery.replayed,
        recovery.replayed_bytes,
        recovery.elapsed.as_millis(),
        recovery
            .torn_tail
            .as_ref()
            .map_or(String::new(), |t| format!("; cut a torn tail: {t}"))
    );

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
    }
    common::close(db)
}

/// `stream/orders-changes` from a full ARN.
fn short_arn(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}
