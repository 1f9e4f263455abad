//! The stream control plane: CreateStream, DeleteStream, DescribeStream,
//! DescribeStreamSummary and ListStreams.
//!
//! The engine creates and deletes synchronously, so a stream is `ACTIVE`
//! whenever it is observed; the engine also checks names and shard counts,
//! and its errors go to the client unchanged.

use eddy::stream::{CreateStream, StreamMode};
use serde_json::{json, Value};

use super::{
    check_name, error, now_millis, opt_u32, req_enum, shapes, stream_ref, tags, token, Done, Out,
};
use crate::context::Context;
use crate::input::Input;
use crate::protocol::ApiError;

/// Most shards one DescribeStream page lists.
const DESCRIBE_STREAM_MAX: u32 = 100;
/// Most streams one ListStreams page lists.
const LIST_STREAMS_MAX: u32 = 100;
/// The record size limit eddy supports (`MaxRecordSizeInKiB`).
const RECORD_SIZE_KIB: u32 = 1024;

/// `CreateStream`: the stream is `ACTIVE` when this returns; `Tags` are
/// stored under its ARN.
pub(crate) fn create_stream(ctx: &Context, input: Input<'_>) -> Done {
    let name = input.str("StreamName")?;
    let shard_count = opt_u32(&input, "ShardCount", 1, i32::MAX as u32)?;
    let mode = match input.opt_object("StreamModeDetails")? {
        None => StreamMode::Provisioned,
        Some(details) => match req_enum(&details, "StreamMode", &["PROVISIONED", "ON_DEMAND"])? {
            "ON_DEMAND" => StreamMode::OnDemand,
            _ => StreamMode::Provisioned,
        },
    };
    if let Some(kib) = opt_u32(&input, "MaxRecordSizeInKiB", 1024, 10240)? {
        if kib != RECORD_SIZE_KIB {
            return Err(ApiError::invalid_argument(format!(
                "MaxRecordSizeInKiB {kib} is not supported: eddy streams accept records of up to {RECORD_SIZE_KIB} KiB."
            )));
        }
    }
    // Read for its type only: throughput is not provisioned here.
    input.opt_i64("WarmThroughputMiBps")?;
    let new_tags = tags::parse_tag_map(&input, "Tags")?;
    if let Some(t) = &new_tags {
        tags::check_tag_count(name, ctx, t.len())?;
    }
    let streams = ctx.db.streams();
    streams
        .create_stream(name, CreateStream { shard_count, mode })
        .map_err(error)?;
    let arn = streams.stream_arn(name).map_err(error)?;
    // Tags of an earlier stream of this name that was deleted behind the
    // server's back must not resurface.
    ctx.db.clear_tags(&arn).map_err(super::db_error)?;
    if let Some(t) = new_tags.filter(|t| !t.is_empty()) {
        ctx.db.tag_resource(&arn, t).map_err(super::db_error)?;
    }
    Ok(())
}

/// `DeleteStream`: the stream, and with `EnforceConsumerDeletion` its
/// consumers, are gone when this returns; so are their tags.
pub(crate) fn delete_stream(ctx: &Context, input: Input<'_>) -> Done {
    let stream = stream_ref(&input)?;
    let enforce = input.opt_bool("EnforceConsumerDeletion")?.unwrap_or(false);
    let streams = ctx.db.streams();
    let arn = streams.stream_arn(&stream).map_err(error)?;
    let consumers = if enforce {
        streams.list_stream_consumers(&stream).unwrap_or_default()
    } else {
        Vec::new()
    };
    streams
        .delete_stream_with(&stream, enforce)
        .map_err(error)?;
    // The stream is gone whatever happens now; stale tags are also cleared
    // by the next CreateStream of the name.
    let arns = std::iter::once(arn).chain(consumers.into_iter().map(|c| c.consumer_arn));
    for arn in arns {
        if let Err(e) = ctx.db.clear_tags(&arn) {
            tracing::warn!(error = %e, arn = %arn, "could not clear the tags of a deleted resource");
        }
    }
    Ok(())
}

/// `DescribeStream`: up to `Limit` (at most 100) shards after
/// `ExclusiveStartShardId`, with `HasMoreShards`.
pub(crate) fn describe_stream(ctx: &Context, input: Input<'_>) -> Out {
    let stream = stream_ref(&input)?;
    let limit = opt_u32(&input, "Limit", 1, 10_000)?
        .unwrap_or(DESCRIBE_STREAM_MAX)
        .min(DESCRIBE_STREAM_MAX) as usize;
    let start = input.opt_str("ExclusiveStartShardId")?;
    if let Some(s) = start {
        check_name("ExclusiveStartShardId", s)?;
    }
    let d = ctx.db.streams().describe_stream(&stream).map_err(error)?;
    let shards: Vec<_> = shapes::live_shards(&d, now_millis())
        .into_iter()
        .filter(|s| start.is_none_or(|after| s.shard_id.as_str() > after))
        .collect();
    let has_more = shards.len() > limit;
    let page: Vec<Value> = shards
        .iter()
        .take(limit)
        .map(|s| shapes::shard(s))
        .collect();
    let mut m = shapes::description_common(&d);
    m.insert("Shards".into(), Value::Array(page));
    m.insert("HasMoreShards".into(), Value::Bool(has_more));
    Ok(json!({ "StreamDescription": m }))
}

/// `DescribeStreamSummary`.
pub(crate) fn describe_stream_summary(ctx: &Context, input: Input<'_>) -> Out {
    let stream = stream_ref(&input)?;
    let d = ctx.db.streams().describe_stream(&stream).map_err(error)?;
    let mut m = shapes::description_common(&d);
    m.insert("OpenShardCount".into(), Value::from(d.open_shard_count));
    m.insert("ConsumerCount".into(), Value::from(d.consumer_count));
    Ok(json!({ "StreamDescriptionSummary": m }))
}

/// `ListStreams`: names in order, `Limit` (at most 100) per page, from
/// `ExclusiveStartStreamName` or a `NextToken`.
pub(crate) fn list_streams(ctx: &Context, input: Input<'_>) -> Out {
    let limit = opt_u32(&input, "Limit", 1, 10_000)?
        .unwrap_or(LIST_STREAMS_MAX)
        .min(LIST_STREAMS_MAX) as usize;
    let start = match input.opt_str("NextToken")? {
        Some(text) => Some(token::decode("ListStreams", text, now_millis())?.after),
        None => match input.opt_str("ExclusiveStartStreamName")? {
            Some(name) => {
                check_name("ExclusiveStartStreamName", name)?;
                Some(name.to_string())
            }
            None => None,
        },
    };
    let streams = ctx.db.streams();
    let names: Vec<String> = streams
        .list_streams()
        .into_iter()
        .filter(|n| start.as_ref().is_none_or(|s| n > s))
        .collect();
    let has_more = names.len() > limit;
    let page = &names[..names.len().min(limit)];
    let summaries: Vec<Value> = page
        .iter()
        // A stream deleted meanwhile is simply not summarized.
        .filter_map(|n| streams.describe_stream(n).ok())
        .map(|d| {
            json!({
                "StreamName": d.stream_name,
                "StreamARN": d.stream_arn,
                "StreamStatus": d.stream_status.as_str(),
                "StreamModeDetails": {"StreamMode": d.stream_mode.as_str()},
                "StreamCreationTimestamp": shapes::timestamp(d.stream_creation_millis),
            })
        })
        .collect();
    let mut out = json!({
        "StreamNames": page,
        "HasMoreStreams": has_more,
        "StreamSummaries": summaries,
    });
    if let (true, Some(last)) = (has_more, page.last()) {
        let next = token::Token {
            stream: String::new(),
            after: last.clone(),
            extra: Value::Null,
            issued_millis: now_millis(),
        };
        out["NextToken"] = Value::String(token::encode("ListStreams", &next));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    #[test]
    fn create_describe_list_and_delete_have_the_wire_shapes() {
        let (_dir, ctx) = context();
        assert_eq!(
            ok(
                &ctx,
                "CreateStream",
                json!({"StreamName": "s1", "ShardCount": 3})
            ),
            serde_json::Value::Null
        );
        let d = ok(&ctx, "DescribeStream", json!({"StreamName": "s1"}));
        let d = &d["StreamDescription"];
        assert_eq!(d["StreamName"], "s1");
        assert_eq!(
            d["StreamARN"],
            "arn:aws:kinesis:us-east-1:000000000000:stream/s1"
        );
        assert_eq!(d["StreamStatus"], "ACTIVE");
        assert_eq!(d["StreamModeDetails"]["StreamMode"], "PROVISIONED");
        assert_eq!(d["RetentionPeriodHours"], 24);
        assert_eq!(d["HasMoreShards"], false);
        assert_eq!(d["EncryptionType"], "NONE");
        assert!(d.get("KeyId").is_none());
        assert_eq!(d["EnhancedMonitoring"], json!([{"ShardLevelMetrics": []}]));
        assert!(d["StreamCreationTimestamp"].as_f64().unwrap() > 1.6e9);
        let shards = d["Shards"].as_array().unwrap();
        assert_eq!(shards.len(), 3);
        assert_eq!(shards[1]["ShardId"], "shardId-000000000001");
        assert_eq!(
            shards[1]["HashKeyRange"]["StartingHashKey"],
            "113427455640312821154458202477256070485"
        );
        assert!(shards[0]["SequenceNumberRange"]["StartingSequenceNumber"].is_string());
        assert!(shards[0].get("ParentShardId").is_none());

        let page = ok(
            &ctx,
            "DescribeStream",
            json!({"StreamName": "s1", "Limit": 2, "ExclusiveStartShardId": "shardId-000000000000"}),
        );
        let d = &page["StreamDescription"];
        assert_eq!(d["Shards"].as_array().unwrap().len(), 2);
        assert_eq!(d["HasMoreShards"], false);
        let page = ok(
            &ctx,
            "DescribeStream",
            json!({"StreamName": "s1", "Limit": 1}),
        );
        assert_eq!(page["StreamDescription"]["HasMoreShards"], true);

        let s = ok(&ctx, "DescribeStreamSummary", json!({"StreamName": "s1"}));
        let s = &s["StreamDescriptionSummary"];
        assert_eq!(s["OpenShardCount"], 3);
        assert_eq!(s["ConsumerCount"], 0);
        assert!(s.get("Shards").is_none());

        let e = err(
            &ctx,
            "CreateStream",
            json!({"StreamName": "s1", "ShardCount": 1}),
        );
        assert_eq!(e.code, "ResourceInUseException");
        assert_eq!(
            e.message,
            "Stream s1 under account 000000000000 already exists."
        );

        assert_eq!(
            ok(&ctx, "DeleteStream", json!({"StreamName": "s1"})),
            serde_json::Value::Null
        );
        let e = err(&ctx, "DescribeStream", json!({"StreamName": "s1"}));
        assert_eq!(e.code, "ResourceNotFoundException");
        assert_eq!(e.message, "Stream s1 under account 000000000000 not found.");
    }

    #[test]
    fn create_validates_its_members() {
        let (_dir, ctx) = context();
        let e = err(&ctx, "CreateStream", json!({"ShardCount": 1}));
        assert_eq!(e.code, "ValidationException");
        assert!(e.message.contains("'streamName'"), "{e}");
        let e = err(
            &ctx,
            "CreateStream",
            json!({"StreamName": "a b", "ShardCount": 1}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "CreateStream",
            json!({"StreamName": "s", "ShardCount": 0}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "CreateStream",
            json!({"StreamName": "s", "ShardCount": -3}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "CreateStream",
            json!({"StreamName": "s", "StreamModeDetails": {"StreamMode": "FAST"}}),
        );
        assert_eq!(e.code, "ValidationException");
        // Without a shard count, on demand: 4 shards.
        ok(
            &ctx,
            "CreateStream",
            json!({"StreamName": "od", "StreamModeDetails": {"StreamMode": "ON_DEMAND"}}),
        );
        let s = ok(&ctx, "DescribeStreamSummary", json!({"StreamName": "od"}));
        assert_eq!(s["StreamDescriptionSummary"]["OpenShardCount"], 4);
        assert_eq!(
            s["StreamDescriptionSummary"]["StreamModeDetails"]["StreamMode"],
            "ON_DEMAND"
        );
        let e = err(
            &ctx,
            "UpdateShardCount",
            json!({"StreamName": "od", "TargetShardCount": 2, "ScalingType": "UNIFORM_SCALING"}),
        );
        assert_eq!(e.code, "ValidationException");
    }

    #[test]
    fn list_streams_pages_with_limits_and_tokens() {
        let (_dir, ctx) = context();
        for name in ["c", "a", "b"] {
            create(&ctx, name, 1);
        }
        let all = ok(&ctx, "ListStreams", json!({}));
        assert_eq!(all["StreamNames"], json!(["a", "b", "c"]));
        assert_eq!(all["HasMoreStreams"], false);
        assert!(all.get("NextToken").is_none());
        assert_eq!(all["StreamSummaries"][0]["StreamName"], "a");
        assert_eq!(all["StreamSummaries"][0]["StreamStatus"], "ACTIVE");
        assert!(all["StreamSummaries"][0]["StreamARN"].is_string());

        let first = ok(&ctx, "ListStreams", json!({"Limit": 2}));
        assert_eq!(first["StreamNames"], json!(["a", "b"]));
        assert_eq!(first["HasMoreStreams"], true);
        let token = first["NextToken"].as_str().unwrap();
        let second = ok(&ctx, "ListStreams", json!({"NextToken": token}));
        assert_eq!(second["StreamNames"], json!(["c"]));
        assert_eq!(second["HasMoreStreams"], false);

        let after = ok(
            &ctx,
            "ListStreams",
            json!({"ExclusiveStartStreamName": "a"}),
        );
        assert_eq!(after["StreamNames"], json!(["b", "c"]));
        let e = err(&ctx, "ListStreams", json!({"NextToken": "garbage"}));
        assert_eq!(e.code, "InvalidArgumentException");
        let e = err(&ctx, "ListStreams", json!({"Limit": 0}));
        assert_eq!(e.code, "ValidationException");
    }
}
