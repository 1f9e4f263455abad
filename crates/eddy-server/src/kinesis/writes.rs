//! Writing records: PutRecord and PutRecords.
//!
//! The engine checks partition keys (1..=256 characters), record sizes
//! (data + key ≤ 1 MiB), `ExplicitHashKey`, and the PutRecords entry count
//! (1..=500) and total size; this module checks member presence and types.
//! Both answer the `EncryptionType` the stream's new records get.

use eddy::stream::{PutRecord, PutRecordsOutput, PutRecordsResultEntry};
use serde_json::{json, Value};

use super::{error, stream_ref, Out};
use crate::context::Context;
use crate::input::{self, Input};
use crate::protocol::ApiError;

/// The `EncryptionType` new records of a stream get: `KMS` while the stream
/// is encrypted, else `NONE`.
fn encryption_type(ctx: &Context, stream: &str) -> &'static str {
    ctx.db
        .streams()
        .describe_stream(stream)
        .map_or("NONE", |d| d.encryption_type)
}

/// A record to put from a `PutRecord` input or `PutRecords` entry;
/// `prefix` is how messages name the entry (`records.1.member.`).
fn record(input: &Input<'_>, prefix: &str) -> Result<PutRecord, ApiError> {
    let data = input
        .opt_blob("Data")?
        .ok_or_else(|| input::missing(&format!("{prefix}data")))?;
    let partition_key = input
        .opt_str("PartitionKey")?
        .ok_or_else(|| input::missing(&format!("{prefix}partitionKey")))?;
    Ok(PutRecord {
        partition_key: partition_key.to_string(),
        data,
        explicit_hash_key: input.opt_str("ExplicitHashKey")?.map(str::to_string),
    })
}

/// `PutRecord`. `SequenceNumberForOrdering` is checked but needs no
/// action: puts are durable and numbered in commit order, so a client's
/// successive puts are already strictly increasing.
pub(crate) fn put_record(ctx: &Context, input: Input<'_>) -> Out {
    let stream = stream_ref(&input)?;
    let rec = record(&input, "")?;
    if let Some(s) = input.opt_str("SequenceNumberForOrdering")? {
        let ok = !s.is_empty()
            && s.len() <= 129
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        if !ok {
            return Err(input::constraint(
                "SequenceNumberForOrdering",
                s,
                "Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})",
            ));
        }
    }
    let out = ctx.db.streams().put_record(&stream, rec).map_err(error)?;
    Ok(json!({
        "ShardId": out.shard_id,
        "SequenceNumber": out.sequence_number,
        "EncryptionType": encryption_type(ctx, &stream),
    }))
}

/// `PutRecords`: one result per entry, in request order; a failed entry
/// carries `ErrorCode` and `ErrorMessage` and does not stop the others.
pub(crate) fn put_records(ctx: &Context, input: Input<'_>) -> Out {
    let stream = stream_ref(&input)?;
    let entries = input
        .opt_objects("Records")?
        .ok_or_else(|| input::missing("Records"))?;
    let records = entries
        .iter()
        .enumerate()
        .map(|(i, e)| record(e, &format!("records.{}.member.", i + 1)))
        .collect::<Result<Vec<_>, _>>()?;
    let out = ctx
        .db
        .streams()
        .put_records(&stream, records)
        .map_err(error)?;
    Ok(put_records_body(&out, encryption_type(ctx, &stream)))
}

/// The PutRecords answer: `FailedRecordCount`, one `Records` entry per
/// request entry (`SequenceNumber` and `ShardId`, or `ErrorCode` and
/// `ErrorMessage`), and `EncryptionType`.
fn put_records_body(out: &PutRecordsOutput, encryption_type: &str) -> Value {
    let results: Vec<Value> = out
        .records
        .iter()
        .map(|r| match r {
            PutRecordsResultEntry::Ok(o) => {
                json!({"SequenceNumber": o.sequence_number, "ShardId": o.shard_id})
            }
            PutRecordsResultEntry::Failed {
                error_code,
                error_message,
            } => json!({"ErrorCode": error_code, "ErrorMessage": error_message}),
        })
        .collect();
    json!({
        "FailedRecordCount": out.failed_record_count,
        "Records": results,
        "EncryptionType": encryption_type,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use base64::Engine as _;
    use eddy::stream::PutRecordOutput;

    #[test]
    fn put_records_answers_in_request_order() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 4);
        let entries: Vec<Value> = (0..20)
            .map(|i| json!({"PartitionKey": format!("key-{i}"), "Data": "AAE="}))
            .collect();
        let out = ok(
            &ctx,
            "PutRecords",
            json!({"StreamName": "s", "Records": entries}),
        );
        assert_eq!(out["FailedRecordCount"], 0);
        assert_eq!(out["EncryptionType"], "NONE");
        let results = out["Records"].as_array().unwrap();
        assert_eq!(results.len(), 20);
        let d = ctx.db.streams().describe_stream("s").unwrap();
        for (i, r) in results.iter().enumerate() {
            // Each entry went to the shard its key hashes to.
            let hash = eddy::stream::partition_key_hash(&format!("key-{i}"));
            let owner = d
                .shards
                .iter()
                .find(|s| s.hash_key_range.contains(hash))
                .unwrap();
            assert_eq!(r["ShardId"], owner.shard_id.as_str());
            assert!(r["SequenceNumber"].is_string());
            assert!(r.get("ErrorCode").is_none());
        }
        let explicit = ok(
            &ctx,
            "PutRecords",
            json!({"StreamName": "s", "Records": [{"PartitionKey": "x", "Data": "", "ExplicitHashKey": "0"}]}),
        );
        assert_eq!(explicit["Records"][0]["ShardId"], "shardId-000000000000");
    }

    #[test]
    fn put_validation_errors() {
        let (_dir, ctx) = context();
        create(&ctx, "s", 1);
        let e = err(
            &ctx,
            "PutRecords",
            json!({"StreamName": "s", "Records": [{"PartitionKey": "a", "Data": ""}, {"PartitionKey": "b"}]}),
        );
        assert_eq!(e.code, "ValidationException");
        assert!(e.message.contains("'records.2.member.data'"), "{e}");
        let e = err(
            &ctx,
            "PutRecords",
            json!({"StreamName": "s", "Records": []}),
        );
        assert_eq!(e.code, "ValidationException");
        let many: Vec<Value> = (0..501)
            .map(|_| json!({"PartitionKey": "a", "Data": ""}))
            .collect();
        let e = err(
            &ctx,
            "PutRecords",
            json!({"StreamName": "s", "Records": many}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(&ctx, "PutRecords", json!({"StreamName": "s"}));
        assert_eq!(e.code, "ValidationException");
        let e = err(&ctx, "PutRecord", json!({"StreamName": "s", "Data": ""}));
        assert!(e.message.contains("'partitionKey'"), "{e}");
        let e = err(
            &ctx,
            "PutRecord",
            json!({"StreamName": "s", "PartitionKey": "k".repeat(257), "Data": ""}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "PutRecord",
            json!({"StreamName": "s", "PartitionKey": "", "Data": ""}),
        );
        assert_eq!(e.code, "ValidationException");
        let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 1024 * 1024]);
        let e = err(
            &ctx,
            "PutRecord",
            json!({"StreamName": "s", "PartitionKey": "k", "Data": big}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        let e = err(
            &ctx,
            "PutRecord",
            json!({"StreamName": "s", "PartitionKey": "k", "Data": "%%%"}),
        );
        assert_eq!(e.code, "SerializationException");
        let e = err(
            &ctx,
            "PutRecord",
            json!({"StreamName": "s", "PartitionKey": "k", "Data": "", "ExplicitHashKey": "340282366920938463463374607431768211456"}),
        );
        assert_eq!(e.code, "InvalidArgumentException");
        let e = err(
            &ctx,
            "PutRecord",
            json!({"StreamName": "s", "PartitionKey": "k", "Data": "", "SequenceNumberForOrdering": "01"}),
        );
        assert_eq!(e.code, "ValidationException");
        let e = err(
            &ctx,
            "PutRecord",
            json!({"StreamName": "missing", "PartitionKey": "k", "Data": ""}),
        );
        assert_eq!(e.code, "ResourceNotFoundException");
    }

    #[test]
    fn put_records_failures_are_per_entry() {
        let out = PutRecordsOutput {
            failed_record_count: 1,
            records: vec![
                PutRecordsResultEntry::Ok(PutRecordOutput {
                    shard_id: "shardId-000000000000".into(),
                    sequence_number: "1".into(),
                }),
                PutRecordsResultEntry::Failed {
                    error_code: "InternalFailure".into(),
                    error_message: "Internal service failure.".into(),
                },
            ],
        };
        let body = put_records_body(&out, "NONE");
        assert_eq!(
            body,
            json!({"FailedRecordCount": 1, "EncryptionType": "NONE", "Records": [
                {"SequenceNumber": "1", "ShardId": "shardId-000000000000"},
                {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service failure."},
            ]})
        );
    }

    #[test]
    fn encrypted_streams_report_kms() {
        let (_dir, ctx) =
            context_with(eddy::Options::new().stream_encryption_key("key-1", [7u8; 32]));
        create(&ctx, "s", 1);
        ok(
            &ctx,
            "StartStreamEncryption",
            json!({"StreamName": "s", "EncryptionType": "KMS", "KeyId": "key-1"}),
        );
        let d = ok(&ctx, "DescribeStream", json!({"StreamName": "s"}));
        assert_eq!(d["StreamDescription"]["EncryptionType"], "KMS");
        assert_eq!(d["StreamDescription"]["KeyId"], "key-1");
        let p = put(&ctx, "k", "c2VjcmV0");
        assert_eq!(p["EncryptionType"], "KMS");
        let it = iterator(&ctx, "shardId-000000000000", "TRIM_HORIZON", json!({}));
        let out = ok(&ctx, "GetRecords", json!({"ShardIterator": it}));
        assert_eq!(out["Records"][0]["Data"], "c2VjcmV0");
        assert_eq!(out["Records"][0]["EncryptionType"], "KMS");
        ok(
            &ctx,
            "StopStreamEncryption",
            json!({"StreamName": "s", "EncryptionType": "KMS", "KeyId": "key-1"}),
        );
        assert_eq!(put(&ctx, "k", "AA==")["EncryptionType"], "NONE");
    }
}
