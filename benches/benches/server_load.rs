//! Load on a DynamoDB/Kinesis-compatible HTTP endpoint: PutItem and GetItem
//! from many concurrent keep-alive connections, then GetRecords.
//!
//! Without `--endpoint` it starts `eddy serve`'s server in this process on
//! a temporary directory, with eddy's default durability (every
//! acknowledged write fsynced, group-committed). With `--endpoint` it loads
//! whatever listens there, e.g. dynalite, for the comparison in
//! `docs/benchmarks.md` (`benches/server-vs-dynalite.sh` runs both).
//!
//! ```text
//! cargo bench -p eddy-benches --bench server_load -- [--endpoint http://127.0.0.1:4567]
//!     [--connections 16] [--seconds 10] [--item-bytes 100] [--kinesis true|false]
//! ```
//!
//! It prints one line per phase: requests/s, p50/p99/p99.9 latency in
//! microseconds, and errors.
#![allow(missing_docs)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=bench/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000";

struct Args {
    endpoint: Option<String>,
    connections: usize,
    seconds: u64,
    item_bytes: usize,
    kinesis: bool,
}

fn args() -> Args {
    let mut out = Args {
        endpoint: None,
        connections: 16,
        seconds: 10,
        item_bytes: 100,
        kinesis: true,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--endpoint" => out.endpoint = Some(value),
            "--connections" => out.connections = value.parse().unwrap_or(16),
            "--seconds" => out.seconds = value.parse().unwrap_or(10),
            "--item-bytes" => out.item_bytes = value.parse().unwrap_or(100),
            "--kinesis" => out.kinesis = value != "false",
            // cargo bench passes --bench; ignore anything else.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    out
}

type Sender = http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Sender {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the endpoint");
    stream.set_nodelay(true).ok();
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(conn);
    sender
}

async fn call(sender: &mut Sender, target: &str, body: &Value) -> Result<Value, String> {
    let content_type = if target.starts_with("Kinesis") {
        "application/x-amz-json-1.1"
    } else {
        "application/x-amz-json-1.0"
    };
    let request = hyper::Request::post("/")
        .header("host", "localhost")
        .header("content-type", content_type)
        .header("x-amz-target", target)
        .header("x-amz-date", "20250101T000000Z")
        .header("authorization", AUTH)
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    sender.ready().await.map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if !status.is_success() {
        return Err(String::from_utf8_lossy(&bytes).into_owned());
    }
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

struct Phase {
    name: &'static str,
    requests: u64,
    errors: u64,
    elapsed: Duration,
    histogram: hdrhistogram::Histogram<u64>,
}

impl Phase {
    fn print(&self) {
        let h = &self.histogram;
        println!(
            "{:<10} {:>10.0} req/s   p50 {:>7} µs   p99 {:>7} µs   p99.9 {:>7} µs   errors {}",
            self.name,
            self.requests as f64 / self.elapsed.as_secs_f64(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            self.errors,
        );
    }
}

/// Runs `make(connection, i)` requests on every connection for `seconds`.
async fn phase(
    name: &'static str,
    addr: SocketAddr,
    connections: usize,
    seconds: u64,
    make: Arc<dyn Fn(usize, u64) -> (&'static str, Value) + Send + Sync>,
) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..connections {
        let stop = stop.clone();
        let errors = errors.clone();
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await;
            let mut h = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (target, body) = make(c, i);
                let started = Instant::now();
                match call(&mut sender, target, &body).await {
                    Ok(_) => {
                        let _ = h.record(started.elapsed().as_micros() as u64);
                    }
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("{name}: first error: {e}");
                        }
                        sender = connect(addr).await;
                    }
                }
                i += 1;
            }
            h
        }));
    }
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut histogram = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
    for t in tasks {
        if let Ok(h) = t.await {
            histogram.add(&h).ok();
        }
    }
    Phase {
        name,
        requests: histogram.len(),
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        histogram,
    }
}

fn main() {
    let args = args();
    // Two worker threads for the load; an in-process server gets its own
    // runtime and blocking pool, as `eddy serve` has.
    let load = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let _server_dir;
    let _server_runtime;
    let addr: SocketAddr = match &args.endpoint {
        Some(url) => url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("--endpoint http://host:port"),
        None => {
            let dir = tempfile::tempdir().expect("temp dir");
            let db = Arc::new(eddy::Database::open(dir.path()).expect("open database"));
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            let listener = rt
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .expect("bind");
            let addr = listener.local_addr().expect("address");
            rt.spawn(eddy_server::serve(
                db,
                eddy_server::ServerConfig::default(),
                listener,
                std::future::pending(),
            ));
            _server_dir = dir;
            _server_runtime = rt;
            addr
        }
    };
    let target = args
        .endpoint
        .as_deref()
        .unwrap_or("in-process eddy serve (Sync)");
    println!(
        "endpoint: {target}; {} connections, {} s per phase, items of ~{} B",
        args.connections, args.seconds, args.item_bytes
    );
    let table = format!("load{}", std::process::id());
    let payload = "x".repeat(args.item_bytes);
    load.block_on(async {
        let mut sender = connect(addr).await;
        call(
            &mut sender,
            "DynamoDB_20120810.CreateTable",
            &json!({
                "TableName": table,
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
            }),
        )
        .await
        .expect("CreateTable");
        // dynalite creates tables asynchronously: wait until ACTIVE.
        for _ in 0..100 {
            let d = call(&mut sender, "DynamoDB_20120810.DescribeTable", &json!({"TableName": table}))
                .await
                .expect("DescribeTable");
            if d["Table"]["TableStatus"] == "ACTIVE" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let written = Arc::new(AtomicU64::new(0));
        let put_table = table.clone();
        let counter = written.clone();
        let put = phase(
            "PutItem",
            addr,
            args.connections,
            args.seconds,
            Arc::new(move |c, i| {
                counter.fetch_max(i + 1, Ordering::Relaxed);
                (
                    "DynamoDB_20120810.PutItem",
                    json!({"TableName": put_table, "Item": {"pk": {"S": format!("k{c}-{i}")}, "payload": {"S": payload}}}),
                )
            }),
        )
        .await;
        put.print();
        let per_connection = written.load(Ordering::Relaxed).max(1);
        let get_table = table.clone();
        let get = phase(
            "GetItem",
            addr,
            args.connections,
            args.seconds,
            Arc::new(move |c, i| {
                (
                    "DynamoDB_20120810.GetItem",
                    json!({"TableName": get_table, "Key": {"pk": {"S": format!("k{c}-{}", i % per_connection)}}}),
                )
            }),
        )
        .await;
        get.print();
        if args.kinesis {
            get_records(addr, &mut sender).await;
        }
    });
}

/// Fills a one-shard stream with 100 000 records of 100 B, then reads it
/// back with GetRecords (10 000 per call) and prints records/s.
async fn get_records(addr: SocketAddr, sender: &mut Sender) {
    let stream = format!("load{}", std::process::id());
    if let Err(e) = call(
        sender,
        "Kinesis_20131202.CreateStream",
        &json!({"StreamName": stream, "ShardCount": 1}),
    )
    .await
    {
        println!("GetRecords skipped: CreateStream failed: {e}");
        return;
    }
    let data = base64_100();
    let total = 100_000;
    for batch in 0..total / 500 {
        let records: Vec<Value> = (0..500)
            .map(|i| json!({"Data": data, "PartitionKey": format!("p{batch}-{i}")}))
            .collect();
        if let Err(e) = call(
            sender,
            "Kinesis_20131202.PutRecords",
            &json!({"StreamName": stream, "Records": records}),
        )
        .await
        {
            println!("GetRecords skipped: PutRecords failed: {e}");
            return;
        }
    }
    let mut reader = connect(addr).await;
    let started = Instant::now();
    let iterator = call(
        &mut reader,
        "Kinesis_20131202.GetShardIterator",
        &json!({"StreamName": stream, "ShardId": "shardId-000000000000", "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .await
    .expect("GetShardIterator");
    let mut next = iterator["ShardIterator"].as_str().map(str::to_string);
    let mut read = 0usize;
    while let Some(it) = next.take() {
        let out = call(
            &mut reader,
            "Kinesis_20131202.GetRecords",
            &json!({"ShardIterator": it, "Limit": 10000}),
        )
        .await
        .expect("GetRecords");
        let n = out["Records"].as_array().map_or(0, Vec::len);
        read += n;
        if n == 0 || read >= total {
            break;
        }
        next = out["NextShardIterator"].as_str().map(str::to_string);
    }
    let elapsed = started.elapsed();
    println!(
        "GetRecords {:>10.0} records/s over HTTP ({read} records of 100 B in {:.2} s)",
        read as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

fn base64_100() -> String {
    // 100 bytes of 'a' in base64 (no padding needed for 99; pad for 100).
    let mut s = "YWFh".repeat(33);
    s.push_str("YQ==");
    s
}
