//! DynamoDB's data-plane requests with expressions: conditional puts,
//! deletes and updates, UpdateExpression, and queries and scans with key
//! conditions, filters and projections.
//!
//! These are the typed forms of PutItem, DeleteItem, UpdateItem, Query and
//! Scan requests; a DynamoDB-compatible server maps its JSON onto them. The
//! expressions are parsed and checked (placeholders defined and used,
//! reserved words, types) before anything is read, and a failed condition
//! writes nothing and logs nothing.

use std::collections::BTreeMap;

use eddy_model::expr::{
    Condition, ExprError, ExpressionContext, KeyCondition, Projection, UpdateExpression,
};
use eddy_model::{AttributeValue, IndexKind, IndexProjection, Item};
use eddy_store::{Query, Scan};

use crate::db::Database;
use crate::error::{Error, Result};
use crate::item_writes::{delete_op, old_if_asked, put_op};
use crate::ops::ReturnValues;
use crate::write::{Mutation, WriteOp};

/// `ExpressionAttributeNames` and `ExpressionAttributeValues`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpressionAttributes {
    /// `#name` → attribute name.
    pub names: Option<BTreeMap<String, String>>,
    /// `:value` → value.
    pub values: Option<BTreeMap<String, AttributeValue>>,
}

impl ExpressionAttributes {
    /// Adds a name placeholder.
    pub fn name(mut self, placeholder: impl Into<String>, name: impl Into<String>) -> Self {
        self.names
            .get_or_insert_with(BTreeMap::new)
            .insert(placeholder.into(), name.into());
        self
    }

    /// Adds a value placeholder.
    pub fn value(
        mut self,
        placeholder: impl Into<String>,
        value: impl Into<AttributeValue>,
    ) -> Self {
        self.values
            .get_or_insert_with(BTreeMap::new)
            .insert(placeholder.into(), value.into());
        self
    }

    pub(crate) fn context(&self) -> Result<ExpressionContext> {
        ExpressionContext::from_request(self.names.clone(), self.values.clone()).map_err(expr_error)
    }
}

pub(crate) fn expr_error(e: ExprError) -> Error {
    Error::Validation(e.message().to_string())
}

/// A GetItem request with a projection.
#[derive(Debug, Clone, Default)]
pub struct GetItemRequest {
    /// The table.
    pub table_name: String,
    /// The key of the item to read.
    pub key: Item,
    /// `ProjectionExpression`: the attributes to return.
    pub projection_expression: Option<String>,
    /// Placeholders of the expression.
    pub attributes: ExpressionAttributes,
}

/// A PutItem request.
#[derive(Debug, Clone, Default)]
pub struct PutItemRequest {
    /// The table.
    pub table_name: String,
    /// The item.
    pub item: Item,
    /// `ConditionExpression`, checked against the current item.
    pub condition_expression: Option<String>,
    /// Placeholders of the expressions.
    pub attributes: ExpressionAttributes,
    /// `NONE` or `ALL_OLD`.
    pub return_values: ReturnValues,
    /// `ReturnValuesOnConditionCheckFailure = ALL_OLD`.
    pub return_item_on_condition_failure: bool,
}

/// A DeleteItem request.
#[derive(Debug, Clone, Default)]
pub struct DeleteItemRequest {
    /// The table.
    pub table_name: String,
    /// The key of the item to delete.
    pub key: Item,
    /// `ConditionExpression`, checked against the current item.
    pub condition_expression: Option<String>,
    /// Placeholders of the expressions.
    pub attributes: ExpressionAttributes,
    /// `NONE` or `ALL_OLD`.
    pub return_values: ReturnValues,
    /// `ReturnValuesOnConditionCheckFailure = ALL_OLD`.
    pub return_item_on_condition_failure: bool,
}

/// An UpdateItem request.
#[derive(Debug, Clone, Default)]
pub struct UpdateItemRequest {
    /// The table.
    pub table_name: String,
    /// The key of the item to update (created if missing).
    pub key: Item,
    /// `UpdateExpression` (none: the item is created with its key only).
    pub update_expression: Option<String>,
    /// `ConditionExpression`, checked against the current item.
    pub condition_expression: Option<String>,
    /// Placeholders of the expressions.
    pub attributes: ExpressionAttributes,
    /// Any of the five return values.
    pub return_values: ReturnValues,
    /// `ReturnValuesOnConditionCheckFailure = ALL_OLD`.
    pub return_item_on_condition_failure: bool,
}

/// `Select` of Query and Scan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Select {
    /// DynamoDB's default when `Select` is absent: the projection's
    /// attributes when a projection expression is given, else whole items
    /// from a table and what the index projects from an index.
    #[default]
    Default,
    /// Whole items. On a local secondary index that does not project
    /// everything, the items are read from the table; on such a global
    /// secondary index this is an error.
    AllAttributes,
    /// What the index projects (`ALL_PROJECTED_ATTRIBUTES`): index reads
    /// only.
    AllProjectedAttributes,
    /// The attributes of the projection expression.
    SpecificAttributes,
    /// Only the counts.
    Count,
}

/// A Query request.
#[derive(Debug, Clone, Default)]
pub struct QueryRequest {
    /// The table.
    pub table_name: String,
    /// Query this secondary index instead of the table.
    pub index_name: Option<String>,
    /// `KeyConditionExpression`.
    pub key_condition_expression: String,
    /// `FilterExpression`, applied after each page is read.
    pub filter_expression: Option<String>,
    /// `ProjectionExpression`.
    pub projection_expression: Option<String>,
    /// Placeholders of the expressions.
    pub attributes: ExpressionAttributes,
    /// Items to read (before filtering), at most.
    pub limit: Option<usize>,
    /// Resume after this key.
    pub exclusive_start_key: Option<Item>,
    /// `ScanIndexForward = false` reads in descending sort-key order.
    pub descending: bool,
    /// What to return.
    pub select: Select,
}

/// A Scan request.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// The table.
    pub table_name: String,
    /// Scan this secondary index instead of the table.
    pub index_name: Option<String>,
    /// `FilterExpression`, applied after each page is read.
    pub filter_expression: Option<String>,
    /// `ProjectionExpression`.
    pub projection_expression: Option<String>,
    /// Placeholders of the expressions.
    pub attributes: ExpressionAttributes,
    /// Items to read (before filtering), at most.
    pub limit: Option<usize>,
    /// Resume after this key.
    pub exclusive_start_key: Option<Item>,
    /// What to return.
    pub select: Select,
    /// Parallel scan: `(Segment, TotalSegments)`. Each segment holds a
    /// disjoint share of the items; together they hold all of them.
    pub segment: Option<(u32, u32)>,
}

/// The answer to a Query or Scan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOutput {
    /// The items that passed the filter (empty for `Select::Count`).
    pub items: Vec<Item>,
    /// How many items passed the filter.
    pub count: usize,
    /// How many items were read.
    pub scanned_count: usize,
    /// Where the next page starts, if the read stopped early.
    pub last_evaluated_key: Option<Item>,
}

pub(crate) fn parse_condition(
    text: &Option<String>,
    ctx: &mut ExpressionContext,
) -> Result<Option<Condition>> {
    text.as_deref()
        .map(|t| Condition::parse(t, ctx))
        .transpose()
        .map_err(expr_error)
}

/// `Err(ConditionalCheckFailed)` (with the item when asked) when the
/// condition does not hold for the current item.
pub(crate) fn condition_failed(
    condition: &Option<Condition>,
    old: Option<&Item>,
    return_item: bool,
) -> Result<()> {
    match condition {
        Some(c) if !c.evaluate(old) => Err(Error::ConditionalCheckFailed {
            item: if return_item { old.cloned() } else { None },
        }),
        _ => Ok(()),
    }
}

impl Database {
    /// GetItem with a projection expression.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eddy::{Database, GetItemRequest, Item, KeySchema, KeyType, ReturnValues};
    /// let db = Database::open(dir.path())?;
    /// db.create_table("users", KeySchema::new("id", KeyType::S))?;
    /// db.put_item("users", Item::new().with("id", "u1").with("name", "Ada").with("age", 36), ReturnValues::None)?;
    /// let item = db.get_item_with(GetItemRequest {
    ///     table_name: "users".into(),
    ///     key: Item::new().with("id", "u1"),
    ///     projection_expression: Some("#n".into()),
    ///     attributes: eddy::ExpressionAttributes::default().name("#n", "name"),
    /// })?;
    /// assert_eq!(item, Some(Item::new().with("name", "Ada")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_item_with(&self, request: GetItemRequest) -> Result<Option<Item>> {
        let mut ctx = request.attributes.context()?;
        let projection = request
            .projection_expression
            .as_deref()
            .map(|t| Projection::parse(t, &mut ctx))
            .transpose()
            .map_err(expr_error)?;
        ctx.check_all_used().map_err(expr_error)?;
        let item = self.get_item(&request.table_name, &request.key)?;
        Ok(match projection {
            Some(p) => item.map(|i| p.apply(&i)),
            None => item,
        })
    }

    /// PutItem with a condition expression.
    pub fn put_item_with(&self, request: PutItemRequest) -> Result<Option<Item>> {
        let returns = request.return_values;
        let op = put_op(&self.inner, request)?;
        Ok(old_if_asked(returns, self.inner.write(vec![op])?))
    }

    /// DeleteItem with a condition expression.
    pub fn delete_item_with(&self, request: DeleteItemRequest) -> Result<Option<Item>> {
        let returns = request.return_values;
        let op = delete_op(&self.inner, request)?;
        Ok(old_if_asked(returns, self.inner.write(vec![op])?))
    }

    /// UpdateItem with an update expression and a condition expression.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use eddy::{Database, ExpressionAttributes, Item, KeySchema, KeyType, ReturnValues, UpdateItemRequest};
    /// let db = Database::open(dir.path())?;
    /// db.create_table("stock", KeySchema::new("sku", KeyType::S))?;
    /// let request = |n: i64| UpdateItemRequest {
    ///     table_name: "stock".into(),
    ///     key: Item::new().with("sku", "apple"),
    ///     update_expression: Some("ADD quantity :n".into()),
    ///     condition_expression: Some("attribute_not_exists(quantity) OR quantity >= :zero".into()),
    ///     attributes: ExpressionAttributes::default().value(":n", n).value(":zero", 0),
    ///     return_values: ReturnValues::UpdatedNew,
    ///     ..Default::default()
    /// };
    /// let new = db.update_item_with(request(5))?.unwrap();
    /// assert_eq!(new.get("quantity"), Some(&5.into()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn update_item_with(&self, request: UpdateItemRequest) -> Result<Option<Item>> {
        let mut ctx = request.attributes.context()?;
        let update = request
            .update_expression
            .as_deref()
            .map(|t| UpdateExpression::parse(t, &mut ctx))
            .transpose()
            .map_err(expr_error)?;
        let condition = parse_condition(&request.condition_expression, &mut ctx)?;
        ctx.check_all_used().map_err(expr_error)?;
        let table = self.inner.store.shared_table(&request.table_name)?;
        table.key_schema.validate_key(&request.key)?;
        if let Some(update) = &update {
            update.validate(&table.key_schema).map_err(expr_error)?;
        }
        let key = request.key.clone();
        let return_item = request.return_item_on_condition_failure;
        let apply = update.clone();
        let mut out = self.inner.write(vec![WriteOp {
            table,
            key: request.key,
            mutation: Mutation::With(Box::new(move |old| {
                condition_failed(&condition, old, return_item)?;
                match &apply {
                    Some(u) => u.apply(old, &key).map(Some).map_err(expr_error),
                    None => Ok(Some(old.cloned().unwrap_or(key))),
                }
            })),
        }])?;
        let Some(written) = out.pop() else {
            return Ok(None);
        };
        let updated = |item: Option<Item>| -> Option<Item> {
            let projected = match (&update, item) {
                (Some(u), Some(i)) => u.project_updated(&i),
                _ => return None,
            };
            (!projected.is_empty()).then_some(projected)
        };
        Ok(match request.return_values {
            ReturnValues::None => None,
            ReturnValues::AllOld => written.old,
            ReturnValues::AllNew => written.new,
            ReturnValues::UpdatedOld => updated(written.old),
            ReturnValues::UpdatedNew => updated(written.new),
        })
    }

    /// Query with a key condition expression, a filter and a projection.
    pub fn query_with(&self, mut request: QueryRequest) -> Result<QueryOutput> {
        request.select = resolve_select(
            request.select,
            &request.index_name,
            &request.projection_expression,
        )?;
        let table = self.inner.store.table(&request.table_name)?;
        let mut ctx = request.attributes.context()?;
        let schema = match &request.index_name {
            Some(name) => {
                &table
                    .index(name)
                    .ok_or_else(|| {
                        Error::Validation(format!(
                            "The table does not have the specified index: {name}"
                        ))
                    })?
                    .key_schema
            }
            None => &table.key_schema,
        };
        let key_condition =
            KeyCondition::parse(&request.key_condition_expression, &mut ctx, schema)
                .map_err(expr_error)?;
        let (filter, projection) = parse_filter_and_projection(
            &request.filter_expression,
            &request.projection_expression,
            request.select,
            &mut ctx,
        )?;
        ctx.check_all_used().map_err(expr_error)?;
        if let Some(filter) = &filter {
            let attributes = filter.attributes();
            if let Some(key) = schema
                .attributes()
                .find(|a| attributes.iter().any(|f| f == &a.name))
            {
                return Err(Error::Validation(format!(
                    "Filter Expression can only contain non-primary key attributes: Primary key attribute: {}",
                    key.name
                )));
            }
        }
        let mut query = Query::new(key_condition.partition);
        if let Some(sort) = key_condition.sort {
            query = query.sort(sort);
        }
        if request.descending {
            query = query.reverse();
        }
        if let Some(limit) = request.limit {
            query = query.limit(limit);
        }
        if let Some(start) = request.exclusive_start_key {
            query = query.start_after(start);
        }
        let page = match &request.index_name {
            Some(index) => {
                let page = self.inner.store.query_index(&table, index, &query)?;
                self.complete_index_page(&table, index, page, request.select, &projection, &filter)?
            }
            None => self.inner.store.query(&table, &query)?,
        };
        Ok(finish_page(page, filter, projection, request.select))
    }

    /// Scan with a filter and a projection.
    pub fn scan_with(&self, mut request: ScanRequest) -> Result<QueryOutput> {
        request.select = resolve_select(
            request.select,
            &request.index_name,
            &request.projection_expression,
        )?;
        let table = self.inner.store.table(&request.table_name)?;
        let mut ctx = request.attributes.context()?;
        let (filter, projection) = parse_filter_and_projection(
            &request.filter_expression,
            &request.projection_expression,
            request.select,
            &mut ctx,
        )?;
        ctx.check_all_used().map_err(expr_error)?;
        if let Some((segment, total)) = request.segment {
            let index = match &request.index_name {
                Some(name) => Some(table.index(name).ok_or_else(|| {
                    Error::Validation(format!(
                        "The table does not have the specified index: {name}"
                    ))
                })?),
                None => None,
            };
            let mut page = self.scan_segment(
                &table,
                index,
                segment,
                total,
                request.limit,
                request.exclusive_start_key,
            )?;
            if let Some(index) = &request.index_name {
                page = self.complete_index_page(
                    &table,
                    index,
                    page,
                    request.select,
                    &projection,
                    &filter,
                )?;
            }
            return Ok(finish_page(page, filter, projection, request.select));
        }
        let mut scan = Scan::default();
        if let Some(limit) = request.limit {
            scan = scan.limit(limit);
        }
        if let Some(start) = request.exclusive_start_key {
            scan = scan.start_after(start);
        }
        let page = match &request.index_name {
            Some(index) => {
                let page = self.inner.store.scan_index(&table, index, &scan)?;
                self.complete_index_page(&table, index, page, request.select, &projection, &filter)?
            }
            None => self.inner.store.scan(&table, &scan)?,
        };
        Ok(finish_page(page, filter, projection, request.select))
    }
}

impl Database {
    /// An index page as the request needs it: DynamoDB reads attributes a
    /// local secondary index does not project from the table (so
    /// `ALL_ATTRIBUTES`, a projection or a filter naming them see whole
    /// items), while a global secondary index only has what it projects
    /// (`ALL_ATTRIBUTES` on one that projects less is refused).
    fn complete_index_page(
        &self,
        table: &eddy_model::TableDef,
        index: &str,
        mut page: eddy_store::Page,
        select: Select,
        projection: &Option<Projection>,
        filter: &Option<Condition>,
    ) -> Result<eddy_store::Page> {
        let Some(def) = table.index(index) else {
            return Ok(page);
        };
        let projected: Vec<&str> = match &def.projection {
            IndexProjection::All => return Ok(page),
            IndexProjection::KeysOnly => Vec::new(),
            IndexProjection::Include(names) => names.iter().map(String::as_str).collect(),
        };
        let is_projected = |name: &str| {
            projected.contains(&name)
                || table.key_schema.is_key_attribute(name)
                || def.key_schema.is_key_attribute(name)
        };
        let wants_more = match select {
            Select::AllAttributes => projection
                .as_ref()
                .is_none_or(|p| p.paths().iter().any(|path| !is_projected(path.attribute()))),
            Select::SpecificAttributes => projection
                .as_ref()
                .is_some_and(|p| p.paths().iter().any(|path| !is_projected(path.attribute()))),
            Select::Default | Select::AllProjectedAttributes | Select::Count => false,
        } || filter
            .as_ref()
            .is_some_and(|f| f.attributes().iter().any(|a| !is_projected(a)));
        if !wants_more {
            return Ok(page);
        }
        if def.kind == IndexKind::Global {
            if select == Select::AllAttributes && projection.is_none() {
                return Err(Error::Validation(format!(
                    "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {index} because its projection type is not ALL"
                )));
            }
            return Ok(page);
        }
        let keys = page
            .items
            .iter()
            .map(|entry| table.key_schema.key_of(entry))
            .collect::<eddy_model::Result<Vec<_>>>()?;
        let full = self.inner.store.get_many(table, &keys)?;
        for (entry, item) in page.items.iter_mut().zip(full) {
            // The index is maintained with the item, so the item exists; a
            // missing one keeps its projected entry.
            if let Some(item) = item {
                *entry = item;
            }
        }
        Ok(page)
    }

    /// One page of a parallel-scan segment: the table's items (or the
    /// index's entries) whose primary key hashes to `segment`, with the same
    /// Limit and 1 MB page rules. Every item has one primary key, so the
    /// segments are disjoint and together hold everything.
    fn scan_segment(
        &self,
        table: &eddy_model::TableDef,
        index: Option<&eddy_model::IndexDef>,
        segment: u32,
        total: u32,
        limit: Option<usize>,
        start: Option<Item>,
    ) -> Result<eddy_store::Page> {
        if total == 0 || total > 1_000_000 || segment >= total {
            return Err(Error::Validation(format!(
                "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
            )));
        }
        if limit == Some(0) {
            return Err(Error::Validation(
                "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1".into(),
            ));
        }
        let in_segment = |item: &Item| -> Result<bool> {
            use std::hash::{Hash, Hasher};
            let key = table.key_schema.encode_key(item)?;
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut hasher);
            Ok(hasher.finish() % u64::from(total) == u64::from(segment))
        };
        let mut items = Vec::new();
        let mut bytes = 0;
        let mut next = start;
        loop {
            let mut scan = Scan::default();
            if let Some(key) = next.take() {
                scan = scan.start_after(key);
            }
            let page = match index {
                Some(index) => self.inner.store.scan_index(table, &index.name, &scan)?,
                None => self.inner.store.scan(table, &scan)?,
            };
            for item in page.items {
                if !in_segment(&item)? {
                    continue;
                }
                bytes += item.size();
                items.push(item);
                let full =
                    limit.is_some_and(|l| items.len() >= l) || bytes >= eddy_store::MAX_PAGE_BYTES;
                if full {
                    let last = match (items.last(), index) {
                        (None, _) => None,
                        (Some(i), None) => Some(table.key_schema.key_of(i)?),
                        (Some(i), Some(index)) => index.entry_key_of(&table.key_schema, i),
                    };
                    return Ok(eddy_store::Page {
                        scanned_count: items.len(),
                        items,
                        last_evaluated_key: last,
                    });
                }
            }
            match page.last_evaluated_key {
                Some(key) => next = Some(key),
                None => {
                    return Ok(eddy_store::Page {
                        scanned_count: items.len(),
                        items,
                        last_evaluated_key: None,
                    });
                }
            }
        }
    }
}

/// The `Select` in force: [`Select::Default`] resolved, and
/// `ALL_PROJECTED_ATTRIBUTES` refused outside index reads.
fn resolve_select(
    select: Select,
    index_name: &Option<String>,
    projection: &Option<String>,
) -> Result<Select> {
    match select {
        Select::Default if projection.is_some() => Ok(Select::SpecificAttributes),
        Select::Default if index_name.is_some() => Ok(Select::AllProjectedAttributes),
        Select::Default => Ok(Select::AllAttributes),
        Select::AllProjectedAttributes if index_name.is_none() => Err(Error::Validation(
            "One or more parameter values were invalid: Select type ALL_PROJECTED_ATTRIBUTES is only valid when querying or scanning an index".into(),
        )),
        other => Ok(other),
    }
}

fn parse_filter_and_projection(
    filter: &Option<String>,
    projection: &Option<String>,
    select: Select,
    ctx: &mut ExpressionContext,
) -> Result<(Option<Condition>, Option<Projection>)> {
    let filter = filter
        .as_deref()
        .map(|t| Condition::parse_filter(t, ctx))
        .transpose()
        .map_err(expr_error)?;
    let projection = projection
        .as_deref()
        .map(|t| Projection::parse(t, ctx))
        .transpose()
        .map_err(expr_error)?;
    match (select, &projection) {
        (Select::SpecificAttributes, None) => Err(Error::Validation(
            "Select type SPECIFIC_ATTRIBUTES requires ProjectionExpression or AttributesToGet"
                .into(),
        )),
        (
            Select::Default
            | Select::AllAttributes
            | Select::AllProjectedAttributes
            | Select::Count,
            Some(_),
        ) => Err(Error::Validation(format!(
            "Cannot specify the Select type {} when ProjectionExpression is given",
            match select {
                Select::Count => "COUNT",
                Select::AllProjectedAttributes => "ALL_PROJECTED_ATTRIBUTES",
                _ => "ALL_ATTRIBUTES",
            }
        ))),
        _ => Ok((filter, projection)),
    }
}

/// Applies the filter (after the page was read, as DynamoDB does, so the
/// counts differ), the projection and `Select`.
fn finish_page(
    page: eddy_store::Page,
    filter: Option<Condition>,
    projection: Option<Projection>,
    select: Select,
) -> QueryOutput {
    let scanned_count = page.items.len();
    let kept: Vec<Item> = page
        .items
        .into_iter()
        .filter(|item| filter.as_ref().is_none_or(|f| f.evaluate(Some(item))))
        .collect();
    let count = kept.len();
    let items = match (select, projection) {
        (Select::Count, _) => Vec::new(),
        (_, Some(p)) => kept.iter().map(|i| p.apply(i)).collect(),
        (_, None) => kept,
    };
    QueryOutput {
        items,
        count,
        scanned_count,
        last_evaluated_key: page.last_evaluated_key,
    }
}
