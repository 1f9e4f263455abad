//! Reading records: GetShardIterator and GetRecords.
//!
//! The engine checks shard ids, sequence numbers, iterators (opaque,
//! expiring after 300 s) and `Limit`; this module checks member presence
//! and types, and the combinations of iterator type and argument that
//! kinesalite words. At the end of a closed shard, GetRecords answers
//! without `NextShardIterator` and with the shard's `ChildShards`.

use eddy::stream::IteratorType;
use serde_json::{json, Value};

use super::{check_name, error, opt_u32, req_enum, shapes, stream_ref, Out};
use crate::context::Context;
use crate::input::{self, Input};
use crate::protocol::ApiError;

/// `ShardIteratorType` / `StartingPosition.Type` values.
pub(crate) const ITERATOR_TYPES: &[&str] = &[
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "TRIM_HORIZON",
    "LATEST",
    "AT_TIMESTAMP",
];

/// The iterator of `kind` with its argument: a sequence number for the
/// `*_SEQUENCE_NUMBER` types, a timestamp for `AT_TIMESTAMP`, neither
/// otherwise. `seq_member` names the sequence number member in messages
/// (`StartingSequenceNumber`, or `SequenceNumber` in SubscribeToShard).
pub(crate) fn iterator_type(
    kind: &str,
    sequence_number: Option<&str>,
    timestamp: Option<u64>,
    seq_member: &str,
) -> Result<IteratorType, ApiError> {
    let wrong_seq = |what: &str| {
        ApiError::invalid_argument(format!(
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and {seq_member} or (2) TRIM_HORIZON or LATEST and no {seq_member}. Request specified {kind} and {what} {seq_member}."
        ))
    };
    if kind == "AT_TIMESTAMP" {
        if sequence_number.is_some() {
            return Err(wrong_seq("also a"));
        }
        let t = timestamp.ok_or_else(|| {
            ApiError::invalid_argument(
                "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.",
            )
        })?;
        return Ok(IteratorType::AtTimestamp(t));
    }
    if timestamp.is_some() {
        return Err(ApiError::invalid_argument(format!(
            "Must specify timestampInMillis parameter only for iterator of type AT_TIMESTAMP. Current request has ShardIteratorType {kind}."
        )));
    }
    match (kind, sequence_number) {
        ("AT_SEQUENCE_NUMBER", Some(s)) => Ok(IteratorType::AtSequenceNumber(s.to_string())),
        ("AFTER_SEQUENCE_NUMBER", Some(s)) => Ok(IteratorType::AfterSequenceNumber(s.to_string())),
        ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => Err(wrong_seq("no")),
        ("TRIM_HORIZON", None) => Ok(IteratorType::TrimHorizon),
        ("LATEST", None) => Ok(IteratorType::Latest),
        _ => Err(wrong_seq("also a")),
    }
}

/// `GetShardIterator`.
pub(crate) fn get_shard_iterator(ctx: &Context, input: Input<'_>) -> Out {
    let stream = stream_ref(&input)?;
    let shard = input.str("ShardId")?;
    check_name("ShardId", shard)?;
    let kind = req_enum(&input, "ShardIteratorType", ITERATOR_TYPES)?;
    let seq = input.opt_str("StartingSequenceNumber")?;
    let ts = input.opt_timestamp_millis("Timestamp")?;
    let it = iterator_type(kind, seq, ts, "StartingSequenceNumber")?;
    let iterator = ctx
        .db
        .streams()
        .get_shard_iterator(&stream, shard, it)
        .map_err(error)?;
    Ok(json!({ "ShardIterator": iterator }))
}

/// `GetRecords`: at the end of a closed shard, `NextShardIterator` is
/// absent and `ChildShards` lists its children.
pub(crate) fn get_records(ctx: &Context, input: Input<'_>) -> Out {
    let iterator = input.str("ShardIterator")?;
    if iterator.is_empty() || iterator.len() > 512 {
        return Err(input::constraint(
            "ShardIterator",
            iterator,
            "Member must have length less than or equal to 512 and greater than or equal to 1",
        ));
    }
    let limit = opt_u32(&input, "Limit", 1, 10_000)?;
    // `StreamARN` only routes requests in AWS; the iterator names the stream.
    input.opt_str("StreamARN")?;
    let out = ctx
        .db
        .streams()
        .get_records(iterator, limit)
        .map_err(error)?;
    let records: Vec<Value> = out.records.iter().map(shapes::record).collect();
    let mut body = json!({
        "Records": records,
        "MillisBehindLatest": out.millis_behind_latest,
    });
    match out.next_shard_iterator {
        Some(next) => body["NextShardIterator"] = Value::String(next),
        None => {
            let children: Vec<Value> = out.child_shards.iter().map(shapes::child_shard).collect();
            body["ChildShards"] = Value::Array(children);
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::{json, Value};

    #[test]
    fn put_and_get_round_trip() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 2);
        let put1 = put(&ctx, "k", "aGVsbG8=");
        assert_eq!(put1["EncryptionType"], "NONE");
        let shard = put1["ShardId"].as_str().unwrap().to_string();
        assert!(shard.starts_with("shardId-"));
        let seq1 = put1["SequenceNumber"].as_str().unwrap().to_string();
        assert_eq!(seq1.len(), 56);
        let seq2 = put(&ctx, "k", "d29ybGQ=")["SequenceNumber"].clone();

        let it = iterator(&ctx, &shard, "TRIM_HORIZON", json!({}));
        let out = ok(&ctx, "GetRecords", json!({"ShardIterator": it, "Limit": 1}));
        let records = out["Records"].as_array().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["Data"], "aGVsbG8=");
        assert_eq!(records[0]["PartitionKey"], "k");
        assert_eq!(records[0]["SequenceNumber"], seq1.as_str());
        assert_eq!(records[0]["EncryptionType"], "NONE");
        assert!(records[0]["ApproximateArrivalTimestamp"].as_f64().unwrap() > 1.6e9);
        assert!(out.get("ChildShards").is_none());
        let next = out["NextShardIterator"].as_str().unwrap();
        let out = ok(&ctx, "GetRecords", json!({"ShardIterator": next}));
        assert_eq!(out["Records"][0]["SequenceNumber"], seq2);
        assert_eq!(out["Records"][0]["Data"], "d29ybGQ=");
        assert_eq!(out["MillisBehindLatest"], 0);

        let at = iterator(
            &ctx,
            &shard,
            "AT_SEQUENCE_NUMBER",
            json!({"StartingSequenceNumber": seq1}),
        );
        let out = ok(&ctx, "GetRecords", json!({"ShardIterator": at}));
        assert_eq!(out["Records"].as_array().unwrap().len(), 2);
        let after = iterator(
            &ctx,
            &shard,
            "AFTER_SEQUENCE_NUMBER",
            json!({"StartingSequenceNumber": seq1}),
        );
        let out = ok(&ctx, "GetRecords", json!({"ShardIterator": after}));
        assert_eq!(out["Records"][0]["SequenceNumber"], seq2);
        let latest = iterator(&ctx, &shard, "LATEST", json!({}));
        assert_eq!(
            ok(&ctx, "GetRecords", json!({"ShardIterator": latest}))["Records"],
            json!([])
        );
        let long_ago = iterator(&ctx, &shard, "AT_TIMESTAMP", json!({"Timestamp": 1000}));
        let out = ok(&ctx, "GetRecords", json!({"ShardIterator": long_ago}));
        assert_eq!(out["Records"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn iterator_and_get_records_arguments_are_checked() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 1);
        let shard = "shardId-000000000000";
        let get = |body: Value| err(&ctx, "GetShardIterator", body);
        let e = get(
            json!({"StreamName": "s", "ShardId": shard, "ShardIteratorType": "AT_SEQUENCE_NUMBER"}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        assert!(
            e.message
                .ends_with("Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber."),
            "{e}"
        );
        let e = get(
            json!({"StreamName": "s", "ShardId": shard, "ShardIteratorType": "LATEST",
            "StartingSequenceNumber": "1"}),
        );
        assert!(
            e.message
                .ends_with("Request specified LATEST and also a StartingSequenceNumber."),
            "{e}"
        );
        let e =
            get(json!({"StreamName": "s", "ShardId": shard, "ShardIteratorType": "AT_TIMESTAMP"}));
        assert_eq!(e.code, "InvalidArgumentException");
        let e = get(
            json!({"StreamName": "s", "ShardId": shard, "ShardIteratorType": "LATEST", "Timestamp": 5}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        let e = get(json!({"StreamName": "s", "ShardId": shard, "ShardIteratorType": "SIDEWAYS"}));
        assert_eq!(e.code, "ValidationException");
        let e = get(json!({"StreamName": "s", "ShardIteratorType": "LATEST"}));
        assert_eq!(e.code, "ValidationException");
        let e = get(
            json!({"StreamName": "s", "ShardId": "shardId-000000000009", "ShardIteratorType": "LATEST"}),
        );
        assert_eq!(e.code, "ResourceNotFoundException");

        let it = iterator(&ctx, shard, "LATEST", json!({}));
        let e = err(&ctx, "GetRecords", json!({"ShardIterator": it, "Limit": 0}));
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "GetRecords",
            json!({"ShardIterator": it, "Limit": 10_001}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "GetRecords",
            json!({"ShardIterator": "AAAAAAAAAAEnope"}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        let e = err(&ctx, "GetRecords", json!({"ShardIterator": ""}));
        assert_eq!(e.code, "ValidationException");
        let e = err(&ctx, "GetRecords", json!({}));
        assert_eq!(e.code, "ValidationException");
    }

    #[test]
    fn closed_shards_end_with_child_shards() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 1);
        let shard = "shardId-000000000000";
        put(&ctx, "k", "AQ==");
        let it = iterator(&ctx, shard, "TRIM_HORIZON", json!({}));
        ok(
            &ctx,
            "SplitShard",
            json!({"StreamName": "s", "ShardToSplit": shard,
                "NewStartingHashKey": "170141183460469231731687303715884105728"}),
        );
        let out = ok(&ctx, "GetRecords", json!({"ShardIterator": it}));
        assert_eq!(out["Records"].as_array().unwrap().len(), 1);
        assert!(out.get("NextShardIterator").is_none(), "{out}");
        let children = out["ChildShards"].as_array().unwrap();
        assert_eq!(children.len(), 2);
        assert_eq!(children[0]["ShardId"], "shardId-000000000001");
        assert_eq!(children[0]["ParentShards"], json!([shard]));
        assert_eq!(children[0]["HashKeyRange"]["StartingHashKey"], "0");
        assert_eq!(
            children[1]["HashKeyRange"]["StartingHashKey"],
            "170141183460469231731687303715884105728"
        );
        // A closed shard still yields iterators, and the new record goes to a child.
        let again = iterator(&ctx, shard, "LATEST", json!({}));
        let out = ok(&ctx, "GetRecords", json!({"ShardIterator": again}));
        assert!(out.get("NextShardIterator").is_none());
        assert_ne!(put(&ctx, "k", "AQ==")["ShardId"], shard);
    }

    #[test]
    fn cbor_answers_carry_bytes_and_tagged_millis() {
        use ciborium::value::Value as Cbor;
        let (_dir, ctx) = context();
        create(&ctx, "s", 1);
        put(&ctx, "k", "AAEC");
        let it = iterator(&ctx, "shardId-000000000000", "TRIM_HORIZON", json!({}));
        let out = ok(&ctx, "GetRecords", json!({"ShardIterator": it}));
        let bytes = crate::cbor::encode_response(&out);
        let value: Cbor = ciborium::de::from_reader(&bytes[..]).unwrap();
        let get = |v: &Cbor, name: &str| -> Cbor {
            let Cbor::Map(m) = v else { panic!("not a map") };
            m.iter()
                .find(|(k, _)| k == &Cbor::Text(name.into()))
                .unwrap()
                .1
                .clone()
        };
        let Cbor::Array(records) = get(&value, "Records") else {
            panic!("no records")
        };
        assert_eq!(get(&records[0], "Data"), Cbor::Bytes(vec![0, 1, 2]));
        assert!(matches!(
            get(&records[0], "ApproximateArrivalTimestamp"),
            Cbor::Tag(1, _)
        ));
    }
}
