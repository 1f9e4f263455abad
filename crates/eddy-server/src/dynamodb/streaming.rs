//! Time to Live and Kinesis streaming destinations: UpdateTimeToLive,
//! DescribeTimeToLive, and Enable-, Disable-, Describe- and
//! UpdateKinesisStreamingDestination.
//!
//! The destination rules (state machine, error messages) live in the
//! engine; this module maps the shapes of `aws-behaviour.md` §2.

use eddy::Precision;
use serde_json::{json, Map, Value};

use super::{error, table_name, Out};
use crate::context::Context;
use crate::input::{constraint, Input};
use crate::protocol::ApiError;

/// UpdateTimeToLive.
pub(crate) fn update_time_to_live(ctx: &Context, input: Input<'_>) -> Out {
    let table = table_name(&input, "TableName")?;
    let spec = input.object("TimeToLiveSpecification")?;
    let enabled = spec
        .opt_bool("Enabled")?
        .ok_or_else(|| crate::input::missing("TimeToLiveSpecification.Enabled"))?;
    let attribute = spec.str("AttributeName")?;
    ctx.db
        .update_time_to_live(table, attribute, enabled)
        .map_err(error)?;
    Ok(json!({
        "TimeToLiveSpecification": { "Enabled": enabled, "AttributeName": attribute }
    }))
}

/// DescribeTimeToLive.
pub(crate) fn describe_time_to_live(ctx: &Context, input: Input<'_>) -> Out {
    let table = table_name(&input, "TableName")?;
    let d = ctx.db.describe_time_to_live(table).map_err(error)?;
    let mut out = Map::new();
    out.insert("TimeToLiveStatus".into(), json!(d.status));
    if let Some(name) = d.attribute_name {
        out.insert("AttributeName".into(), json!(name));
    }
    Ok(json!({ "TimeToLiveDescription": out }))
}

/// The precision of an Enable or Update configuration member.
fn precision(input: &Input<'_>, member: &str) -> Result<Option<Precision>, ApiError> {
    let Some(config) = input.opt_object(member)? else {
        return Ok(None);
    };
    match config.opt_str("ApproximateCreationDateTimePrecision")? {
        None => Ok(None),
        Some(text) => Precision::parse(text).map(Some).ok_or_else(|| {
            constraint(
                &format!(
                    "{}.approximateCreationDateTimePrecision",
                    crate::input::camel(member)
                ),
                text,
                "Member must satisfy enum value set: [MILLISECOND, MICROSECOND]",
            )
        }),
    }
}

fn stream_arn<'a>(input: &Input<'a>) -> Result<&'a str, ApiError> {
    let arn = input.str("StreamArn")?;
    if !(37..=1024).contains(&arn.len()) {
        return Err(constraint(
            "StreamArn",
            arn,
            "Member must have length greater than or equal to 37",
        ));
    }
    Ok(arn)
}

fn change_reply(change: eddy::DestinationChange, config: Option<(&str, Value)>) -> Value {
    let mut out = Map::new();
    out.insert("TableName".into(), json!(change.table_name));
    out.insert("StreamArn".into(), json!(change.stream_arn));
    out.insert("DestinationStatus".into(), json!(change.status.as_str()));
    if let Some((member, value)) = config {
        out.insert(member.into(), value);
    }
    Value::Object(out)
}

fn config_json(precision: Option<Precision>) -> Value {
    match precision {
        Some(p) => json!({ "ApproximateCreationDateTimePrecision": p.as_str() }),
        None => json!({}),
    }
}

/// EnableKinesisStreamingDestination. AWS echoes the configuration, an
/// empty one when none was given.
pub(crate) fn enable_destination(ctx: &Context, input: Input<'_>) -> Out {
    let table = table_name(&input, "TableName")?;
    let arn = stream_arn(&input)?;
    let precision = precision(&input, "EnableKinesisStreamingConfiguration")?;
    let change = ctx
        .db
        .enable_kinesis_streaming_destination(table, arn, precision)
        .map_err(error)?;
    Ok(change_reply(
        change,
        Some((
            "EnableKinesisStreamingConfiguration",
            config_json(precision),
        )),
    ))
}

/// UpdateKinesisStreamingDestination.
pub(crate) fn update_destination(ctx: &Context, input: Input<'_>) -> Out {
    let table = table_name(&input, "TableName")?;
    let arn = stream_arn(&input)?;
    let precision = precision(&input, "UpdateKinesisStreamingConfiguration")?;
    let change = ctx
        .db
        .update_kinesis_streaming_destination(table, arn, precision)
        .map_err(error)?;
    Ok(change_reply(
        change,
        Some((
            "UpdateKinesisStreamingConfiguration",
            config_json(precision),
        )),
    ))
}

/// DisableKinesisStreamingDestination.
pub(crate) fn disable_destination(ctx: &Context, input: Input<'_>) -> Out {
    let table = table_name(&input, "TableName")?;
    let arn = stream_arn(&input)?;
    let change = ctx
        .db
        .disable_kinesis_streaming_destination(table, arn)
        .map_err(error)?;
    Ok(change_reply(change, None))
}

/// DescribeKinesisStreamingDestination.
pub(crate) fn describe_destination(ctx: &Context, input: Input<'_>) -> Out {
    let table = table_name(&input, "TableName")?;
    let list = ctx
        .db
        .describe_kinesis_streaming_destination(table)
        .map_err(error)?;
    let destinations: Vec<Value> = list
        .into_iter()
        .map(|d| {
            let mut out = Map::new();
            out.insert("StreamArn".into(), json!(d.stream_arn));
            out.insert("DestinationStatus".into(), json!(d.status.as_str()));
            if let Some(why) = d.status_description {
                out.insert("DestinationStatusDescription".into(), json!(why));
            }
            if let Some(p) = d.precision {
                out.insert(
                    "ApproximateCreationDateTimePrecision".into(),
                    json!(p.as_str()),
                );
            }
            Value::Object(out)
        })
        .collect();
    Ok(json!({ "TableName": table, "KinesisDataStreamDestinations": destinations }))
}
