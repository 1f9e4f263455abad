//! Enhanced fan-out consumers: `RegisterStreamConsumer`,
//! `DescribeStreamConsumer`, `ListStreamConsumers`,
//! `DeregisterStreamConsumer`, and `DeleteStream`'s
//! `EnforceConsumerDeletion`.
//!
//! Consumers are part of the stream's metadata snapshot (so they survive a
//! reopen) and change with the same clone–persist–swap transaction as every
//! other control-plane operation. Registration is synchronous: a consumer
//! is `ACTIVE` as soon as the call returns, so the "at most 5 consumers in
//! `CREATING`" limit can never be hit and only the 20-per-stream limit
//! applies.
//!
//! A consumer ARN embeds the registration second
//! (`<stream ARN>/consumer/<name>:<epoch secs>`); an ARN of an earlier,
//! deregistered consumer of the same name therefore names nothing.

use crate::error::{Error, Result};
use crate::meta::{self, ConsumerMeta};
use crate::Streams;

/// Most consumers one stream may have registered (`LimitExceededException`).
pub const MAX_CONSUMERS_PER_STREAM: usize = 20;

/// `ConsumerStatus`. Registration and deregistration are synchronous, so a
/// listed consumer is always `ACTIVE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConsumerStatus {
    /// Ready for `SubscribeToShard`.
    Active,
}

impl ConsumerStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        "ACTIVE"
    }
}

/// A registered consumer (`Consumer` / `ConsumerDescription`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// `ConsumerName`.
    pub consumer_name: String,
    /// `ConsumerARN`: `<stream ARN>/consumer/<name>:<creation epoch secs>`.
    pub consumer_arn: String,
    /// `ConsumerStatus`.
    pub consumer_status: ConsumerStatus,
    /// `ConsumerCreationTimestamp` in epoch milliseconds.
    pub consumer_creation_millis: u64,
    /// `StreamARN` (part of `ConsumerDescription`).
    pub stream_arn: String,
}

/// How `DescribeStreamConsumer` / `DeregisterStreamConsumer` name a
/// consumer: by its ARN alone, or by stream and consumer name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerRef<'a> {
    /// `ConsumerARN`.
    Arn(&'a str),
    /// `StreamARN` (or stream name) plus `ConsumerName`.
    Name {
        /// The stream name or ARN.
        stream: &'a str,
        /// The consumer name.
        consumer_name: &'a str,
    },
}

/// Check a consumer name against `[a-zA-Z0-9_.-]{1,128}`.
pub(crate) fn validate_consumer_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 128 {
        return Err(Error::validation(
            name,
            "consumerName",
            "Member must have length less than or equal to 128 and greater than or equal to 1",
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(Error::validation(
            name,
            "consumerName",
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        ));
    }
    Ok(())
}

/// A consumer ARN taken apart.
pub(crate) struct ParsedArn {
    pub stream: String,
    pub consumer: String,
    pub created_secs: u64,
}

impl Streams {
    fn consumer_view(&self, stream: &str, c: &ConsumerMeta) -> Result<Consumer> {
        let stream_arn = self.stream_arn(stream)?;
        Ok(Consumer {
            consumer_arn: format!(
                "{stream_arn}/consumer/{}:{}",
                c.name,
                c.created_millis / 1000
            ),
            consumer_name: c.name.clone(),
            consumer_status: ConsumerStatus::Active,
            consumer_creation_millis: c.created_millis,
            stream_arn,
        })
    }

    pub(crate) fn consumer_not_found(&self, what: &str) -> Error {
        Error::ResourceNotFound(format!(
            "Consumer {what} under account {} not found.",
            self.account()
        ))
    }

    /// Split a consumer ARN into stream, name and registration second.
    /// A string that is not shaped like one is a `ValidationException`; a
    /// well-formed ARN of another region or account is not found.
    pub(crate) fn parse_consumer_arn(&self, arn: &str) -> Result<ParsedArn> {
        let invalid = || {
            Error::validation(
                arn,
                "consumerARN",
                "Member must satisfy regular expression pattern: ^(arn):aws.*:kinesis:.*:\\d{12}:.*stream\\/[a-zA-Z0-9_.-]+\\/consumer\\/[a-zA-Z0-9_.-]+:[0-9]+",
            )
        };
        let (stream_arn, rest) = arn.split_once("/consumer/").ok_or_else(invalid)?;
        let (consumer, secs) = rest.rsplit_once(':').ok_or_else(invalid)?;
        let created_secs: u64 = secs.parse().map_err(|_| invalid())?;
        validate_consumer_name(consumer).map_err(|_| invalid())?;
        if !stream_arn.starts_with("arn:") {
            return Err(invalid());
        }
        let stream = self
            .resolve(stream_arn)
            .map_err(|_| self.consumer_not_found(arn))?;
        Ok(ParsedArn {
            stream,
            consumer: consumer.to_string(),
            created_secs,
        })
    }

    /// Resolve a [`ConsumerRef`] to (stream name, consumer metadata).
    fn find_consumer(&self, c: ConsumerRef<'_>) -> Result<(String, ConsumerMeta)> {
        let (stream, name, secs, label) = match c {
            ConsumerRef::Arn(arn) => {
                let p = self.parse_consumer_arn(arn)?;
                (p.stream, p.consumer, Some(p.created_secs), arn.to_string())
            }
            ConsumerRef::Name {
                stream,
                consumer_name,
            } => {
                validate_consumer_name(consumer_name)?;
                let s = self.resolve(stream)?;
                let label = format!("{consumer_name} under stream {s}");
                (s, consumer_name.to_string(), None, label)
            }
        };
        let st = self.inner.state.read();
        let sm = st.meta.streams.get(&stream).ok_or_else(|| match c {
            ConsumerRef::Arn(_) => self.consumer_not_found(&label),
            ConsumerRef::Name { .. } => self.stream_not_found(&stream),
        })?;
        let found = sm
            .consumers
            .iter()
            .find(|m| m.name == name && secs.is_none_or(|s| m.created_millis / 1000 == s))
            .cloned()
            .ok_or_else(|| self.consumer_not_found(&label))?;
        Ok((stream, found))
    }

    /// `RegisterStreamConsumer`: the consumer is `ACTIVE` when this returns.
    /// A duplicate name is `ResourceInUseException`; a 21st consumer is
    /// `LimitExceededException`.
    pub fn register_stream_consumer(&self, stream: &str, consumer_name: &str) -> Result<Consumer> {
        let name = self.resolve(stream)?;
        validate_consumer_name(consumer_name)?;
        let mut st = self.inner.state.write();
        let sm = st
            .meta
            .streams
            .get(&name)
            .ok_or_else(|| self.stream_not_found(&name))?;
        if sm.consumers.iter().any(|c| c.name == consumer_name) {
            return Err(Error::ResourceInUse(format!(
                "Consumer {consumer_name} under stream {name} already exists for account {}.",
                self.account()
            )));
        }
        if sm.consumers.len() >= MAX_CONSUMERS_PER_STREAM {
            return Err(Error::LimitExceeded(format!(
                "Consumer limit of {MAX_CONSUMERS_PER_STREAM} reached for stream {name} under account {}.",
                self.account()
            )));
        }
        let c = ConsumerMeta {
            name: consumer_name.to_string(),
            created_millis: self.now(),
        };
        let mut next = st.meta.clone();
        if let Some(s) = next.streams.get_mut(&name) {
            s.consumers.push(c.clone());
        }
        meta::save(self.inner.opts.fs.as_ref(), &self.inner.dir, &next)?;
        st.meta = next;
        drop(st);
        self.consumer_view(&name, &c)
    }

    /// `DescribeStreamConsumer` by consumer ARN or by stream and name.
    pub fn describe_stream_consumer(&self, consumer: ConsumerRef<'_>) -> Result<Consumer> {
        let (stream, c) = self.find_consumer(consumer)?;
        self.consumer_view(&stream, &c)
    }

    /// `ListStreamConsumers`: every consumer of the stream, in registration
    /// order.
    pub fn list_stream_consumers(&self, stream: &str) -> Result<Vec<Consumer>> {
        let name = self.resolve(stream)?;
        let consumers = {
            let st = self.inner.state.read();
            st.meta
                .streams
                .get(&name)
                .ok_or_else(|| self.stream_not_found(&name))?
                .consumers
                .clone()
        };
        consumers
            .iter()
            .map(|c| self.consumer_view(&name, c))
            .collect()
    }

    /// `DeregisterStreamConsumer` by consumer ARN or by stream and name. The
    /// consumer's live subscriptions end with a `ResourceNotFoundException`
    /// event.
    pub fn deregister_stream_consumer(&self, consumer: ConsumerRef<'_>) -> Result<()> {
        let (stream, c) = self.find_consumer(consumer)?;
        let mut st = self.inner.state.write();
        let mut next = st.meta.clone();
        let Some(sm) = next.streams.get_mut(&stream) else {
            return Err(self.stream_not_found(&stream));
        };
        let before = sm.consumers.len();
        sm.consumers.retain(|m| m != &c);
        if sm.consumers.len() == before {
            // Deregistered concurrently.
            return Err(self.consumer_not_found(&c.name));
        }
        meta::save(self.inner.opts.fs.as_ref(), &self.inner.dir, &next)?;
        st.meta = next;
        drop(st);
        self.inner
            .fanout
            .end_consumer(&stream, &c.name, crate::fanout::EndReason::Deregistered);
        Ok(())
    }
}
