//! The Kinesis Data Streams API (`Kinesis_20131202.*`, JSON 1.1 or CBOR)
//! mapped onto the stream engine ([`eddy::stream::Streams`]).
//!
//! Each submodule takes one family of operations: `streams` creating,
//! describing, listing and deleting streams, `modify` retention,
//! resharding and encryption, `shards` ListShards with its filters and
//! pagination, `tags` stream tags, `reads` and `writes` the data plane,
//! `consumers` enhanced fan-out consumers and `subscribe` SubscribeToShard. `shapes` builds the
//! wire shapes every family shares, and `token` the opaque pagination
//! tokens.
//!
//! Answers are always built as JSON: `Data` as base64 and timestamps as
//! epoch seconds with a millisecond fraction. The HTTP layer turns them into
//! CBOR for CBOR requests (byte strings, tagged epoch milliseconds).

mod consumers;
mod modify;
mod reads;
mod shapes;
mod shards;
mod streams;
mod subscribe;
mod tags;
mod token;
mod writes;

use serde_json::Value;

use crate::context::Context;
use crate::input::{self, Input};
use crate::protocol::{ApiError, Encoding, OpResult, Reply, Service};

/// The result of a Kinesis operation that answers with a body.
pub(crate) type Out = Result<Value, ApiError>;

/// The result of a Kinesis operation with no output shape.
pub(crate) type Done = Result<(), ApiError>;

/// Runs one Kinesis operation.
pub(crate) fn handle(ctx: &Context, operation: &str, body: &Value, encoding: Encoding) -> OpResult {
    let input = Input::new(body)?;
    let body = |out: Out| out.map(Reply::Body);
    let empty = |done: Done| done.map(|()| Reply::Empty);
    match operation {
        "CreateStream" => empty(streams::create_stream(ctx, input)),
        "DeleteStream" => empty(streams::delete_stream(ctx, input)),
        "DescribeStream" => body(streams::describe_stream(ctx, input)),
        "DescribeStreamSummary" => body(streams::describe_stream_summary(ctx, input)),
        "ListStreams" => body(streams::list_streams(ctx, input)),
        "IncreaseStreamRetentionPeriod" => empty(modify::change_retention(ctx, input, true)),
        "DecreaseStreamRetentionPeriod" => empty(modify::change_retention(ctx, input, false)),
        "UpdateShardCount" => body(modify::update_shard_count(ctx, input)),
        "SplitShard" => empty(modify::split_shard(ctx, input)),
        "MergeShards" => empty(modify::merge_shards(ctx, input)),
        "StartStreamEncryption" => empty(modify::stream_encryption(ctx, input, true)),
        "StopStreamEncryption" => empty(modify::stream_encryption(ctx, input, false)),
        "ListShards" => body(shards::list_shards(ctx, input)),
        "AddTagsToStream" => empty(tags::add_tags_to_stream(ctx, input)),
        "RemoveTagsFromStream" => empty(tags::remove_tags_from_stream(ctx, input)),
        "ListTagsForStream" => body(tags::list_tags_for_stream(ctx, input)),
        "GetShardIterator" => body(reads::get_shard_iterator(ctx, input)),
        "GetRecords" => body(reads::get_records(ctx, input)),
        "PutRecord" => body(writes::put_record(ctx, input)),
        "PutRecords" => body(writes::put_records(ctx, input)),
        "RegisterStreamConsumer" => body(consumers::register_stream_consumer(ctx, input)),
        "DeregisterStreamConsumer" => empty(consumers::deregister_stream_consumer(ctx, input)),
        "DescribeStreamConsumer" => body(consumers::describe_stream_consumer(ctx, input)),
        "ListStreamConsumers" => body(consumers::list_stream_consumers(ctx, input)),
        "SubscribeToShard" => subscribe::subscribe_to_shard(ctx, input, encoding),
        "DescribeLimits" => {
            let (limit, open, on_demand) = ctx.db.streams().shard_limits();
            Ok(Reply::Body(serde_json::json!({
                "ShardLimit": limit,
                "OpenShardCount": open,
                "OnDemandStreamCount": on_demand,
                "OnDemandStreamCountLimit": 50,
            })))
        }
        _ => Err(ApiError::new(
            "UnknownOperationException",
            format!("Unknown operation: {operation}"),
        )),
    }
}

/// Maps the stream engine's errors onto Kinesis's wire errors: the engine
/// names the error and its message is the one to send; storage faults are
/// `InternalFailureException` (HTTP 500).
pub(crate) fn error(e: eddy::stream::Error) -> ApiError {
    if e.is_internal() {
        ApiError::internal(Service::Kinesis, eddy::error_chain(&e))
    } else {
        ApiError::new(e.aws_error_name(), e.to_string())
    }
}

/// Maps the facade's errors (from the tag calls) onto Kinesis's wire
/// errors: a stream error as [`error`] does, anything else is a fault.
pub(crate) fn db_error(e: eddy::Error) -> ApiError {
    match e {
        eddy::Error::Stream(s) => error(s),
        other => ApiError::internal(Service::Kinesis, eddy::error_chain(&other)),
    }
}

/// The stream an operation names, as the engine takes it: the
/// `StreamName`, or the `StreamARN` when one is given (the engine checks the
/// ARN's region and account). Giving both is fine when they agree.
pub(crate) fn stream_ref(input: &Input<'_>) -> Result<String, ApiError> {
    let name = input.opt_str("StreamName")?;
    let arn = input.opt_str("StreamARN")?;
    match (name, arn) {
        (None, None) => Err(input::missing("StreamName")),
        (Some(name), None) => Ok(name.to_string()),
        (name, Some(arn)) => {
            let from_arn = stream_name_of_arn(arn)?;
            if let Some(name) = name {
                if name != from_arn {
                    return Err(ApiError::invalid_argument(format!(
                        "StreamARN {arn} and StreamName {name} do not refer to the same stream."
                    )));
                }
            }
            Ok(arn.to_string())
        }
    }
}

/// The stream name of a stream ARN
/// (`arn:aws:kinesis:<region>:<account>:stream/<name>`), checked against
/// the model's pattern.
pub(crate) fn stream_name_of_arn(arn: &str) -> Result<&str, ApiError> {
    let invalid = || {
        input::constraint(
            "StreamARN",
            arn,
            "Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+",
        )
    };
    if arn.is_empty() || arn.len() > 2048 {
        return Err(input::constraint(
            "StreamARN",
            arn,
            "Member must have length less than or equal to 2048 and greater than or equal to 1",
        ));
    }
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("kinesis"), Some(_region), Some(account), Some(rest)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid());
    };
    let name = rest.strip_prefix("stream/").ok_or_else(invalid)?;
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let name_ok = !name.is_empty() && !name.chars().any(char::is_whitespace);
    if !partition.starts_with("aws") || !account_ok || !name_ok {
        return Err(invalid());
    }
    Ok(name)
}

/// An optional integer member that must lie in `min..=max`, with AWS's
/// constraint messages.
pub(crate) fn opt_u32(
    input: &Input<'_>,
    name: &str,
    min: u32,
    max: u32,
) -> Result<Option<u32>, ApiError> {
    match input.opt_i64(name)? {
        None => Ok(None),
        Some(v) if v < i64::from(min) => Err(input::constraint(
            name,
            &v.to_string(),
            &format!("Member must have value greater than or equal to {min}"),
        )),
        Some(v) if v > i64::from(max) => Err(input::constraint(
            name,
            &v.to_string(),
            &format!("Member must have value less than or equal to {max}"),
        )),
        // In range, so it fits.
        Some(v) => Ok(Some(u32::try_from(v).unwrap_or(max))),
    }
}

/// A required integer member in `min..=max` (see [`opt_u32`]).
pub(crate) fn req_u32(input: &Input<'_>, name: &str, min: u32, max: u32) -> Result<u32, ApiError> {
    opt_u32(input, name, min, max)?.ok_or_else(|| input::missing(name))
}

/// A required enum member.
pub(crate) fn req_enum<'a>(
    input: &Input<'a>,
    name: &str,
    allowed: &[&str],
) -> Result<&'a str, ApiError> {
    input
        .opt_enum(name, allowed)?
        .ok_or_else(|| input::missing(name))
}

/// Checks a string member against `[a-zA-Z0-9_.-]+` and `1..=128`
/// characters (stream, shard and consumer names).
pub(crate) fn check_name(member: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.chars().count() > 128 {
        return Err(input::constraint(
            member,
            value,
            "Member must have length less than or equal to 128 and greater than or equal to 1",
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(input::constraint(
            member,
            value,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}

/// The current time in epoch milliseconds (for pagination tokens).
pub(crate) fn now_millis() -> u64 {
    eddy::stream::system_clock_millis()
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A server context over a temporary database, and a caller that
    //! unwraps replies into JSON.

    use std::sync::Arc;

    use serde_json::Value;

    use crate::context::{Context, ServerConfig};
    use crate::protocol::{ApiError, Encoding, Reply};

    /// A context over a fresh database; keep the directory alive.
    pub fn context() -> (tempfile::TempDir, Context) {
        context_with(eddy::Options::new())
    }

    /// A context over a fresh database opened with `options`.
    pub fn context_with(options: eddy::Options) -> (tempfile::TempDir, Context) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = eddy::Database::open_with(dir.path(), options).expect("open database");
        let ctx = Context {
            db: Arc::new(db),
            config: Arc::new(ServerConfig::default()),
            endpoint: Arc::from("127.0.0.1:0"),
        };
        (dir, ctx)
    }

    /// Runs an operation with a JSON body: `Ok(Value::Null)` for an empty
    /// answer.
    pub fn call(ctx: &Context, op: &str, body: Value) -> Result<Value, ApiError> {
        match super::handle(ctx, op, &body, Encoding::Json11)? {
            Reply::Body(v) => Ok(v),
            Reply::Empty => Ok(Value::Null),
            Reply::EventStream(_) => panic!("{op} answered with an event stream"),
        }
    }

    /// Like [`call`], panicking with the error.
    pub fn ok(ctx: &Context, op: &str, body: Value) -> Value {
        call(ctx, op, body).unwrap_or_else(|e| panic!("{op} failed: {e}"))
    }

    /// Like [`call`], expecting an error.
    pub fn err(ctx: &Context, op: &str, body: Value) -> ApiError {
        match call(ctx, op, body) {
            Ok(v) => panic!("{op} succeeded unexpectedly: {v}"),
            Err(e) => e,
        }
    }

    /// A shard iterator of stream `s`; `extra` adds members to the request.
    pub fn iterator(ctx: &Context, shard: &str, kind: &str, extra: Value) -> String {
        let mut body =
            serde_json::json!({"StreamName": "s", "ShardId": shard, "ShardIteratorType": kind});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        ok(ctx, "GetShardIterator", body)["ShardIterator"]
            .as_str()
            .expect("an iterator")
            .to_string()
    }

    /// Puts one record (base64 `data`) into stream `s`; the answer.
    pub fn put(ctx: &Context, key: &str, data: &str) -> Value {
        ok(
            ctx,
            "PutRecord",
            serde_json::json!({"StreamName": "s", "PartitionKey": key, "Data": data}),
        )
    }

    /// Creates a stream with `shards` shards.
    pub fn create(ctx: &Context, name: &str, shards: u32) {
        ok(
            ctx,
            "CreateStream",
            serde_json::json!({"StreamName": name, "ShardCount": shards}),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_operations_and_bad_bodies_are_refused() {
        let (_dir, ctx) = context();
        let e = err(&ctx, "FlyToTheMoon", json!({}));
        assert_eq!(e.code, "UnknownOperationException");
        let e = handle(&ctx, "ListStreams", &json!([1]), Encoding::Json11).unwrap_err();
        assert_eq!(e.code, "SerializationException");
    }

    #[test]
    fn stream_arns_resolve_and_must_agree_with_names() {
        let (_dir, ctx) = context();
        create(&ctx, "s1", 1);
        let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s1";
        let d = ok(&ctx, "DescribeStreamSummary", json!({"StreamARN": arn}));
        assert_eq!(d["StreamDescriptionSummary"]["StreamName"], "s1");
        let d = ok(
            &ctx,
            "DescribeStreamSummary",
            json!({"StreamARN": arn, "StreamName": "s1"}),
        );
        assert_eq!(d["StreamDescriptionSummary"]["StreamARN"], arn);
        let e = err(
            &ctx,
            "DescribeStreamSummary",
            json!({"StreamARN": arn, "StreamName": "other"}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        let e = err(&ctx, "DescribeStreamSummary", json!({"StreamARN": "nope"}));
        assert_eq!(e.code, "ValidationException");
        // Another account's ARN names no stream here.
        let e = err(
            &ctx,
            "DescribeStreamSummary",
            json!({"StreamARN": "arn:aws:kinesis:us-east-1:111111111111:stream/s1"}),
        );
        assert_eq!(e.code, "ResourceNotFoundException");
        let e = err(&ctx, "DescribeStreamSummary", json!({}));
        assert_eq!(e.code, "ValidationException");
        assert!(e.message.contains("'streamName'"), "{e}");
    }

    #[test]
    fn engine_errors_keep_their_names_and_faults_are_500() {
        use eddy::stream::Error as E;
        let e = error(E::ResourceNotFound(
            "Stream x under account 0 not found.".into(),
        ));
        assert_eq!(
            (e.status, e.code.as_str()),
            (400, "ResourceNotFoundException")
        );
        assert_eq!(e.message, "Stream x under account 0 not found.");
        let e = error(E::Poisoned("boom".into()));
        assert_eq!(
            (e.status, e.code.as_str()),
            (500, "InternalFailureException")
        );
    }

    #[test]
    fn integer_members_are_range_checked() {
        let body = json!({"A": 0, "B": 20000, "C": 5});
        let input = Input::new(&body).unwrap();
        let e = opt_u32(&input, "A", 1, 10).unwrap_err();
        assert!(e.message.contains("greater than or equal to 1"), "{e}");
        let e = opt_u32(&input, "B", 1, 10000).unwrap_err();
        assert!(e.message.contains("less than or equal to 10000"), "{e}");
        assert_eq!(opt_u32(&input, "C", 1, 10).unwrap(), Some(5));
        assert_eq!(opt_u32(&input, "D", 1, 10).unwrap(), None);
        assert_eq!(
            req_u32(&input, "D", 1, 10).unwrap_err().code,
            "ValidationException"
        );
    }
}

#[cfg(test)]
mod limits_tests {
    use super::test_support::{context, ok};
    use serde_json::json;

    #[test]
    fn describe_limits_counts_open_shards_and_on_demand_streams() {
        let (_dir, ctx) = context();
        ok(
            &ctx,
            "CreateStream",
            json!({"StreamName": "a", "ShardCount": 3}),
        );
        ok(
            &ctx,
            "CreateStream",
            json!({"StreamName": "b", "StreamModeDetails": {"StreamMode": "ON_DEMAND"}}),
        );
        let limits = ok(&ctx, "DescribeLimits", json!({}));
        assert_eq!(limits["OpenShardCount"], 7, "{limits}");
        assert_eq!(limits["OnDemandStreamCount"], 1);
        assert!(limits["ShardLimit"].as_u64().unwrap() >= 7);
    }
}
