//! Changes to an existing stream: the retention period
//! (Increase/DecreaseStreamRetentionPeriod), resharding (UpdateShardCount,
//! SplitShard, MergeShards) and encryption (Start/StopStreamEncryption).
//!
//! All are synchronous in the engine, which checks retention bounds, scaling
//! limits, hash keys, shard eligibility and encryption arguments; its errors
//! go to the client unchanged.

use serde_json::json;

use super::{check_name, error, req_enum, req_u32, stream_ref, Done, Out};
use crate::context::Context;
use crate::input::Input;

/// `IncreaseStreamRetentionPeriod` (`increase`) and
/// `DecreaseStreamRetentionPeriod`.
pub(crate) fn change_retention(ctx: &Context, input: Input<'_>, increase: bool) -> Done {
    let stream = stream_ref(&input)?;
    let hours = req_u32(&input, "RetentionPeriodHours", 1, i32::MAX as u32)?;
    let streams = ctx.db.streams();
    if increase {
        streams.increase_retention(&stream, hours)
    } else {
        streams.decrease_retention(&stream, hours)
    }
    .map_err(error)
}

/// `UpdateShardCount` (`UNIFORM_SCALING`).
pub(crate) fn update_shard_count(ctx: &Context, input: Input<'_>) -> Out {
    let stream = stream_ref(&input)?;
    let target = req_u32(&input, "TargetShardCount", 1, i32::MAX as u32)?;
    req_enum(&input, "ScalingType", &["UNIFORM_SCALING"])?;
    let out = ctx
        .db
        .streams()
        .update_shard_count(&stream, target)
        .map_err(error)?;
    Ok(json!({
        "StreamName": out.stream_name,
        "CurrentShardCount": out.current_shard_count,
        "TargetShardCount": out.target_shard_count,
        "StreamARN": out.stream_arn,
    }))
}

/// `SplitShard`.
pub(crate) fn split_shard(ctx: &Context, input: Input<'_>) -> Done {
    let stream = stream_ref(&input)?;
    let shard = input.str("ShardToSplit")?;
    check_name("ShardToSplit", shard)?;
    let key = input.str("NewStartingHashKey")?;
    ctx.db
        .streams()
        .split_shard(&stream, shard, key)
        .map_err(error)
}

/// `MergeShards`.
pub(crate) fn merge_shards(ctx: &Context, input: Input<'_>) -> Done {
    let stream = stream_ref(&input)?;
    let shard = input.str("ShardToMerge")?;
    check_name("ShardToMerge", shard)?;
    let adjacent = input.str("AdjacentShardToMerge")?;
    check_name("AdjacentShardToMerge", adjacent)?;
    ctx.db
        .streams()
        .merge_shards(&stream, shard, adjacent)
        .map_err(error)
}

/// `StartStreamEncryption` (`start`) and `StopStreamEncryption`.
pub(crate) fn stream_encryption(ctx: &Context, input: Input<'_>, start: bool) -> Done {
    let stream = stream_ref(&input)?;
    let kind = input.str("EncryptionType")?;
    let key = input.str("KeyId")?;
    let streams = ctx.db.streams();
    if start {
        streams.start_stream_encryption(&stream, kind, key)
    } else {
        streams.stop_stream_encryption(&stream, kind, key)
    }
    .map_err(error)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    #[test]
    fn retention_changes_are_checked() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 1);
        let set = |op: &str, hours: i64| {
            call(
                &ctx,
                op,
                json!({"StreamName": "s", "RetentionPeriodHours": hours}),
            )
        };
        set("IncreaseStreamRetentionPeriod", 48).unwrap();
        let d = ok(&ctx, "DescribeStreamSummary", json!({"StreamName": "s"}));
        assert_eq!(d["StreamDescriptionSummary"]["RetentionPeriodHours"], 48);
        let e = set("IncreaseStreamRetentionPeriod", 30).unwrap_err();
        assert_eq!(e.code, "InvalidArgumentException");
        assert!(e.message.contains("Use DecreaseRetentionPeriod API"), "{e}");
        let e = set("DecreaseStreamRetentionPeriod", 72).unwrap_err();
        assert_eq!(e.code, "InvalidArgumentException");
        let e = set("DecreaseStreamRetentionPeriod", 12).unwrap_err();
        assert_eq!(e.code, "InvalidArgumentException");
        assert_eq!(
            e.message,
            "Minimum allowed retention period is 24 hours. Requested retention period (12 hours) is too short."
        );
        let e = set("IncreaseStreamRetentionPeriod", 9000).unwrap_err();
        assert_eq!(e.code, "InvalidArgumentException");
        let e = set("IncreaseStreamRetentionPeriod", 0).unwrap_err();
        assert_eq!(e.code, "ValidationException");
        set("DecreaseStreamRetentionPeriod", 24).unwrap();
        let e = err(
            &ctx,
            "IncreaseStreamRetentionPeriod",
            json!({"StreamName": "s"}),
        );
        assert_eq!(e.code, "ValidationException");
    }

    #[test]
    fn update_shard_count_answers_counts() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 2);
        let out = ok(
            &ctx,
            "UpdateShardCount",
            json!({"StreamName": "s", "TargetShardCount": 4, "ScalingType": "UNIFORM_SCALING"}),
        );
        assert_eq!(out["StreamName"], "s");
        assert_eq!(out["CurrentShardCount"], 2);
        assert_eq!(out["TargetShardCount"], 4);
        assert_eq!(
            out["StreamARN"],
            "arn:aws:kinesis:us-east-1:000000000000:stream/s"
        );
        let s = ok(&ctx, "DescribeStreamSummary", json!({"StreamName": "s"}));
        assert_eq!(s["StreamDescriptionSummary"]["OpenShardCount"], 4);
        let e = err(
            &ctx,
            "UpdateShardCount",
            json!({"StreamName": "s", "TargetShardCount": 4, "ScalingType": "OTHER"}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "UpdateShardCount",
            json!({"StreamName": "s", "TargetShardCount": 100, "ScalingType": "UNIFORM_SCALING"}),
        );
        assert_eq!(e.code, "LimitExceededException");
    }

    #[test]
    fn split_and_merge_record_lineage() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 2);
        let split = json!({"StreamName": "s", "ShardToSplit": "shardId-000000000000",
            "NewStartingHashKey": "1000"});
        ok(&ctx, "SplitShard", split.clone());
        let d = ok(&ctx, "DescribeStream", json!({"StreamName": "s"}));
        let shards = d["StreamDescription"]["Shards"].as_array().unwrap().clone();
        assert_eq!(shards.len(), 4);
        assert!(shards[0]["SequenceNumberRange"]["EndingSequenceNumber"].is_string());
        assert_eq!(shards[2]["ParentShardId"], "shardId-000000000000");
        assert_eq!(shards[2]["HashKeyRange"]["EndingHashKey"], "999");
        assert_eq!(shards[3]["HashKeyRange"]["StartingHashKey"], "1000");
        // The parent is closed now.
        let e = err(&ctx, "SplitShard", split);
        assert_eq!(e.code, "ResourceInUseException");
        let e = err(
            &ctx,
            "SplitShard",
            json!({"StreamName": "s", "ShardToSplit": "shardId-000000000001", "NewStartingHashKey": "1"}),
        );
        assert_eq!(e.code, "InvalidArgumentException");

        ok(
            &ctx,
            "MergeShards",
            json!({"StreamName": "s", "ShardToMerge": "shardId-000000000003",
                "AdjacentShardToMerge": "shardId-000000000001"}),
        );
        let d = ok(&ctx, "DescribeStream", json!({"StreamName": "s"}));
        let merged = &d["StreamDescription"]["Shards"][4];
        assert_eq!(merged["ShardId"], "shardId-000000000004");
        assert_eq!(merged["ParentShardId"], "shardId-000000000003");
        assert_eq!(merged["AdjacentParentShardId"], "shardId-000000000001");
        let e = err(
            &ctx,
            "MergeShards",
            json!({"StreamName": "s", "ShardToMerge": "shardId-000000000002",
                "AdjacentShardToMerge": "shardId-000000000002"}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        let e = err(
            &ctx,
            "MergeShards",
            json!({"StreamName": "s", "ShardToMerge": "shardId-000000000002"}),
        );
        assert_eq!(e.code, "ValidationException");
    }

    #[test]
    fn encryption_needs_a_configured_key() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 1);
        let e = err(
            &ctx,
            "StartStreamEncryption",
            json!({"StreamName": "s", "EncryptionType": "KMS", "KeyId": "alias/none"}),
        );
        assert_eq!(e.code, "KMSNotFoundException");
        let e = err(
            &ctx,
            "StartStreamEncryption",
            json!({"StreamName": "s", "EncryptionType": "AES", "KeyId": "k"}),
        );
        assert_eq!(e.code, "ValidationException");
        // Stopping a stream that is not encrypted changes nothing.
        ok(
            &ctx,
            "StopStreamEncryption",
            json!({"StreamName": "s", "EncryptionType": "KMS", "KeyId": "k"}),
        );
        let e = err(
            &ctx,
            "StopStreamEncryption",
            json!({"StreamName": "s", "KeyId": "k"}),
        );
        assert_eq!(e.code, "ValidationException");
    }
}
