//! `eddy put|get|delete|query|scan`: the items' data plane.
//!
//! Items and keys are DynamoDB JSON unless `--plain` is given (see
//! [`crate::json`]); results print one item per line in the same form.
//! Queries and scans follow pagination to the end unless `--limit` is
//! given, in which case they print the first page of at most that many
//! items read (before filtering, as DynamoDB counts).

use clap::Args;
use eddy::{
    DeleteItemRequest, ExpressionAttributes, PutItemRequest, QueryOutput, QueryRequest,
    ReturnValues, ScanRequest,
};

use crate::common::{self, emit, CliResult, DataArg};
use crate::json::{format_item, parse_item, parse_names, parse_values};

/// `--names`, `--values` and `--plain`, shared by the item commands.
#[derive(Debug, Args)]
struct Expressions {
    /// Expression attribute values: a JSON object of :placeholders (DynamoDB
    /// JSON, or plain JSON with --plain).
    #[arg(long, value_name = "JSON")]
    values: Option<String>,
    /// Expression attribute names: a JSON object like {"#s":"status"}.
    #[arg(long, value_name = "JSON")]
    names: Option<String>,
}

impl Expressions {
    fn attributes(&self, plain: bool) -> CliResult<ExpressionAttributes> {
        Ok(ExpressionAttributes {
            names: self.names.as_deref().map(parse_names).transpose()?,
            values: self
                .values
                .as_deref()
                .map(|v| parse_values(v, plain))
                .transpose()?,
        })
    }
}

/// Options of `eddy put`.
#[derive(Debug, Args)]
#[command(after_help = r#"Examples:
  eddy put orders '{"customer":{"S":"c1"},"order":{"N":"1"},"amount":{"N":"9.5"}}'
  eddy put orders --plain '{"customer":"c1","order":2,"tags":["new"]}'
  eddy put orders --plain '{"customer":"c1","order":2}' --condition 'attribute_not_exists(customer)'"#)]
pub struct PutArgs {
    #[command(flatten)]
    data: DataArg,
    /// The table.
    table: String,
    /// The item, in DynamoDB JSON (plain JSON with --plain).
    item: String,
    /// Items, keys and values are plain JSON (strings → S, numbers → N, …).
    #[arg(long)]
    plain: bool,
    /// A condition expression the current item must satisfy.
    #[arg(long, value_name = "EXPR")]
    condition: Option<String>,
    #[command(flatten)]
    expressions: Expressions,
}

/// Options of `eddy get`.
#[derive(Debug, Args)]
#[command(after_help = r#"Examples:
  eddy get orders '{"customer":{"S":"c1"},"order":{"N":"1"}}'
  eddy get orders --plain '{"customer":"c1","order":1}'"#)]
pub struct GetArgs {
    #[command(flatten)]
    data: DataArg,
    /// The table.
    table: String,
    /// The item's key, in DynamoDB JSON (plain JSON with --plain).
    key: String,
    /// The key is plain JSON, and the item prints as plain JSON.
    #[arg(long)]
    plain: bool,
}

/// Options of `eddy delete`.
#[derive(Debug, Args)]
#[command(after_help = r#"Examples:
  eddy delete orders '{"customer":{"S":"c1"},"order":{"N":"1"}}'
  eddy delete orders --plain '{"customer":"c1","order":1}' --condition 'amount < :max' --values '{":max":100}'"#)]
pub struct DeleteArgs {
    #[command(flatten)]
    data: DataArg,
    /// The table.
    table: String,
    /// The item's key, in DynamoDB JSON (plain JSON with --plain).
    key: String,
    /// The key and values are plain JSON.
    #[arg(long)]
    plain: bool,
    /// A condition expression the current item must satisfy.
    #[arg(long, value_name = "EXPR")]
    condition: Option<String>,
    #[command(flatten)]
    expressions: Expressions,
}

/// Options of `eddy query`.
#[derive(Debug, Args)]
#[command(after_help = r##"Examples:
  eddy query orders --key-condition 'customer = :c' --values '{":c":{"S":"c1"}}'
  eddy query orders --plain --key-condition 'customer = :c AND #o >= :n' \
      --names '{"#o":"order"}' --values '{":c":"c1",":n":2}' --filter 'amount > :n' --desc"##)]
pub struct QueryArgs {
    #[command(flatten)]
    data: DataArg,
    /// The table.
    table: String,
    /// The key condition expression (partition key equality, optionally a
    /// sort key condition).
    #[arg(long, short = 'k', value_name = "EXPR")]
    key_condition: String,
    /// A filter expression applied to the items read.
    #[arg(long, value_name = "EXPR")]
    filter: Option<String>,
    /// Reads at most N items (one page) instead of following pagination.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Descending sort-key order.
    #[arg(long)]
    desc: bool,
    /// Values are plain JSON, and items print as plain JSON.
    #[arg(long)]
    plain: bool,
    #[command(flatten)]
    expressions: Expressions,
}

/// Options of `eddy scan`.
#[derive(Debug, Args)]
#[command(after_help = r#"Examples:
  eddy scan orders
  eddy scan orders --plain --filter 'amount > :t' --values '{":t":50}' --limit 100"#)]
pub struct ScanArgs {
    #[command(flatten)]
    data: DataArg,
    /// The table.
    table: String,
    /// A filter expression applied to the items read.
    #[arg(long, value_name = "EXPR")]
    filter: Option<String>,
    /// Reads at most N items (one page) instead of following pagination.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Values are plain JSON, and items print as plain JSON.
    #[arg(long)]
    plain: bool,
    #[command(flatten)]
    expressions: Expressions,
}

/// Runs `eddy put`.
pub fn put(args: PutArgs) -> CliResult {
    let item = parse_item(&args.item, args.plain, "the item")?;
    let attributes = args.expressions.attributes(args.plain)?;
    let db = args.data.open_or_create()?;
    db.put_item_with(PutItemRequest {
        table_name: args.table,
        item,
        condition_expression: args.condition,
        attributes,
        return_values: ReturnValues::None,
        return_item_on_condition_failure: false,
    })?;
    common::finish(db)
}

/// Runs `eddy get`.
pub fn get(args: GetArgs) -> CliResult {
    let key = parse_item(&args.key, args.plain, "the key")?;
    let db = args.data.open_existing()?;
    let item = db.get_item(&args.table, &key)?;
    common::close(db)?;
    match item {
        Some(item) => {
            emit(format_item(&item, args.plain))?;
            Ok(())
        }
        None => Err(format!(
            "no item with key {} in table {}",
            format_item(&key, args.plain),
            args.table
        )
        .into()),
    }
}

/// Runs `eddy delete`.
pub fn delete(args: DeleteArgs) -> CliResult {
    let key = parse_item(&args.key, args.plain, "the key")?;
    let attributes = args.expressions.attributes(args.plain)?;
    let db = args.data.open_existing()?;
    db.delete_item_with(DeleteItemRequest {
        table_name: args.table,
        key,
        condition_expression: args.condition,
        attributes,
        return_values: ReturnValues::None,
        return_item_on_condition_failure: false,
    })?;
    common::finish(db)
}

/// Runs `eddy query`.
pub fn query(args: QueryArgs) -> CliResult {
    let attributes = args.expressions.attributes(args.plain)?;
    let db = args.data.open_existing()?;
    let mut request = QueryRequest {
        table_name: args.table,
        key_condition_expression: args.key_condition,
        filter_expression: args.filter,
        attributes,
        limit: args.limit,
        descending: args.desc,
        ..QueryRequest::default()
    };
    loop {
        let page = db.query_with(request.clone())?;
        match next_page(page, args.plain, args.limit.is_some())? {
            Some(start) => request.exclusive_start_key = Some(start),
            None => break,
        }
    }
    common::close(db)
}

/// Runs `eddy scan`.
pub fn scan(args: ScanArgs) -> CliResult {
    let attributes = args.expressions.attributes(args.plain)?;
    let db = args.data.open_existing()?;
    let mut request = ScanRequest {
        table_name: args.table,
        filter_expression: args.filter,
        attributes,
        limit: args.limit,
        ..ScanRequest::default()
    };
    loop {
        let page = db.scan_with(request.clone())?;
        match next_page(page, args.plain, args.limit.is_some())? {
            Some(start) => request.exclusive_start_key = Some(start),
            None => break,
        }
    }
    common::close(db)
}

/// Prints a page; the key to continue after, when pagination is followed.
fn next_page(page: QueryOutput, plain: bool, one_page: bool) -> CliResult<Option<eddy::Item>> {
    for item in &page.items {
        emit(format_item(item, plain))?;
    }
    match page.last_evaluated_key {
        Some(key) if one_page => {
            eprintln!(
                "eddy: note: stopped at --limit; more items follow key {}",
                format_item(&key, plain)
            );
            Ok(None)
        }
        other => Ok(other),
    }
}
