//! The server over real sockets: HTTP/1.1 and h2c, headers, error bodies,
//! authentication, body limits and shutdown. Operation semantics are
//! covered next to the handlers and by the boto3 suite in `tests/e2e`.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

const AUTH: &str = "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=00";

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start(config: eddy_server::ServerConfig) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(eddy::Database::open(dir.path()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(eddy_server::serve(db, config, listener, async {
        let _ = rx.await;
    }));
    Server {
        addr,
        stop: Some(tx),
        task,
        _dir: dir,
    }
}

struct Reply {
    status: u16,
    headers: hyper::HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

async fn send(
    addr: SocketAddr,
    http2: bool,
    target: Option<&str>,
    content_type: &str,
    auth: Option<&str>,
    body: impl Into<Bytes>,
) -> Reply {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(http2)
        .build_http::<Full<Bytes>>();
    let mut request = hyper::Request::post(format!("http://{addr}/"))
        .header("content-type", content_type)
        .header("x-amz-date", "20250101T000000Z");
    if let Some(target) = target {
        request = request.header("x-amz-target", target);
    }
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = client
        .request(request.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

async fn dynamodb(addr: SocketAddr, op: &str, body: Value) -> Reply {
    send(
        addr,
        false,
        Some(&format!("DynamoDB_20120810.{op}")),
        "application/x-amz-json-1.0",
        Some(AUTH),
        serde_json::to_vec(&body).unwrap(),
    )
    .await
}

fn create_table_body(name: &str) -> Value {
    json!({
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_round_trip_with_crc32_and_request_ids() {
    let server = start(eddy_server::ServerConfig::default()).await;
    let created = dynamodb(server.addr, "CreateTable", create_table_body("table1")).await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(created.json()["TableDescription"]["TableStatus"], "ACTIVE");
    let put = dynamodb(
        server.addr,
        "PutItem",
        json!({"TableName": "table1", "Item": {"id": {"S": "a"}, "n": {"N": "1.50"}}}),
    )
    .await;
    assert_eq!(put.status, 200);
    let got = dynamodb(
        server.addr,
        "GetItem",
        json!({"TableName": "table1", "Key": {"id": {"S": "a"}}}),
    )
    .await;
    assert_eq!(got.json()["Item"]["n"]["N"], "1.5");
    let crc: u32 = got.headers["x-amz-crc32"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(crc, crc32fast::hash(&got.body));
    assert_eq!(got.headers["content-type"], "application/x-amz-json-1.0");
    assert!(!got.headers["x-amzn-requestid"].is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_aws_types_and_status_codes() {
    let server = start(eddy_server::ServerConfig::default()).await;
    let missing = dynamodb(server.addr, "DescribeTable", json!({"TableName": "nope"})).await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.json()["__type"],
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
    );
    assert_eq!(
        missing.json()["message"],
        "Requested resource not found: Table: nope not found"
    );
    assert_eq!(
        missing.headers["x-amzn-errortype"],
        "ResourceNotFoundException"
    );

    let malformed = send(
        server.addr,
        false,
        Some("DynamoDB_20120810.PutItem"),
        "application/x-amz-json-1.0",
        Some(AUTH),
        "{not json",
    )
    .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(
        malformed.json()["__type"],
        "com.amazon.coral.service#SerializationException"
    );

    let unknown = dynamodb(server.addr, "FlyToTheMoon", json!({})).await;
    assert_eq!(
        unknown.json()["__type"],
        "com.amazon.coral.service#UnknownOperationException"
    );

    let validation = dynamodb(server.addr, "PutItem", json!({"Item": {}})).await;
    assert_eq!(
        validation.json()["__type"],
        "com.amazon.coral.validate#ValidationException"
    );

    let unauthenticated = send(
        server.addr,
        false,
        Some("DynamoDB_20120810.ListTables"),
        "application/x-amz-json-1.0",
        None,
        "{}",
    )
    .await;
    assert_eq!(unauthenticated.status, 400);
    assert_eq!(
        unauthenticated.json()["__type"],
        "com.amazon.coral.service#MissingAuthenticationTokenException"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused() {
    let config = eddy_server::ServerConfig {
        max_body_bytes: 1024,
        ..eddy_server::ServerConfig::default()
    };
    let server = start(config).await;
    let big = vec![b' '; 4096];
    let reply = send(
        server.addr,
        false,
        Some("DynamoDB_20120810.ListTables"),
        "application/x-amz-json-1.0",
        Some(AUTH),
        big,
    )
    .await;
    assert_eq!(reply.status, 413);
    assert!(reply.json()["__type"]
        .as_str()
        .unwrap()
        .ends_with("RequestEntityTooLargeException"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_with_prior_knowledge_is_served_on_the_same_port() {
    let server = start(eddy_server::ServerConfig::default()).await;
    let reply = send(
        server.addr,
        true,
        Some("DynamoDB_20120810.ListTables"),
        "application/x-amz-json-1.0",
        Some(AUTH),
        "{}",
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.json(), json!({"TableNames": []}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_verified_when_credentials_are_configured() {
    let config = eddy_server::ServerConfig {
        credentials: Some(eddy_server::Credentials::from_pairs([("AKID", "secret")])),
        ..eddy_server::ServerConfig::default()
    };
    let server = start(config).await;
    // A well-formed header with a made-up signature is refused.
    let reply = dynamodb(server.addr, "ListTables", json!({})).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["__type"],
        "com.amazon.coral.service#InvalidSignatureException"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_and_the_data_survives() {
    let mut server = start(eddy_server::ServerConfig::default()).await;
    dynamodb(server.addr, "CreateTable", create_table_body("kept")).await;
    dynamodb(
        server.addr,
        "PutItem",
        json!({"TableName": "kept", "Item": {"id": {"S": "x"}}}),
    )
    .await;
    server.stop.take().unwrap().send(()).unwrap();
    (&mut server.task).await.unwrap().unwrap();
    let db = eddy::Database::open(server._dir.path()).unwrap();
    let item = db
        .get_item("kept", &eddy::Item::new().with("id", "x"))
        .unwrap();
    assert!(item.is_some());
}

async fn kinesis(addr: SocketAddr, op: &str, body: Value) -> Reply {
    send(
        addr,
        false,
        Some(&format!("Kinesis_20131202.{op}")),
        "application/x-amz-json-1.1",
        Some(AUTH),
        serde_json::to_vec(&body).unwrap(),
    )
    .await
}

fn cbor(value: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).unwrap();
    out
}

fn cbor_get<'a>(map: &'a ciborium::Value, key: &str) -> &'a ciborium::Value {
    let ciborium::Value::Map(entries) = map else {
        panic!("not a map: {map:?}")
    };
    &entries
        .iter()
        .find(|(k, _)| k == &ciborium::Value::Text(key.into()))
        .unwrap_or_else(|| panic!("no {key} in {map:?}"))
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_speaks_cbor_with_raw_bytes_and_cbor_errors() {
    use ciborium::Value as C;
    let server = start(eddy_server::ServerConfig::default()).await;
    let created = kinesis(
        server.addr,
        "CreateStream",
        json!({"StreamName": "cbor-stream", "ShardCount": 1}),
    )
    .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let call = |op: &str, body: C| {
        let target = format!("Kinesis_20131202.{op}");
        let addr = server.addr;
        async move {
            send(
                addr,
                false,
                Some(&target),
                "application/x-amz-cbor-1.1",
                Some(AUTH),
                cbor(&body),
            )
            .await
        }
    };
    let data = vec![0u8, 159, 255, 1];
    let put = call(
        "PutRecord",
        C::Map(vec![
            (C::Text("StreamName".into()), C::Text("cbor-stream".into())),
            (C::Text("PartitionKey".into()), C::Text("pk".into())),
            (C::Text("Data".into()), C::Bytes(data.clone())),
        ]),
    )
    .await;
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.headers["content-type"], "application/x-amz-cbor-1.1");
    let iterator = call(
        "GetShardIterator",
        C::Map(vec![
            (C::Text("StreamName".into()), C::Text("cbor-stream".into())),
            (
                C::Text("ShardId".into()),
                C::Text("shardId-000000000000".into()),
            ),
            (
                C::Text("ShardIteratorType".into()),
                C::Text("TRIM_HORIZON".into()),
            ),
        ]),
    )
    .await;
    let iterator: C = ciborium::de::from_reader(&iterator.body[..]).unwrap();
    let records = call(
        "GetRecords",
        C::Map(vec![(
            C::Text("ShardIterator".into()),
            cbor_get(&iterator, "ShardIterator").clone(),
        )]),
    )
    .await;
    let records: C = ciborium::de::from_reader(&records.body[..]).unwrap();
    let C::Array(list) = cbor_get(&records, "Records") else {
        panic!("Records is not a list")
    };
    assert_eq!(list.len(), 1);
    assert_eq!(cbor_get(&list[0], "Data"), &C::Bytes(data));
    assert!(matches!(
        cbor_get(&list[0], "ApproximateArrivalTimestamp"),
        C::Tag(1, _)
    ));

    let missing = call(
        "DescribeStream",
        C::Map(vec![(
            C::Text("StreamName".into()),
            C::Text("wrong-stream-name".into()),
        )]),
    )
    .await;
    assert_eq!(missing.status, 400);
    let error: C = ciborium::de::from_reader(&missing.body[..]).unwrap();
    assert_eq!(
        cbor_get(&error, "__type"),
        &C::Text("ResourceNotFoundException".into())
    );
}

async fn subscribe_over(http2: bool) {
    let server = start(eddy_server::ServerConfig::default()).await;
    let stream = if http2 { "sub-h2" } else { "sub-h1" };
    kinesis(
        server.addr,
        "CreateStream",
        json!({"StreamName": stream, "ShardCount": 1}),
    )
    .await;
    let summary = kinesis(
        server.addr,
        "DescribeStreamSummary",
        json!({"StreamName": stream}),
    )
    .await
    .json();
    let stream_arn = summary["StreamDescriptionSummary"]["StreamARN"]
        .as_str()
        .unwrap()
        .to_string();
    let consumer = kinesis(
        server.addr,
        "RegisterStreamConsumer",
        json!({"StreamARN": stream_arn, "ConsumerName": "c1"}),
    )
    .await
    .json();
    let consumer_arn = consumer["Consumer"]["ConsumerARN"].as_str().unwrap();
    kinesis(
        server.addr,
        "PutRecord",
        json!({"StreamName": stream, "PartitionKey": "p", "Data": "aGVsbG8="}),
    )
    .await;

    let client = Client::builder(TokioExecutor::new())
        .http2_only(http2)
        .build_http::<Full<Bytes>>();
    let body = json!({"ConsumerARN": consumer_arn, "ShardId": "shardId-000000000000",
        "StartingPosition": {"Type": "TRIM_HORIZON"}});
    let request = hyper::Request::post(format!("http://{}/", server.addr))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "Kinesis_20131202.SubscribeToShard")
        .header("authorization", AUTH)
        .header("x-amz-date", "20250101T000000Z")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let mut body = response.into_body();
    let mut buffer = Vec::new();
    let mut messages = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while messages.len() < 2 {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("events within 10 s")
            .expect("the stream stays open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            buffer.extend_from_slice(&data);
        }
        while let Some((message, used)) = eddy_server::eventstream::decode(&buffer).unwrap() {
            buffer.drain(..used);
            messages.push(message);
        }
    }
    assert_eq!(messages[0].header(":event-type"), Some("initial-response"));
    assert_eq!(
        messages[1].header(":event-type"),
        Some("SubscribeToShardEvent")
    );
    let event: Value = serde_json::from_slice(&messages[1].payload).unwrap();
    assert_eq!(event["Records"][0]["Data"], "aGVsbG8=");
    assert!(event["ContinuationSequenceNumber"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_to_shard_streams_events_over_http1() {
    subscribe_over(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_to_shard_streams_events_over_h2c() {
    subscribe_over(true).await;
}
