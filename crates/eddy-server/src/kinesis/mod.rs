//! The Kinesis Data Streams API (`Kinesis_20131202.*`, JSON 1.1 or CBOR).

use serde_json::Value;

use crate::context::Context;
use crate::protocol::{ApiError, Encoding, OpResult};

/// Runs one Kinesis operation.
pub(crate) fn handle(
    _ctx: &Context,
    operation: &str,
    _body: &Value,
    _encoding: Encoding,
) -> OpResult {
    Err(ApiError::new(
        "UnknownOperationException",
        format!("Unknown operation: {operation}"),
    ))
}
