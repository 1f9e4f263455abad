//! `SubscribeToShard`: enhanced fan-out over an AWS event stream.
//!
//! The subscription is opened before answering, so an unknown consumer or
//! shard, a bad starting position or a second subscription within 5 s are
//! ordinary errors. Then a thread pumps the engine's events into the
//! response body: first the `initial-response` event (botocore refuses a
//! stream without it), then one `SubscribeToShardEvent` per engine event,
//! and an error the engine ends the subscription with (consumer
//! deregistered, stream deleted, a record that cannot be decrypted) as a
//! modeled `exception` message. Payloads are JSON, or CBOR when the
//! request was CBOR.
//!
//! The thread ends, and with it the subscription, when the engine ends it
//! (after 5 minutes, at the end of a closed shard, or on error) or when the
//! client goes away (the body's receiver is dropped); it checks for the
//! latter at least every [`POLL`] even while the shard is idle, so the
//! consumer can resubscribe at once.

use std::time::Duration;

use bytes::Bytes;
use eddy::stream::{ShardSubscription, SubscribeToShardEvent};
use serde_json::{json, Value};
use tokio::sync::mpsc::Sender;

use super::reads::{iterator_type, ITERATOR_TYPES};
use super::{check_name, error, req_enum, shapes};
use crate::context::Context;
use crate::eventstream;
use crate::input::Input;
use crate::protocol::{ApiError, Encoding, OpResult, Reply, Service};

/// Frames buffered between the pump thread and the HTTP body.
const FRAME_BUFFER: usize = 16;
/// How often an idle pump checks whether the client went away.
const POLL: Duration = Duration::from_millis(100);

/// `SubscribeToShard`.
pub(crate) fn subscribe_to_shard(ctx: &Context, input: Input<'_>, encoding: Encoding) -> OpResult {
    let consumer = input.str("ConsumerARN")?;
    let shard = input.str("ShardId")?;
    check_name("ShardId", shard)?;
    let position = input.object("StartingPosition")?;
    let kind = req_enum(&position, "Type", ITERATOR_TYPES)?;
    let start = iterator_type(
        kind,
        position.opt_str("SequenceNumber")?,
        position.opt_timestamp_millis("Timestamp")?,
        "SequenceNumber",
    )?;
    let subscription = ctx
        .db
        .streams()
        .subscribe_to_shard(consumer, shard, start)
        .map_err(error)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(FRAME_BUFFER);
    std::thread::Builder::new()
        .name("eddy-server-subscribe".into())
        .spawn(move || pump(subscription, tx, encoding))
        .map_err(|e| {
            ApiError::internal(
                Service::Kinesis,
                format!("could not start the SubscribeToShard thread: {e}"),
            )
        })?;
    Ok(Reply::EventStream(rx))
}

/// The `:content-type` of event payloads in `encoding`.
fn content_type(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Cbor => "application/cbor",
        Encoding::Json10 | Encoding::Json11 => "application/json",
    }
}

/// An event payload in `encoding`.
fn payload(value: &Value, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Cbor => crate::cbor::encode_response(value),
        // A `Value` always serializes.
        Encoding::Json10 | Encoding::Json11 => serde_json::to_vec(value).unwrap_or_default(),
    }
}

/// A `SubscribeToShardEvent` as JSON. The final event of a closed shard
/// has no `ContinuationSequenceNumber` and carries `ChildShards`.
fn event_json(e: &SubscribeToShardEvent) -> Value {
    let records: Vec<Value> = e.records.iter().map(shapes::record).collect();
    let mut out = json!({
        "Records": records,
        "MillisBehindLatest": e.millis_behind_latest,
    });
    if let Some(c) = &e.continuation_sequence_number {
        out["ContinuationSequenceNumber"] = Value::String(c.clone());
    }
    if e.continuation_sequence_number.is_none() || !e.child_shards.is_empty() {
        let children: Vec<Value> = e.child_shards.iter().map(shapes::child_shard).collect();
        out["ChildShards"] = Value::Array(children);
    }
    out
}

/// Moves the subscription's events into the response body until either
/// side ends (module docs).
fn pump(subscription: ShardSubscription, tx: Sender<Bytes>, encoding: Encoding) {
    let ct = content_type(encoding);
    let initial = eventstream::event("initial-response", ct, &payload(&json!({}), encoding));
    if tx.blocking_send(initial).is_err() {
        return;
    }
    loop {
        match subscription.events().recv_timeout(POLL) {
            Ok(Ok(event)) => {
                let body = payload(&event_json(&event), encoding);
                let frame = eventstream::event("SubscribeToShardEvent", ct, &body);
                if tx.blocking_send(frame).is_err() {
                    return;
                }
            }
            Ok(Err(e)) => {
                let e = error(e);
                let body = payload(&json!({ "message": e.message }), encoding);
                // The stream ends here whether or not the client got it.
                let _ = tx.blocking_send(eventstream::exception(&e.code, ct, &body));
                return;
            }
            Err(timeout) if timeout.is_timeout() => {
                if tx.is_closed() {
                    return;
                }
            }
            // The engine ended the subscription.
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::eventstream::Message;
    use std::time::Instant;
    use tokio::sync::mpsc::Receiver;

    const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/s";

    /// A stream `s` with one shard and a registered consumer; its ARN.
    fn setup(ctx: &Context) -> String {
        create(ctx, "s", 1);
        let reg = ok(
            ctx,
            "RegisterStreamConsumer",
            json!({"StreamARN": STREAM_ARN, "ConsumerName": "app"}),
        );
        reg["Consumer"]["ConsumerARN"].as_str().unwrap().to_string()
    }

    fn subscribe(
        ctx: &Context,
        consumer: &str,
        encoding: Encoding,
    ) -> Result<Receiver<Bytes>, ApiError> {
        let body = json!({"ConsumerARN": consumer, "ShardId": "shardId-000000000000",
            "StartingPosition": {"Type": "LATEST"}});
        match handle_subscribe(ctx, &body, encoding)? {
            Reply::EventStream(rx) => Ok(rx),
            other => panic!("not an event stream: {other:?}"),
        }
    }

    fn handle_subscribe(ctx: &Context, body: &Value, encoding: Encoding) -> OpResult {
        super::super::handle(ctx, "SubscribeToShard", body, encoding)
    }

    /// The next message, waiting up to 10 s.
    fn next(rx: &mut Receiver<Bytes>) -> Option<Message> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match rx.try_recv() {
                Ok(frame) => {
                    let (message, used) = eventstream::decode(&frame).unwrap().unwrap();
                    assert_eq!(used, frame.len());
                    return Some(message);
                }
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return None,
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                    assert!(Instant::now() < deadline, "no event within 10 s");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }

    /// Events until one carries records; its payload.
    fn next_with_records(rx: &mut Receiver<Bytes>, decode: impl Fn(&[u8]) -> Value) -> Value {
        loop {
            let m = next(rx).expect("stream ended");
            assert_eq!(m.header(":message-type"), Some("event"), "{m:?}");
            assert_eq!(m.header(":event-type"), Some("SubscribeToShardEvent"));
            let v = decode(&m.payload);
            if !v["Records"].as_array().unwrap().is_empty() {
                return v;
            }
        }
    }

    #[test]
    fn subscriptions_start_with_initial_response_and_deliver_records() {
        let (_dir, ctx) = context();
        let consumer = setup(&ctx);
        let mut rx = subscribe(&ctx, &consumer, Encoding::Json11).unwrap();
        let first = next(&mut rx).unwrap();
        assert_eq!(first.header(":message-type"), Some("event"));
        assert_eq!(first.header(":event-type"), Some("initial-response"));
        assert_eq!(first.header(":content-type"), Some("application/json"));
        assert_eq!(first.payload, b"{}");

        let put = ok(
            &ctx,
            "PutRecord",
            json!({"StreamName": "s", "PartitionKey": "k", "Data": "aGVsbG8="}),
        );
        let event = next_with_records(&mut rx, |p| serde_json::from_slice(p).unwrap());
        let record = &event["Records"][0];
        assert_eq!(record["Data"], "aGVsbG8=");
        assert_eq!(record["PartitionKey"], "k");
        assert_eq!(record["SequenceNumber"], put["SequenceNumber"]);
        assert_eq!(record["EncryptionType"], "NONE");
        assert_eq!(event["ContinuationSequenceNumber"], put["SequenceNumber"]);
        assert!(event["MillisBehindLatest"].is_u64());
        assert!(event.get("ChildShards").is_none());

        // A second subscription right away is refused.
        let e = subscribe(&ctx, &consumer, Encoding::Json11).unwrap_err();
        assert_eq!(e.code, "ResourceInUseException");

        // Deregistering the consumer ends the stream with an exception.
        ok(
            &ctx,
            "DeregisterStreamConsumer",
            json!({"ConsumerARN": consumer}),
        );
        let last = loop {
            let m = next(&mut rx).expect("stream ended without an exception");
            if m.header(":message-type") == Some("exception") {
                break m;
            }
        };
        assert_eq!(
            last.header(":exception-type"),
            Some("ResourceNotFoundException")
        );
        let body: Value = serde_json::from_slice(&last.payload).unwrap();
        assert!(
            body["message"].as_str().unwrap().contains("not found"),
            "{body}"
        );
        assert!(next(&mut rx).is_none());
    }

    #[test]
    fn cbor_subscriptions_use_cbor_payloads() {
        use ciborium::value::Value as Cbor;
        let (_dir, ctx) = context();
        let consumer = setup(&ctx);
        let mut rx = subscribe(&ctx, &consumer, Encoding::Cbor).unwrap();
        let first = next(&mut rx).unwrap();
        assert_eq!(first.header(":event-type"), Some("initial-response"));
        assert_eq!(first.header(":content-type"), Some("application/cbor"));
        assert_eq!(first.payload, [0xa0]); // an empty CBOR map
        ok(
            &ctx,
            "PutRecord",
            json!({"StreamName": "s", "PartitionKey": "k", "Data": "AAEC"}),
        );
        let event = next_with_records(&mut rx, |p| crate::cbor::decode_request(p).unwrap());
        // Through decode_request, bytes come back as base64 text.
        assert_eq!(event["Records"][0]["Data"], "AAEC");
        let m = loop {
            // Raw check on a fresh record: Data is a byte string.
            ok(
                &ctx,
                "PutRecord",
                json!({"StreamName": "s", "PartitionKey": "k", "Data": "AAEC"}),
            );
            let m = next(&mut rx).unwrap();
            let v = crate::cbor::decode_request(&m.payload).unwrap();
            if !v["Records"].as_array().unwrap().is_empty() {
                break m;
            }
        };
        let raw: Cbor = ciborium::de::from_reader(&m.payload[..]).unwrap();
        let Cbor::Map(top) = raw else {
            panic!("not a map")
        };
        let records = &top
            .iter()
            .find(|(k, _)| k == &Cbor::Text("Records".into()))
            .unwrap()
            .1;
        let Cbor::Array(records) = records else {
            panic!("no records")
        };
        let Cbor::Map(record) = &records[0] else {
            panic!("not a record")
        };
        let data = &record
            .iter()
            .find(|(k, _)| k == &Cbor::Text("Data".into()))
            .unwrap()
            .1;
        assert_eq!(data, &Cbor::Bytes(vec![0, 1, 2]));
        let ts = &record
            .iter()
            .find(|(k, _)| k == &Cbor::Text("ApproximateArrivalTimestamp".into()))
            .unwrap()
            .1;
        assert!(matches!(ts, Cbor::Tag(1, _)), "{ts:?}");
    }

    #[test]
    fn a_client_that_goes_away_frees_the_subscription() {
        let (_dir, ctx) = context();
        let consumer = setup(&ctx);
        let mut rx = subscribe(&ctx, &consumer, Encoding::Json11).unwrap();
        next(&mut rx).unwrap();
        drop(rx);
        // Well before the 5 s takeover window, the consumer may subscribe
        // again because the pump noticed and ended the old subscription.
        let started = Instant::now();
        loop {
            match subscribe(&ctx, &consumer, Encoding::Json11) {
                Ok(_) => break,
                Err(e) => {
                    assert_eq!(e.code, "ResourceInUseException");
                    assert!(started.elapsed() < Duration::from_secs(4), "still in use");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    #[test]
    fn subscribe_arguments_are_checked_before_streaming() {
        let (_dir, ctx) = context();
        let consumer = setup(&ctx);
        let call = |body: Value| handle_subscribe(&ctx, &body, Encoding::Json11).unwrap_err();
        let e = call(json!({"ConsumerARN": consumer, "ShardId": "shardId-000000000000"}));
        assert_eq!(e.code, "ValidationException");
        let e = call(
            json!({"ConsumerARN": consumer, "ShardId": "shardId-000000000000",
            "StartingPosition": {"Type": "AT_SEQUENCE_NUMBER"}}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        let e = call(
            json!({"ConsumerARN": consumer, "ShardId": "shardId-000000000000",
            "StartingPosition": {"Type": "NOW"}}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = call(
            json!({"ConsumerARN": consumer, "ShardId": "shardId-000000000007",
            "StartingPosition": {"Type": "LATEST"}}),
        );
        assert_eq!(e.code, "ResourceNotFoundException");
        let e = call(
            json!({"ConsumerARN": format!("{STREAM_ARN}/consumer/ghost:1"),
            "ShardId": "shardId-000000000000", "StartingPosition": {"Type": "LATEST"}}),
        );
        assert_eq!(e.code, "ResourceNotFoundException");
    }

    #[test]
    fn final_events_carry_child_shards() {
        let e = SubscribeToShardEvent {
            records: Vec::new(),
            continuation_sequence_number: None,
            millis_behind_latest: 0,
            child_shards: vec![eddy::stream::ChildShard {
                shard_id: "shardId-000000000001".into(),
                parent_shards: vec!["shardId-000000000000".into()],
                hash_key_range: eddy::stream::HashKeyRange {
                    starting_hash_key: 0,
                    ending_hash_key: 9,
                },
            }],
        };
        let v = event_json(&e);
        assert!(v.get("ContinuationSequenceNumber").is_none());
        assert_eq!(
            v["ChildShards"][0]["ParentShards"],
            json!(["shardId-000000000000"])
        );
        assert_eq!(v["ChildShards"][0]["HashKeyRange"]["EndingHashKey"], "9");
        assert_eq!(v["Records"], json!([]));
    }
}
