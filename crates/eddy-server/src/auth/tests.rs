//! SigV4 verification against signatures made the way SDKs make them.
use super::*;

fn now_amz_date() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Inverse of parse_amz_date, by search over the day (tests only).
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (mut y, mut m, mut d) = (1970u64, 1u64, 1u64);
    let mut left = days;
    loop {
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let len = if leap { 366 } else { 365 };
        if left < len {
            break;
        }
        left -= len;
        y += 1;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let months = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    for len in months {
        if left < len {
            break;
        }
        left -= len;
        m += 1;
    }
    d += left;
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn request(secret: &str, body: &[u8], date: &str) -> HeaderMap {
    let pairs = [
        ("host", "127.0.0.1:8000"),
        ("x-amz-date", date),
        ("x-amz-target", "DynamoDB_20120810.ListTables"),
        ("content-type", "application/x-amz-json-1.0"),
    ];
    let auth = sign_request("AKID", secret, "us-east-1", "dynamodb", &pairs, body);
    let mut headers = HeaderMap::new();
    for (k, v) in pairs {
        headers.insert(k, v.parse().unwrap());
    }
    headers.insert("authorization", auth.parse().unwrap());
    headers
}

fn verifying() -> ServerConfig {
    ServerConfig {
        credentials: Some(Credentials::from_pairs([("AKID", "right")])),
        ..ServerConfig::default()
    }
}

#[test]
fn amz_dates_parse_to_epoch_seconds() {
    assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
    assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
    assert_eq!(parse_amz_date("20240229T000000Z"), Some(1_709_164_800));
    assert_eq!(parse_amz_date("2015-08-30T12:36:00Z"), None);
    assert_eq!(parse_amz_date("20151330T123600Z"), None);
    let now = now_amz_date();
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(parse_amz_date(&now).unwrap().abs_diff(secs) < 5, "{now}");
}

#[test]
fn the_right_secret_verifies_and_a_wrong_one_does_not() {
    let uri: Uri = "/".parse().unwrap();
    let body = b"{}";
    let date = now_amz_date();
    let config = verifying();
    check(
        &config,
        &Method::POST,
        &uri,
        &request("right", body, &date),
        body,
    )
    .unwrap();
    let e = check(
        &config,
        &Method::POST,
        &uri,
        &request("wrong", body, &date),
        body,
    )
    .unwrap_err();
    assert_eq!(e.code, "InvalidSignatureException");
    // The body is covered by the signature.
    let e = check(
        &config,
        &Method::POST,
        &uri,
        &request("right", body, &date),
        b"{ }",
    )
    .unwrap_err();
    assert_eq!(e.code, "InvalidSignatureException");
    // Without credentials any well-formed signature passes.
    check(
        &ServerConfig::default(),
        &Method::POST,
        &uri,
        &request("wrong", body, &date),
        body,
    )
    .unwrap();
}

#[test]
fn unknown_keys_stale_dates_and_missing_headers_are_refused() {
    let uri: Uri = "/".parse().unwrap();
    let body = b"{}";
    let mut config = verifying();
    config.credentials = Some(Credentials::from_pairs([("OTHER", "right")]));
    let e = check(
        &config,
        &Method::POST,
        &uri,
        &request("right", body, &now_amz_date()),
        body,
    )
    .unwrap_err();
    assert_eq!(e.code, "UnrecognizedClientException");

    let e = check(
        &verifying(),
        &Method::POST,
        &uri,
        &request("right", body, "20150830T123600Z"),
        body,
    )
    .unwrap_err();
    assert_eq!(e.code, "InvalidSignatureException");
    assert!(e.message.contains("Signature expired"), "{e}");

    let e = check(
        &ServerConfig::default(),
        &Method::POST,
        &uri,
        &HeaderMap::new(),
        body,
    )
    .unwrap_err();
    assert_eq!(e.code, "MissingAuthenticationTokenException");

    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/dynamodb/aws4_request"
            .parse()
            .unwrap(),
    );
    let e = check(
        &ServerConfig::default(),
        &Method::POST,
        &uri,
        &headers,
        body,
    )
    .unwrap_err();
    assert_eq!(e.code, "IncompleteSignatureException");
}

#[test]
fn credentials_files_parse_and_report_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds");
    std::fs::write(&path, "# local keys\nAKID secret\nAKID2:other\n").unwrap();
    let c = Credentials::from_file(&path).unwrap();
    assert_eq!(c.secret("AKID"), Some("secret"));
    assert_eq!(c.secret("AKID2"), Some("other"));
    assert!(!format!("{c:?}").contains("secret"));
    std::fs::write(&path, "AKID\n").unwrap();
    assert!(matches!(
        Credentials::from_file(&path),
        Err(SigV4Error::Malformed { line: 1, .. })
    ));
    std::fs::write(&path, "# nothing\n").unwrap();
    assert!(matches!(
        Credentials::from_file(&path),
        Err(SigV4Error::Empty { .. })
    ));
}
