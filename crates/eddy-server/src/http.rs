//! The HTTP layer: one handler for every request on the port.
//!
//! It refuses oversized bodies before reading them whole, dispatches on
//! `X-Amz-Target`, checks the signature, decodes the body in the request's
//! encoding, runs the operation on the blocking pool and renders the answer
//! (or the error) in the same encoding with the headers SDKs read:
//! `x-amzn-RequestId` always, `x-amz-crc32` for DynamoDB (botocore retries
//! when it does not match the body), `X-Amzn-ErrorType` on errors.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::BodyExt as _;
use serde_json::Value;

use crate::context::{Context, ServerConfig};
use crate::protocol::{parse_target, ApiError, Encoding, Reply, Service};

/// The router serving both APIs for `db`; `endpoint` is the `host:port`
/// clients use (for DescribeEndpoints).
pub fn router(db: Arc<eddy::Database>, config: ServerConfig, endpoint: &str) -> Router {
    let ctx = Context {
        db,
        config: Arc::new(config),
        endpoint: Arc::from(endpoint),
    };
    Router::new().fallback(handle).with_state(ctx)
}

/// Serves both APIs on `listener` until `shutdown` completes; requests in
/// flight then finish, and the database's log is synced before this
/// returns.
pub async fn serve(
    db: Arc<eddy::Database>,
    config: ServerConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let endpoint = listener.local_addr()?.to_string();
    let app = router(db.clone(), config, &endpoint);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tokio::task::spawn_blocking(move || db.sync())
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)
}

async fn handle(State(ctx): State<Context>, request: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let target = header_str(headers, "x-amz-target");
    let parsed = target.and_then(parse_target);
    let service = parsed.map_or(Service::DynamoDb, |(s, _)| s);
    let encoding = Encoding::from_content_type(header_str(headers, "content-type"), service);

    if parts.method == Method::GET && target.is_none() {
        let text = format!("healthy: dynamodb.{}.amazonaws.com ", ctx.config.region);
        return plain(StatusCode::OK, text, &request_id);
    }

    let limit = ctx.config.max_body_bytes;
    let declared = header_str(headers, "content-length").and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return error_response(&too_large(limit), service, encoding, &request_id);
    }
    let bytes = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return error_response(&too_large(limit), service, encoding, &request_id)
        }
        Err(e) => {
            let error = ApiError::serialization(format!("could not read the request body: {e}"));
            return error_response(&error, service, encoding, &request_id);
        }
    };

    if let Err(error) = crate::auth::check(&ctx.config, &parts.method, &parts.uri, headers, &bytes)
    {
        return error_response(&error, service, encoding, &request_id);
    }

    let Some((service, operation)) = parsed else {
        let error = ApiError::new("UnknownOperationException", "");
        return error_response(&error, service, encoding, &request_id);
    };
    if parts.method != Method::POST {
        let error = ApiError::serialization("only POST requests are accepted");
        return error_response(&error, service, encoding, &request_id);
    }

    let input = match decode_body(&bytes, encoding) {
        Ok(v) => v,
        Err(error) => return error_response(&error, service, encoding, &request_id),
    };
    let operation = operation.to_string();
    let op_ctx = ctx.clone();
    // A task of its own, like the blocking pool's, so that a panic is a
    // 500 and not a dropped connection.
    let outcome = if service == Service::DynamoDb && crate::dynamodb::is_async(&operation) {
        tokio::spawn(
            async move { crate::dynamodb::handle_async(&op_ctx, &operation, &input).await },
        )
        .await
    } else {
        tokio::task::spawn_blocking(move || match service {
            Service::DynamoDb => crate::dynamodb::handle(&op_ctx, &operation, &input),
            Service::Kinesis => crate::kinesis::handle(&op_ctx, &operation, &input, encoding),
        })
        .await
    };
    match outcome {
        Ok(Ok(reply)) => reply_response(reply, service, encoding, &request_id),
        Ok(Err(error)) => {
            if error.status >= 500 {
                tracing::error!(code = %error.code, message = %error.message, "internal error");
            }
            error_response(&error, service, encoding, &request_id)
        }
        Err(join) => {
            tracing::error!(error = %join, "operation panicked");
            let error = ApiError::internal(service, "internal server error");
            error_response(&error, service, encoding, &request_id)
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn too_large(limit: usize) -> ApiError {
    let mut e = ApiError::new(
        "RequestEntityTooLargeException",
        format!("Request must be smaller than {limit} bytes"),
    );
    e.status = 413;
    e
}

fn decode_body(bytes: &Bytes, encoding: Encoding) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match encoding {
        Encoding::Cbor => crate::cbor::decode_request(bytes)
            .map_err(|e| ApiError::serialization(format!("malformed CBOR body: {e}"))),
        Encoding::Json10 | Encoding::Json11 => serde_json::from_slice(bytes)
            .map_err(|e| ApiError::serialization(format!("malformed JSON body: {e}"))),
    }
}

fn encode_body(value: &Value, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Cbor => crate::cbor::encode_response(value),
        Encoding::Json10 | Encoding::Json11 => {
            // A `Value` always serializes.
            serde_json::to_vec(value).unwrap_or_default()
        }
    }
}

fn reply_response(reply: Reply, service: Service, encoding: Encoding, id: &str) -> Response {
    match reply {
        Reply::Body(value) => bytes_response(
            StatusCode::OK,
            encode_body(&value, encoding),
            service,
            encoding,
            id,
        ),
        Reply::Empty => bytes_response(StatusCode::OK, Vec::new(), service, encoding, id),
        Reply::EventStream(receiver) => {
            let stream = tokio_stream_from(receiver).map(Ok::<_, std::convert::Infallible>);
            let mut response = Response::new(Body::from_stream(stream));
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/vnd.amazon.eventstream"),
            );
            insert(h, "x-amzn-requestid", id);
            response
        }
    }
}

/// Adapts a tokio mpsc receiver into a stream of frames.
fn tokio_stream_from(
    receiver: tokio::sync::mpsc::Receiver<Bytes>,
) -> impl futures_util::Stream<Item = Bytes> {
    futures_util::stream::unfold(receiver, |mut rx| async move {
        rx.recv().await.map(|frame| (frame, rx))
    })
}

fn error_response(error: &ApiError, service: Service, encoding: Encoding, id: &str) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = encode_body(&error.body(service), encoding);
    let mut response = bytes_response(status, body, service, encoding, id);
    insert(response.headers_mut(), "x-amzn-errortype", &error.code);
    response
}

fn bytes_response(
    status: StatusCode,
    body: Vec<u8>,
    service: Service,
    encoding: Encoding,
    id: &str,
) -> Response {
    let crc = crc32fast::hash(&body);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    insert(h, "x-amzn-requestid", id);
    if service == Service::DynamoDb {
        insert(h, "x-amz-crc32", &crc.to_string());
    }
    response
}

fn plain(status: StatusCode, text: String, id: &str) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    insert(response.headers_mut(), "x-amzn-requestid", id);
    response
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}
