//! `ListShards`: the shards of a stream in the retention window, filtered by
//! `ShardFilter` and paginated with opaque `NextToken`s.
//!
//! A token carries the stream, the last shard id listed and the filter, so
//! a later page needs nothing else (KCL sends only the token). Filters, on
//! the shards still in the retention window:
//!
//! * `FROM_TRIM_HORIZON` (the default) and `AFTER_SHARD_ID`: all of them
//!   (after the given shard id);
//! * `AT_LATEST`: the open shards;
//! * `AT_TRIM_HORIZON`: the shards open at the trim horizon, i.e. those
//!   whose parents are no longer listed (the stream's first shards while
//!   the stream is younger than its retention period);
//! * `AT_TIMESTAMP`: the shards open at the time; a time at or before the
//!   trim horizon means `AT_TRIM_HORIZON`;
//! * `FROM_TIMESTAMP`: the open shards and those closed at or after the
//!   time, clamped to the trim horizon.
//!
//! Shard open and close times come from their sequence number ranges,
//! which encode them in whole seconds, so a shard opened or closed within
//! the same second as the filter's time is included (a superset: a reader
//! following lineage handles an extra parent or child).

use std::collections::HashSet;

use eddy::stream::{Shard, StreamDescription};
use serde_json::{json, Value};

use super::{check_name, error, now_millis, opt_u32, shapes, stream_name_of_arn, token, Out};
use crate::context::Context;
use crate::input::{self, Input};
use crate::protocol::ApiError;

/// Shards per page when `MaxResults` is absent, and the most returned.
const LIST_SHARDS_MAX: u32 = 1000;

/// `ShardFilter.Type` values.
const FILTER_TYPES: &[&str] = &[
    "AFTER_SHARD_ID",
    "AT_TRIM_HORIZON",
    "FROM_TRIM_HORIZON",
    "AT_LATEST",
    "AT_TIMESTAMP",
    "FROM_TIMESTAMP",
];

/// A `ShardFilter` (an `AFTER_SHARD_ID` filter becomes the start position
/// of a `FROM_TRIM_HORIZON` listing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    FromTrimHorizon,
    AtTrimHorizon,
    AtLatest,
    AtTimestamp(u64),
    FromTimestamp(u64),
}

impl Filter {
    /// The filter as a token carries it.
    fn to_json(self) -> Value {
        match self {
            Filter::FromTrimHorizon => json!({"Type": "FROM_TRIM_HORIZON"}),
            Filter::AtTrimHorizon => json!({"Type": "AT_TRIM_HORIZON"}),
            Filter::AtLatest => json!({"Type": "AT_LATEST"}),
            Filter::AtTimestamp(t) => json!({"Type": "AT_TIMESTAMP", "Millis": t}),
            Filter::FromTimestamp(t) => json!({"Type": "FROM_TIMESTAMP", "Millis": t}),
        }
    }

    /// The filter a token carries; `None` if it is not one.
    fn from_json(v: &Value) -> Option<Filter> {
        let millis = || v["Millis"].as_u64();
        Some(match v["Type"].as_str()? {
            "FROM_TRIM_HORIZON" => Filter::FromTrimHorizon,
            "AT_TRIM_HORIZON" => Filter::AtTrimHorizon,
            "AT_LATEST" => Filter::AtLatest,
            "AT_TIMESTAMP" => Filter::AtTimestamp(millis()?),
            "FROM_TIMESTAMP" => Filter::FromTimestamp(millis()?),
            _ => return None,
        })
    }
}

/// Reads `ShardFilter`: the filter and the shard id it starts after.
fn parse_filter(input: &Input<'_>) -> Result<(Filter, Option<String>), ApiError> {
    let Some(f) = input.opt_object("ShardFilter")? else {
        return Ok((Filter::FromTrimHorizon, None));
    };
    let kind = f
        .opt_enum("Type", FILTER_TYPES)?
        .ok_or_else(|| input::missing("shardFilter.type"))?;
    let shard_id = f.opt_str("ShardId")?;
    if let Some(id) = shard_id {
        check_name("shardFilter.shardId", id)?;
    }
    let timestamp = f.opt_timestamp_millis("Timestamp")?;
    if kind == "AFTER_SHARD_ID" {
        let id = shard_id.ok_or_else(|| {
            ApiError::invalid_argument(
                "ShardId must be specified when the ShardFilter type is AFTER_SHARD_ID.",
            )
        })?;
        return Ok((Filter::FromTrimHorizon, Some(id.to_string())));
    }
    if shard_id.is_some() {
        return Err(ApiError::invalid_argument(format!(
            "ShardId can only be specified when the ShardFilter type is AFTER_SHARD_ID, not {kind}."
        )));
    }
    let timed = matches!(kind, "AT_TIMESTAMP" | "FROM_TIMESTAMP");
    let filter = match (kind, timestamp) {
        ("AT_TIMESTAMP", Some(t)) => Filter::AtTimestamp(t),
        ("FROM_TIMESTAMP", Some(t)) => Filter::FromTimestamp(t),
        (_, None) if timed => {
            return Err(ApiError::invalid_argument(format!(
                "Timestamp must be specified when the ShardFilter type is {kind}."
            )))
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid_argument(format!(
                "Timestamp can only be specified when the ShardFilter type is AT_TIMESTAMP or FROM_TIMESTAMP, not {kind}."
            )))
        }
        ("AT_TRIM_HORIZON", None) => Filter::AtTrimHorizon,
        ("AT_LATEST", None) => Filter::AtLatest,
        _ => Filter::FromTrimHorizon,
    };
    Ok((filter, None))
}

/// The shards of `d` that pass `filter`, in shard order.
fn filtered<'a>(d: &'a StreamDescription, filter: Filter, now: u64) -> Vec<&'a Shard> {
    let live = shapes::live_shards(d, now);
    let trim_horizon = now
        .saturating_sub(u64::from(d.retention_period_hours) * 3_600_000)
        .max(d.stream_creation_millis);
    let roots = |live: Vec<&'a Shard>| -> Vec<&'a Shard> {
        let listed: HashSet<&str> = live.iter().map(|s| s.shard_id.as_str()).collect();
        live.into_iter()
            .filter(|s| {
                let parents = [&s.parent_shard_id, &s.adjacent_parent_shard_id];
                !parents
                    .iter()
                    .any(|p| p.as_deref().is_some_and(|p| listed.contains(p)))
            })
            .collect()
    };
    // Whether a shard was still open at `t` (epoch millis), in whole seconds.
    let open_at = |s: &Shard, t: u64| match shapes::shard_times(s).1 {
        None => true,
        Some(end) => end.saturating_add(1).saturating_mul(1000) > t,
    };
    match filter {
        Filter::FromTrimHorizon => live,
        Filter::AtLatest => live
            .into_iter()
            .filter(|s| s.ending_sequence_number.is_none())
            .collect(),
        Filter::AtTrimHorizon => roots(live),
        Filter::AtTimestamp(t) if t <= trim_horizon => roots(live),
        Filter::AtTimestamp(t) => live
            .into_iter()
            .filter(|s| shapes::shard_times(s).0.saturating_mul(1000) <= t && open_at(s, t))
            .collect(),
        Filter::FromTimestamp(t) if t <= trim_horizon => live,
        Filter::FromTimestamp(t) => live.into_iter().filter(|s| open_at(s, t)).collect(),
    }
}

/// `ListShards`.
pub(crate) fn list_shards(ctx: &Context, input: Input<'_>) -> Out {
    let now = now_millis();
    let max = opt_u32(&input, "MaxResults", 1, 10_000)?
        .unwrap_or(LIST_SHARDS_MAX)
        .min(LIST_SHARDS_MAX) as usize;
    let name = input.opt_str("StreamName")?;
    let arn = input.opt_str("StreamARN")?;
    let (stream, after, filter) = match input.opt_str("NextToken")? {
        Some(text) => {
            let conflict = |other: &str| {
                ApiError::invalid_argument(format!(
                    "NextToken and {other} cannot be provided together."
                ))
            };
            if name.is_some() {
                return Err(conflict("StreamName"));
            }
            if input.has("ExclusiveStartShardId") {
                return Err(conflict("ExclusiveStartShardId"));
            }
            if input.has("StreamCreationTimestamp") {
                return Err(conflict("StreamCreationTimestamp"));
            }
            // A ShardFilter sent again with the token is ignored: the token
            // carries the first page's filter.
            let t = token::decode("ListShards", text, now)?;
            let filter = Filter::from_json(&t.extra).ok_or_else(|| {
                ApiError::invalid_argument("Invalid NextToken: it carries no shard filter.")
            })?;
            if let Some(arn) = arn {
                if stream_name_of_arn(arn)? != t.stream {
                    return Err(ApiError::invalid_argument(format!(
                        "NextToken was issued for stream {}, not for {arn}.",
                        t.stream
                    )));
                }
            }
            (t.stream, Some(t.after), filter)
        }
        None => {
            if name.is_none() && arn.is_none() {
                return Err(ApiError::invalid_argument(
                    "Either NextToken or StreamName should be provided.",
                ));
            }
            let stream = super::stream_ref(&input)?;
            input.opt_timestamp_millis("StreamCreationTimestamp")?;
            let start = input.opt_str("ExclusiveStartShardId")?;
            if let Some(s) = start {
                check_name("ExclusiveStartShardId", s)?;
            }
            let (filter, filter_after) = parse_filter(&input)?;
            let after = match (start.map(str::to_string), filter_after) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            (stream, after, filter)
        }
    };
    let d = ctx.db.streams().describe_stream(&stream).map_err(error)?;
    let shards: Vec<&Shard> = filtered(&d, filter, now)
        .into_iter()
        .filter(|s| after.as_ref().is_none_or(|a| s.shard_id > *a))
        .collect();
    let page: Vec<Value> = shards.iter().take(max).map(|s| shapes::shard(s)).collect();
    let mut out = json!({ "Shards": page });
    if shards.len() > max {
        if let Some(last) = shards.get(max - 1) {
            let next = token::Token {
                stream: d.stream_name.clone(),
                after: last.shard_id.clone(),
                extra: filter.to_json(),
                issued_millis: now,
            };
            out["NextToken"] = Value::String(token::encode("ListShards", &next));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::token;
    use serde_json::{json, Value};

    fn ids(out: &Value) -> Vec<String> {
        out["Shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["ShardId"].as_str().unwrap().to_string())
            .collect()
    }

    fn shard(i: u32) -> String {
        format!("shardId-{i:012}")
    }

    #[test]
    fn list_shards_pages_with_next_tokens() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 5);
        let all = ok(&ctx, "ListShards", json!({"StreamName": "s"}));
        assert_eq!(ids(&all), (0..5).map(shard).collect::<Vec<_>>());
        assert!(all.get("NextToken").is_none());
        assert!(all["Shards"][0]["HashKeyRange"]["StartingHashKey"].is_string());

        let mut seen = Vec::new();
        let mut page = ok(
            &ctx,
            "ListShards",
            json!({"StreamName": "s", "MaxResults": 2}),
        );
        loop {
            let got = ids(&page);
            assert!(got.len() <= 2);
            seen.extend(got);
            let Some(token) = page.get("NextToken").and_then(Value::as_str) else {
                break;
            };
            page = ok(
                &ctx,
                "ListShards",
                json!({"NextToken": token, "MaxResults": 2}),
            );
        }
        assert_eq!(seen, (0..5).map(shard).collect::<Vec<_>>());

        let after = ok(
            &ctx,
            "ListShards",
            json!({"StreamName": "s", "ExclusiveStartShardId": shard(2)}),
        );
        assert_eq!(ids(&after), vec![shard(3), shard(4)]);
        let arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
        let by_arn = ok(
            &ctx,
            "ListShards",
            json!({"StreamARN": arn, "MaxResults": 1}),
        );
        assert_eq!(ids(&by_arn), vec![shard(0)]);
        let token = by_arn["NextToken"].as_str().unwrap();
        let next = ok(
            &ctx,
            "ListShards",
            json!({"NextToken": token, "StreamARN": arn}),
        );
        assert_eq!(ids(&next).len(), 4);
    }

    #[test]
    fn list_shards_token_errors() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 2);
        let page = ok(
            &ctx,
            "ListShards",
            json!({"StreamName": "s", "MaxResults": 1}),
        );
        let token = page["NextToken"].as_str().unwrap().to_string();

        let e = err(
            &ctx,
            "ListShards",
            json!({"StreamName": "s", "NextToken": token}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        assert_eq!(
            e.message,
            "NextToken and StreamName cannot be provided together."
        );
        let e = err(&ctx, "ListShards", json!({}));
        assert_eq!(e.code, "InvalidArgumentException");
        assert_eq!(
            e.message,
            "Either NextToken or StreamName should be provided."
        );
        let e = err(
            &ctx,
            "ListShards",
            json!({"NextToken": token, "ExclusiveStartShardId": shard(0)}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        let e = err(&ctx, "ListShards", json!({"NextToken": "not-a-token"}));
        assert_eq!(e.code, "InvalidArgumentException");
        let e = err(
            &ctx,
            "ListShards",
            json!({"StreamName": "s", "MaxResults": 0}),
        );
        assert_eq!(e.code, "ValidationException");

        let stale = token::Token {
            stream: "s".into(),
            after: shard(0),
            extra: json!({"Type": "FROM_TRIM_HORIZON"}),
            issued_millis: super::now_millis() - token::TOKEN_TTL_MILLIS - 1_000,
        };
        let stale = token::encode("ListShards", &stale);
        let e = err(&ctx, "ListShards", json!({"NextToken": stale}));
        assert_eq!(e.code, "ExpiredNextTokenException");
        // A token of another listing is not a ListShards token.
        let streams = token::encode(
            "ListStreams",
            &token::Token {
                stream: String::new(),
                after: "a".into(),
                extra: Value::Null,
                issued_millis: super::now_millis(),
            },
        );
        let e = err(&ctx, "ListShards", json!({"NextToken": streams}));
        assert_eq!(e.code, "InvalidArgumentException");
    }

    #[test]
    fn shard_filters_follow_lineage() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 2);
        ok(
            &ctx,
            "SplitShard",
            json!({"StreamName": "s", "ShardToSplit": shard(0), "NewStartingHashKey": "1000"}),
        );
        let list = |filter: Value| {
            ids(&ok(
                &ctx,
                "ListShards",
                json!({"StreamName": "s", "ShardFilter": filter}),
            ))
        };
        assert_eq!(list(json!({"Type": "FROM_TRIM_HORIZON"})).len(), 4);
        assert_eq!(
            list(json!({"Type": "AT_LATEST"})),
            vec![shard(1), shard(2), shard(3)]
        );
        assert_eq!(
            list(json!({"Type": "AT_TRIM_HORIZON"})),
            vec![shard(0), shard(1)]
        );
        assert_eq!(
            list(json!({"Type": "AFTER_SHARD_ID", "ShardId": shard(1)})),
            vec![shard(2), shard(3)]
        );
        // Long ago: clamped to the trim horizon.
        assert_eq!(
            list(json!({"Type": "AT_TIMESTAMP", "Timestamp": 1000})),
            vec![shard(0), shard(1)]
        );
        assert_eq!(
            list(json!({"Type": "FROM_TIMESTAMP", "Timestamp": 1000})).len(),
            4
        );
        // In a minute: only what is open then.
        let soon = (super::now_millis() + 60_000) as f64 / 1000.0;
        assert_eq!(
            list(json!({"Type": "AT_TIMESTAMP", "Timestamp": soon})),
            vec![shard(1), shard(2), shard(3)]
        );
        assert_eq!(
            list(json!({"Type": "FROM_TIMESTAMP", "Timestamp": soon})),
            vec![shard(1), shard(2), shard(3)]
        );

        let e = err(
            &ctx,
            "ListShards",
            json!({"StreamName": "s", "ShardFilter": {"Type": "AFTER_SHARD_ID"}}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        let e = err(
            &ctx,
            "ListShards",
            json!({"StreamName": "s", "ShardFilter": {"Type": "AT_TIMESTAMP"}}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        let e = err(
            &ctx,
            "ListShards",
            json!({"StreamName": "s", "ShardFilter": {"Type": "SIDEWAYS"}}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "ListShards",
            json!({"StreamName": "s", "ShardFilter": {}}),
        );
        assert_eq!(e.code, "ValidationException");

        // The filter survives pagination.
        let first = ok(
            &ctx,
            "ListShards",
            json!({"StreamName": "s", "MaxResults": 1, "ShardFilter": {"Type": "AT_LATEST"}}),
        );
        assert_eq!(ids(&first), vec![shard(1)]);
        let token = first["NextToken"].as_str().unwrap();
        let rest = ok(&ctx, "ListShards", json!({"NextToken": token}));
        assert_eq!(ids(&rest), vec![shard(2), shard(3)]);
    }
}
