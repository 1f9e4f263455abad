//! `eddy stream export`: a stream's records as newline-delimited JSON
//! files, one set per time window, laid out the way a Firehose delivery to
//! object storage lays them out.
//!
//! # Layout
//!
//! ```text
//! <dir>/<YYYY>/<MM>/<DD>/<HH>/<stream>-<YYYY-MM-DD-HH-MM-SS>-<n>.jsonl
//! ```
//!
//! A record belongs to the window holding its `ApproximateArrivalTimestamp`
//! (UTC); windows (`--window`, default one hour) are aligned to the Unix
//! epoch, and the date directories and the timestamp in the name are those
//! of the window's start. `<n>` numbers a window's files from 1: a file is
//! closed once the next line would take it past `--max-file-bytes`
//! (128 MiB, Firehose's largest buffer), and the window goes on in file
//! `n + 1`.
//!
//! # Lines
//!
//! Every line is one envelope object, whatever the record holds:
//!
//! ```json
//! {"shardId":"shardId-000000000000","sequenceNumber":"4960…","partitionKey":"…",
//!  "approximateArrivalTimestamp":"2024-05-01T10:00:00.123Z","dataEncoding":"json","data":{…}}
//! ```
//!
//! `data` is the record's data itself when it is JSON (as the change
//! records of a streaming destination are), made compact without changing
//! any value; otherwise it is the data in base64 text. `dataEncoding`
//! (`json` or `base64`) says which, since JSON data may itself be a string.
//!
//! # Reading and writing
//!
//! Shards are read in lineage order, parents before children, as `eddy
//! stream tail` reads them, so each partition key's records keep their
//! order within a window's files. Files are written into a hidden staging
//! directory in `<dir>` (`.eddy-export-<pid>.tmp`), fsynced, and renamed
//! into the layout only once every record is written: an export that fails
//! leaves no file of its own behind, and no file is ever half written.
//!
//! An export refuses a `<dir>` that already holds anything (an earlier
//! export, say) unless given `--overwrite`, which replaces this stream's
//! files there: the new files are renamed over the old ones, then the
//! stream's export files the new export did not write are deleted. Other
//! files in `<dir>` are left alone, so several streams can share a
//! directory.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use clap::Args;
use eddy::stream::{IteratorType, Record, Shard};
use eddy::Database;
use indicatif::{ProgressBar, ProgressStyle};

use crate::common::{self, emit, format_millis, CliResult, DataArg};

/// Options of `eddy stream export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The stream's name or ARN.
    stream: String,
    /// The directory to write into (created if missing).
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    /// The length of a time window, with a unit: s, m, h or d (15m, 1h, 1d).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_window)]
    window: Window,
    /// Where to start: trim-horizon (the oldest retained record), an RFC
    /// 3339 time (2024-05-01T10:00:00Z) or epoch milliseconds.
    #[arg(long, value_name = "POSITION", default_value = "trim-horizon", value_parser = parse_from)]
    from: StartAt,
    /// The largest file to write, in bytes; a window's records go on in
    /// the next file.
    #[arg(long, value_name = "BYTES", default_value_t = 128 << 20)]
    max_file_bytes: u64,
    /// Replaces this stream's files of an earlier export in DIR.
    #[arg(long)]
    overwrite: bool,
}

/// `--window`: its length in milliseconds and as it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    /// The length in milliseconds.
    millis: u64,
    /// As given (`15m`), for the summary.
    text: String,
}

/// `--from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartAt {
    /// The oldest record retained.
    TrimHorizon,
    /// The first record arrived at or after these epoch milliseconds.
    At(u64),
}

/// Parses `--window`: a whole number and a unit (s, m, h, d).
fn parse_window(text: &str) -> Result<Window, String> {
    let bad = || format!("expected a duration such as 15m, 1h or 1d, got {text:?}");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let unit_millis: u64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    match n.checked_mul(unit_millis) {
        Some(millis) if millis > 0 => Ok(Window {
            millis,
            text: text.to_string(),
        }),
        _ => Err(bad()),
    }
}

/// Parses `--from`: trim-horizon, epoch milliseconds or RFC 3339.
fn parse_from(text: &str) -> Result<StartAt, String> {
    if matches!(
        text.to_ascii_lowercase().replace('_', "-").as_str(),
        "trim-horizon"
    ) {
        return Ok(StartAt::TrimHorizon);
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(StartAt::At)
            .map_err(|_| format!("{text:?} is too large for epoch milliseconds"));
    }
    parse_rfc3339(text).map(StartAt::At).ok_or_else(|| {
        format!("expected trim-horizon, an RFC 3339 time or epoch milliseconds, got {text:?}")
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to epoch milliseconds (not
/// before 1970).
fn parse_rfc3339(text: &str) -> Option<u64> {
    let digits = |part: &str| -> Option<i64> {
        let all = !part.is_empty() && part.bytes().all(|c| c.is_ascii_digit());
        all.then(|| part.parse().ok())?
    };
    let num = |range: std::ops::Range<usize>| digits(text.get(range)?);
    let (date, time) = (text.get(..10)?, text.get(11..19)?);
    if !matches!(text.get(10..11)?, "T" | "t" | " ") {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let local = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
    // Out-of-range fields (February 30th, 25 o'clock) do not round-trip.
    if format_millis(u64::try_from(local).ok()? * 1000).get(..19)? != format!("{date}T{time}") {
        return None;
    }
    let mut rest = text.get(19..)?;
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        millis = digits(&format!("{:0<3}", fraction.get(..n.min(3))?))?;
        rest = fraction.get(n..).filter(|_| n > 0)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let (oh, om) = (digits(rest.get(1..3)?)?, digits(rest.get(4..)?)?);
            if rest.len() != 6 || rest.get(3..4)? != ":" || oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 60 + om)
        }
    };
    u64::try_from((local - offset * 60) * 1000 + millis).ok()
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD-HH-MM-SS`, the directories `YYYY/MM/DD/HH` and
/// `YYYY-MM-DDTHH:MM:SSZ` of epoch milliseconds.
fn time_parts(millis: u64) -> (String, PathBuf, String) {
    let t = format_millis(millis); // YYYY-MM-DDTHH:MM:SS.mmmZ
    let stamp = format!("{}-{}-{}-{}", &t[..10], &t[11..13], &t[14..16], &t[17..19]);
    let dirs = [&t[..4], &t[5..7], &t[8..10], &t[11..13]]
        .iter()
        .collect::<PathBuf>();
    (stamp, dirs, format!("{}Z", &t[..19]))
}

/// The path, relative to the export directory, of a window's `n`th file.
fn relative_path(stream: &str, window_start: u64, n: u32) -> PathBuf {
    let (stamp, dirs, _) = time_parts(window_start);
    dirs.join(format!("{stream}-{stamp}-{n}.jsonl"))
}

/// Whether `name` is the name of one of `stream`'s export files.
fn is_export_file(name: &str, stream: &str) -> bool {
    let rest = name
        .strip_prefix(stream)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_suffix(".jsonl"))
        .unwrap_or_default();
    let shape: String = rest
        .chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect();
    shape.len() > 20
        && shape.starts_with("0000-00-00-00-00-00-")
        && shape[20..].bytes().all(|c| c == b'0')
}

/// A JSON string literal.
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// The data as compact JSON if it is JSON: whitespace outside strings
/// removed, every value as written.
fn compact_json(data: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    serde_json::from_str::<serde_json::Value>(text).ok()?;
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            (in_string, escaped) = (escaped || c != '"', !escaped && c == '\\');
        } else if c == '"' {
            in_string = true;
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            continue;
        }
        out.push(c);
    }
    Some(out)
}

/// One line of an export file (see the module docs), with its newline.
fn envelope(shard_id: &str, record: &Record) -> String {
    let (encoding, data) = match compact_json(&record.data) {
        Some(json) => ("json", json),
        None => ("base64", quoted(&BASE64.encode(&record.data))),
    };
    format!(
        "{{\"shardId\":{},\"sequenceNumber\":{},\"partitionKey\":{},\"approximateArrivalTimestamp\":{},\"dataEncoding\":\"{encoding}\",\"data\":{data}}}\n",
        quoted(shard_id),
        quoted(&record.sequence_number),
        quoted(&record.partition_key),
        quoted(&format_millis(record.approximate_arrival_millis)),
    )
}

/// The shards, parents before children.
fn lineage_order(shards: &[Shard]) -> Vec<&Shard> {
    let present: HashSet<&str> = shards.iter().map(|s| s.shard_id.as_str()).collect();
    let mut done: HashSet<&str> = HashSet::new();
    let mut order = Vec::with_capacity(shards.len());
    let mut pending: Vec<&Shard> = shards.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|shard| {
            let ready = [&shard.parent_shard_id, &shard.adjacent_parent_shard_id]
                .into_iter()
                .flatten()
                .all(|p| !present.contains(p.as_str()) || done.contains(p.as_str()));
            if ready {
                order.push(*shard);
                done.insert(shard.shard_id.as_str());
            }
            !ready
        });
        if pending.len() == before {
            // Lineage never loops; should it, read the rest as listed.
            order.append(&mut pending);
        }
    }
    order
}

/// A one-line I/O error: `cannot <what> <path>: <error>`.
fn io_err<'a>(what: &'a str, path: &'a Path) -> impl FnOnce(std::io::Error) -> String + 'a {
    move |e| format!("cannot {what} {}: {e}", path.display())
}

/// One staged file: its number in its window and what it holds.
#[derive(Debug, Default)]
struct StagedFile {
    /// Its number in its window, from 1.
    n: u32,
    /// Lines written.
    records: u64,
    /// Bytes written.
    bytes: u64,
}

/// Records written into staged files, by window.
struct Staging {
    /// The staging directory.
    dir: PathBuf,
    /// The window length, milliseconds.
    window: u64,
    /// `--max-file-bytes`.
    max_file_bytes: u64,
    /// Window start → its files, the last one open for more lines.
    windows: BTreeMap<u64, Vec<StagedFile>>,
    /// The file being appended to: window start, number and writer.
    current: Option<(u64, u32, BufWriter<File>)>,
}

impl Staging {
    /// Where a window's `n`th file is staged.
    fn staged_path(&self, window_start: u64, n: u32) -> PathBuf {
        self.dir.join(format!("{window_start}-{n}.jsonl"))
    }

    /// Appends one record's line to its window's current file.
    fn write(&mut self, shard_id: &str, record: &Record) -> CliResult {
        let line = envelope(shard_id, record);
        let len = line.len() as u64;
        let start = record.approximate_arrival_millis / self.window * self.window;
        let files = self.windows.entry(start).or_default();
        let needs_new = match files.last() {
            None => true,
            Some(last) => last.bytes > 0 && last.bytes + len > self.max_file_bytes,
        };
        if needs_new {
            let n = files.last().map_or(1, |f| f.n + 1);
            files.push(StagedFile {
                n,
                ..StagedFile::default()
            });
        }
        let Some(file) = files.last_mut() else {
            return Err("no staged file".into());
        };
        file.records += 1;
        file.bytes += len;
        let n = file.n;
        if !matches!(&self.current, Some((w, k, _)) if *w == start && *k == n) {
            self.close_current()?;
            let path = self.staged_path(start, n);
            let handle = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io_err("write", &path))?;
            self.current = Some((start, n, BufWriter::new(handle)));
        }
        if let Some((_, _, writer)) = self.current.as_mut() {
            writer
                .write_all(line.as_bytes())
                .map_err(io_err("write into", &self.dir))?;
        }
        Ok(())
    }

    /// Flushes and closes the file being appended to, if any.
    fn close_current(&mut self) -> CliResult {
        if let Some((_, _, mut writer)) = self.current.take() {
            writer.flush().map_err(io_err("write into", &self.dir))?;
        }
        Ok(())
    }
}

/// What an export wrote, for the summary: window start → its files (path
/// relative to the export directory, records, bytes).
type Written = BTreeMap<u64, Vec<(PathBuf, u64, u64)>>;

/// `1 record`, `2 records`.
pub fn count(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Runs `eddy stream export`.
pub fn run(data: &DataArg, args: ExportArgs) -> CliResult {
    if args.max_file_bytes == 0 {
        return Err("--max-file-bytes must be at least 1".into());
    }
    let db = data.open_existing()?;
    let result = export(&db, &args);
    common::close(db)?;
    let (stream, written) = result?;
    let records = written.values().flatten().map(|f| f.1).sum();
    let bytes: u64 = written.values().flatten().map(|f| f.2).sum();
    let files = written.values().map(Vec::len).sum::<usize>() as u64;
    emit(format_args!(
        "exported stream {stream} to {}: {} in {}, {bytes} bytes, {} of {}",
        args.to.display(),
        count(records, "record"),
        count(files, "file"),
        count(written.len() as u64, "window"),
        args.window.text
    ))?;
    for (start, files) in &written {
        let records = files.iter().map(|f| f.1).sum();
        emit(format_args!(
            "  window {}  {} in {}",
            time_parts(*start).2,
            count(records, "record"),
            count(files.len() as u64, "file")
        ))?;
        for (path, records, bytes) in files {
            let records = count(*records, "record");
            emit(format_args!(
                "    {}  {records}, {bytes} bytes",
                path.display()
            ))?;
        }
    }
    Ok(())
}

/// Reads the stream into a staging directory, then moves the files into
/// place; the stream's name and what was written.
fn export(db: &Database, args: &ExportArgs) -> CliResult<(String, Written)> {
    // Publishers restarted by the open deliver what earlier commands left.
    db.wait_for_streaming(Duration::from_secs(30))?;
    let streams = db.streams();
    let stream = streams.describe_stream(&args.stream)?.stream_name;
    let created = !args.to.exists();
    prepare_dir(&args.to, args.overwrite)?;
    let staging_dir = args
        .to
        .join(format!(".eddy-export-{}.tmp", std::process::id()));
    if let Err(e) = fs::create_dir(&staging_dir) {
        if created {
            let _ = fs::remove_dir(&args.to);
        }
        return Err(format!("cannot write into {}: {e}", args.to.display()).into());
    }
    let mut staging = Staging {
        dir: staging_dir.clone(),
        window: args.window.millis,
        max_file_bytes: args.max_file_bytes,
        windows: BTreeMap::new(),
        current: None,
    };
    let result = read_all(db, &stream, args.from, &mut staging)
        .and_then(|()| staging.close_current())
        .and_then(|()| publish(&staging, &args.to, &stream, args.overwrite));
    // Best effort: on success the staging directory is empty already; a
    // failed export into a directory it created leaves no directory.
    let _ = fs::remove_dir_all(&staging_dir);
    if result.is_err() && created {
        let _ = fs::remove_dir(&args.to);
    }
    result.map(|written| (stream, written))
}

/// Creates the export directory, refusing one that holds anything unless
/// overwriting.
fn prepare_dir(dir: &Path, overwrite: bool) -> CliResult {
    fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let entries = fs::read_dir(dir).map_err(io_err("read", dir))?;
    for entry in entries {
        let entry = entry.map_err(io_err("read", dir))?;
        let name = entry.file_name();
        let staging = name
            .to_str()
            .is_some_and(|n| n.starts_with(".eddy-export-") && n.ends_with(".tmp"));
        if !staging && !overwrite {
            return Err(format!(
                "{} is not empty (an earlier export?); pass --overwrite to replace this stream's files there",
                dir.display()
            )
            .into());
        }
    }
    Ok(())
}

/// Reads every shard, parents before children, into the staging files.
fn read_all(db: &Database, stream: &str, from: StartAt, staging: &mut Staging) -> CliResult {
    let streams = db.streams();
    let shards = streams.list_shards(stream)?;
    let total: u64 = streams.shard_tips(stream)?.iter().map(|t| t.records).sum();
    let progress = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/~{len} records") {
        progress.set_style(style.progress_chars("=> "));
    }
    progress.set_message("exporting");
    let start = match from {
        StartAt::TrimHorizon => IteratorType::TrimHorizon,
        StartAt::At(millis) => IteratorType::AtTimestamp(millis),
    };
    for shard in lineage_order(&shards) {
        let mut iterator = streams.get_shard_iterator(stream, &shard.shard_id, start.clone())?;
        loop {
            let page = streams.get_records(&iterator, None)?;
            for record in &page.records {
                staging.write(&shard.shard_id, record)?;
                progress.inc(1);
            }
            match page.next_shard_iterator {
                Some(next) if !page.records.is_empty() => iterator = next,
                _ => break,
            }
        }
    }
    progress.finish_and_clear();
    Ok(())
}

/// Fsyncs the staged files, renames them into the layout and, when
/// overwriting, deletes the stream's earlier files the export did not
/// replace.
fn publish(staging: &Staging, dir: &Path, stream: &str, overwrite: bool) -> CliResult<Written> {
    let mut written = Written::new();
    for (&start, files) in &staging.windows {
        for file in files {
            let path = staging.staged_path(start, file.n);
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(io_err("sync", &path))?;
        }
    }
    let mut kept = HashSet::new();
    for (&start, files) in &staging.windows {
        for file in files {
            let relative = relative_path(stream, start, file.n);
            let target = dir.join(&relative);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(io_err("create", parent))?;
            }
            fs::rename(staging.staged_path(start, file.n), &target)
                .map_err(io_err("write", &target))?;
            kept.insert(target);
            written
                .entry(start)
                .or_default()
                .push((relative, file.records, file.bytes));
        }
    }
    if overwrite {
        remove_stale(dir, stream, &kept, 0)?;
    }
    Ok(written)
}

/// Deletes `stream`'s export files under the dated directories of `dir`
/// (four levels of digits) that are not in `kept`, and the directories
/// left empty.
fn remove_stale(dir: &Path, stream: &str, kept: &HashSet<PathBuf>, depth: usize) -> CliResult {
    let entries = fs::read_dir(dir).map_err(io_err("read", dir))?;
    for entry in entries {
        let path = entry.map_err(io_err("read", dir))?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        if depth < 4 && path.is_dir() && name.bytes().all(|b| b.is_ascii_digit()) {
            remove_stale(&path, stream, kept, depth + 1)?;
            // Only succeeds when empty.
            let _ = fs::remove_dir(&path);
        } else if depth == 4 && is_export_file(&name, stream) && !kept.contains(&path) {
            fs::remove_file(&path).map_err(io_err("remove", &path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::Value as Json;

    #[test]
    fn parses_windows_and_starting_points() {
        let windows = [("15m", 900_000), ("1h", 3_600_000), ("2d", 172_800_000)];
        for (text, millis) in windows {
            assert_eq!(parse_window(text).unwrap().millis, millis);
        }
        for bad in ["", "0h", "h", "10", "1w", "-1h", "1.5h"] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_from("TRIM_HORIZON").unwrap(), StartAt::TrimHorizon);
        let times = [
            ("1700000000123", Some(1_700_000_000_123)),
            ("2023-11-14T22:13:20.123Z", Some(1_700_000_000_123)),
            ("2023-11-15T00:13:20+02:00", Some(1_700_000_000_000)),
            ("2000-02-29 00:00:00.5z", Some(951_782_400_500)),
            ("yesterday", None),
            ("2023-02-29T00:00:00Z", None),
            ("2023-11-14T22:13:20", None),
            ("2023-11-14T22:13:20.Z", None),
            ("1969-12-31T23:59:59Z", None),
        ];
        for (text, millis) in times {
            assert_eq!(parse_from(text).ok(), millis.map(StartAt::At), "{text}");
        }
    }

    #[test]
    fn lays_out_files_by_window() {
        let path = relative_path("orders-changes", 1_700_000_000_000, 2);
        let name = "orders-changes-2023-11-14-22-13-20-2.jsonl";
        assert_eq!(path, Path::new("2023/11/14/22").join(name));
        assert!(is_export_file(name, "orders-changes"));
        assert!(!is_export_file(name, "orders"));
        assert!(!is_export_file(&name.replace("-2.", "."), "orders-changes"));
        assert!(!is_export_file("notes.txt", "orders-changes"));
    }

    #[test]
    fn writes_json_data_as_is_and_other_data_in_base64() {
        let line = |data: &[u8]| {
            let record = Record {
                sequence_number: "49".into(),
                approximate_arrival_millis: 1_700_000_000_123,
                data: data.to_vec(),
                partition_key: "k\"1".into(),
                encryption_type: None,
            };
            envelope("shardId-000000000001", &record)
        };
        let text = line(b"{ \"a\" : [1, \"x y\\\"\"],\n\"n\":12345678901234567890123 }");
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
        let json: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(json["shardId"], "shardId-000000000001");
        assert_eq!(json["partitionKey"], "k\"1");
        let arrival = &json["approximateArrivalTimestamp"];
        assert_eq!(arrival, "2023-11-14T22:13:20.123Z");
        assert_eq!(json["dataEncoding"], "json");
        assert_eq!(json["data"]["a"][1], "x y\"");
        // Numbers keep every digit.
        assert!(text.contains("\"n\":12345678901234567890123}"), "{text}");
        let json: Json = serde_json::from_str(&line(&[0xff, 0, 1])).unwrap();
        assert_eq!(
            (&json["dataEncoding"], &json["data"]),
            (&"base64".into(), &"/wAB".into())
        );
        let json: Json = serde_json::from_str(&line(b"not json")).unwrap();
        assert_eq!(json["data"], "bm90IGpzb24=");
    }

    #[test]
    fn orders_shards_parents_first() {
        let shard = |id: &str, parent: Option<&str>, adjacent: Option<&str>| Shard {
            shard_id: id.into(),
            parent_shard_id: parent.map(Into::into),
            adjacent_parent_shard_id: adjacent.map(Into::into),
            hash_key_range: eddy::stream::even_split(1)[0],
            starting_sequence_number: "0".into(),
            ending_sequence_number: None,
        };
        let shards = [
            shard("c", Some("a"), Some("b")),
            shard("b", Some("gone"), None),
            shard("a", None, None),
        ];
        let order: Vec<&str> = lineage_order(&shards)
            .iter()
            .map(|s| s.shard_id.as_str())
            .collect();
        assert_eq!(order, ["b", "a", "c"]);
    }
}
