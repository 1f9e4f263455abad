//! Shared fixtures of eddy's benchmarks: databases, raw sled baselines and
//! items of a given size, built the same way for every group so that a
//! ratio compares like with like.

use std::path::Path;

use eddy::stream::{CreateStream, StreamMode};
use eddy::{Database, Durability, IndexDef, Item, KeySchema, KeyType, Options};
use eddy_model::codec;

/// Every bench binary, baselines included, allocates with mimalloc unless
/// built with `--no-default-features` (docs/benchmarks.md, "The
/// allocator").
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The allocator this build of the benchmarks uses, for their reports.
pub const ALLOCATOR_NAME: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "the system allocator"
};

/// A criterion group's name in this build: `base`, or
/// `base_system_alloc` when built without mimalloc, so that one run can
/// hold both builds' results side by side.
pub fn group_name(base: &str) -> String {
    if cfg!(feature = "mimalloc") {
        base.to_string()
    } else {
        format!("{base}_system_alloc")
    }
}

/// The benchmark table.
pub const TABLE: &str = "bench";
/// The stream a destination benchmark streams into.
pub const STREAM: &str = "bench-changes";

/// The table's key schema.
pub fn schema() -> KeySchema {
    KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N)
}

/// An item of roughly `size` bytes (by DynamoDB's size rules), number `i`.
pub fn item(i: u64, size: usize) -> Item {
    let pk = format!("user#{:08}", i / 16);
    let fixed = 2 + pk.len() + 2 + 3 + 7;
    Item::new()
        .with("pk", pk)
        .with("sk", i % 16)
        .with("payload", "x".repeat(size.saturating_sub(fixed)))
}

/// Opens a database with a table, optionally streaming to a 4-shard stream.
pub fn open_eddy(dir: &Path, durability: Durability, destination: bool) -> Database {
    open_eddy_with(dir, Options::new().durability(durability), destination)
}

/// [`open_eddy`] with explicit options (cache size, checkpoint policy, ...).
pub fn open_eddy_with(dir: &Path, options: Options, destination: bool) -> Database {
    open_eddy_with_indexes(dir, options, destination, Vec::new())
}

/// The benchmark table's inverted index: `sk` as its partition key and `pk`
/// as its sort key, projecting whole items (so every write also writes a
/// full copy of the item into the index).
pub fn inverted_index() -> IndexDef {
    IndexDef::global(
        "by-sk",
        KeySchema::new("sk", KeyType::N).with_sort_key("pk", KeyType::S),
    )
}

/// [`open_eddy_with`], the table created with `indexes`.
pub fn open_eddy_with_indexes(
    dir: &Path,
    options: Options,
    destination: bool,
    indexes: Vec<IndexDef>,
) -> Database {
    let db = Database::open_with(dir, options).unwrap_or_else(|e| panic!("open: {e}"));
    db.create_table_with_indexes(TABLE, schema(), indexes)
        .unwrap_or_else(|e| panic!("create table: {e}"));
    if destination {
        db.streams()
            .create_stream(
                STREAM,
                CreateStream {
                    shard_count: Some(4),
                    mode: StreamMode::Provisioned,
                },
            )
            .unwrap_or_else(|e| panic!("create stream: {e}"));
        let arn = db
            .streams()
            .stream_arn(STREAM)
            .unwrap_or_else(|e| panic!("arn: {e}"));
        db.enable_kinesis_streaming_destination(TABLE, &arn, None)
            .unwrap_or_else(|e| panic!("enable destination: {e}"));
    }
    db
}

/// A raw sled tree configured as eddy's store configures sled.
pub fn open_sled(dir: &Path) -> sled::Tree {
    let db = sled::Config::new()
        .path(dir)
        .cache_capacity(256 << 20)
        .flush_every_ms(None)
        .open()
        .unwrap_or_else(|e| panic!("sled: {e}"));
    db.open_tree("bench")
        .unwrap_or_else(|e| panic!("sled tree: {e}"))
}

/// The key and value bytes eddy's store would write for an item.
pub fn sled_entry(item: &Item) -> (Vec<u8>, Vec<u8>) {
    let key = schema()
        .encode_key(item)
        .unwrap_or_else(|e| panic!("key: {e}"));
    (key, codec::encode_item(item))
}

/// A `--name value` argument of a bench binary, parsed, or `default`.
/// Arguments the binary does not know (such as the `--bench` flag cargo
/// passes) are ignored, so `cargo bench -p eddy-benches --bench X -- --n 5`
/// works.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T
where
    T::Err: std::fmt::Display,
{
    let flag = format!("--{name}");
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| *a == flag) {
        Some(i) => {
            let value = args
                .get(i + 1)
                .unwrap_or_else(|| panic!("{flag} needs a value"));
            value
                .parse()
                .unwrap_or_else(|e| panic!("{flag} {value}: {e}"))
        }
        None => default,
    }
}

/// Whether the flag `--name` was given.
pub fn flag(name: &str) -> bool {
    let flag = format!("--{name}");
    std::env::args().any(|a| a == flag)
}

/// A field of `/proc/self/status` in KiB (`VmHWM`: peak resident set size,
/// `VmRSS`: current), or `None` where there is no such file (not Linux).
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}
