//! What every operation sees: the database and the server's settings.

use std::sync::Arc;

use eddy::Database;

use crate::auth::Credentials;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The account id ARNs carry (`--account`). The database must have been
    /// opened with the same one ([`eddy::Options::account`]).
    pub account: String,
    /// The region ARNs carry (`--region`).
    pub region: String,
    /// Verify every request's SigV4 signature against these credentials;
    /// `None` accepts any well-formed signature, as local emulators do.
    pub credentials: Option<Credentials>,
    /// The largest request body accepted, in bytes; larger bodies are
    /// refused before they are read whole.
    pub max_body_bytes: usize,
    /// How far a request's `X-Amz-Date` may be from the server's clock when
    /// signatures are verified (AWS allows 15 minutes).
    pub max_clock_skew: std::time::Duration,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            account: "000000000000".into(),
            region: "us-east-1".into(),
            credentials: None,
            // DynamoDB's batch operations stay under 16 MiB; Kinesis's
            // PutRecords under 10 MiB.
            max_body_bytes: 16 << 20,
            max_clock_skew: std::time::Duration::from_secs(15 * 60),
        }
    }
}

/// The state shared by all requests.
#[derive(Clone)]
pub struct Context {
    /// The database every operation runs against.
    pub db: Arc<Database>,
    /// The server's settings.
    pub config: Arc<ServerConfig>,
    /// The address clients reach the server at (`host:port`), for
    /// DescribeEndpoints.
    pub endpoint: Arc<str>,
}

impl Context {
    /// A table's ARN.
    pub fn table_arn(&self, table: &str) -> String {
        self.db.table_arn(table)
    }
}
