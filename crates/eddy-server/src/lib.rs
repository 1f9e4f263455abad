//! `eddy serve`: eddy's DynamoDB and Kinesis APIs over HTTP, so boto3, the
//! AWS CLI and the AWS SDKs work against a durable local database
//! unchanged.
//!
//! One loopback port serves both services. A request names its operation
//! in `X-Amz-Target` (`DynamoDB_20120810.*` with JSON 1.0,
//! `Kinesis_20131202.*` with JSON 1.1 or CBOR); the server decodes the body,
//! checks the signature if asked to, runs the operation against the
//! [`eddy::Database`] on tokio's blocking pool (the engine's calls block on
//! fsync and never run on the async workers), and answers in the request's
//! encoding. HTTP/1.1 and cleartext HTTP/2 with prior knowledge (h2c, which
//! the Java SDK v2 speaks to Kinesis) share the port.
//!
//! The crate maps the wire onto the facade's typed requests and nothing
//! else: every rule about items, conditions, streams and destinations lives
//! in the engine, and this crate only translates shapes and errors. Errors
//! carry the AWS error names and, where the reference gives them, AWS's
//! messages.
//!
//! ```no_run
//! use std::sync::Arc;
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let db = Arc::new(eddy::Database::open("/tmp/eddy-data")?);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! let config = eddy_server::ServerConfig::default();
//! eddy_server::serve(db, config, listener, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(()) }
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod auth;
pub mod cbor;
mod context;
mod dynamodb;
pub mod eventstream;
mod http;
pub mod input;
mod kinesis;
pub mod protocol;

pub use auth::{Credentials, SigV4Error};
pub use context::{Context, ServerConfig};
pub use http::{router, serve};
