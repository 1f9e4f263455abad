//! TransactWriteItems and TransactGetItems.

use eddy::{TransactGetItem, TransactWriteItem};
use serde_json::{json, Value};

use super::items::expression_attributes;
use super::{error, table_name, Out};
use crate::context::Context;
use crate::input::Input;
use crate::protocol::ApiError;

fn one_action<'a>(item: &Input<'a>, kinds: &[&str]) -> Result<(&'static str, Input<'a>), ApiError> {
    let mut found = None;
    for kind in ["Put", "Update", "Delete", "ConditionCheck", "Get"] {
        if !kinds.contains(&kind) {
            continue;
        }
        if let Some(action) = item.opt_object(kind)? {
            if found.is_some() {
                return Err(ApiError::validation(
                    "TransactItems can only contain one of Check, Put, Update or Delete",
                ));
            }
            found = Some((kind, action));
        }
    }
    found.ok_or_else(|| {
        ApiError::validation(format!(
            "Invalid Request: TransactItem must contain one of {}",
            kinds.join(", ")
        ))
    })
}

fn on_failure(action: &Input<'_>) -> Result<bool, ApiError> {
    Ok(
        action.opt_enum("ReturnValuesOnConditionCheckFailure", &["ALL_OLD", "NONE"])?
            == Some("ALL_OLD"),
    )
}

/// TransactWriteItems.
pub(crate) fn transact_write_items(ctx: &Context, input: Input<'_>) -> Out {
    input.opt_enum("ReturnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"])?;
    input.opt_enum("ReturnItemCollectionMetrics", &["SIZE", "NONE"])?;
    let items = input
        .opt_objects("TransactItems")?
        .ok_or_else(|| crate::input::missing("TransactItems"))?;
    let mut actions = Vec::with_capacity(items.len());
    for item in &items {
        let (kind, a) = one_action(item, &["ConditionCheck", "Put", "Delete", "Update"])?;
        let table_name = table_name(&a, "TableName")?.to_string();
        let attributes = expression_attributes(&a)?;
        let return_item_on_condition_failure = on_failure(&a)?;
        let condition_expression = a.opt_str("ConditionExpression")?.map(str::to_string);
        actions.push(match kind {
            "Put" => TransactWriteItem::Put {
                table_name,
                item: a.item("Item")?,
                condition_expression,
                attributes,
                return_item_on_condition_failure,
            },
            "Update" => TransactWriteItem::Update {
                table_name,
                key: a.item("Key")?,
                update_expression: a.str("UpdateExpression")?.to_string(),
                condition_expression,
                attributes,
                return_item_on_condition_failure,
            },
            "Delete" => TransactWriteItem::Delete {
                table_name,
                key: a.item("Key")?,
                condition_expression,
                attributes,
                return_item_on_condition_failure,
            },
            _ => TransactWriteItem::ConditionCheck {
                table_name,
                key: a.item("Key")?,
                condition_expression: a.str("ConditionExpression")?.to_string(),
                attributes,
                return_item_on_condition_failure,
            },
        });
    }
    let token = input.opt_str("ClientRequestToken")?;
    ctx.db.transact_write_items(actions, token).map_err(error)?;
    Ok(json!({}))
}

/// TransactGetItems.
pub(crate) fn transact_get_items(ctx: &Context, input: Input<'_>) -> Out {
    input.opt_enum("ReturnConsumedCapacity", &["TOTAL", "NONE"])?;
    let items = input
        .opt_objects("TransactItems")?
        .ok_or_else(|| crate::input::missing("TransactItems"))?;
    let mut gets = Vec::with_capacity(items.len());
    for item in &items {
        let (_, get) = one_action(item, &["Get"])?;
        gets.push(TransactGetItem {
            table_name: table_name(&get, "TableName")?.to_string(),
            key: get.item("Key")?,
            projection_expression: get.opt_str("ProjectionExpression")?.map(str::to_string),
            attributes: eddy::ExpressionAttributes {
                names: get.opt_string_map("ExpressionAttributeNames")?,
                values: None,
            },
        });
    }
    let found = ctx.db.transact_get_items(gets).map_err(error)?;
    let responses: Vec<Value> = found
        .into_iter()
        .map(|item| match item {
            Some(item) => json!({ "Item": item.to_json() }),
            None => json!({}),
        })
        .collect();
    Ok(json!({ "Responses": responses }))
}
