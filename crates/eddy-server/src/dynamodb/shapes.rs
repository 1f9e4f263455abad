//! DynamoDB's control-plane shapes: key schemas, attribute definitions,
//! index declarations and the TableDescription every table call answers
//! with.

use std::collections::BTreeMap;

use eddy::{IndexDef, IndexKind, IndexProjection, KeySchema, KeyType, TableDescription};
use serde_json::{json, Map, Value};

use crate::context::Context;
use crate::input::{constraint, Input};
use crate::protocol::ApiError;

/// `AttributeDefinitions` as name → type.
pub(crate) fn attribute_definitions(
    input: &Input<'_>,
) -> Result<BTreeMap<String, KeyType>, ApiError> {
    let mut out = BTreeMap::new();
    for def in input
        .opt_objects("AttributeDefinitions")?
        .unwrap_or_default()
    {
        let name = def.str("AttributeName")?;
        let tag = def.str("AttributeType")?;
        let key_type = match tag {
            "S" => KeyType::S,
            "N" => KeyType::N,
            "B" => KeyType::B,
            other => {
                return Err(constraint(
                    "attributeType",
                    other,
                    "Member must satisfy enum value set: [B, N, S]",
                ))
            }
        };
        if out.insert(name.to_string(), key_type).is_some() {
            return Err(ApiError::validation(format!(
                "Cannot have two attributes with the same name: {name}"
            )));
        }
    }
    Ok(out)
}

/// A `KeySchema` list (`HASH` first, optional `RANGE`), typed from the
/// attribute definitions.
pub(crate) fn key_schema(
    input: &Input<'_>,
    member: &str,
    definitions: &BTreeMap<String, KeyType>,
    used: &mut Vec<String>,
) -> Result<KeySchema, ApiError> {
    let elements = input
        .opt_objects(member)?
        .ok_or_else(|| crate::input::missing(member))?;
    let mut hash = None;
    let mut range = None;
    for e in &elements {
        let name = e.str("AttributeName")?;
        let role = e
            .opt_enum("KeyType", &["HASH", "RANGE"])?
            .ok_or_else(|| crate::input::missing("KeyType"))?;
        let slot = if role == "HASH" {
            &mut hash
        } else {
            &mut range
        };
        if slot.is_some() || elements.len() > 2 {
            return Err(ApiError::validation(format!(
                "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length less than or equal to 2, with one HASH key and at most one RANGE key",
                crate::input::camel(member)
            )));
        }
        *slot = Some(name);
    }
    let hash = hash.ok_or_else(|| {
        ApiError::validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    })?;
    let typed = |name: &str| -> Result<KeyType, ApiError> {
        definitions.get(name).copied().ok_or_else(|| {
            ApiError::validation(format!(
                "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
                elements
                    .iter()
                    .filter_map(|e| e.opt_str("AttributeName").ok().flatten())
                    .collect::<Vec<_>>()
                    .join(", "),
                definitions.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    };
    let mut schema = KeySchema::new(hash, typed(hash)?);
    used.push(hash.to_string());
    if let Some(range) = range {
        schema = schema.with_sort_key(range, typed(range)?);
        used.push(range.to_string());
    }
    Ok(schema)
}

/// A `Projection` structure.
pub(crate) fn projection(input: &Input<'_>) -> Result<IndexProjection, ApiError> {
    let p = input.object("Projection")?;
    let kind = p
        .opt_enum("ProjectionType", &["ALL", "KEYS_ONLY", "INCLUDE"])?
        .unwrap_or("ALL");
    let non_key = p.opt_strings("NonKeyAttributes")?;
    match (kind, non_key) {
        ("INCLUDE", Some(names)) if !names.is_empty() => Ok(IndexProjection::Include(
            names.into_iter().map(str::to_string).collect(),
        )),
        ("INCLUDE", _) => Err(ApiError::validation(
            "One or more parameter values were invalid: ProjectionType is INCLUDE, but NonKeyAttributes is not specified or is empty",
        )),
        (_, Some(_)) => Err(ApiError::validation(format!(
            "One or more parameter values were invalid: ProjectionType is {kind}, but NonKeyAttributes is specified"
        ))),
        ("KEYS_ONLY", None) => Ok(IndexProjection::KeysOnly),
        _ => Ok(IndexProjection::All),
    }
}

/// One index declaration of CreateTable or UpdateTable.
pub(crate) fn index(
    input: &Input<'_>,
    kind: IndexKind,
    definitions: &BTreeMap<String, KeyType>,
    used: &mut Vec<String>,
) -> Result<IndexDef, ApiError> {
    let name = input.str("IndexName")?;
    let schema = key_schema(input, "KeySchema", definitions, used)?;
    let def = match kind {
        IndexKind::Global => IndexDef::global(name, schema),
        IndexKind::Local => IndexDef::local(name, schema),
    };
    Ok(def.with_projection(projection(input)?))
}

fn key_schema_json(schema: &KeySchema) -> Value {
    let mut out = vec![json!({"AttributeName": schema.partition.name, "KeyType": "HASH"})];
    if let Some(sort) = &schema.sort {
        out.push(json!({"AttributeName": sort.name, "KeyType": "RANGE"}));
    }
    Value::Array(out)
}

fn projection_json(p: &IndexProjection) -> Value {
    match p {
        IndexProjection::All => json!({"ProjectionType": "ALL"}),
        IndexProjection::KeysOnly => json!({"ProjectionType": "KEYS_ONLY"}),
        IndexProjection::Include(names) => {
            json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": names})
        }
    }
}

/// Epoch seconds with a fraction, as DynamoDB's JSON timestamps are.
pub(crate) fn seconds(micros: u64) -> Value {
    json!((micros / 1000) as f64 / 1000.0)
}

/// The `ProvisionedThroughput` of a description from the stored settings
/// (zero capacity for on-demand tables, as DynamoDB shows them).
fn throughput_json(settings: &BTreeMap<String, String>, prefix: &str) -> Value {
    let get = |k: &str| -> u64 {
        settings
            .get(&format!("{prefix}{k}"))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    json!({
        "NumberOfDecreasesToday": 0,
        "ReadCapacityUnits": get("ReadCapacityUnits"),
        "WriteCapacityUnits": get("WriteCapacityUnits"),
    })
}

/// A stable UUID-shaped table id derived from the table's catalog id.
fn table_id(id: u64, created_micros: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (created_micros >> 32) as u32,
        (created_micros >> 16) as u16,
        (created_micros & 0xfff) as u16,
        (id >> 48) as u16 & 0xfff,
        id & 0xffff_ffff_ffff
    )
}

/// A `TableDescription`.
pub(crate) fn table_description(
    ctx: &Context,
    d: &TableDescription,
    settings: &BTreeMap<String, String>,
) -> Value {
    let def = &d.def;
    let arn = ctx.table_arn(&def.name);
    let mut definitions: BTreeMap<&str, KeyType> = BTreeMap::new();
    let schemas = std::iter::once(&def.key_schema).chain(def.indexes.iter().map(|i| &i.key_schema));
    for schema in schemas {
        for attr in schema.attributes() {
            definitions.insert(&attr.name, attr.key_type);
        }
    }
    let mut out = Map::new();
    out.insert(
        "AttributeDefinitions".into(),
        definitions
            .iter()
            .map(|(name, t)| json!({"AttributeName": name, "AttributeType": t.tag()}))
            .collect(),
    );
    out.insert("TableName".into(), json!(def.name));
    out.insert("KeySchema".into(), key_schema_json(&def.key_schema));
    out.insert("TableStatus".into(), json!(d.status));
    out.insert("CreationDateTime".into(), seconds(def.created_micros));
    out.insert(
        "ProvisionedThroughput".into(),
        throughput_json(settings, ""),
    );
    out.insert("TableSizeBytes".into(), json!(d.size_bytes));
    out.insert("ItemCount".into(), json!(d.item_count));
    out.insert("TableArn".into(), json!(arn));
    out.insert(
        "TableId".into(),
        json!(table_id(def.id, def.created_micros)),
    );
    if settings.get("BillingMode").map(String::as_str) == Some("PAY_PER_REQUEST") {
        out.insert(
            "BillingModeSummary".into(),
            json!({"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": seconds(def.created_micros)}),
        );
    }
    out.insert(
        "DeletionProtectionEnabled".into(),
        json!(
            settings
                .get("DeletionProtectionEnabled")
                .map(String::as_str)
                == Some("true")
        ),
    );
    let mut global = Vec::new();
    let mut local = Vec::new();
    for index in &d.indexes {
        let mut i = Map::new();
        i.insert("IndexName".into(), json!(index.def.name));
        i.insert("KeySchema".into(), key_schema_json(&index.def.key_schema));
        i.insert("Projection".into(), projection_json(&index.def.projection));
        i.insert("IndexSizeBytes".into(), json!(index.size_bytes));
        i.insert("ItemCount".into(), json!(index.item_count));
        i.insert(
            "IndexArn".into(),
            json!(format!("{arn}/index/{}", index.def.name)),
        );
        match index.def.kind {
            IndexKind::Global => {
                i.insert("IndexStatus".into(), json!("ACTIVE"));
                i.insert(
                    "ProvisionedThroughput".into(),
                    throughput_json(settings, &format!("index/{}/", index.def.name)),
                );
                global.push(Value::Object(i));
            }
            IndexKind::Local => local.push(Value::Object(i)),
        }
    }
    if !global.is_empty() {
        out.insert("GlobalSecondaryIndexes".into(), Value::Array(global));
    }
    if !local.is_empty() {
        out.insert("LocalSecondaryIndexes".into(), Value::Array(local));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_schemas_need_definitions_and_one_hash_key() {
        let body = json!({
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "Bad": [{"AttributeName": "zz", "KeyType": "HASH"}],
            "TwoHash": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "HASH"}],
        });
        let input = Input::new(&body).unwrap();
        let defs = attribute_definitions(&input).unwrap();
        let mut used = Vec::new();
        let schema = key_schema(&input, "KeySchema", &defs, &mut used).unwrap();
        assert_eq!(
            schema,
            KeySchema::new("pk", KeyType::S).with_sort_key("sk", KeyType::N)
        );
        assert_eq!(used, ["pk", "sk"]);
        let e = key_schema(&input, "Bad", &defs, &mut used).unwrap_err();
        assert!(
            e.message.contains("not defined in AttributeDefinitions"),
            "{e}"
        );
        assert_eq!(
            key_schema(&input, "TwoHash", &defs, &mut used)
                .unwrap_err()
                .code,
            "ValidationException"
        );
    }

    #[test]
    fn projections_follow_the_include_rules() {
        let p = |v: Value| projection(&Input::new(&json!({ "Projection": v })).unwrap());
        assert_eq!(
            p(json!({"ProjectionType": "KEYS_ONLY"})).unwrap(),
            IndexProjection::KeysOnly
        );
        assert_eq!(
            p(json!({"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a"]})).unwrap(),
            IndexProjection::Include(vec!["a".into()])
        );
        assert!(p(json!({"ProjectionType": "INCLUDE"})).is_err());
        assert!(p(json!({"ProjectionType": "ALL", "NonKeyAttributes": ["a"]})).is_err());
        assert!(p(json!({"ProjectionType": "SOME"})).is_err());
    }

    #[test]
    fn table_ids_are_uuid_shaped_and_distinct() {
        let a = table_id(1, 1_700_000_000_000_000);
        let b = table_id(2, 1_700_000_000_000_000);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
