//! AWS Signature Version 4: the shape check every request passes, and full
//! verification when the server is given credentials.
//!
//! By default the server behaves like the local emulators: a request must
//! carry a well-formed `Authorization: AWS4-HMAC-SHA256 Credential=...,
//! SignedHeaders=..., Signature=...` header, but any access key and any
//! signature are accepted. With [`Credentials`] (`eddy serve --auth FILE`)
//! the signature is recomputed from the canonical request and the secret of
//! the named access key, the body's SHA-256 is checked against
//! `x-amz-content-sha256` when sent, and `X-Amz-Date` must be within the
//! allowed clock skew. Failures carry AWS's error names:
//! `MissingAuthenticationTokenException`, `IncompleteSignatureException`,
//! `UnrecognizedClientException`, `InvalidSignatureException`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, Method, Uri};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::context::ServerConfig;
use crate::protocol::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// Access key id → secret access key.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    keys: BTreeMap<String, String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("Credentials")
            .field("access_keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A credentials file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SigV4Error {
    /// The file could not be read.
    #[error("reading credentials file {path}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not `ACCESS_KEY_ID SECRET_ACCESS_KEY`.
    #[error("credentials file {path}, line {line}: expected `ACCESS_KEY_ID SECRET_ACCESS_KEY`")]
    Malformed {
        /// The file.
        path: String,
        /// The 1-based line number.
        line: usize,
    },
    /// The file names no credentials.
    #[error("credentials file {path} holds no credentials")]
    Empty {
        /// The file.
        path: String,
    },
}

impl Credentials {
    /// Credentials from `(access key id, secret)` pairs.
    ///
    /// ```
    /// let c = eddy_server::Credentials::from_pairs([("AKIDEXAMPLE", "secret")]);
    /// assert!(c.secret("AKIDEXAMPLE").is_some());
    /// ```
    pub fn from_pairs<K: Into<String>, S: Into<String>>(
        pairs: impl IntoIterator<Item = (K, S)>,
    ) -> Credentials {
        Credentials {
            keys: pairs
                .into_iter()
                .map(|(k, s)| (k.into(), s.into()))
                .collect(),
        }
    }

    /// Reads a file of `ACCESS_KEY_ID SECRET_ACCESS_KEY` lines (whitespace,
    /// `:` or `,` between them; blank lines and `#` comments ignored).
    pub fn from_file(path: &Path) -> Result<Credentials, SigV4Error> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SigV4Error::Read {
            path: shown.clone(),
            source,
        })?;
        let mut keys = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line
                .split(|c: char| c.is_whitespace() || c == ':' || c == ',')
                .filter(|p| !p.is_empty());
            match (parts.next(), parts.next(), parts.next()) {
                (Some(id), Some(secret), None) => {
                    keys.insert(id.to_string(), secret.to_string());
                }
                _ => {
                    return Err(SigV4Error::Malformed {
                        path: shown,
                        line: n + 1,
                    })
                }
            }
        }
        if keys.is_empty() {
            return Err(SigV4Error::Empty { path: shown });
        }
        Ok(Credentials { keys })
    }

    /// The secret of an access key id.
    pub fn secret(&self, access_key_id: &str) -> Option<&str> {
        self.keys.get(access_key_id).map(String::as_str)
    }
}

/// The parts of an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn incomplete(missing: &str) -> ApiError {
    ApiError::new(
        "IncompleteSignatureException",
        format!("Authorization header requires '{missing}' parameter. Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."),
    )
}

fn parse_authorization(header: &str) -> Result<Authorization<'_>, ApiError> {
    let rest = header.strip_prefix("AWS4-HMAC-SHA256").ok_or_else(|| {
        ApiError::new(
            "IncompleteSignatureException",
            format!("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={header}"),
        )
    })?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| incomplete("Credential"))?;
    let signed = signed.ok_or_else(|| incomplete("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| incomplete("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[4] != "aws4_request" || scope[0].is_empty() {
        return Err(ApiError::new(
            "IncompleteSignatureException",
            format!("Credential should be scoped to a valid region, not '{credential}'. "),
        ));
    }
    Ok(Authorization {
        access_key: scope[0],
        date: scope[1],
        region: scope[2],
        service: scope[3],
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

/// Checks a request's authentication: its shape always, its signature when
/// the server has credentials.
pub fn check(
    config: &ServerConfig,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let query_auth = uri
        .query()
        .is_some_and(|q| q.contains("X-Amz-Algorithm=") || q.contains("X-Amz-Credential="));
    let header = headers.get("authorization").and_then(|v| v.to_str().ok());
    let header = match (header, query_auth) {
        (Some(_), true) => {
            return Err(ApiError::new(
                "InvalidSignatureException",
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
            ))
        }
        (None, true) if config.credentials.is_none() => return Ok(()),
        (None, true) => {
            return Err(ApiError::new(
                "InvalidSignatureException",
                "query-string authentication is not supported; sign with the Authorization header",
            ))
        }
        (None, false) => {
            return Err(ApiError::new(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ))
        }
        (Some(h), false) => h,
    };
    let auth = parse_authorization(header)?;
    let amz_date = headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                "IncompleteSignatureException",
                format!("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization={header}"),
            )
        })?;
    let Some(credentials) = &config.credentials else {
        return Ok(());
    };
    let secret = credentials.secret(auth.access_key).ok_or_else(|| {
        ApiError::new(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    })?;
    let request_secs = parse_amz_date(amz_date).ok_or_else(|| {
        ApiError::new(
            "IncompleteSignatureException",
            format!("Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See http://en.wikipedia.org/wiki/ISO_8601"),
        )
    })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let skew = config.max_clock_skew.as_secs();
    if request_secs + skew < now || request_secs > now + skew {
        return Err(ApiError::new(
            "InvalidSignatureException",
            format!("Signature expired: {amz_date} is outside the allowed clock skew of {skew} seconds from the server's time."),
        ));
    }
    if !amz_date.starts_with(auth.date) {
        return Err(ApiError::new(
            "InvalidSignatureException",
            format!("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'", auth.date, &amz_date[..amz_date.len().min(8)]),
        ));
    }
    let body_hash = hex(&Sha256::digest(body));
    if let Some(sent) = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        if sent != "UNSIGNED-PAYLOAD" && !sent.eq_ignore_ascii_case(&body_hash) {
            return Err(ApiError::new(
                "InvalidSignatureException",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            ));
        }
    }
    let canonical = canonical_request(method, uri, headers, &auth.signed_headers, &body_hash)?;
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let expected = signature(
        secret,
        auth.date,
        auth.region,
        auth.service,
        &string_to_sign,
    );
    if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(ApiError::new(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ));
    }
    Ok(())
}

fn canonical_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    signed_headers: &[&str],
    body_hash: &str,
) -> Result<String, ApiError> {
    let path = if uri.path().is_empty() {
        "/".to_string()
    } else {
        uri_encode(uri.path(), false)
    };
    let mut query: Vec<(String, String)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), true),
                uri_encode(&percent_decode(v), true),
            )
        })
        .collect();
    query.sort();
    let query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut canonical_headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = if *name == "host" && headers.get("host").is_none() {
            // HTTP/2 carries the host in `:authority`.
            uri.authority()
                .map(|a| vec![a.to_string()])
                .unwrap_or_default()
        } else {
            headers
                .get_all(*name)
                .iter()
                .map(|v| {
                    let text = String::from_utf8_lossy(v.as_bytes());
                    text.split_whitespace().collect::<Vec<_>>().join(" ")
                })
                .collect()
        };
        if values.is_empty() {
            return Err(ApiError::new(
                "InvalidSignatureException",
                format!("The request signature names the header '{name}', which the request does not carry."),
            ));
        }
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }
    Ok(format!(
        "{}\n{path}\n{query}\n{canonical_headers}\n{}\n{body_hash}",
        method.as_str(),
        signed_headers.join(";")
    ))
}

/// The hex signature of `string_to_sign` with the key derived from `secret`.
fn signature(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex(&hmac(&k_signing, string_to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return Vec::new(),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `yyyymmddThhmmssZ` → seconds since the epoch.
fn parse_amz_date(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> { text.get(r)?.parse().ok() };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), for years >= 1970.
    let y = if m <= 2 { y.checked_sub(1)? } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + hh * 3_600 + mm * 60 + ss)
}

/// Signs a request the way an SDK does; for tests and the load generator.
///
/// Returns the `Authorization` header value for a `POST /` with the given
/// headers (names lowercase, `host` and `x-amz-date` among them), all of
/// which are signed.
pub fn sign_request(
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    let mut sorted: Vec<(&str, &str)> = headers.to_vec();
    sorted.sort();
    let amz_date = sorted
        .iter()
        .find(|(k, _)| *k == "x-amz-date")
        .map_or("", |(_, v)| *v);
    let date = &amz_date[..amz_date.len().min(8)];
    let canonical_headers: String = sorted
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed: Vec<&str> = sorted.iter().map(|(k, _)| *k).collect();
    let canonical = format!(
        "POST\n/\n\n{canonical_headers}\n{}\n{}",
        signed.join(";"),
        hex(&Sha256::digest(body))
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let sig = signature(secret, date, region, service, &string_to_sign);
    format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={}, Signature={sig}",
        signed.join(";")
    )
}

#[cfg(test)]
mod tests;
