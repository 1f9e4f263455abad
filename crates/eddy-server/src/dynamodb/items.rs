//! PutItem, GetItem, UpdateItem and DeleteItem.
//!
//! Each maps onto the facade's typed request. The legacy parameters
//! (`Expected`, `AttributeUpdates`, `AttributesToGet`) are first rewritten
//! into the equivalent expressions by [`super::legacy`], so both forms take
//! the same path through the engine.

use eddy::{
    DeleteItemRequest, ExpressionAttributes, GetItemRequest, Item, PutItemRequest, ReturnValues,
    UpdateItemRequest,
};
use serde_json::{json, Map, Value};

use super::legacy::{self, Placeholders};
use super::{error, table_name, Out};
use crate::context::Context;
use crate::input::Input;
use crate::protocol::ApiError;

/// `ExpressionAttributeNames` and `ExpressionAttributeValues`.
pub(crate) fn expression_attributes(input: &Input<'_>) -> Result<ExpressionAttributes, ApiError> {
    Ok(ExpressionAttributes {
        names: input.opt_string_map("ExpressionAttributeNames")?,
        values: input.opt_values("ExpressionAttributeValues")?,
    })
}

/// Merges the placeholders generated for legacy parameters into the
/// request's (a request never has both: [`legacy::check_not_mixed`]).
pub(crate) fn with_generated(
    mut attributes: ExpressionAttributes,
    generated: Placeholders,
) -> ExpressionAttributes {
    let extra = generated.into_attributes();
    if let Some(names) = extra.names {
        attributes
            .names
            .get_or_insert_with(Default::default)
            .extend(names);
    }
    if let Some(values) = extra.values {
        attributes
            .values
            .get_or_insert_with(Default::default)
            .extend(values);
    }
    attributes
}

fn return_values(input: &Input<'_>) -> Result<ReturnValues, ApiError> {
    Ok(
        match input.opt_enum(
            "ReturnValues",
            &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
        )? {
            None | Some("NONE") => ReturnValues::None,
            Some("ALL_OLD") => ReturnValues::AllOld,
            Some("UPDATED_OLD") => ReturnValues::UpdatedOld,
            Some("ALL_NEW") => ReturnValues::AllNew,
            Some(_) => ReturnValues::UpdatedNew,
        },
    )
}

fn return_on_failure(input: &Input<'_>) -> Result<bool, ApiError> {
    Ok(
        input.opt_enum("ReturnValuesOnConditionCheckFailure", &["ALL_OLD", "NONE"])?
            == Some("ALL_OLD"),
    )
}

/// Checks the members every write accepts but eddy does not act on.
fn accepted_only(input: &Input<'_>) -> Result<(), ApiError> {
    input.opt_enum("ReturnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"])?;
    input.opt_enum("ReturnItemCollectionMetrics", &["SIZE", "NONE"])?;
    Ok(())
}

/// `{}` or `{"Attributes": item}`.
fn attributes_reply(item: Option<Item>) -> Value {
    let mut out = Map::new();
    if let Some(item) = item {
        out.insert("Attributes".into(), item.to_json());
    }
    Value::Object(out)
}

const CONDITION_LEGACY: &[&str] = &["Expected", "ConditionalOperator"];
const CONDITION_EXPR: &[&str] = &[
    "ConditionExpression",
    "ExpressionAttributeNames",
    "ExpressionAttributeValues",
];

/// The condition of a write: its `ConditionExpression`, or its `Expected`
/// rewritten.
fn condition(input: &Input<'_>, generated: &mut Placeholders) -> Result<Option<String>, ApiError> {
    match legacy::expected(input, generated)? {
        Some(c) => Ok(Some(c)),
        None => Ok(input.opt_str("ConditionExpression")?.map(str::to_string)),
    }
}

/// A PutItem request's typed form.
fn put_request(input: &Input<'_>) -> Result<PutItemRequest, ApiError> {
    accepted_only(input)?;
    legacy::check_not_mixed(input, CONDITION_LEGACY, CONDITION_EXPR)?;
    let mut generated = Placeholders::new();
    let condition_expression = condition(input, &mut generated)?;
    Ok(PutItemRequest {
        table_name: table_name(input, "TableName")?.to_string(),
        item: input.item("Item")?,
        condition_expression,
        attributes: with_generated(expression_attributes(input)?, generated),
        return_values: return_values(input)?,
        return_item_on_condition_failure: return_on_failure(input)?,
    })
}

/// A DeleteItem request's typed form.
fn delete_request(input: &Input<'_>) -> Result<DeleteItemRequest, ApiError> {
    accepted_only(input)?;
    legacy::check_not_mixed(input, CONDITION_LEGACY, CONDITION_EXPR)?;
    let mut generated = Placeholders::new();
    let condition_expression = condition(input, &mut generated)?;
    Ok(DeleteItemRequest {
        table_name: table_name(input, "TableName")?.to_string(),
        key: input.item("Key")?,
        condition_expression,
        attributes: with_generated(expression_attributes(input)?, generated),
        return_values: return_values(input)?,
        return_item_on_condition_failure: return_on_failure(input)?,
    })
}

/// A write builder with a request's condition, placeholders and return
/// values.
macro_rules! with_request {
    ($builder:expr, $request:expr) => {{
        let request = $request;
        let mut builder = $builder.returning(request.return_values);
        if let Some(condition) = request.condition_expression {
            builder = builder.condition(condition);
        }
        for (placeholder, name) in request.attributes.names.into_iter().flatten() {
            builder = builder.name(placeholder, name);
        }
        for (placeholder, value) in request.attributes.values.into_iter().flatten() {
            builder = builder.value(placeholder, value);
        }
        if request.return_item_on_condition_failure {
            builder = builder.old_item_on_condition_failure();
        }
        builder
    }};
}

/// PutItem, awaited: the request is evaluated on the calling task and its
/// answer comes from the change log once durable; no thread waits for it.
pub(crate) async fn put_item(ctx: &Context, input: Input<'_>) -> Out {
    let mut request = put_request(&input)?;
    let table = ctx.db.table(&request.table_name).map_err(error)?;
    let item = std::mem::take(&mut request.item);
    let old = with_request!(table.put(item), request)
        .await
        .map_err(error)?;
    Ok(attributes_reply(old))
}

/// DeleteItem, awaited, as [`put_item`].
pub(crate) async fn delete_item(ctx: &Context, input: Input<'_>) -> Out {
    let mut request = delete_request(&input)?;
    let table = ctx.db.table(&request.table_name).map_err(error)?;
    let key = std::mem::take(&mut request.key);
    let old = with_request!(table.delete(key), request)
        .await
        .map_err(error)?;
    Ok(attributes_reply(old))
}

/// UpdateItem.
pub(crate) fn update_item(ctx: &Context, input: Input<'_>) -> Out {
    accepted_only(&input)?;
    legacy::check_not_mixed(
        &input,
        &["Expected", "ConditionalOperator", "AttributeUpdates"],
        &[
            "ConditionExpression",
            "UpdateExpression",
            "ExpressionAttributeNames",
            "ExpressionAttributeValues",
        ],
    )?;
    let mut generated = Placeholders::new();
    let condition_expression = condition(&input, &mut generated)?;
    let update_expression = match legacy::attribute_updates(&input, &mut generated)? {
        Some(u) => Some(u),
        None => input.opt_str("UpdateExpression")?.map(str::to_string),
    };
    let request = UpdateItemRequest {
        table_name: table_name(&input, "TableName")?.to_string(),
        key: input.item("Key")?,
        update_expression,
        condition_expression,
        attributes: with_generated(expression_attributes(&input)?, generated),
        return_values: return_values(&input)?,
        return_item_on_condition_failure: return_on_failure(&input)?,
    };
    let returned = ctx.db.update_item_with(request).map_err(error)?;
    Ok(attributes_reply(returned))
}

/// The projection of a read: its `ProjectionExpression`, or its
/// `AttributesToGet` rewritten.
pub(crate) fn projection(
    input: &Input<'_>,
    generated: &mut Placeholders,
) -> Result<Option<String>, ApiError> {
    match legacy::attributes_to_get(input, generated)? {
        Some(p) => Ok(Some(p)),
        None => Ok(input.opt_str("ProjectionExpression")?.map(str::to_string)),
    }
}

/// GetItem.
pub(crate) fn get_item(ctx: &Context, input: Input<'_>) -> Out {
    input.opt_bool("ConsistentRead")?;
    input.opt_enum("ReturnConsumedCapacity", &["INDEXES", "TOTAL", "NONE"])?;
    legacy::check_not_mixed(
        &input,
        &["AttributesToGet"],
        &["ProjectionExpression", "ExpressionAttributeNames"],
    )?;
    let mut generated = Placeholders::new();
    let projection_expression = projection(&input, &mut generated)?;
    let request = GetItemRequest {
        table_name: table_name(&input, "TableName")?.to_string(),
        key: input.item("Key")?,
        projection_expression,
        attributes: with_generated(
            ExpressionAttributes {
                names: input.opt_string_map("ExpressionAttributeNames")?,
                values: None,
            },
            generated,
        ),
    };
    let item = ctx.db.get_item_with(request).map_err(error)?;
    Ok(match item {
        Some(item) => json!({ "Item": item.to_json() }),
        None => json!({}),
    })
}
