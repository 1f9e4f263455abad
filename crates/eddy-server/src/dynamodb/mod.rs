//! The DynamoDB API (`DynamoDB_20120810.*`, JSON 1.0) mapped onto the
//! facade's typed requests.
//!
//! Each submodule takes one family of operations: `tables` the control
//! plane, `items` single-item reads and writes, `query` Query and Scan,
//! `batch` and `transact` the multi-item operations, `streaming` TTL and
//! the Kinesis streaming destinations, `tags` tagging. `legacy` translates
//! the pre-expression parameters (`Expected`, `AttributeUpdates`,
//! `KeyConditions`, ...) that the Kinesis Client Library still sends into
//! expressions, so each operation has one code path.

mod batch;
mod items;
mod legacy;
mod query;
mod shapes;
mod streaming;
mod tables;
mod tags;
mod transact;

use serde_json::Value;

use crate::context::Context;
use crate::input::Input;
use crate::protocol::{ApiError, OpResult, Reply, Service};

/// Whether `operation` runs as a task of its own ([`handle_async`]) rather
/// than on the blocking pool: the writes whose answer the change log
/// delivers once durable, so no thread waits on their fsync.
pub(crate) fn is_async(operation: &str) -> bool {
    matches!(operation, "PutItem" | "DeleteItem")
}

/// Runs one of the [`is_async`] operations.
pub(crate) async fn handle_async(ctx: &Context, operation: &str, body: &Value) -> OpResult {
    let input = Input::new(body)?;
    let out = match operation {
        "PutItem" => items::put_item(ctx, input).await,
        "DeleteItem" => items::delete_item(ctx, input).await,
        _ => Err(ApiError::internal(
            Service::DynamoDb,
            format!("{operation} does not run as a task"),
        )),
    }
    .map_err(|e| data_plane_message(operation, e))?;
    Ok(Reply::Body(out))
}

/// Runs one DynamoDB operation.
pub(crate) fn handle(ctx: &Context, operation: &str, body: &Value) -> OpResult {
    let input = Input::new(body)?;
    let out = match operation {
        "CreateTable" => tables::create_table(ctx, input),
        "DeleteTable" => tables::delete_table(ctx, input),
        "DescribeTable" => tables::describe_table(ctx, input),
        "ListTables" => tables::list_tables(ctx, input),
        "UpdateTable" => tables::update_table(ctx, input),
        "DescribeEndpoints" => tables::describe_endpoints(ctx),
        "DescribeLimits" => tables::describe_limits(),
        "GetItem" => items::get_item(ctx, input),
        "UpdateItem" => items::update_item(ctx, input),
        "Query" => query::query(ctx, input),
        "Scan" => query::scan(ctx, input),
        "BatchGetItem" => batch::batch_get_item(ctx, input),
        "BatchWriteItem" => batch::batch_write_item(ctx, input),
        "TransactWriteItems" => transact::transact_write_items(ctx, input),
        "TransactGetItems" => transact::transact_get_items(ctx, input),
        "UpdateTimeToLive" => streaming::update_time_to_live(ctx, input),
        "DescribeTimeToLive" => streaming::describe_time_to_live(ctx, input),
        "EnableKinesisStreamingDestination" => streaming::enable_destination(ctx, input),
        "DisableKinesisStreamingDestination" => streaming::disable_destination(ctx, input),
        "DescribeKinesisStreamingDestination" => streaming::describe_destination(ctx, input),
        "UpdateKinesisStreamingDestination" => streaming::update_destination(ctx, input),
        "TagResource" => tags::tag_resource(ctx, input),
        "UntagResource" => tags::untag_resource(ctx, input),
        "ListTagsOfResource" => tags::list_tags_of_resource(ctx, input),
        _ => {
            return Err(ApiError::new(
                "UnknownOperationException",
                format!("Unknown operation: {operation}"),
            ))
        }
    }
    .map_err(|e| data_plane_message(operation, e))?;
    Ok(Reply::Body(out))
}

/// The data plane words two errors more briefly than the control plane:
/// a missing table is just `Requested resource not found`, and a key of the
/// wrong shape `The provided key element does not match the schema`.
fn data_plane_message(operation: &str, mut e: ApiError) -> ApiError {
    const DATA_PLANE: &[&str] = &[
        "PutItem",
        "GetItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
    ];
    if !DATA_PLANE.contains(&operation) {
        return e;
    }
    if e.code == "ResourceNotFoundException"
        && e.message
            .starts_with("Requested resource not found: Table:")
    {
        e.message = "Requested resource not found".into();
    }
    const INVALID: &str = "One or more parameter values were invalid: ";
    if e.code == "ValidationException" {
        if let Some(rest) = e.message.strip_prefix(INVALID) {
            if rest == "The provided key element does not match the schema" {
                e.message = rest.to_string();
            }
        }
    }
    e
}

/// The result of a DynamoDB operation's body.
pub(crate) type Out = Result<Value, ApiError>;

/// Maps the facade's errors onto DynamoDB's wire errors.
pub(crate) fn error(e: eddy::Error) -> ApiError {
    use eddy::Error as E;
    match e {
        E::ConditionalCheckFailed { item } => {
            let err = ApiError::new(
                "ConditionalCheckFailedException",
                "The conditional request failed",
            );
            match item {
                Some(item) => err.with("Item", item.to_json()),
                None => err,
            }
        }
        E::TransactionCanceled { ref reasons } => {
            let list: Vec<Value> = reasons
                .iter()
                .map(|r| {
                    let mut m = serde_json::Map::new();
                    m.insert("Code".into(), Value::String(r.code.clone()));
                    if let Some(msg) = &r.message {
                        m.insert("Message".into(), Value::String(msg.clone()));
                    }
                    if let Some(item) = &r.item {
                        m.insert("Item".into(), item.to_json());
                    }
                    Value::Object(m)
                })
                .collect();
            ApiError::new("TransactionCanceledException", e.to_string())
                .with("CancellationReasons", Value::Array(list))
        }
        E::Validation(message) => ApiError::new("ValidationException", message),
        E::IdempotentParameterMismatch(message) => {
            ApiError::new("IdempotentParameterMismatchException", message)
        }
        E::TableNotFound(_) => ApiError::new("ResourceNotFoundException", e.to_string()),
        E::TableExists(_) => ApiError::new("ResourceInUseException", e.to_string()),
        E::Stream(ref s) if !s.is_internal() => ApiError::new(s.aws_error_name(), e.to_string()),
        // Faults of this server, not of the request: the whole chain, for
        // whoever reads the 500.
        other => ApiError::internal(Service::DynamoDb, eddy::error_chain(&other)),
    }
}

/// A table name (or table ARN, which DynamoDB also accepts) from `member`.
pub(crate) fn table_name<'a>(input: &Input<'a>, member: &str) -> Result<&'a str, ApiError> {
    Ok(strip_arn(input.str(member)?))
}

/// The table name of a table ARN (`arn:aws:dynamodb:…:table/orders`), or
/// the name itself.
pub(crate) fn strip_arn(name: &str) -> &str {
    match name.strip_prefix("arn:") {
        Some(_) => name.rsplit_once(":table/").map_or(name, |(_, t)| t),
        None => name,
    }
}
