//! The wire shapes several operations share: timestamps, shards, records,
//! child shards and consumers, built as JSON (`Data` base64, timestamps as
//! epoch seconds with a millisecond fraction).

use base64::Engine as _;
use eddy::stream::{
    ChildShard, Consumer, HashKeyRange, Record, SequenceNumber, Shard, StreamDescription,
};
use serde_json::{json, Map, Number, Value};

/// A timestamp as the JSON protocol writes it: epoch seconds with the
/// milliseconds as a fraction (`1572297168.0`, `1649930049.016`).
pub(crate) fn timestamp(millis: u64) -> Value {
    Number::from_f64(millis as f64 / 1000.0).map_or(Value::Null, Value::Number)
}

/// A blob as base64 text.
pub(crate) fn blob(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// `HashKeyRange` with decimal strings.
pub(crate) fn hash_key_range(r: &HashKeyRange) -> Value {
    json!({
        "StartingHashKey": r.starting_hash_key.to_string(),
        "EndingHashKey": r.ending_hash_key.to_string(),
    })
}

/// A `Shard`.
pub(crate) fn shard(s: &Shard) -> Value {
    let mut m = Map::new();
    m.insert("ShardId".into(), Value::String(s.shard_id.clone()));
    if let Some(p) = &s.parent_shard_id {
        m.insert("ParentShardId".into(), Value::String(p.clone()));
    }
    if let Some(p) = &s.adjacent_parent_shard_id {
        m.insert("AdjacentParentShardId".into(), Value::String(p.clone()));
    }
    m.insert("HashKeyRange".into(), hash_key_range(&s.hash_key_range));
    let mut range = Map::new();
    range.insert(
        "StartingSequenceNumber".into(),
        Value::String(s.starting_sequence_number.clone()),
    );
    if let Some(end) = &s.ending_sequence_number {
        range.insert("EndingSequenceNumber".into(), Value::String(end.clone()));
    }
    m.insert("SequenceNumberRange".into(), Value::Object(range));
    Value::Object(m)
}

/// A `Record`; plain records carry `EncryptionType` `NONE`.
pub(crate) fn record(r: &Record) -> Value {
    json!({
        "SequenceNumber": r.sequence_number,
        "ApproximateArrivalTimestamp": timestamp(r.approximate_arrival_millis),
        "Data": blob(&r.data),
        "PartitionKey": r.partition_key,
        "EncryptionType": r.encryption_type.as_deref().unwrap_or("NONE"),
    })
}

/// A `ChildShard`.
pub(crate) fn child_shard(c: &ChildShard) -> Value {
    json!({
        "ShardId": c.shard_id,
        "ParentShards": c.parent_shards,
        "HashKeyRange": hash_key_range(&c.hash_key_range),
    })
}

/// A `Consumer` (`ConsumerDescription` adds `StreamARN`).
pub(crate) fn consumer(c: &Consumer, with_stream: bool) -> Value {
    let mut m = Map::new();
    m.insert(
        "ConsumerName".into(),
        Value::String(c.consumer_name.clone()),
    );
    m.insert("ConsumerARN".into(), Value::String(c.consumer_arn.clone()));
    m.insert(
        "ConsumerStatus".into(),
        Value::String(c.consumer_status.as_str().into()),
    );
    m.insert(
        "ConsumerCreationTimestamp".into(),
        timestamp(c.consumer_creation_millis),
    );
    if with_stream {
        m.insert("StreamARN".into(), Value::String(c.stream_arn.clone()));
    }
    Value::Object(m)
}

/// The members `StreamDescription` and `StreamDescriptionSummary` share.
pub(crate) fn description_common(d: &StreamDescription) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("StreamName".into(), Value::String(d.stream_name.clone()));
    m.insert("StreamARN".into(), Value::String(d.stream_arn.clone()));
    m.insert(
        "StreamStatus".into(),
        Value::String(d.stream_status.as_str().into()),
    );
    m.insert(
        "StreamModeDetails".into(),
        json!({"StreamMode": d.stream_mode.as_str()}),
    );
    m.insert(
        "RetentionPeriodHours".into(),
        Value::from(d.retention_period_hours),
    );
    m.insert(
        "StreamCreationTimestamp".into(),
        timestamp(d.stream_creation_millis),
    );
    m.insert(
        "EnhancedMonitoring".into(),
        json!([{"ShardLevelMetrics": []}]),
    );
    m.insert(
        "EncryptionType".into(),
        Value::String(d.encryption_type.into()),
    );
    if let Some(key) = &d.key_id {
        m.insert("KeyId".into(), Value::String(key.clone()));
    }
    m
}

/// When a shard opened and (if closed) closed, in epoch seconds, read from
/// its sequence number range (the numbers encode both times).
pub(crate) fn shard_times(s: &Shard) -> (u64, Option<u64>) {
    let start = s
        .starting_sequence_number
        .parse::<SequenceNumber>()
        .map_or(0, |n| n.shard_created_secs);
    let end = s.ending_sequence_number.as_ref().map(|e| {
        e.parse::<SequenceNumber>()
            .map_or(u64::MAX, |n| n.record_secs)
    });
    (start, end)
}

/// The shards of a description that are not expired: a closed shard whose
/// close time lies before the retention window holds no readable record
/// any more and is not listed, whether or not the engine's trimmer has
/// removed it yet.
pub(crate) fn live_shards(d: &StreamDescription, now_millis: u64) -> Vec<&Shard> {
    let cutoff = now_millis.saturating_sub(u64::from(d.retention_period_hours) * 3_600_000);
    d.shards
        .iter()
        .filter(|s| match shard_times(s).1 {
            None => true,
            Some(end_secs) => end_secs.saturating_add(1).saturating_mul(1000) > cutoff,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_seconds_with_a_millisecond_fraction() {
        assert_eq!(timestamp(1_572_297_168_000).to_string(), "1572297168.0");
        assert_eq!(timestamp(1_649_930_049_016).to_string(), "1649930049.016");
    }

    #[test]
    fn records_default_to_no_encryption_and_base64_data() {
        let r = Record {
            sequence_number: "1".into(),
            approximate_arrival_millis: 1_500,
            data: b"hi".to_vec(),
            partition_key: "k".into(),
            encryption_type: None,
        };
        let v = record(&r);
        assert_eq!(v["Data"], "aGk=");
        assert_eq!(v["EncryptionType"], "NONE");
        assert_eq!(v["ApproximateArrivalTimestamp"].as_f64(), Some(1.5));
        let v = record(&Record {
            encryption_type: Some("KMS".into()),
            ..r
        });
        assert_eq!(v["EncryptionType"], "KMS");
    }

    #[test]
    fn shards_omit_absent_parents_and_endings() {
        let s = Shard {
            shard_id: "shardId-000000000000".into(),
            parent_shard_id: None,
            adjacent_parent_shard_id: None,
            hash_key_range: HashKeyRange {
                starting_hash_key: 0,
                ending_hash_key: u128::MAX,
            },
            starting_sequence_number: "49600871682957036442365024926191073437251060580128653314"
                .into(),
            ending_sequence_number: None,
        };
        let v = shard(&s);
        assert!(v.get("ParentShardId").is_none());
        assert!(v["SequenceNumberRange"]
            .get("EndingSequenceNumber")
            .is_none());
        assert_eq!(
            v["HashKeyRange"]["EndingHashKey"],
            "340282366920938463463374607431768211455"
        );
        assert_eq!(shard_times(&s), (0x05db759cd, None));
    }
}
