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

mod legacy;

use serde_json::Value;

use crate::context::Context;
use crate::input::Input;
use crate::protocol::{ApiError, OpResult, Reply, Service};

/// Runs one DynamoDB operation.
pub(crate) fn handle(ctx: &Context, operation: &str, body: &Value) -> OpResult {
    let input = Input::new(body)?;
    let out = match operation {
        "DescribeLimits" => Out::Ok(
            serde_json::json!({"AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000, "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000}),
        ),
        _ => {
            return Err(ApiError::new(
                "UnknownOperationException",
                format!("Unknown operation: {operation}"),
            ))
        }
    }?;
    Ok(Reply::Body(out))
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
        E::Stream(ref s) if s.is_internal() => ApiError::internal(Service::DynamoDb, e.to_string()),
        ref other => {
            let name = other.aws_error_name();
            if name == "InternalServerError" {
                ApiError::internal(Service::DynamoDb, other.to_string())
            } else {
                ApiError::new(name, other.to_string())
            }
        }
    }
}

/// A table name (or table ARN, which DynamoDB also accepts) from `member`.
pub(crate) fn table_name<'a>(input: &Input<'a>, member: &str) -> Result<&'a str, ApiError> {
    let name = input.str(member)?;
    Ok(match name.strip_prefix("arn:") {
        Some(_) => name.rsplit_once(":table/").map_or(name, |(_, t)| t),
        None => name,
    })
}
