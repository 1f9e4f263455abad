//! `eddy serve`: the DynamoDB and Kinesis APIs over HTTP on one port.
//!
//! The command opens (or creates) the database, binds the address (loopback
//! by default), prints `eddy serve: listening on http://<addr>` once
//! connections are accepted, and serves until SIGINT or SIGTERM: then
//! requests in flight finish, the change log is synced and the database is
//! closed before the process exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use eddy::{Database, Durability, Options};
use eddy_server::{Credentials, ServerConfig};

use crate::common::{CliResult, DataArg};

/// The durability of acknowledged writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DurabilityArg {
    /// fsync before every acknowledgement (group-committed).
    Sync,
    /// fsync every 10 ms; a crash may lose the last few milliseconds.
    Periodic,
    /// Never fsync; the OS writes back when it likes.
    None,
}

/// Arguments of `eddy serve`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  eddy serve --data ./eddy-data --listen 127.0.0.1:8000\n  AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --endpoint-url http://127.0.0.1:8000 --region us-east-1 dynamodb list-tables"
)]
pub struct ServeArgs {
    #[command(flatten)]
    data: DataArg,
    /// The address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8000", value_name = "ADDR")]
    listen: SocketAddr,
    /// Verify every request's SigV4 signature against the
    /// `ACCESS_KEY_ID SECRET_ACCESS_KEY` lines of this file (by default any
    /// well-formed signature is accepted, as local emulators do).
    #[arg(long, value_name = "FILE")]
    auth: Option<PathBuf>,
    /// The account id ARNs carry.
    #[arg(long, default_value = "000000000000")]
    account: String,
    /// The region ARNs carry.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// When writes are acknowledged.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Sync)]
    durability: DurabilityArg,
    /// A stream encryption key, `KEY_ID=FILE` (32 raw bytes or 64 hex
    /// characters), that StartStreamEncryption can name as its KeyId, e.g.
    /// `alias/aws/kinesis=./kinesis.key`. Repeatable; keys are never stored
    /// in the data directory.
    #[arg(long = "stream-key", value_name = "KEY_ID=FILE")]
    stream_keys: Vec<String>,
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> CliResult {
    if args.account.len() != 12 || !args.account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("--account must be 12 digits, got {:?}", args.account).into());
    }
    let credentials = args
        .auth
        .as_deref()
        .map(Credentials::from_file)
        .transpose()?;
    let durability = match args.durability {
        DurabilityArg::Sync => Durability::Sync,
        DurabilityArg::Periodic => Durability::Periodic(Duration::from_millis(10)),
        DurabilityArg::None => Durability::None,
    };
    let mut options = Options::new()
        .durability(durability)
        .account(&args.account)
        .region(&args.region);
    for spec in &args.stream_keys {
        let (id, file) = spec
            .split_once('=')
            .filter(|(id, file)| !id.is_empty() && !file.is_empty())
            .ok_or_else(|| format!("--stream-key takes KEY_ID=FILE, got {spec:?}"))?;
        options = options.stream_encryption_key_file(id, file);
    }
    let db = Arc::new(Database::open_with(&args.data.data, options)?);
    let config = ServerConfig {
        account: args.account.clone(),
        region: args.region.clone(),
        credentials,
        ..ServerConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listen = args.listen;
    let served = runtime.block_on({
        let db = db.clone();
        async move {
            let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}"))
            })?;
            let addr = listener.local_addr()?;
            println!("eddy serve: listening on http://{addr}");
            use std::io::Write as _;
            std::io::stdout().flush()?;
            eddy_server::serve(db, config, listener, shutdown_signal()).await
        }
    });
    // Subscriptions may still hold blocking threads; don't wait for them.
    runtime.shutdown_timeout(Duration::from_secs(1));
    served?;
    db.close()?;
    eprintln!("eddy serve: stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
