//! What every data command shares: the `--data` option, opening the
//! database and closing it cleanly.
//!
//! Commands that only read refuse to run on a directory that holds no
//! database (rather than creating an empty one where the user mistyped a
//! path); commands that write create it. Before closing, a command that
//! wrote waits (a bounded time) for the streaming destinations to publish
//! its changes, so a following `eddy stream tail` sees them.
//!
//! A data directory is open in one process at a time. So that commands can
//! run side by side (a `stream tail --follow` in one terminal, writes in
//! another), opening waits a while for a directory another command holds,
//! and `tail --follow` holds it only while it reads.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use eddy::Database;

/// The error type of the commands: anything printable on one line.
pub type CliError = Box<dyn std::error::Error>;

/// The result type of the commands.
pub type CliResult<T = ()> = Result<T, CliError>;

/// How long a writing command waits for streaming destinations on exit.
const STREAMING_WAIT: Duration = Duration::from_secs(30);

/// How long opening waits for a data directory another process holds.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The `--data` option, shared by every command but `demo`.
#[derive(Debug, Clone, Args)]
pub struct DataArg {
    /// The data directory of the database.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./eddy-data",
        env = "EDDY_DATA",
        global = true
    )]
    pub data: PathBuf,
}

impl DataArg {
    /// Opens the database for a command that writes, creating it if needed.
    pub fn open_or_create(&self) -> CliResult<Database> {
        open_waiting(&self.data, LOCK_WAIT)
    }

    /// Opens an existing database (for commands that only read).
    pub fn open_existing(&self) -> CliResult<Database> {
        if !looks_like_database(&self.data) {
            return Err(format!(
                "no eddy database in {} (create one with `eddy table create`, or pass --data <dir>)",
                self.data.display()
            )
            .into());
        }
        open_waiting(&self.data, LOCK_WAIT)
    }
}

/// Opens the database, retrying while another process has it open.
pub fn open_waiting(dir: &Path, patience: Duration) -> CliResult<Database> {
    let deadline = Instant::now() + patience;
    loop {
        match Database::open(dir) {
            Err(eddy::Error::Locked { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return Ok(other?),
        }
    }
}

fn looks_like_database(dir: &Path) -> bool {
    dir.join("store").is_dir() || dir.join("log").is_dir()
}

/// Waits for the streaming destinations to publish what was written, then
/// closes the database (checkpointing it).
pub fn finish(db: Database) -> CliResult {
    if !db.wait_for_streaming(STREAMING_WAIT)? {
        eprintln!(
            "eddy: warning: streaming destinations did not publish everything within {} s; they resume on the next open",
            STREAMING_WAIT.as_secs()
        );
    }
    db.close()?;
    Ok(())
}

/// Closes a database that was only read.
pub fn close(db: Database) -> CliResult {
    db.close()?;
    Ok(())
}

/// Prints one line of output. When the reader has gone (`eddy scan … |
/// head`), the process exits quietly, as command-line tools do.
pub fn emit(line: impl std::fmt::Display) -> CliResult {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other?),
    }
}

/// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn format_millis(millis: u64) -> String {
    let secs = millis / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        millis % 1000
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_epoch_millis() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
