//! BatchGetItem and BatchWriteItem.
//!
//! eddy reads every key and writes every request of a batch it accepts
//! (a batch write commits atomically, as one group of the change log), so
//! `UnprocessedItems` is always empty; `UnprocessedKeys` holds the keys
//! left once a BatchGetItem answer reaches 16 MB, as in DynamoDB.

use eddy::expr::{ExpressionContext, Projection};
use eddy::{Item, WriteRequest};
use serde_json::{json, Map, Value};

use super::items::projection;
use super::legacy::{self, Placeholders};
use super::{error, Out};
use crate::context::Context;
use crate::input::Input;
use crate::protocol::ApiError;

fn request_items<'a>(input: &Input<'a>) -> Result<&'a Map<String, Value>, ApiError> {
    match input.map().get("RequestItems") {
        Some(Value::Object(map)) => Ok(map),
        None | Some(Value::Null) => Err(crate::input::missing("RequestItems")),
        Some(_) => Err(ApiError::serialization(
            "Unexpected value type in payload: member 'RequestItems' must be a map",
        )),
    }
}

fn table_entry<'a>(table: &str, value: &'a Value) -> Result<Input<'a>, ApiError> {
    match value {
        Value::Object(_) => Input::new(value),
        _ => Err(ApiError::serialization(format!(
            "Unexpected value type in payload: RequestItems entry for {table} must be a structure"
        ))),
    }
}

/// One table's read: its keys and the parsed projection.
struct TableRead<'a> {
    name: String,
    keys: Vec<Item>,
    projection: Option<Projection>,
    entry: Input<'a>,
}

/// BatchGetItem.
pub(crate) fn batch_get_item(ctx: &Context, input: Input<'_>) -> Out {
    input.opt_enum("ReturnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"])?;
    let mut reads = Vec::new();
    for (table, value) in request_items(&input)? {
        let entry = table_entry(table, value)?;
        entry.opt_bool("ConsistentRead")?;
        legacy::check_not_mixed(
            &entry,
            &["AttributesToGet"],
            &["ProjectionExpression", "ExpressionAttributeNames"],
        )?;
        let mut keys = Vec::new();
        for key in entry.list("Keys")? {
            let key = Item::from_json(key).map_err(|e| ApiError::validation(e.to_string()))?;
            keys.push(key);
        }
        let mut generated = Placeholders::new();
        let text = projection(&entry, &mut generated)?;
        let generated = generated.into_attributes();
        let mut names = entry.opt_string_map("ExpressionAttributeNames")?;
        if let Some(extra) = generated.names {
            names.get_or_insert_with(Default::default).extend(extra);
        }
        let projection = match text {
            None => None,
            Some(text) => {
                let mut ectx = ExpressionContext::from_request(names, None)
                    .map_err(|e| ApiError::validation(e.message().to_string()))?;
                let p = Projection::parse(&text, &mut ectx)
                    .map_err(|e| ApiError::validation(e.message().to_string()))?;
                ectx.check_all_used()
                    .map_err(|e| ApiError::validation(e.message().to_string()))?;
                Some(p)
            }
        };
        reads.push(TableRead {
            name: super::strip_arn(table).to_string(),
            keys,
            projection,
            entry,
        });
    }
    let requests: Vec<(String, Vec<Item>)> = reads
        .iter()
        .map(|r| (r.name.clone(), r.keys.clone()))
        .collect();
    let out = ctx.db.batch_get_item(&requests).map_err(error)?;
    let mut responses = Map::new();
    for ((name, items), read) in out.responses.iter().zip(&reads) {
        let items: Vec<Value> = items
            .iter()
            .map(|i| match &read.projection {
                Some(p) => p.apply(i).to_json(),
                None => i.to_json(),
            })
            .collect();
        responses.insert(name.clone(), Value::Array(items));
    }
    let mut unprocessed = Map::new();
    for (name, keys) in &out.unprocessed_keys {
        // The unprocessed entry repeats the table's request with the keys
        // left, so a client can send it back as it is.
        let mut entry = reads
            .iter()
            .find(|r| &r.name == name)
            .map(|r| r.entry.map().clone())
            .unwrap_or_default();
        entry.insert(
            "Keys".into(),
            Value::Array(keys.iter().map(Item::to_json).collect()),
        );
        unprocessed.insert(name.clone(), Value::Object(entry));
    }
    Ok(json!({ "Responses": responses, "UnprocessedKeys": unprocessed }))
}

/// BatchWriteItem.
pub(crate) fn batch_write_item(ctx: &Context, input: Input<'_>) -> Out {
    input.opt_enum("ReturnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"])?;
    input.opt_enum("ReturnItemCollectionMetrics", &["SIZE", "NONE"])?;
    let mut requests = Vec::new();
    for (table, value) in request_items(&input)? {
        let Value::Array(list) = value else {
            return Err(ApiError::serialization(format!(
                "Unexpected value type in payload: RequestItems entry for {table} must be a list"
            )));
        };
        let name = super::strip_arn(table).to_string();
        for request in list {
            let request = Input::new(request)?;
            let put = request.opt_object("PutRequest")?;
            let delete = request.opt_object("DeleteRequest")?;
            let write = match (put, delete) {
                (Some(put), None) => WriteRequest::Put(put.item("Item")?),
                (None, Some(delete)) => WriteRequest::Delete(delete.item("Key")?),
                _ => {
                    return Err(ApiError::validation(
                        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes: a WriteRequest holds exactly one of PutRequest and DeleteRequest",
                    ))
                }
            };
            requests.push((name.clone(), write));
        }
    }
    ctx.db.batch_write_item(requests).map_err(error)?;
    Ok(json!({ "UnprocessedItems": {} }))
}
