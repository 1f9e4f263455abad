//! End-to-end tests of the `eddy` binary: every command's happy path, an
//! error per command group (non-zero exit, one line starting `eddy:`), and
//! an example in every command's `--help`.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn eddy(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(args)
        .arg("--data")
        .arg(dir)
        .env_remove("EDDY_DATA")
        .output()
        .unwrap()
}

/// Runs a command that must succeed; its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = eddy(dir, args);
    assert!(
        out.status.success(),
        "eddy {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail with one `eddy: …` line; that line.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = eddy(dir, args);
    assert!(!out.status.success(), "eddy {args:?} succeeded");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "eddy {args:?}: not one line: {stderr:?}");
    assert!(lines[0].starts_with("eddy: "), "{stderr:?}");
    lines[0].to_string()
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn tables_and_items() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let created = ok(
        d,
        &[
            "table",
            "create",
            "orders",
            "--pk",
            "customer:S",
            "--sk",
            "order:N",
        ],
    );
    assert!(created.contains("created table orders"), "{created}");
    ok(d, &["table", "create", "users", "--pk", "id:S"]);
    assert_eq!(lines(&ok(d, &["table", "list"])), ["orders", "users"]);

    ok(
        d,
        &[
            "put",
            "orders",
            "--plain",
            r#"{"customer":"c1","order":1,"amount":9.5,"tags":["a",true,null]}"#,
        ],
    );
    ok(
        d,
        &[
            "put",
            "orders",
            r#"{"amount":{"N":"20"},"customer":{"S":"c1"},"order":{"N":"2"}}"#,
        ],
    );
    ok(
        d,
        &[
            "put",
            "orders",
            "--plain",
            r#"{"customer":"c2","order":1,"amount":3}"#,
        ],
    );

    let got = ok(
        d,
        &["get", "orders", "--plain", r#"{"customer":"c1","order":1}"#],
    );
    assert_eq!(
        got.trim(),
        r#"{"amount":9.5,"customer":"c1","order":1,"tags":["a",true,null]}"#
    );
    let got = ok(
        d,
        &[
            "get",
            "orders",
            r#"{"customer":{"S":"c1"},"order":{"N":"2"}}"#,
        ],
    );
    assert_eq!(
        got.trim(),
        r#"{"amount":{"N":"20"},"customer":{"S":"c1"},"order":{"N":"2"}}"#
    );

    let q = ok(
        d,
        &[
            "query",
            "orders",
            "--key-condition",
            "customer = :c",
            "--values",
            r#"{":c":{"S":"c1"}}"#,
        ],
    );
    assert_eq!(lines(&q).len(), 2);
    assert!(lines(&q)[0].contains(r#""order":{"N":"1"}"#), "{q}");
    let q = ok(
        d,
        &[
            "query",
            "orders",
            "--plain",
            "--desc",
            "-k",
            "customer = :c AND #o >= :n",
            "--names",
            r##"{"#o":"order"}"##,
            "--values",
            r#"{":c":"c1",":n":1}"#,
            "--filter",
            "amount > :n",
        ],
    );
    assert_eq!(
        lines(&q),
        [
            r#"{"amount":20,"customer":"c1","order":2}"#,
            r#"{"amount":9.5,"customer":"c1","order":1,"tags":["a",true,null]}"#,
        ]
    );

    assert_eq!(lines(&ok(d, &["scan", "orders"])).len(), 3);
    let limited = eddy(d, &["scan", "orders", "--limit", "2"]);
    assert!(limited.status.success());
    assert_eq!(
        lines(std::str::from_utf8(&limited.stdout).unwrap()).len(),
        2
    );
    let filtered = ok(
        d,
        &[
            "scan",
            "orders",
            "--plain",
            "--filter",
            "amount < :t",
            "--values",
            r#"{":t":10}"#,
        ],
    );
    assert_eq!(lines(&filtered).len(), 2);

    let described = ok(d, &["table", "describe", "orders"]);
    assert!(
        described.contains("partition key   customer (S)"),
        "{described}"
    );
    assert!(described.contains("items           3"), "{described}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(d, &["table", "describe", "orders", "--json"])).unwrap();
    assert_eq!(json["ItemCount"], 3);

    ok(
        d,
        &[
            "delete",
            "orders",
            "--plain",
            r#"{"customer":"c2","order":1}"#,
        ],
    );
    let missing = fails(
        d,
        &["get", "orders", "--plain", r#"{"customer":"c2","order":1}"#],
    );
    assert!(missing.contains("no item with key"), "{missing}");
    assert_eq!(lines(&ok(d, &["scan", "orders"])).len(), 2);

    // Errors of the table and item commands.
    assert!(
        fails(d, &["table", "create", "orders", "--pk", "customer:S"]).contains("already exists")
    );
    assert!(fails(d, &["table", "create", "t1", "--pk", "id:Q"]).contains("key type"));
    assert!(fails(d, &["table", "describe", "nope"]).contains("not found"));
    assert!(fails(d, &["put", "orders", r#"{"customer":"c1"}"#]).contains("--plain"));
    assert!(fails(d, &["put", "orders", "--plain", "not json"]).contains("not valid JSON"));
    assert!(fails(d, &["put", "orders", "--plain", r#"{"customer":"c1"}"#]).contains("order"));
    fails(
        d,
        &[
            "put",
            "orders",
            "--plain",
            r#"{"customer":"c1","order":1}"#,
            "--condition",
            "attribute_not_exists(customer)",
        ],
    );
    assert!(fails(d, &["query", "orders", "-k", "customer = :c"]).contains(":c"));
    fails(d, &["scan", "nope"]);

    let deleted = ok(d, &["table", "delete", "users"]);
    assert!(deleted.contains("deleted table users"), "{deleted}");
    assert_eq!(lines(&ok(d, &["table", "list"])), ["orders"]);
}

#[test]
fn streams_destinations_tail_stats_and_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(
        d,
        &[
            "table",
            "create",
            "orders",
            "--pk",
            "customer:S",
            "--sk",
            "order:N",
        ],
    );
    let created = ok(d, &["stream", "create", "orders-changes", "--shards", "2"]);
    assert!(created.contains("2 shards"), "{created}");
    ok(d, &["stream", "create", "clicks", "--on-demand"]);
    assert_eq!(
        lines(&ok(d, &["stream", "list"])),
        ["clicks", "orders-changes"]
    );
    let described = ok(d, &["stream", "describe", "orders-changes"]);
    assert!(
        described.contains("shards        2 open, 2 in all"),
        "{described}"
    );
    assert!(described.contains("arn:aws:kinesis:"), "{described}");

    let enabled = ok(
        d,
        &[
            "destination",
            "enable",
            "orders",
            "orders-changes",
            "--precision",
            "MICROSECOND",
        ],
    );
    assert!(enabled.contains("ACTIVE"), "{enabled}");
    let dest = ok(d, &["destination", "describe", "orders"]);
    assert!(dest.contains("ACTIVE precision MICROSECOND"), "{dest}");

    ok(
        d,
        &[
            "put",
            "orders",
            "--plain",
            r#"{"customer":"c1","order":1,"amount":5}"#,
        ],
    );
    ok(
        d,
        &[
            "put",
            "orders",
            "--plain",
            r#"{"customer":"c1","order":1,"amount":6}"#,
        ],
    );
    ok(
        d,
        &[
            "destination",
            "update",
            "orders",
            "orders-changes",
            "--precision",
            "millisecond",
        ],
    );
    ok(
        d,
        &[
            "delete",
            "orders",
            "--plain",
            r#"{"customer":"c1","order":1}"#,
        ],
    );

    let tail = ok(d, &["stream", "tail", "orders-changes"]);
    let events: Vec<&str> = lines(&tail)
        .iter()
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(events, ["INSERT", "MODIFY", "REMOVE"], "{tail}");
    assert!(
        tail.contains(r#"orders {"customer":"c1","order":1}"#),
        "{tail}"
    );
    let raw = ok(d, &["stream", "tail", "orders-changes", "--json"]);
    let records: Vec<serde_json::Value> = lines(&raw)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[0]["dynamodb"]["ApproximateCreationDateTimePrecision"],
        "MICROSECOND"
    );
    assert_eq!(records[1]["dynamodb"]["NewImage"]["amount"]["N"], "6");
    assert!(ok(d, &["stream", "tail", "orders-changes", "--from", "latest"]).is_empty());

    // Resharding keeps the lineage order of the tail.
    let split = ok(
        d,
        &["stream", "reshard", "orders-changes", "--split", "0", "mid"],
    );
    assert!(split.contains("3 open, 4 in all"), "{split}");
    ok(
        d,
        &["stream", "reshard", "orders-changes", "--merge", "2", "3"],
    );
    let counted = ok(d, &["stream", "reshard", "orders-changes", "--count", "4"]);
    assert!(counted.contains("2 -> 4 open shards"), "{counted}");
    ok(
        d,
        &[
            "put",
            "orders",
            "--plain",
            r#"{"customer":"c1","order":1,"amount":7}"#,
        ],
    );
    let tail = ok(d, &["stream", "tail", "orders-changes"]);
    assert_eq!(lines(&tail).len(), 4, "{tail}");
    assert!(lines(&tail)[3].contains("INSERT"), "{tail}");

    assert!(ok(d, &["stream", "retention", "orders-changes", "48"]).contains("24 -> 48"));
    assert!(ok(d, &["stream", "retention", "orders-changes", "30"]).contains("48 -> 30"));
    assert!(ok(d, &["stream", "describe", "orders-changes"]).contains("30 hours"));

    let stats = ok(d, &["stats"]);
    assert!(stats.contains("orders"), "{stats}");
    assert!(stats.contains("last LSN        4"), "{stats}");
    assert!(stats.contains("orders-changes"), "{stats}");
    let check = ok(d, &["check"]);
    assert!(
        check.contains("table orders: 1 items, equal to the fold of the log"),
        "{check}"
    );
    assert!(
        check.contains("stream orders-changes: 9 shards, 4 records read"),
        "{check}"
    );
    assert!(check.contains("ok: no problems found"), "{check}");

    // Errors of the stream and destination commands.
    assert!(fails(d, &["stream", "describe", "nope"]).contains("not found"));
    assert!(fails(d, &["stream", "tail", "nope"]).contains("not found"));
    fails(d, &["stream", "create", "orders-changes"]);
    fails(
        d,
        &["stream", "reshard", "orders-changes", "--count", "100"],
    );
    fails(d, &["stream", "retention", "orders-changes", "1"]);
    fails(
        d,
        &["stream", "tail", "orders-changes", "--from", "yesterday"],
    );
    assert!(fails(d, &["destination", "enable", "nope", "orders-changes"]).contains("not found"));
    fails(d, &["destination", "enable", "orders", "orders-changes"]);
    fails(
        d,
        &[
            "destination",
            "update",
            "orders",
            "clicks",
            "--precision",
            "MICROSECOND",
        ],
    );

    assert!(ok(d, &["destination", "disable", "orders", "orders-changes"]).contains("DISABLING"));
    assert!(ok(d, &["destination", "describe", "orders"]).contains("DISABLED"));
    ok(d, &["stream", "delete", "clicks"]);
    assert_eq!(lines(&ok(d, &["stream", "list"])), ["orders-changes"]);
}

#[test]
fn tail_follow_prints_records_written_by_other_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["table", "create", "orders", "--pk", "id:S"]);
    ok(d, &["stream", "create", "s1", "--shards", "1"]);
    ok(d, &["destination", "enable", "orders", "s1"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["stream", "tail", "s1", "--follow", "--data"])
        .arg(d)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    // The tail lets go of the directory between polls, so writes get in.
    ok(d, &["put", "orders", "--plain", r#"{"id":"a"}"#]);
    ok(d, &["put", "orders", "--plain", r#"{"id":"a","n":1}"#]);
    let first = rx.recv_timeout(Duration::from_secs(20));
    let second = rx.recv_timeout(Duration::from_secs(20));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(first.unwrap().contains(r#"INSERT orders {"id":"a"}"#));
    assert!(second.unwrap().contains(r#"MODIFY orders {"id":"a"}"#));
}

#[test]
fn reading_commands_need_an_existing_database() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("missing");
    for args in [
        &["stats"][..],
        &["check"],
        &["table", "list"],
        &["stream", "list"],
    ] {
        assert!(fails(&d, args).contains("no eddy database"));
    }
    assert!(!d.exists());
    // A usage error is one line too.
    assert!(fails(&d, &["table", "create", "x"]).contains("--pk"));
    assert!(fails(&d, &["frobnicate"]).contains("frobnicate"));
}

/// Creates table `orders` with a destination into stream `s1` (one shard),
/// puts five items, and returns the shard's segment.
fn database_with_a_stream(d: &Path) -> std::path::PathBuf {
    ok(d, &["table", "create", "orders", "--pk", "id:S"]);
    ok(d, &["stream", "create", "s1", "--shards", "1"]);
    ok(d, &["destination", "enable", "orders", "s1"]);
    for i in 0..5 {
        ok(
            d,
            &[
                "put",
                "orders",
                "--plain",
                &format!(r#"{{"id":"item-{i}","pad":"{}"}}"#, "x".repeat(200)),
            ],
        );
    }
    assert!(ok(d, &["check"]).contains("5 records read"));
    walk(&d.join("streams"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap()
}

#[test]
fn check_reports_a_damaged_stream() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let segment = database_with_a_stream(d);
    // Damage the segment's header: corruption wherever the segment is.
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&segment, bytes).unwrap();
    let out = eddy(d, &["check"]);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.lines().last().unwrap().starts_with("eddy: "),
        "{stderr}"
    );
}

/// A frame that does not decode in the shard's newest segment ends the
/// shard there (what a power cut leaves looks the same): the open cuts it
/// and what follows, and `check` says so.
#[test]
fn check_notes_a_stream_tail_cut_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let segment = database_with_a_stream(d);
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[28 + 40] ^= 0xff; // the first record's body (after the 28-byte header)
    std::fs::write(&segment, bytes).unwrap();
    let out = ok(d, &["check"]);
    assert!(
        out.contains("note: a torn tail was cut off stream s1 shardId-000000000000"),
        "{out}"
    );
    assert!(out.contains("0 records read"), "{out}");
}

/// A store whose files are gone is rebuilt from its snapshot and the
/// change log at open; `check` says so and finds the table whole.
#[test]
fn check_notes_a_rebuilt_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    database_with_a_stream(d);
    std::fs::remove_dir_all(d.join("store")).unwrap();
    let out = ok(d, &["check"]);
    assert!(
        out.contains("note: the table store was rebuilt from its snapshot"),
        "{out}"
    );
    assert!(out.contains("ok: no problems found"), "{out}");
    let scanned = ok(d, &["scan", "orders"]);
    assert_eq!(scanned.matches("item-").count(), 5, "{scanned}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn every_help_has_an_example() {
    let commands: &[&[&str]] = &[
        &[],
        &["demo"],
        &["table"],
        &["table", "create"],
        &["table", "list"],
        &["table", "describe"],
        &["table", "delete"],
        &["put"],
        &["get"],
        &["delete"],
        &["query"],
        &["scan"],
        &["stream"],
        &["stream", "create"],
        &["stream", "list"],
        &["stream", "describe"],
        &["stream", "delete"],
        &["stream", "reshard"],
        &["stream", "retention"],
        &["stream", "tail"],
        &["destination"],
        &["destination", "enable"],
        &["destination", "describe"],
        &["destination", "update"],
        &["destination", "disable"],
        &["stats"],
        &["check"],
        &["serve"],
    ];
    for args in commands {
        let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
            .args(*args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains("Example"),
            "eddy {args:?} --help has no example:\n{help}"
        );
        assert!(help.contains("eddy "), "{args:?}");
    }
}

#[test]
fn demo_still_runs() {
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args([
            "demo",
            "--ops",
            "300",
            "--writers",
            "2",
            "--durability",
            "none",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("summary"));
}

/// Every `*.jsonl` file under an export directory, relative to it, with
/// its lines.
fn exported(out: &Path) -> Vec<(std::path::PathBuf, Vec<String>)> {
    let mut files: Vec<_> = walk(out)
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let lines = text.lines().map(str::to_string).collect();
            (p.strip_prefix(out).unwrap().to_path_buf(), lines)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn stream_export_writes_dated_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let d = &dir.path().join("data");
    let out = dir.path().join("export");
    ok(d, &["table", "create", "orders", "--pk", "id:S"]);
    ok(d, &["stream", "create", "s1", "--shards", "2"]);
    ok(d, &["destination", "enable", "orders", "s1"]);
    for i in 0..3 {
        ok(
            d,
            &["put", "orders", "--plain", &format!(r#"{{"id":"a{i}"}}"#)],
        );
    }
    // Split shard 0: its children are read after it.
    ok(d, &["stream", "reshard", "s1", "--split", "0", "mid"]);
    // These keys hash into shard 0's range, so into its children now.
    for key in ["b5", "b8", "b9"] {
        let item = format!(r#"{{"id":"{key}"}}"#);
        ok(d, &["put", "orders", "--plain", &item]);
    }
    // A record that is not JSON, put straight into the stream.
    {
        let db = eddy::Database::open(d).unwrap();
        let record = eddy::stream::PutRecord::new("raw", vec![0xff, 0x00]);
        db.streams().put_record("s1", record).unwrap();
        db.close().unwrap();
    }
    let out_arg = out.to_str().unwrap();
    let summary = ok(d, &["stream", "export", "s1", "--to", out_arg]);
    assert!(summary.starts_with("exported stream s1 to "), "{summary}");
    assert!(summary.contains(": 7 records in "), "{summary}");

    let check_layout = |files: &[(std::path::PathBuf, Vec<String>)]| {
        let mut sequence_numbers = std::collections::HashSet::new();
        let mut base64 = 0;
        for (path, lines) in files {
            let parts: Vec<&str> = path.iter().map(|p| p.to_str().unwrap()).collect();
            assert_eq!(parts.len(), 5, "{path:?}");
            let name = parts[4];
            // <stream>-<YYYY-MM-DD-HH-MM-SS>-<n>.jsonl, under YYYY/MM/DD/HH.
            assert!(
                name.starts_with("s1-") && name.ends_with(".jsonl"),
                "{name}"
            );
            assert_eq!(&name[3..16], parts[..4].join("-"), "{path:?}");
            assert!(!lines.is_empty(), "{path:?}");
            // Lineage order: nothing of the split parent after its children.
            let shards: Vec<String> = lines
                .iter()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["shardId"].to_string()
                })
                .collect();
            let first_child = shards
                .iter()
                .position(|s| s.contains("-000000000002") || s.contains("-000000000003"));
            let last_parent = shards.iter().rposition(|s| s.contains("-000000000000"));
            if let (Some(child), Some(parent)) = (first_child, last_parent) {
                assert!(parent < child, "{path:?}: {shards:?}");
            }
            for line in lines {
                let record: serde_json::Value = serde_json::from_str(line).unwrap();
                let arrival = record["approximateArrivalTimestamp"].as_str().unwrap();
                // The hour of arrival is the file's.
                assert_eq!(arrival[..13].replace('T', "-"), name[3..16], "{line}");
                assert!(record["shardId"].as_str().unwrap().starts_with("shardId-"));
                sequence_numbers.insert(record["sequenceNumber"].as_str().unwrap().to_string());
                match record["dataEncoding"].as_str().unwrap() {
                    "json" => assert!(record["data"]["eventName"] == "INSERT", "{line}"),
                    _ => {
                        assert_eq!(record["data"], "/wA=");
                        assert_eq!(record["partitionKey"], "raw");
                        base64 += 1;
                    }
                }
            }
        }
        assert_eq!(sequence_numbers.len(), 7);
        assert_eq!(base64, 1);
        files.iter().map(|f| f.1.len()).sum::<usize>()
    };
    let first = exported(&out);
    assert_eq!(check_layout(&first), 7);
    let all: String = first.iter().flat_map(|f| f.1.iter().cloned()).collect();
    assert!(all.contains(r#""shardId":"shardId-000000000000""#), "{all}");
    let child = ["shardId-000000000002", "shardId-000000000003"];
    assert!(child.iter().any(|c| all.contains(c)), "{all}");
    assert!(first
        .iter()
        .all(|(p, _)| p.to_str().unwrap().ends_with("-1.jsonl")));

    // No second export over the first without --overwrite, and the first
    // stays as it was.
    let refused = fails(d, &["stream", "export", "s1", "--to", out_arg]);
    assert!(refused.contains("--overwrite"), "{refused}");
    assert_eq!(exported(&out), first);

    // Overwriting replaces the stream's files: one record a file now, and
    // none of the earlier files is left over.
    let summary = ok(
        d,
        &[
            "stream",
            "export",
            "s1",
            "--to",
            out_arg,
            "--overwrite",
            "--max-file-bytes",
            "1",
        ],
    );
    assert!(summary.contains("7 records in 7 files"), "{summary}");
    let second = exported(&out);
    assert_eq!(second.len(), 7);
    assert_eq!(check_layout(&second), 7);

    // Starting after every record exports nothing.
    let empty = dir.path().join("empty");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let summary = ok(
        d,
        &[
            "stream",
            "export",
            "s1",
            "--to",
            empty.to_str().unwrap(),
            "--from",
            &now,
        ],
    );
    assert!(summary.contains("0 records in 0 files"), "{summary}");
}

#[test]
fn stream_export_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = &dir.path().join("data");
    let out = dir.path().join("export");
    let out_arg = out.to_str().unwrap();
    ok(d, &["stream", "create", "s1", "--shards", "1"]);
    assert!(fails(d, &["stream", "export", "nope", "--to", out_arg]).contains("not found"));
    assert!(!out.exists(), "a failed export left its directory");
    assert!(fails(
        d,
        &["stream", "export", "s1", "--to", out_arg, "--window", "5x"]
    )
    .contains("5x"));
    assert!(fails(
        d,
        &["stream", "export", "s1", "--to", out_arg, "--from", "noon"]
    )
    .contains("noon"));
    // A directory that cannot be created.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let target = file.join("export");
    let error = fails(
        d,
        &["stream", "export", "s1", "--to", target.to_str().unwrap()],
    );
    assert!(error.contains("cannot create"), "{error}");
}

#[test]
fn stats_shows_shard_tips_and_consumer_lag() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["table", "create", "orders", "--pk", "id:S"]);
    ok(d, &["stream", "create", "s1", "--shards", "1"]);
    ok(d, &["destination", "enable", "orders", "s1"]);
    for i in 0..3 {
        ok(
            d,
            &["put", "orders", "--plain", &format!(r#"{{"id":"a{i}"}}"#)],
        );
    }
    let tail = ok(d, &["stream", "tail", "s1"]);
    let sequence_numbers: Vec<&str> = lines(&tail)
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(sequence_numbers.len(), 3, "{tail}");
    {
        // A KCL-style application that processed one record, and an
        // enhanced fan-out consumer.
        let db = eddy::Database::open(d).unwrap();
        let mut consumer = db
            .stream_consumer("billing", "s1", eddy::InitialPosition::TrimHorizon)
            .unwrap();
        let batch = consumer.poll(1).unwrap().unwrap();
        consumer.checkpoint(&batch).unwrap();
        db.streams()
            .register_stream_consumer("s1", "dashboard")
            .unwrap();
        assert!(db.wait_for_streaming(Duration::from_secs(30)).unwrap());
        db.close().unwrap();
    }
    let stats = ok(d, &["stats"]);
    let tip = format!(
        "    shardId-000000000000 open   tip {} at ",
        sequence_numbers[2]
    );
    assert!(stats.contains(&tip), "{stats}");
    assert!(stats.contains("(3 records)"), "{stats}");
    assert!(
        stats.contains("    application billing (checkpoints in table billing)"),
        "{stats}"
    );
    let lag = format!(
        "      shardId-000000000000 checkpoint {}, 2 records behind",
        sequence_numbers[0]
    );
    assert!(stats.contains(&lag), "{stats}");
    assert!(
        stats.contains("    consumer dashboard ACTIVE (enhanced fan-out, registered "),
        "{stats}"
    );
    let destination = stats
        .lines()
        .find(|l| l.trim_start().starts_with("orders") && l.contains("-> s1"))
        .unwrap_or_else(|| panic!("{stats}"));
    assert!(destination.contains("ACTIVE"), "{destination}");
    assert!(destination.ends_with(", 0 changes behind"), "{destination}");
}

#[test]
fn stream_export_help_has_an_example() {
    let out = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["stream", "export", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains("Example") && help.contains("eddy stream export"),
        "{help}"
    );
}

/// `eddy serve` answers a DynamoDB call over HTTP, stops on SIGTERM with
/// exit 0, and what it wrote is there for the next command.
#[test]
fn serve_answers_http_and_stops_cleanly() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_eddy"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("eddy serve: listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let body = r#"{"TableName":"served","AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}"#;
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: DynamoDB_20120810.CreateTable\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Date: 20250101T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 Credential=k/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""TableStatus":"ACTIVE""#), "{response}");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(
        child.wait().unwrap().success(),
        "serve did not exit 0 on SIGTERM"
    );
    let tables = ok(dir.path(), &["table", "list"]);
    assert!(tables.contains("served"), "{tables}");
    let error = fails(dir.path(), &["serve", "--account", "12"]);
    assert!(error.contains("--account must be 12 digits"), "{error}");
}
