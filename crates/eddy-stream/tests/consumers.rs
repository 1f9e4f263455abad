//! Enhanced fan-out consumers: register, describe, list, deregister,
//! persistence, limits, and DeleteStream's EnforceConsumerDeletion.
#![allow(clippy::unwrap_used)]

mod common;

use common::{open, ManualClock, T0};
use eddy_stream::*;

fn one_shard(s: &Streams, name: &str) {
    s.create_stream(
        name,
        CreateStream {
            shard_count: Some(1),
            mode: StreamMode::Provisioned,
        },
    )
    .unwrap();
}

#[test]
fn register_describe_list_deregister_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = open(dir.path(), &clock);
    one_shard(&s, "st");
    let c = s.register_stream_consumer("st", "app-1").unwrap();
    let stream_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/st";
    assert_eq!(c.consumer_name, "app-1");
    assert_eq!(
        c.consumer_arn,
        format!("{stream_arn}/consumer/app-1:{}", T0 / 1000)
    );
    assert_eq!(c.consumer_status.as_str(), "ACTIVE");
    assert_eq!(c.consumer_creation_millis, T0);
    assert_eq!(c.stream_arn, stream_arn);
    clock.advance(2000);
    let c2 = s.register_stream_consumer(stream_arn, "app.2_x").unwrap();
    assert_eq!(s.describe_stream("st").unwrap().consumer_count, 2);
    // Describe by ARN and by stream + name.
    assert_eq!(
        s.describe_stream_consumer(ConsumerRef::Arn(&c.consumer_arn))
            .unwrap(),
        c
    );
    let by_name = ConsumerRef::Name {
        stream: "st",
        consumer_name: "app.2_x",
    };
    assert_eq!(s.describe_stream_consumer(by_name).unwrap(), c2);
    let names = |s: &Streams| {
        s.list_stream_consumers("st")
            .unwrap()
            .into_iter()
            .map(|c| c.consumer_name)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&s), ["app-1", "app.2_x"]);
    // Survives a reopen.
    drop(s);
    let s = open(dir.path(), &clock);
    assert_eq!(names(&s), ["app-1", "app.2_x"]);
    assert_eq!(
        s.describe_stream_consumer(ConsumerRef::Arn(&c2.consumer_arn))
            .unwrap(),
        c2
    );
    // Deregister by ARN and by name; both gone, also after reopen.
    s.deregister_stream_consumer(ConsumerRef::Arn(&c.consumer_arn))
        .unwrap();
    s.deregister_stream_consumer(by_name).unwrap();
    assert!(names(&s).is_empty());
    let e = s
        .describe_stream_consumer(ConsumerRef::Arn(&c.consumer_arn))
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "ResourceNotFoundException");
    let e = s.deregister_stream_consumer(by_name).unwrap_err();
    assert_eq!(e.aws_error_name(), "ResourceNotFoundException");
    drop(s);
    let s = open(dir.path(), &clock);
    assert!(names(&s).is_empty());
    assert_eq!(s.describe_stream("st").unwrap().consumer_count, 0);
    // A re-registered name gets a new ARN; the old ARN names nothing.
    clock.advance(5000);
    let again = s.register_stream_consumer("st", "app-1").unwrap();
    assert_ne!(again.consumer_arn, c.consumer_arn);
    let e = s
        .describe_stream_consumer(ConsumerRef::Arn(&c.consumer_arn))
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "ResourceNotFoundException");
}

#[test]
fn consumer_errors_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let s = open(dir.path(), &clock);
    one_shard(&s, "st");
    let e = s.register_stream_consumer("nope", "c").unwrap_err();
    assert_eq!(e.aws_error_name(), "ResourceNotFoundException");
    for bad in ["", "a b", "x/y", "c:1", &"n".repeat(129)] {
        let e = s.register_stream_consumer("st", bad).unwrap_err();
        assert_eq!(e.aws_error_name(), "ValidationException", "{bad:?}");
    }
    s.register_stream_consumer("st", &"n".repeat(128)).unwrap();
    for i in 1..MAX_CONSUMERS_PER_STREAM {
        s.register_stream_consumer("st", &format!("c{i}")).unwrap();
    }
    let e = s.register_stream_consumer("st", "c1").unwrap_err();
    assert_eq!(e.aws_error_name(), "ResourceInUseException");
    let e = s
        .register_stream_consumer("st", "one-too-many")
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "LimitExceededException");
    assert_eq!(s.list_stream_consumers("st").unwrap().len(), 20);
    // Malformed and foreign ARNs.
    let e = s
        .describe_stream_consumer(ConsumerRef::Arn("not-an-arn"))
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "ValidationException");
    let foreign = format!(
        "arn:aws:kinesis:eu-west-1:000000000000:stream/st/consumer/c1:{}",
        T0 / 1000
    );
    let e = s
        .describe_stream_consumer(ConsumerRef::Arn(&foreign))
        .unwrap_err();
    assert_eq!(e.aws_error_name(), "ResourceNotFoundException");
    // Another stream keeps its own namespace.
    one_shard(&s, "other");
    s.register_stream_consumer("other", "c1").unwrap();
    // DeleteStream refuses while consumers exist, unless enforced.
    let e = s.delete_stream("st").unwrap_err();
    assert_eq!(e.aws_error_name(), "ResourceInUseException");
    assert!(s.describe_stream("st").is_ok());
    s.delete_stream_with("st", true).unwrap();
    assert_eq!(
        s.list_stream_consumers("st").unwrap_err().aws_error_name(),
        "ResourceNotFoundException"
    );
    // Recreating the name starts without consumers.
    one_shard(&s, "st");
    assert!(s.list_stream_consumers("st").unwrap().is_empty());
    s.deregister_stream_consumer(ConsumerRef::Name {
        stream: "other",
        consumer_name: "c1",
    })
    .unwrap();
    s.delete_stream("other").unwrap();
}
