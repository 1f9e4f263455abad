//! Stream tags: AddTagsToStream, RemoveTagsFromStream and
//! ListTagsForStream, kept by the facade under the stream's ARN (and
//! cleared when the stream is deleted).
//!
//! Limits: at most 50 tags per stream (`InvalidArgumentException`, in
//! kinesalite's words), keys of 1..=128 and values of 0..=256 characters
//! (`ValidationException`), made of Unicode letters, digits, white space
//! and `_ . / = + - % @ :` (`InvalidArgumentException`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{db_error, error, opt_u32, stream_ref, Done, Out};
use crate::context::Context;
use crate::input::{self, Input};
use crate::protocol::ApiError;

/// Most tags one stream may carry.
pub(crate) const MAX_TAGS: usize = 50;
/// Most tags one request may name (the model's map and list limits).
const MAX_TAGS_PER_REQUEST: usize = 200;

/// Whether a tag key or value uses only the allowed characters.
fn allowed(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_./=+-%@:".contains(c))
}

/// Checks one tag key's length (1..=128 characters).
fn check_key(member: &str, key: &str) -> Result<(), ApiError> {
    let n = key.chars().count();
    if n == 0 || n > 128 {
        return Err(input::constraint(
            member,
            key,
            "Member must have length less than or equal to 128 and greater than or equal to 1",
        ));
    }
    Ok(())
}

/// An optional tag map member, checked for lengths and characters.
pub(crate) fn parse_tag_map(
    input: &Input<'_>,
    member: &str,
) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    let Some(tags) = input.opt_string_map(member)? else {
        return Ok(None);
    };
    if tags.len() > MAX_TAGS_PER_REQUEST {
        return Err(input::constraint(
            member,
            "{...}",
            &format!("Member must have length less than or equal to {MAX_TAGS_PER_REQUEST}"),
        ));
    }
    for (key, value) in &tags {
        check_key(&format!("{member}.key"), key)?;
        if value.chars().count() > 256 {
            return Err(input::constraint(
                &format!("{member}.value"),
                value,
                "Member must have length less than or equal to 256",
            ));
        }
        if !allowed(key) || !allowed(value) {
            return Err(ApiError::invalid_argument(
                "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @ :.",
            ));
        }
    }
    Ok(Some(tags))
}

/// `InvalidArgumentException` if stream `name` would carry more than
/// [`MAX_TAGS`] tags.
pub(crate) fn check_tag_count(name: &str, ctx: &Context, total: usize) -> Result<(), ApiError> {
    if total > MAX_TAGS {
        return Err(ApiError::invalid_argument(format!(
            "Failed to add tags to stream {name} under account {} because a given stream cannot have more than {MAX_TAGS} tags associated with it.",
            ctx.config.account
        )));
    }
    Ok(())
}

/// The name and ARN of an existing stream.
fn existing(ctx: &Context, input: &Input<'_>) -> Result<(String, String), ApiError> {
    let stream = stream_ref(input)?;
    let d = ctx.db.streams().describe_stream(&stream).map_err(error)?;
    Ok((d.stream_name, d.stream_arn))
}

/// `AddTagsToStream`: adds tags, replacing the values of existing keys.
pub(crate) fn add_tags_to_stream(ctx: &Context, input: Input<'_>) -> Done {
    let tags = parse_tag_map(&input, "Tags")?.ok_or_else(|| input::missing("Tags"))?;
    if tags.is_empty() {
        return Err(input::constraint(
            "Tags",
            "{}",
            "Member must have length greater than or equal to 1",
        ));
    }
    let (name, arn) = existing(ctx, &input)?;
    let current = ctx.db.list_tags(&arn).map_err(db_error)?;
    let total = current
        .keys()
        .chain(tags.keys().filter(|k| !current.contains_key(*k)))
        .count();
    check_tag_count(&name, ctx, total)?;
    ctx.db.tag_resource(&arn, tags).map_err(db_error)
}

/// `RemoveTagsFromStream`: keys the stream does not carry are ignored.
pub(crate) fn remove_tags_from_stream(ctx: &Context, input: Input<'_>) -> Done {
    let keys = input
        .opt_strings("TagKeys")?
        .ok_or_else(|| input::missing("TagKeys"))?;
    if keys.is_empty() || keys.len() > MAX_TAGS {
        let c = if keys.is_empty() {
            "Member must have length greater than or equal to 1".to_string()
        } else {
            format!("Member must have length less than or equal to {MAX_TAGS}")
        };
        return Err(input::constraint("TagKeys", "[...]", &c));
    }
    for key in &keys {
        check_key("TagKeys.member", key)?;
    }
    let (_, arn) = existing(ctx, &input)?;
    let keys: Vec<String> = keys.into_iter().map(str::to_string).collect();
    ctx.db.untag_resource(&arn, &keys).map_err(db_error)
}

/// `ListTagsForStream`: tags by key, `Limit` (at most 50) after
/// `ExclusiveStartTagKey`, with `HasMoreTags`.
pub(crate) fn list_tags_for_stream(ctx: &Context, input: Input<'_>) -> Out {
    let limit = opt_u32(&input, "Limit", 1, MAX_TAGS as u32)?.unwrap_or(MAX_TAGS as u32) as usize;
    let start = input.opt_str("ExclusiveStartTagKey")?;
    if let Some(key) = start {
        check_key("ExclusiveStartTagKey", key)?;
    }
    let (_, arn) = existing(ctx, &input)?;
    let tags = ctx.db.list_tags(&arn).map_err(db_error)?;
    let after: Vec<(String, String)> = tags
        .into_iter()
        .filter(|(k, _)| start.is_none_or(|s| k.as_str() > s))
        .collect();
    let list: Vec<Value> = after
        .iter()
        .take(limit)
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    Ok(json!({"Tags": list, "HasMoreTags": after.len() > limit}))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::json;

    #[test]
    fn tags_are_added_listed_removed_and_go_with_the_stream() {
        let (_dir, ctx) = context();
        ok(
            &ctx,
            "CreateStream",
            json!({"StreamName": "s", "ShardCount": 1, "Tags": {"team": "data"}}),
        );
        ok(
            &ctx,
            "AddTagsToStream",
            json!({"StreamName": "s", "Tags": {"env": "test", "team": "core"}}),
        );
        let all = ok(&ctx, "ListTagsForStream", json!({"StreamName": "s"}));
        assert_eq!(
            all,
            json!({"Tags": [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "core"}],
                "HasMoreTags": false})
        );
        let page = ok(
            &ctx,
            "ListTagsForStream",
            json!({"StreamName": "s", "Limit": 1}),
        );
        assert_eq!(page["Tags"], json!([{"Key": "env", "Value": "test"}]));
        assert_eq!(page["HasMoreTags"], true);
        let rest = ok(
            &ctx,
            "ListTagsForStream",
            json!({"StreamName": "s", "ExclusiveStartTagKey": "env"}),
        );
        assert_eq!(rest["Tags"], json!([{"Key": "team", "Value": "core"}]));

        ok(
            &ctx,
            "RemoveTagsFromStream",
            json!({"StreamName": "s", "TagKeys": ["env", "absent"]}),
        );
        let all = ok(&ctx, "ListTagsForStream", json!({"StreamName": "s"}));
        assert_eq!(all["Tags"], json!([{"Key": "team", "Value": "core"}]));

        ok(&ctx, "DeleteStream", json!({"StreamName": "s"}));
        create(&ctx, "s", 1);
        let all = ok(&ctx, "ListTagsForStream", json!({"StreamName": "s"}));
        assert_eq!(all["Tags"], json!([]));
    }

    #[test]
    fn tag_limits_and_errors() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 1);
        let e = err(
            &ctx,
            "AddTagsToStream",
            json!({"StreamName": "nope", "Tags": {"a": "b"}}),
        );
        assert_eq!(e.code, "ResourceNotFoundException");
        let e = err(&ctx, "AddTagsToStream", json!({"StreamName": "s"}));
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "AddTagsToStream",
            json!({"StreamName": "s", "Tags": {}}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "AddTagsToStream",
            json!({"StreamName": "s", "Tags": {"": "x"}}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "AddTagsToStream",
            json!({"StreamName": "s", "Tags": {"a": "x".repeat(257)}}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "AddTagsToStream",
            json!({"StreamName": "s", "Tags": {"a*": "b"}}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        let many: serde_json::Map<String, serde_json::Value> =
            (0..40).map(|i| (format!("k{i}"), json!("v"))).collect();
        ok(
            &ctx,
            "AddTagsToStream",
            json!({"StreamName": "s", "Tags": many}),
        );
        let more: serde_json::Map<String, serde_json::Value> =
            (30..51).map(|i| (format!("k{i}"), json!("v"))).collect();
        let e = err(
            &ctx,
            "AddTagsToStream",
            json!({"StreamName": "s", "Tags": more}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        assert!(e.message.contains("cannot have more than 50 tags"), "{e}");
        let e = err(
            &ctx,
            "RemoveTagsFromStream",
            json!({"StreamName": "s", "TagKeys": []}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "ListTagsForStream",
            json!({"StreamName": "s", "Limit": 51}),
        );
        assert_eq!(e.code, "ValidationException");
    }
}
