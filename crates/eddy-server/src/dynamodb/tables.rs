//! The control plane: CreateTable, DeleteTable, DescribeTable, ListTables,
//! UpdateTable, DescribeEndpoints and DescribeLimits.
//!
//! eddy creates, alters and deletes tables synchronously, so a created
//! table answers `ACTIVE` at once (clients that wait for ACTIVE return
//! immediately). Capacity settings are accepted, validated, kept and shown
//! as DynamoDB shows them; eddy does not throttle by them.

use std::collections::BTreeMap;

use eddy::IndexKind;
use serde_json::json;

use super::shapes::{attribute_definitions, index, key_schema, table_description};
use super::{error, table_name, Out};
use crate::context::Context;
use crate::input::{constraint, Input};
use crate::protocol::ApiError;

fn settings_from(
    input: &Input<'_>,
    mut settings: BTreeMap<String, String>,
    creating: bool,
) -> Result<BTreeMap<String, String>, ApiError> {
    let billing = input.opt_enum("BillingMode", &["PROVISIONED", "PAY_PER_REQUEST"])?;
    let mode = billing
        .map(str::to_string)
        .or_else(|| settings.get("BillingMode").cloned())
        .unwrap_or_else(|| "PROVISIONED".into());
    let throughput = input.opt_object("ProvisionedThroughput")?;
    match (mode.as_str(), throughput) {
        ("PROVISIONED", Some(t)) => {
            for member in ["ReadCapacityUnits", "WriteCapacityUnits"] {
                let units = t.i64(member)?;
                if units < 1 {
                    return Err(constraint(
                        member,
                        &units.to_string(),
                        "Member must have value greater than or equal to 1",
                    ));
                }
                settings.insert(member.into(), units.to_string());
            }
        }
        ("PROVISIONED", None)
            if (creating || billing.is_some()) && !settings.contains_key("ReadCapacityUnits") =>
        {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
            ));
        }
        ("PAY_PER_REQUEST", Some(_)) => {
            return Err(ApiError::validation(
                "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
            ))
        }
        ("PAY_PER_REQUEST", None) => {
            settings.remove("ReadCapacityUnits");
            settings.remove("WriteCapacityUnits");
        }
        _ => {}
    }
    settings.insert("BillingMode".into(), mode);
    if let Some(protect) = input.opt_bool("DeletionProtectionEnabled")? {
        settings.insert("DeletionProtectionEnabled".into(), protect.to_string());
    }
    refuse_dynamodb_streams(input)?;
    Ok(settings)
}

/// eddy streams changes through Kinesis streaming destinations, not
/// DynamoDB Streams; enabling the latter is refused rather than ignored.
fn refuse_dynamodb_streams(input: &Input<'_>) -> Result<(), ApiError> {
    if let Some(spec) = input.opt_object("StreamSpecification")? {
        if spec.opt_bool("StreamEnabled")? == Some(true) {
            return Err(ApiError::validation(
                "eddy does not implement DynamoDB Streams; stream a table's changes with EnableKinesisStreamingDestination instead",
            ));
        }
    }
    Ok(())
}

fn index_throughput(
    input: &Input<'_>,
    index: &str,
    settings: &mut BTreeMap<String, String>,
) -> Result<(), ApiError> {
    let provisioned = settings.get("BillingMode").map(String::as_str) != Some("PAY_PER_REQUEST");
    match (provisioned, input.opt_object("ProvisionedThroughput")?) {
        (true, Some(t)) => {
            for member in ["ReadCapacityUnits", "WriteCapacityUnits"] {
                settings.insert(format!("index/{index}/{member}"), t.i64(member)?.to_string());
            }
            Ok(())
        }
        (true, None) => Err(ApiError::validation(format!(
            "One or more parameter values were invalid: ProvisionedThroughput must be specified for index: {index}"
        ))),
        (false, Some(_)) => Err(ApiError::validation(
            "One or more parameter values were invalid: ProvisionedThroughput should not be specified for index when BillingMode is PAY_PER_REQUEST",
        )),
        (false, None) => Ok(()),
    }
}

/// CreateTable.
pub(crate) fn create_table(ctx: &Context, input: Input<'_>) -> Out {
    let name = input.str("TableName")?;
    let definitions = attribute_definitions(&input)?;
    let mut used = Vec::new();
    let schema = key_schema(&input, "KeySchema", &definitions, &mut used)?;
    let mut settings = settings_from(&input, BTreeMap::new(), true)?;
    let mut indexes = Vec::new();
    for declared in input
        .opt_objects("LocalSecondaryIndexes")?
        .unwrap_or_default()
    {
        indexes.push(index(&declared, IndexKind::Local, &definitions, &mut used)?);
    }
    for declared in input
        .opt_objects("GlobalSecondaryIndexes")?
        .unwrap_or_default()
    {
        let def = index(&declared, IndexKind::Global, &definitions, &mut used)?;
        index_throughput(&declared, &def.name, &mut settings)?;
        indexes.push(def);
    }
    let unused: Vec<&String> = definitions.keys().filter(|d| !used.contains(d)).collect();
    if !unused.is_empty() {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ));
    }
    let tags = tags_of(&input)?;
    let created = ctx
        .db
        .create_table_with_indexes(name, schema, indexes)
        .map_err(error)?;
    ctx.db.set_table_settings(name, &settings).map_err(error)?;
    if !tags.is_empty() {
        ctx.db
            .tag_resource(&ctx.table_arn(name), tags)
            .map_err(error)?;
    }
    Ok(json!({ "TableDescription": table_description(ctx, &created, &settings) }))
}

fn tags_of(input: &Input<'_>) -> Result<BTreeMap<String, String>, ApiError> {
    super::tags::parse_tags(input, "Tags")
}

/// DeleteTable.
pub(crate) fn delete_table(ctx: &Context, input: Input<'_>) -> Out {
    let name = table_name(&input, "TableName")?;
    let settings = ctx.db.table_settings(name).map_err(error)?;
    if settings
        .get("DeletionProtectionEnabled")
        .map(String::as_str)
        == Some("true")
    {
        return Err(ApiError::validation(format!(
            "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first. Table: {name}"
        )));
    }
    let description = ctx.db.delete_table(name).map_err(error)?;
    Ok(json!({ "TableDescription": table_description(ctx, &description, &settings) }))
}

/// DescribeTable.
pub(crate) fn describe_table(ctx: &Context, input: Input<'_>) -> Out {
    let name = table_name(&input, "TableName")?;
    let description = ctx.db.describe_table(name).map_err(error)?;
    let settings = ctx.db.table_settings(name).map_err(error)?;
    Ok(json!({ "Table": table_description(ctx, &description, &settings) }))
}

/// ListTables.
pub(crate) fn list_tables(ctx: &Context, input: Input<'_>) -> Out {
    let start = input.opt_str("ExclusiveStartTableName")?;
    let limit = match input.opt_i64("Limit")? {
        None => None,
        Some(n) if (1..=100).contains(&n) => Some(n as usize),
        Some(n) => {
            return Err(constraint(
                "Limit",
                &n.to_string(),
                "Member must have value less than or equal to 100",
            ))
        }
    };
    let page = ctx.db.list_tables_page(start, limit).map_err(error)?;
    let mut out = json!({ "TableNames": page.names });
    if let Some(last) = page.last_evaluated_table_name {
        out["LastEvaluatedTableName"] = json!(last);
    }
    Ok(out)
}

/// UpdateTable: capacity settings, deletion protection, and creating or
/// deleting one global secondary index (backfilled before this returns).
pub(crate) fn update_table(ctx: &Context, input: Input<'_>) -> Out {
    let name = table_name(&input, "TableName")?;
    // Fails with ResourceNotFoundException for a missing table.
    let current = ctx.db.table_settings(name).map_err(error)?;
    let mut settings = settings_from(&input, current, false)?;
    let updates = input
        .opt_objects("GlobalSecondaryIndexUpdates")?
        .unwrap_or_default();
    let structural = updates
        .iter()
        .filter(|u| u.has("Create") || u.has("Delete"))
        .count();
    if structural > 1 {
        return Err(ApiError::new(
            "LimitExceededException",
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
        ));
    }
    let definitions = attribute_definitions(&input)?;
    let mut description = None;
    for update in &updates {
        if let Some(create) = update.opt_object("Create")? {
            let def = index(&create, IndexKind::Global, &definitions, &mut Vec::new())?;
            index_throughput(&create, &def.name, &mut settings)?;
            description = Some(
                ctx.db
                    .add_global_secondary_index(name, def)
                    .map_err(error)?,
            );
        } else if let Some(delete) = update.opt_object("Delete")? {
            let index_name = delete.str("IndexName")?;
            description = Some(
                ctx.db
                    .remove_global_secondary_index(name, index_name)
                    .map_err(error)?,
            );
            let prefix = format!("index/{index_name}/");
            settings.retain(|k, _| !k.starts_with(&prefix));
        } else if let Some(change) = update.opt_object("Update")? {
            let index_name = change.str("IndexName")?;
            let table = ctx.db.describe_table(name).map_err(error)?;
            if !table.def.indexes.iter().any(|i| i.name == index_name) {
                return Err(ApiError::not_found(format!(
                    "Requested resource not found: Index: {index_name} not found for table: {name}"
                )));
            }
            index_throughput(&change, index_name, &mut settings)?;
        }
    }
    ctx.db.set_table_settings(name, &settings).map_err(error)?;
    let description = match description {
        Some(d) => d,
        None => ctx.db.describe_table(name).map_err(error)?,
    };
    Ok(json!({ "TableDescription": table_description(ctx, &description, &settings) }))
}

/// DescribeEndpoints: this server, cached for a day.
pub(crate) fn describe_endpoints(ctx: &Context) -> Out {
    Ok(json!({
        "Endpoints": [{ "Address": &*ctx.endpoint, "CachePeriodInMinutes": 1440 }]
    }))
}

/// DescribeLimits: DynamoDB's default account and table quotas.
pub(crate) fn describe_limits() -> Out {
    Ok(json!({
        "AccountMaxReadCapacityUnits": 80000,
        "AccountMaxWriteCapacityUnits": 80000,
        "TableMaxReadCapacityUnits": 40000,
        "TableMaxWriteCapacityUnits": 40000,
    }))
}
