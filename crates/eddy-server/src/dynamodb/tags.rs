//! TagResource, UntagResource and ListTagsOfResource on tables.
//!
//! DynamoDB's rules: at most 50 tags per resource, keys of 1 to 128 and
//! values of 0 to 256 Unicode characters, and keys may not start with the
//! reserved `aws:` prefix. The resource must be a table of this server.

use std::collections::BTreeMap;

use serde_json::json;

use super::{error, Out};
use crate::context::Context;
use crate::input::Input;
use crate::protocol::ApiError;

/// The most tags a resource may carry.
const MAX_TAGS: usize = 50;

/// A `Tags` list of `{Key, Value}`, checked against DynamoDB's rules.
pub(crate) fn parse_tags(
    input: &Input<'_>,
    member: &str,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for tag in input.opt_objects(member)?.unwrap_or_default() {
        let key = tag.str("Key")?;
        let value = tag.str("Value")?;
        check_key(key)?;
        if value.chars().count() > 256 {
            return Err(ApiError::validation(format!(
                "One or more parameter values were invalid: Tag value exceeds 256 characters: {key}"
            )));
        }
        out.insert(key.to_string(), value.to_string());
    }
    Ok(out)
}

fn check_key(key: &str) -> Result<(), ApiError> {
    let len = key.chars().count();
    if len == 0 || len > 128 {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: Tag key must be between 1 and 128 characters",
        ));
    }
    if key.starts_with("aws:") {
        return Err(ApiError::validation(
            "One or more parameter values were invalid: The aws: prefix is reserved for AWS use",
        ));
    }
    Ok(())
}

/// The table a resource ARN names, which must exist.
fn table_of(ctx: &Context, arn: &str) -> Result<String, ApiError> {
    let not_found = || {
        ApiError::not_found(format!(
            "Requested resource not found: ResourcArn: {arn} not found"
        ))
    };
    let name = arn
        .rsplit_once(":table/")
        .map(|(_, t)| t)
        .ok_or_else(not_found)?;
    if ctx.table_arn(name) != arn {
        return Err(not_found());
    }
    ctx.db.describe_table(name).map_err(|e| match e {
        eddy::Error::TableNotFound(_) => not_found(),
        other => error(other),
    })?;
    Ok(name.to_string())
}

/// TagResource.
pub(crate) fn tag_resource(ctx: &Context, input: Input<'_>) -> Out {
    let arn = input.str("ResourceArn")?;
    if !input.has("Tags") {
        return Err(crate::input::missing("Tags"));
    }
    let tags = parse_tags(&input, "Tags")?;
    table_of(ctx, arn)?;
    let mut merged = ctx.db.list_tags(arn).map_err(error)?;
    merged.extend(tags.clone());
    if merged.len() > MAX_TAGS {
        return Err(ApiError::new(
            "LimitExceededException",
            format!("The number of tags on a resource cannot exceed {MAX_TAGS}"),
        ));
    }
    ctx.db.tag_resource(arn, tags).map_err(error)?;
    Ok(json!({}))
}

/// UntagResource.
pub(crate) fn untag_resource(ctx: &Context, input: Input<'_>) -> Out {
    let arn = input.str("ResourceArn")?;
    let keys: Vec<String> = input
        .opt_strings("TagKeys")?
        .ok_or_else(|| crate::input::missing("TagKeys"))?
        .into_iter()
        .map(str::to_string)
        .collect();
    table_of(ctx, arn)?;
    ctx.db.untag_resource(arn, &keys).map_err(error)?;
    Ok(json!({}))
}

/// ListTagsOfResource.
pub(crate) fn list_tags_of_resource(ctx: &Context, input: Input<'_>) -> Out {
    let arn = input.str("ResourceArn")?;
    table_of(ctx, arn)?;
    let tags = ctx.db.list_tags(arn).map_err(error)?;
    let list: Vec<_> = tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    Ok(json!({ "Tags": list }))
}
