//! The hostile-input sweep: every public entry point, given oversized
//! items and keys, nesting past DynamoDB's 32 levels, bytes that are not
//! UTF-8, and table and stream names with path separators or dots, returns
//! a typed error (or, where AWS accepts the input, works), never panics,
//! and never writes outside the data directory.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use eddy::stream::{CreateStream, IteratorType, PutRecord};
use eddy::{AttributeValue, Database, Error, Item, KeySchema, KeyType, ReturnValues};

/// Every path below `root`, except those below `skip`.
fn tree(root: &Path, skip: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.starts_with(skip) {
                continue;
            }
            if path.is_dir() {
                todo.push(path.clone());
            }
            out.insert(path);
        }
    }
    out
}

/// Table and stream names that must not reach the file system as paths.
const PATHLIKE: &[&str] = &[
    "../evil",
    "../../../../../../tmp/eddy-evil",
    "a/b",
    "/abs",
    "a\\b",
    "nul\0byte",
    "sp ace",
    "",
];

fn nested(depth: usize) -> AttributeValue {
    let mut v = AttributeValue::S("leaf".into());
    for i in 0..depth {
        v = if i % 2 == 0 {
            AttributeValue::L(vec![v])
        } else {
            AttributeValue::M(Item::new().with("m", v).into_map())
        };
    }
    v
}

#[test]
fn hostile_input_is_refused_with_typed_errors_and_stays_inside_the_data_directory() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir_all(root.path().join("neighbour")).unwrap();
    let outside_before = tree(root.path(), &data);
    let db = Database::open(&data).unwrap();

    // Table names.
    for name in PATHLIKE
        .iter()
        .copied()
        .chain(["..", "x".repeat(256).as_str()])
    {
        let e = db
            .create_table(name, KeySchema::new("pk", KeyType::S))
            .unwrap_err();
        assert!(matches!(e, Error::Validation(_)), "{name:?}: {e:?}");
        assert!(db.describe_table(name).is_err(), "{name:?}");
        assert!(db
            .put_item(name, Item::new().with("pk", "a"), ReturnValues::None)
            .is_err());
        assert!(db.delete_table(name).is_err(), "{name:?}");
    }
    // Dots alone are a valid table name; tables are not files.
    db.create_table("...", KeySchema::new("pk", KeyType::S))
        .unwrap();

    // Items: sizes and nesting.
    db.create_table(
        "items",
        KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::S),
    )
    .unwrap();
    let key = |pk: &str, sk: &str| Item::new().with("pk", pk).with("sk", sk);
    let refused = [
        key("a", "b").with("big", "x".repeat(400 * 1024)),
        key(&"p".repeat(2049), "b"),
        key("a", &"s".repeat(1025)),
        key("a", "b").with("deep", nested(33)),
        key("a", "b").with("", 1),
        Item::new().with("pk", "a"),
    ];
    for item in refused {
        let e = db
            .put_item("items", item.clone(), ReturnValues::None)
            .unwrap_err();
        assert!(matches!(e, Error::Validation(_)), "{e:?}");
    }
    db.put_item(
        "items",
        key("a", "b").with("deep", nested(32)),
        ReturnValues::None,
    )
    .unwrap();
    assert_eq!(
        db.scan("items", &Default::default()).unwrap().items.len(),
        1
    );

    // Binary that is not UTF-8, as a key and through a destination's JSON.
    db.create_table("bin", KeySchema::new("id", KeyType::B))
        .unwrap();
    let streams = db.streams();
    streams
        .create_stream(
            "bin-changes",
            CreateStream {
                shard_count: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    let arn = streams.stream_arn("bin-changes").unwrap();
    db.enable_kinesis_streaming_destination("bin", &arn, None)
        .unwrap();
    let raw = vec![0xff, 0xfe, 0x00, 0xc3];
    let item = Item::new().with("id", AttributeValue::B(raw.clone()));
    db.put_item("bin", item.clone(), ReturnValues::None)
        .unwrap();
    assert_eq!(db.get_item("bin", &item).unwrap(), Some(item));
    assert!(db
        .wait_for_streaming(std::time::Duration::from_secs(10))
        .unwrap());
    let shard = streams.list_shards("bin-changes").unwrap()[0]
        .shard_id
        .clone();
    let it = streams
        .get_shard_iterator("bin-changes", &shard, IteratorType::TrimHorizon)
        .unwrap();
    let page = streams.get_records(&it, None).unwrap();
    assert_eq!(page.records.len(), 1);
    let json: serde_json::Value = serde_json::from_slice(&page.records[0].data).unwrap();
    // Binary values are base64 twice in the record (reference §1.4):
    // base64("//4Aww==") of the raw bytes ff fe 00 c3.
    assert_eq!(json["dynamodb"]["Keys"]["id"]["B"], "Ly80QXd3PT0=");
    // Shard iterators that are not ours, not base64, not UTF-8 inside.
    for (bad, error) in [
        ("", "ValidationException"),
        (&"A".repeat(10_000), "ValidationException"),
        ("garbage", "InvalidArgumentException"),
        ("\u{fffd}\u{fffd}", "InvalidArgumentException"),
        ("AAAA", "InvalidArgumentException"),
    ] {
        let e = streams.get_records(bad, None).unwrap_err();
        assert_eq!(e.aws_error_name(), error, "{bad:?}: {e}");
    }

    // Stream names.
    let one = || CreateStream {
        shard_count: Some(1),
        ..Default::default()
    };
    for name in PATHLIKE.iter().copied().chain(["s".repeat(129).as_str()]) {
        let e = streams.create_stream(name, one()).unwrap_err();
        assert_eq!(e.aws_error_name(), "ValidationException", "{name:?}: {e}");
        assert!(streams
            .put_record(name, PutRecord::new("k", vec![1]))
            .is_err());
        assert!(streams.delete_stream(name).is_err());
    }
    // Kinesis accepts names made of dots; they must not become `.` or `..`
    // directories (which would put a stream's shards over the other streams).
    let mut written = Vec::new();
    for name in [".", "..", "...", ".hidden", "normal"] {
        streams.create_stream(name, one()).unwrap();
        let out = streams
            .put_record(name, PutRecord::new("k", name.as_bytes().to_vec()))
            .unwrap();
        written.push((name, out.sequence_number));
    }
    db.close().unwrap();
    drop(db);

    // Reopen: every stream still holds exactly its own record.
    let db = Database::open(&data).unwrap();
    let streams = db.streams();
    for (name, seq) in &written {
        let shard = streams.list_shards(name).unwrap()[0].shard_id.clone();
        let it = streams
            .get_shard_iterator(name, &shard, IteratorType::TrimHorizon)
            .unwrap();
        let page = streams.get_records(&it, None).unwrap();
        let got: Vec<(&[u8], &str)> = page
            .records
            .iter()
            .map(|r| (r.data.as_slice(), r.sequence_number.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![(name.as_bytes(), seq.as_str())],
            "stream {name:?}"
        );
    }
    db.close().unwrap();
    drop(db);
    assert_eq!(
        tree(root.path(), &data),
        outside_before,
        "nothing is written outside the data directory"
    );
}
