//! `eddy table create|list|describe|delete`: the tables' control plane.

use clap::{Args, Subcommand};
use eddy::{Database, KeySchema, KeyType, TableDescription};
use serde_json::json;

use crate::common::{self, format_millis, CliResult, DataArg};

/// Options of `eddy table`.
#[derive(Debug, Args)]
pub struct TableArgs {
    #[command(flatten)]
    data: DataArg,
    #[command(subcommand)]
    command: TableCommand,
}

#[derive(Debug, Subcommand)]
enum TableCommand {
    /// Creates a table with a partition key and an optional sort key.
    #[command(after_help = "Example:\n  eddy table create orders --pk customer:S --sk order:N")]
    Create {
        /// The table's name (3 to 255 of A-Z a-z 0-9 _ . -).
        name: String,
        /// The partition key: NAME:TYPE, TYPE one of S, N, B.
        #[arg(long, value_name = "NAME:TYPE", value_parser = parse_key_attribute)]
        pk: (String, KeyType),
        /// The sort key: NAME:TYPE, TYPE one of S, N, B.
        #[arg(long, value_name = "NAME:TYPE", value_parser = parse_key_attribute)]
        sk: Option<(String, KeyType)>,
    },
    /// Lists the tables, one name per line.
    #[command(after_help = "Example:\n  eddy table list --data ./eddy-data")]
    List,
    /// Shows a table: key schema, item count, size, streaming destinations.
    #[command(
        after_help = "Example:\n  eddy table describe orders\n  eddy table describe orders --json"
    )]
    Describe {
        /// The table.
        name: String,
        /// Prints JSON shaped like DynamoDB's DescribeTable answer.
        #[arg(long)]
        json: bool,
    },
    /// Deletes a table and all its items.
    #[command(after_help = "Example:\n  eddy table delete orders")]
    Delete {
        /// The table.
        name: String,
    },
}

/// Parses `name:TYPE`.
fn parse_key_attribute(text: &str) -> Result<(String, KeyType), String> {
    let (name, tag) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("expected NAME:TYPE (like customer:S), got {text:?}"))?;
    let key_type = KeyType::from_tag(&tag.to_ascii_uppercase())
        .ok_or_else(|| format!("key type must be S, N or B, got {tag:?}"))?;
    if name.is_empty() {
        return Err("the key attribute's name is empty".into());
    }
    Ok((name.to_string(), key_type))
}

/// Runs `eddy table …`.
pub fn run(args: TableArgs) -> CliResult {
    match args.command {
        TableCommand::Create { name, pk, sk } => {
            let db = args.data.open_or_create()?;
            let mut schema = KeySchema::new(pk.0, pk.1);
            if let Some((sk, t)) = sk {
                schema = schema.with_sort_key(sk, t);
            }
            let created = db.create_table(&name, schema)?;
            println!(
                "created table {} ({})",
                created.def.name,
                key_text(&created.def.key_schema)
            );
            common::finish(db)
        }
        TableCommand::List => {
            let db = args.data.open_existing()?;
            for name in db.list_tables()? {
                println!("{name}");
            }
            common::close(db)
        }
        TableCommand::Describe { name, json } => {
            let db = args.data.open_existing()?;
            let description = db.describe_table(&name)?;
            if json {
                println!("{}", describe_json(&db, &description)?);
            } else {
                print_description(&db, &description)?;
            }
            common::close(db)
        }
        TableCommand::Delete { name } => {
            let db = args.data.open_existing()?;
            let deleted = db.delete_table(&name)?;
            println!(
                "deleted table {} ({} items)",
                deleted.def.name, deleted.item_count
            );
            common::finish(db)
        }
    }
}

/// `customer S, order N`.
pub fn key_text(schema: &KeySchema) -> String {
    schema
        .attributes()
        .map(|a| format!("{} {}", a.name, a.key_type.tag()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_description(db: &Database, d: &TableDescription) -> CliResult {
    let schema = &d.def.key_schema;
    let row = |label: &str, value: String| println!("{label:<16}{value}");
    row("table", d.def.name.clone());
    row("status", d.status.to_string());
    row("table id", d.def.id.to_string());
    row(
        "partition key",
        format!(
            "{} ({})",
            schema.partition.name,
            schema.partition.key_type.tag()
        ),
    );
    row(
        "sort key",
        schema
            .sort
            .as_ref()
            .map_or("-".into(), |s| format!("{} ({})", s.name, s.key_type.tag())),
    );
    row(
        "created",
        format_millis(d.def.created_micros / 1000).to_string(),
    );
    row("items", d.item_count.to_string());
    row("size", format!("{} bytes", d.size_bytes));
    row(
        "streaming",
        format!(
            "{} records published, {} CDC units, {} failed (since this command opened the database)",
            d.streaming.records_published, d.streaming.cdc_units, d.streaming.failed_to_replicate
        ),
    );
    let destinations = db.describe_kinesis_streaming_destination(&d.def.name)?;
    if destinations.is_empty() {
        row("destinations", "-".into());
    }
    for (i, dest) in destinations.iter().enumerate() {
        row(
            if i == 0 { "destinations" } else { "" },
            format!(
                "{} {} precision {}{}",
                dest.stream_arn,
                dest.status.as_str(),
                dest.precision.unwrap_or_default().as_str(),
                dest.status_description
                    .as_ref()
                    .map_or(String::new(), |s| format!(" ({s})"))
            ),
        );
    }
    Ok(())
}

fn describe_json(db: &Database, d: &TableDescription) -> CliResult<serde_json::Value> {
    let schema = &d.def.key_schema;
    let key_schema: Vec<_> = schema
        .attributes()
        .enumerate()
        .map(|(i, a)| json!({"AttributeName": a.name, "KeyType": if i == 0 { "HASH" } else { "RANGE" }}))
        .collect();
    let definitions: Vec<_> = schema
        .attributes()
        .map(|a| json!({"AttributeName": a.name, "AttributeType": a.key_type.tag()}))
        .collect();
    let destinations: Vec<_> = db
        .describe_kinesis_streaming_destination(&d.def.name)?
        .into_iter()
        .map(|dest| {
            json!({
                "StreamArn": dest.stream_arn,
                "DestinationStatus": dest.status.as_str(),
                "DestinationStatusDescription": dest.status_description,
                "ApproximateCreationDateTimePrecision": dest.precision.map(|p| p.as_str()),
            })
        })
        .collect();
    Ok(json!({
        "TableName": d.def.name,
        "TableId": d.def.id,
        "TableStatus": d.status,
        "KeySchema": key_schema,
        "AttributeDefinitions": definitions,
        "CreationDateTime": d.def.created_micros as f64 / 1e6,
        "ItemCount": d.item_count,
        "TableSizeBytes": d.size_bytes,
        "StreamingMetrics": {
            "RecordsPublished": d.streaming.records_published,
            "CdcUnits": d.streaming.cdc_units,
            "FailedToReplicate": d.streaming.failed_to_replicate,
        },
        "KinesisDataStreamDestinations": destinations,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_attributes() {
        assert_eq!(
            parse_key_attribute("customer:S").unwrap(),
            ("customer".into(), KeyType::S)
        );
        assert_eq!(
            parse_key_attribute("a:b:n").unwrap(),
            ("a:b".into(), KeyType::N)
        );
        assert!(parse_key_attribute("customer").is_err());
        assert!(parse_key_attribute("customer:X").is_err());
        assert!(parse_key_attribute(":S").is_err());
    }
}
