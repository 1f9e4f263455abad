//! `eddy stream tail`: a stream's records across all shards, in lineage
//! order.
//!
//! A shard is read only once its parents are read to their end (or have
//! expired), so every item's changes print in commit order even across
//! splits and merges. Each shard's position is kept as the sequence number
//! of the last record printed, so the reader can let go of the database
//! between polls: with `--follow` it opens the data directory, reads every
//! shard to its current end, closes it and sleeps 200 ms, over and over
//! until interrupted, which lets other `eddy` commands write meanwhile.
//! Without `--follow` it stops once every shard is read to its current end.
//!
//! The default output is one compact line per record: for the change
//! records of a streaming destination, `shard sequence-number event table
//! keys`, with the keys in plain JSON; for other records, the partition key
//! and the data as text (or base64 when it is not UTF-8). `--json` prints
//! each record's data as it is, one per line.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use clap::Args;
use eddy::stream::{IteratorType, Record, Shard};
use eddy::{Database, Item};
use serde_json::Value as Json;

use crate::common::{self, emit, CliResult, DataArg};
use crate::json::item_to_plain;

/// How often `--follow` polls.
const POLL: Duration = Duration::from_millis(200);

/// Options of `eddy stream tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// The stream's name or ARN.
    stream: String,
    /// Where to start: trim-horizon (the oldest retained record), latest
    /// (records arriving from now on) or an epoch-milliseconds timestamp.
    #[arg(long, value_name = "POSITION", default_value = "trim-horizon", value_parser = parse_start)]
    from: Start,
    /// Keeps polling for new records (every 200 ms) until interrupted.
    #[arg(long)]
    follow: bool,
    /// Prints each record's data as it is instead of the compact line.
    #[arg(long)]
    json: bool,
}

/// `--from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    TrimHorizon,
    Latest,
    At(u64),
}

fn parse_start(text: &str) -> Result<Start, String> {
    match text.to_ascii_lowercase().replace('_', "-").as_str() {
        "trim-horizon" => Ok(Start::TrimHorizon),
        "latest" => Ok(Start::Latest),
        other => other.parse().map(Start::At).map_err(|_| {
            format!("expected trim-horizon, latest or epoch milliseconds, got {text:?}")
        }),
    }
}

/// Where one shard's reading stands.
#[derive(Debug, Default)]
struct Cursor {
    /// The sequence number of the last record printed.
    last: Option<String>,
    /// Read to the end of a closed shard.
    done: bool,
}

struct Tail {
    stream: String,
    /// Where a shard without a printed record starts.
    start: IteratorType,
    json: bool,
    cursors: BTreeMap<String, Cursor>,
}

impl Tail {
    /// Reads every readable shard to its current end; whether anything
    /// happened (records printed or shards finished).
    fn round(&mut self, db: &Database) -> CliResult<bool> {
        let streams = db.streams();
        let shards = streams.list_shards(&self.stream)?;
        let present: HashSet<&str> = shards.iter().map(|s| s.shard_id.as_str()).collect();
        let mut changed = false;
        for shard in &shards {
            let ready = parents(shard)
                .all(|p| !present.contains(p) || self.cursors.get(p).is_some_and(|c| c.done));
            let cursor = self.cursors.entry(shard.shard_id.clone()).or_default();
            if cursor.done || !ready {
                continue;
            }
            let kind = match &cursor.last {
                Some(seq) => IteratorType::AfterSequenceNumber(seq.clone()),
                None => self.start.clone(),
            };
            let mut iterator = streams.get_shard_iterator(&self.stream, &shard.shard_id, kind)?;
            loop {
                let page = streams.get_records(&iterator, None)?;
                for record in &page.records {
                    emit(format_record(&shard.shard_id, record, self.json))?;
                    cursor.last = Some(record.sequence_number.clone());
                    changed = true;
                }
                match page.next_shard_iterator {
                    None => {
                        cursor.done = true;
                        changed = true;
                        break;
                    }
                    Some(_) if page.records.is_empty() => break,
                    Some(next) => iterator = next,
                }
            }
        }
        Ok(changed)
    }
}

fn parents(shard: &Shard) -> impl Iterator<Item = &str> {
    [&shard.parent_shard_id, &shard.adjacent_parent_shard_id]
        .into_iter()
        .flatten()
        .map(String::as_str)
}

/// Runs `eddy stream tail`.
pub fn run(data: &DataArg, args: TailArgs) -> CliResult {
    let start = match args.from {
        Start::TrimHorizon => IteratorType::TrimHorizon,
        Start::At(millis) => IteratorType::AtTimestamp(millis),
        // Positions are kept between polls by sequence number; a shard
        // with nothing read yet restarts from this moment each time.
        Start::Latest => IteratorType::AtTimestamp(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
        ),
    };
    let mut tail = Tail {
        stream: args.stream,
        start,
        json: args.json,
        cursors: BTreeMap::new(),
    };
    let db = data.open_existing()?;
    // Publishers restarted by the open deliver what earlier commands left.
    db.wait_for_streaming(Duration::from_secs(30))?;
    while tail.round(&db)? {}
    common::close(db)?;
    if !args.follow {
        return Ok(());
    }
    loop {
        std::thread::sleep(POLL);
        let db = data.open_existing()?;
        db.wait_for_streaming(Duration::from_secs(1))?;
        while tail.round(&db)? {}
        common::close(db)?;
    }
}

/// One line of output for a record.
fn format_record(shard: &str, record: &Record, json: bool) -> String {
    if json {
        return String::from_utf8_lossy(&record.data).into_owned();
    }
    let seq = &record.sequence_number;
    match change_summary(&record.data) {
        Some(summary) => format!("{shard} {seq} {summary}"),
        None => format!(
            "{shard} {seq} {} {}",
            record.partition_key,
            data_text(&record.data)
        ),
    }
}

/// `INSERT orders {"customer":"c1","order":1}` for a change record.
fn change_summary(data: &[u8]) -> Option<String> {
    let json: Json = serde_json::from_slice(data).ok()?;
    let event = json.get("eventName")?.as_str()?;
    let table = json.get("tableName")?.as_str()?;
    let keys = Item::from_json(json.get("dynamodb")?.get("Keys")?).ok()?;
    Some(format!("{event:<6} {table} {}", item_to_plain(&keys)))
}

/// The data as text when it is UTF-8, else `base64:…`.
fn data_text(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(text) => text.escape_debug().to_string(),
        Err(_) => format!("base64:{}", BASE64.encode(data)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_starting_positions() {
        assert_eq!(parse_start("trim-horizon").unwrap(), Start::TrimHorizon);
        assert_eq!(parse_start("TRIM_HORIZON").unwrap(), Start::TrimHorizon);
        assert_eq!(parse_start("latest").unwrap(), Start::Latest);
        assert_eq!(
            parse_start("1700000000000").unwrap(),
            Start::At(1_700_000_000_000)
        );
        assert!(parse_start("yesterday").is_err());
    }

    #[test]
    fn summarises_change_records_and_other_data() {
        let change = br#"{"awsRegion":"us-east-1","eventID":"x","eventName":"MODIFY","tableName":"orders","dynamodb":{"Keys":{"id":{"S":"a"},"n":{"N":"2"}}}}"#;
        assert_eq!(
            change_summary(change).unwrap(),
            r#"MODIFY orders {"id":"a","n":2}"#
        );
        assert!(change_summary(b"hello").is_none());
        assert_eq!(data_text(b"a\nb"), "a\\nb");
        assert_eq!(data_text(&[0xff, 0x00]), "base64:/wA=");
    }
}
