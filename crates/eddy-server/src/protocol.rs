//! The wire protocol shared by both services: which service and operation a
//! request names, how its body is encoded, and how errors are rendered.
//!
//! Both services are "AWS JSON" protocols: every request is `POST /` with
//! the operation in `X-Amz-Target` (`DynamoDB_20120810.PutItem`,
//! `Kinesis_20131202.GetRecords`) and the input as the body. DynamoDB speaks
//! JSON 1.0; Kinesis speaks JSON 1.1 and, for the Java SDKs, CBOR. An answer
//! uses the request's encoding, errors included.
//!
//! Errors are HTTP 400 with `{"__type": ..., "message": ...}`, 500 only for
//! internal faults. DynamoDB namespaces `__type`
//! (`com.amazonaws.dynamodb.v20120810#ResourceNotFoundException`); Kinesis
//! sends the bare name. botocore reads the code after the last `#`.

use serde_json::{Map, Value};

/// The two services served on the one port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `DynamoDB_20120810`, JSON 1.0.
    DynamoDb,
    /// `Kinesis_20131202`, JSON 1.1 or CBOR.
    Kinesis,
}

/// The target prefix of DynamoDB operations.
pub const DYNAMODB_PREFIX: &str = "DynamoDB_20120810";
/// The target prefix of Kinesis operations.
pub const KINESIS_PREFIX: &str = "Kinesis_20131202";

/// Splits `X-Amz-Target` into its service and operation.
///
/// ```
/// use eddy_server::protocol::{parse_target, Service};
/// assert_eq!(parse_target("DynamoDB_20120810.PutItem"), Some((Service::DynamoDb, "PutItem")));
/// assert_eq!(parse_target("Kinesis_20131202.GetRecords"), Some((Service::Kinesis, "GetRecords")));
/// assert_eq!(parse_target("S3.GetObject"), None);
/// ```
pub fn parse_target(target: &str) -> Option<(Service, &str)> {
    let (prefix, op) = target.split_once('.')?;
    let service = match prefix {
        DYNAMODB_PREFIX => Service::DynamoDb,
        KINESIS_PREFIX => Service::Kinesis,
        _ => return None,
    };
    Some((service, op))
}

/// How a request body (and so its answer) is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-amz-json-1.0` (DynamoDB).
    Json10,
    /// `application/x-amz-json-1.1` (Kinesis).
    Json11,
    /// `application/x-amz-cbor-1.1` (Kinesis from the Java SDKs).
    Cbor,
}

impl Encoding {
    /// The encoding a request asks for with its `Content-Type`, defaulting
    /// to the service's JSON version.
    pub fn from_content_type(content_type: Option<&str>, service: Service) -> Encoding {
        let ct = content_type.unwrap_or("").trim().to_ascii_lowercase();
        if ct.starts_with("application/x-amz-cbor") {
            Encoding::Cbor
        } else {
            match service {
                Service::DynamoDb => Encoding::Json10,
                Service::Kinesis => Encoding::Json11,
            }
        }
    }

    /// The `Content-Type` of answers in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Json10 => "application/x-amz-json-1.0",
            Encoding::Json11 => "application/x-amz-json-1.1",
            Encoding::Cbor => "application/x-amz-cbor-1.1",
        }
    }
}

/// An error as the client sees it: HTTP status, AWS error code, message,
/// and any extra members (`CancellationReasons`, `Item`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// 400 for client errors, 500 for faults.
    pub status: u16,
    /// The bare AWS error code (`ResourceNotFoundException`).
    pub code: String,
    /// The message.
    pub message: String,
    /// Further members of the error body.
    pub extra: Map<String, Value>,
}

impl ApiError {
    /// A client error (HTTP 400).
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: code.into(),
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// `ValidationException`.
    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new("ValidationException", message)
    }

    /// `SerializationException`: the body is not what the operation takes.
    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new("SerializationException", message)
    }

    /// `InvalidArgumentException` (Kinesis's semantic argument errors).
    pub fn invalid_argument(message: impl Into<String>) -> ApiError {
        ApiError::new("InvalidArgumentException", message)
    }

    /// `ResourceNotFoundException`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new("ResourceNotFoundException", message)
    }

    /// An internal fault (HTTP 500) with the service's fault code.
    pub fn internal(service: Service, message: impl Into<String>) -> ApiError {
        let code = match service {
            Service::DynamoDb => "InternalServerError",
            Service::Kinesis => "InternalFailureException",
        };
        ApiError {
            status: 500,
            code: code.to_string(),
            message: message.into(),
            extra: Map::new(),
        }
    }

    /// Adds a member to the error body.
    pub fn with(mut self, key: &str, value: Value) -> ApiError {
        self.extra.insert(key.to_string(), value);
        self
    }

    /// The `__type` the service writes: namespaced for DynamoDB, bare for
    /// Kinesis.
    ///
    /// ```
    /// use eddy_server::protocol::{ApiError, Service};
    /// let e = ApiError::not_found("Requested resource not found");
    /// assert_eq!(e.type_name(Service::DynamoDb), "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException");
    /// assert_eq!(e.type_name(Service::Kinesis), "ResourceNotFoundException");
    /// assert_eq!(ApiError::validation("x").type_name(Service::DynamoDb), "com.amazon.coral.validate#ValidationException");
    /// ```
    pub fn type_name(&self, service: Service) -> String {
        match service {
            Service::Kinesis => self.code.clone(),
            Service::DynamoDb => {
                let namespace = match self.code.as_str() {
                    "ValidationException" => "com.amazon.coral.validate",
                    "SerializationException"
                    | "UnknownOperationException"
                    | "MissingAuthenticationTokenException"
                    | "InvalidSignatureException"
                    | "IncompleteSignatureException"
                    | "UnrecognizedClientException"
                    | "AccessDeniedException"
                    | "RequestEntityTooLargeException" => "com.amazon.coral.service",
                    _ => "com.amazonaws.dynamodb.v20120810",
                };
                format!("{namespace}#{}", self.code)
            }
        }
    }

    /// The error body as a JSON value (CBOR answers encode the same value).
    pub fn body(&self, service: Service) -> Value {
        let mut body = Map::new();
        body.insert("__type".into(), Value::String(self.type_name(service)));
        // DynamoDB writes `message`, Kinesis `message` too; botocore reads
        // either casing.
        body.insert("message".into(), Value::String(self.message.clone()));
        for (k, v) in &self.extra {
            body.insert(k.clone(), v.clone());
        }
        Value::Object(body)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// What an operation answers.
pub enum Reply {
    /// HTTP 200 with this body.
    Body(Value),
    /// HTTP 200 with an empty body (CreateStream, SplitShard, ...).
    Empty,
    /// HTTP 200 with an AWS event stream (SubscribeToShard): each item is
    /// one encoded event-stream message; the stream ends when the sender
    /// is dropped.
    EventStream(tokio::sync::mpsc::Receiver<bytes::Bytes>),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Body(v) => f.debug_tuple("Body").field(v).finish(),
            Reply::Empty => f.write_str("Empty"),
            Reply::EventStream(_) => f.write_str("EventStream"),
        }
    }
}

/// The result of one operation.
pub type OpResult = Result<Reply, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_follows_content_type_and_service() {
        assert_eq!(
            Encoding::from_content_type(Some("application/x-amz-cbor-1.1"), Service::Kinesis),
            Encoding::Cbor
        );
        assert_eq!(
            Encoding::from_content_type(Some("application/x-amz-json-1.1"), Service::Kinesis),
            Encoding::Json11
        );
        assert_eq!(
            Encoding::from_content_type(None, Service::DynamoDb),
            Encoding::Json10
        );
    }

    #[test]
    fn error_body_carries_type_message_and_extras() {
        let e = ApiError::new(
            "ConditionalCheckFailedException",
            "The conditional request failed",
        )
        .with("Item", serde_json::json!({"id": {"S": "a"}}));
        let body = e.body(Service::DynamoDb);
        assert_eq!(
            body["__type"],
            "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
        );
        assert_eq!(body["message"], "The conditional request failed");
        assert_eq!(body["Item"]["id"]["S"], "a");
        assert_eq!(ApiError::internal(Service::Kinesis, "boom").status, 500);
    }
}
