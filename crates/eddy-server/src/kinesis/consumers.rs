//! Enhanced fan-out consumers: RegisterStreamConsumer,
//! DeregisterStreamConsumer, DescribeStreamConsumer and
//! ListStreamConsumers.
//!
//! Registration is synchronous in the engine, so a consumer is `ACTIVE`
//! as soon as it is registered. A consumer is named by its ARN alone, or by
//! `StreamARN` and `ConsumerName`. Tags given at registration are kept
//! under the consumer's ARN and cleared when it is deregistered.

use eddy::stream::ConsumerRef;
use serde_json::{json, Value};

use super::{
    db_error, error, now_millis, opt_u32, shapes, stream_name_of_arn, tags, token, Done, Out,
};
use crate::context::Context;
use crate::input::Input;
use crate::protocol::ApiError;

/// Consumers per ListStreamConsumers page when `MaxResults` is absent, and
/// the most returned.
const LIST_CONSUMERS_MAX: u32 = 100;

/// The required `StreamARN`, checked against the model's pattern.
fn stream_arn<'a>(input: &Input<'a>) -> Result<&'a str, ApiError> {
    let arn = input.str("StreamARN")?;
    stream_name_of_arn(arn)?;
    Ok(arn)
}

/// How the input names a consumer.
fn consumer_ref<'a>(input: &Input<'a>) -> Result<ConsumerRef<'a>, ApiError> {
    if let Some(arn) = input.opt_str("ConsumerARN")? {
        return Ok(ConsumerRef::Arn(arn));
    }
    let stream = input.opt_str("StreamARN")?;
    let name = input.opt_str("ConsumerName")?;
    match (stream, name) {
        (Some(stream), Some(consumer_name)) => {
            stream_name_of_arn(stream)?;
            Ok(ConsumerRef::Name {
                stream,
                consumer_name,
            })
        }
        _ => Err(ApiError::invalid_argument(
            "Either ConsumerARN or both ConsumerName and StreamARN must be provided.",
        )),
    }
}

/// `RegisterStreamConsumer`.
pub(crate) fn register_stream_consumer(ctx: &Context, input: Input<'_>) -> Out {
    let stream = stream_arn(&input)?;
    let name = input.str("ConsumerName")?;
    let new_tags = tags::parse_tag_map(&input, "Tags")?;
    let c = ctx
        .db
        .streams()
        .register_stream_consumer(stream, name)
        .map_err(error)?;
    if let Some(t) = new_tags.filter(|t| !t.is_empty()) {
        ctx.db.tag_resource(&c.consumer_arn, t).map_err(db_error)?;
    }
    Ok(json!({ "Consumer": shapes::consumer(&c, false) }))
}

/// `DeregisterStreamConsumer`: the consumer's subscriptions end.
pub(crate) fn deregister_stream_consumer(ctx: &Context, input: Input<'_>) -> Done {
    let which = consumer_ref(&input)?;
    let streams = ctx.db.streams();
    let c = streams.describe_stream_consumer(which).map_err(error)?;
    streams.deregister_stream_consumer(which).map_err(error)?;
    if let Err(e) = ctx.db.clear_tags(&c.consumer_arn) {
        tracing::warn!(error = %e, arn = %c.consumer_arn, "could not clear a deregistered consumer's tags");
    }
    Ok(())
}

/// `DescribeStreamConsumer`: the consumer with its `StreamARN`.
pub(crate) fn describe_stream_consumer(ctx: &Context, input: Input<'_>) -> Out {
    let which = consumer_ref(&input)?;
    let c = ctx
        .db
        .streams()
        .describe_stream_consumer(which)
        .map_err(error)?;
    Ok(json!({ "ConsumerDescription": shapes::consumer(&c, true) }))
}

/// `ListStreamConsumers`: in registration order, `MaxResults` (at most
/// 100) per page, continued with an opaque `NextToken`.
pub(crate) fn list_stream_consumers(ctx: &Context, input: Input<'_>) -> Out {
    let now = now_millis();
    let arn = stream_arn(&input)?;
    let stream = stream_name_of_arn(arn)?;
    let max = opt_u32(&input, "MaxResults", 1, 10_000)?
        .unwrap_or(LIST_CONSUMERS_MAX)
        .min(LIST_CONSUMERS_MAX) as usize;
    input.opt_timestamp_millis("StreamCreationTimestamp")?;
    let skip = match input.opt_str("NextToken")? {
        None => 0,
        Some(text) => {
            let t = token::decode("ListStreamConsumers", text, now)?;
            if t.stream != stream {
                return Err(ApiError::invalid_argument(format!(
                    "NextToken was issued for stream {}, not for {arn}.",
                    t.stream
                )));
            }
            t.after.parse::<usize>().map_err(|_| {
                ApiError::invalid_argument("Invalid NextToken: it carries no position.")
            })?
        }
    };
    let all = ctx.db.streams().list_stream_consumers(arn).map_err(error)?;
    let page: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(max)
        .map(|c| shapes::consumer(c, false))
        .collect();
    let mut out = json!({ "Consumers": page });
    let next = skip.saturating_add(max);
    if all.len() > next {
        let t = token::Token {
            stream: stream.to_string(),
            after: next.to_string(),
            extra: Value::Null,
            issued_millis: now,
        };
        out["NextToken"] = Value::String(token::encode("ListStreamConsumers", &t));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::{json, Value};

    const ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/s";

    #[test]
    fn consumers_register_describe_list_and_deregister() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 1);
        let reg = ok(
            &ctx,
            "RegisterStreamConsumer",
            json!({"StreamARN": ARN, "ConsumerName": "app", "Tags": {"team": "x"}}),
        );
        let c = &reg["Consumer"];
        assert_eq!(c["ConsumerName"], "app");
        assert_eq!(c["ConsumerStatus"], "ACTIVE");
        let arn = c["ConsumerARN"].as_str().unwrap().to_string();
        assert!(arn.starts_with(&format!("{ARN}/consumer/app:")), "{arn}");
        assert!(c["ConsumerCreationTimestamp"].as_f64().unwrap() > 1.6e9);
        assert!(c.get("StreamARN").is_none());
        assert_eq!(ctx.db.list_tags(&arn).unwrap()["team"], "x");

        let by_arn = ok(&ctx, "DescribeStreamConsumer", json!({"ConsumerARN": arn}));
        assert_eq!(by_arn["ConsumerDescription"]["StreamARN"], ARN);
        assert_eq!(by_arn["ConsumerDescription"]["ConsumerARN"], arn.as_str());
        let by_name = ok(
            &ctx,
            "DescribeStreamConsumer",
            json!({"StreamARN": ARN, "ConsumerName": "app"}),
        );
        assert_eq!(by_name, by_arn);
        let e = err(
            &ctx,
            "DescribeStreamConsumer",
            json!({"ConsumerName": "app"}),
        );
        assert_eq!(e.code, "InvalidArgumentException");

        let e = err(
            &ctx,
            "RegisterStreamConsumer",
            json!({"StreamARN": ARN, "ConsumerName": "app"}),
        );
        assert_eq!(e.code, "ResourceInUseException");
        let e = err(
            &ctx,
            "RegisterStreamConsumer",
            json!({"StreamARN": "s", "ConsumerName": "b"}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(&ctx, "RegisterStreamConsumer", json!({"ConsumerName": "b"}));
        assert_eq!(e.code, "ValidationException");
        assert!(e.message.contains("'streamARN'"), "{e}");

        let s = ok(&ctx, "DescribeStreamSummary", json!({"StreamName": "s"}));
        assert_eq!(s["StreamDescriptionSummary"]["ConsumerCount"], 1);
        let e = err(&ctx, "DeleteStream", json!({"StreamName": "s"}));
        assert_eq!(e.code, "ResourceInUseException");

        ok(
            &ctx,
            "DeregisterStreamConsumer",
            json!({"ConsumerARN": arn}),
        );
        assert!(ctx.db.list_tags(&arn).unwrap().is_empty());
        let e = err(&ctx, "DescribeStreamConsumer", json!({"ConsumerARN": arn}));
        assert_eq!(e.code, "ResourceNotFoundException");
        let list = ok(&ctx, "ListStreamConsumers", json!({"StreamARN": ARN}));
        assert_eq!(list, json!({"Consumers": []}));
    }

    #[test]
    fn list_stream_consumers_pages() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 1);
        for name in ["a", "b", "c"] {
            ok(
                &ctx,
                "RegisterStreamConsumer",
                json!({"StreamARN": ARN, "ConsumerName": name}),
            );
        }
        let names = |v: &Value| -> Vec<String> {
            v["Consumers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["ConsumerName"].as_str().unwrap().to_string())
                .collect()
        };
        let all = ok(&ctx, "ListStreamConsumers", json!({"StreamARN": ARN}));
        assert_eq!(names(&all), ["a", "b", "c"]);
        assert!(all.get("NextToken").is_none());
        let first = ok(
            &ctx,
            "ListStreamConsumers",
            json!({"StreamARN": ARN, "MaxResults": 2}),
        );
        assert_eq!(names(&first), ["a", "b"]);
        let token = first["NextToken"].as_str().unwrap();
        let rest = ok(
            &ctx,
            "ListStreamConsumers",
            json!({"StreamARN": ARN, "NextToken": token}),
        );
        assert_eq!(names(&rest), ["c"]);
        assert!(rest.get("NextToken").is_none());

        create(&ctx, "t", 1);
        let other = "arn:aws:kinesis:us-east-1:000000000000:stream/t";
        let e = err(
            &ctx,
            "ListStreamConsumers",
            json!({"StreamARN": other, "NextToken": token}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        let e = err(
            &ctx,
            "ListStreamConsumers",
            json!({"StreamARN": ARN, "NextToken": "x"}),
        );
        assert_eq!(e.code, "InvalidArgumentException");

        // Deleting with EnforceConsumerDeletion takes the consumers along.
        ok(
            &ctx,
            "DeleteStream",
            json!({"StreamName": "s", "EnforceConsumerDeletion": true}),
        );
        create(&ctx, "s", 1);
        let all = ok(&ctx, "ListStreamConsumers", json!({"StreamARN": ARN}));
        assert_eq!(all["Consumers"], json!([]));
    }
}
