//! Query and Scan, on tables and on secondary indexes.

use eddy::{QueryOutput, QueryRequest, ScanRequest, Select};
use serde_json::{json, Value};

use super::items::{expression_attributes, projection, with_generated};
use super::legacy::{self, Placeholders};
use super::{error, table_name, Out};
use crate::context::Context;
use crate::input::{constraint, Input};
use crate::protocol::ApiError;

const SELECTS: &[&str] = &[
    "ALL_ATTRIBUTES",
    "ALL_PROJECTED_ATTRIBUTES",
    "SPECIFIC_ATTRIBUTES",
    "COUNT",
];

/// `Select`, defaulting as DynamoDB does: the projection's attributes when
/// one is given, else whole items (or whatever an index projects).
fn select(
    input: &Input<'_>,
    index: Option<&str>,
    has_projection: bool,
) -> Result<Select, ApiError> {
    Ok(match input.opt_enum("Select", SELECTS)? {
        None if has_projection => Select::SpecificAttributes,
        // DynamoDB's default: the whole item from a table, what an index
        // projects from an index.
        None if index.is_some() => Select::AllProjectedAttributes,
        None | Some("ALL_ATTRIBUTES") => Select::AllAttributes,
        Some("ALL_PROJECTED_ATTRIBUTES") => {
            if index.is_none() {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is only valid when querying or scanning an index",
                ));
            }
            if has_projection {
                return Err(ApiError::validation(
                    "One or more parameter values were invalid: Cannot specify the ProjectionExpression when choosing to get ALL_PROJECTED_ATTRIBUTES",
                ));
            }
            Select::AllProjectedAttributes
        }
        Some("SPECIFIC_ATTRIBUTES") => Select::SpecificAttributes,
        Some(_) => Select::Count,
    })
}

fn limit(input: &Input<'_>) -> Result<Option<usize>, ApiError> {
    match input.opt_i64("Limit")? {
        None => Ok(None),
        Some(n) if n >= 1 => Ok(Some(n as usize)),
        Some(n) => Err(constraint(
            "Limit",
            &n.to_string(),
            "Member must have value greater than or equal to 1",
        )),
    }
}

/// Global indexes have no strongly consistent reads.
fn check_consistent_read(ctx: &Context, input: &Input<'_>, table: &str) -> Result<(), ApiError> {
    let Some(index) = input.opt_str("IndexName")? else {
        input.opt_bool("ConsistentRead")?;
        return Ok(());
    };
    if input.opt_bool("ConsistentRead")? == Some(true) {
        let description = ctx.db.describe_table(table).map_err(error)?;
        let global = description
            .def
            .indexes
            .iter()
            .any(|i| i.name == index && i.kind == eddy::IndexKind::Global);
        if global {
            return Err(ApiError::validation(
                "Consistent reads are not supported on global secondary indexes",
            ));
        }
    }
    Ok(())
}

fn output(out: QueryOutput, select: Select) -> Value {
    let mut reply = json!({ "Count": out.count, "ScannedCount": out.scanned_count });
    if select != Select::Count {
        reply["Items"] = Value::Array(out.items.iter().map(|i| i.to_json()).collect());
    }
    if let Some(key) = out.last_evaluated_key {
        reply["LastEvaluatedKey"] = key.to_json();
    }
    reply
}

/// The filter of a read: its `FilterExpression`, or its legacy filter
/// (`QueryFilter`/`ScanFilter`) rewritten.
fn filter(
    input: &Input<'_>,
    member: &str,
    generated: &mut Placeholders,
) -> Result<Option<String>, ApiError> {
    match legacy::filter(input, member, generated)? {
        Some(f) => Ok(Some(f)),
        None => Ok(input.opt_str("FilterExpression")?.map(str::to_string)),
    }
}

/// Query.
pub(crate) fn query(ctx: &Context, input: Input<'_>) -> Out {
    legacy::check_not_mixed(
        &input,
        &[
            "KeyConditions",
            "QueryFilter",
            "AttributesToGet",
            "ConditionalOperator",
        ],
        &[
            "KeyConditionExpression",
            "FilterExpression",
            "ProjectionExpression",
            "ExpressionAttributeNames",
            "ExpressionAttributeValues",
        ],
    )?;
    input.opt_enum("ReturnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"])?;
    let table = table_name(&input, "TableName")?;
    check_consistent_read(ctx, &input, table)?;
    let index_name = input.opt_str("IndexName")?;
    let mut generated = Placeholders::new();
    let key_condition = match legacy::key_conditions(&input, &mut generated)? {
        Some(k) => k,
        None => input
            .opt_str("KeyConditionExpression")?
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::validation(
                    "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
                )
            })?,
    };
    let filter_expression = filter(&input, "QueryFilter", &mut generated)?;
    let projection_expression = projection(&input, &mut generated)?;
    let select = select(&input, index_name, projection_expression.is_some())?;
    let request = QueryRequest {
        table_name: table.to_string(),
        index_name: index_name.map(str::to_string),
        key_condition_expression: key_condition,
        filter_expression,
        projection_expression,
        attributes: with_generated(expression_attributes(&input)?, generated),
        limit: limit(&input)?,
        exclusive_start_key: input.opt_item("ExclusiveStartKey")?,
        descending: input.opt_bool("ScanIndexForward")? == Some(false),
        select,
    };
    let out = ctx.db.query_with(request).map_err(error)?;
    Ok(output(out, select))
}

/// Scan, including parallel scans (`Segment`/`TotalSegments`).
pub(crate) fn scan(ctx: &Context, input: Input<'_>) -> Out {
    legacy::check_not_mixed(
        &input,
        &["ScanFilter", "AttributesToGet", "ConditionalOperator"],
        &[
            "FilterExpression",
            "ProjectionExpression",
            "ExpressionAttributeNames",
            "ExpressionAttributeValues",
        ],
    )?;
    input.opt_enum("ReturnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"])?;
    let table = table_name(&input, "TableName")?;
    check_consistent_read(ctx, &input, table)?;
    let index_name = input.opt_str("IndexName")?;
    let segment = match (input.opt_i64("Segment")?, input.opt_i64("TotalSegments")?) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(ApiError::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ))
        }
        (Some(s), Some(t)) => {
            if !(1..=1_000_000).contains(&t) {
                return Err(constraint(
                    "TotalSegments",
                    &t.to_string(),
                    "Member must have value less than or equal to 1000000",
                ));
            }
            if s < 0 {
                return Err(constraint(
                    "Segment",
                    &s.to_string(),
                    "Member must have value greater than or equal to 0",
                ));
            }
            Some((s.min(i64::from(u32::MAX)) as u32, t as u32))
        }
    };
    let mut generated = Placeholders::new();
    let filter_expression = filter(&input, "ScanFilter", &mut generated)?;
    let projection_expression = projection(&input, &mut generated)?;
    let select = select(&input, index_name, projection_expression.is_some())?;
    let request = ScanRequest {
        table_name: table.to_string(),
        index_name: index_name.map(str::to_string),
        filter_expression,
        projection_expression,
        attributes: with_generated(expression_attributes(&input)?, generated),
        limit: limit(&input)?,
        exclusive_start_key: input.opt_item("ExclusiveStartKey")?,
        select,
        segment,
    };
    let out = ctx.db.scan_with(request).map_err(error)?;
    Ok(output(out, select))
}
