"""SigV4 verification with `eddy serve --auth FILE`."""

import pytest
import requests
from botocore.exceptions import ClientError

from helpers import error_code, start_server, unique

GOOD_KEY = "AKIDEDDYTEST0001"
GOOD_SECRET = "s3cr3t/with+chars=EXAMPLE"
OTHER_KEY = "AKIDEDDYTEST0002"
OTHER_SECRET = "another-secret"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("auth")
    f = d / "credentials"
    f.write_text(f"{GOOD_KEY} {GOOD_SECRET}\n{OTHER_KEY} {OTHER_SECRET}\n")
    srv = start_server(tmp_path_factory, "auth", ["--auth", str(f)])
    yield srv
    srv.stop()
    srv.cleanup()


def test_right_secret_succeeds(auth_server):
    ddb = auth_server.client("dynamodb", GOOD_KEY, GOOD_SECRET)
    assert "TableNames" in ddb.list_tables()
    name = unique("auth")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"S": "x" * 1000}})
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "a"}})["Item"]["v"]["S"] == "x" * 1000
    kin = auth_server.client("kinesis", GOOD_KEY, GOOD_SECRET)
    assert "StreamNames" in kin.list_streams()
    # The second credential of the file works too.
    assert "TableNames" in auth_server.client("dynamodb", OTHER_KEY, OTHER_SECRET).list_tables()


def test_wrong_secret_is_invalid_signature(auth_server):
    for service, call in (("dynamodb", "list_tables"), ("kinesis", "list_streams")):
        client = auth_server.client(service, GOOD_KEY, "wrong-secret")
        with pytest.raises(ClientError) as e:
            getattr(client, call)()
        assert error_code(e) == "InvalidSignatureException", service
    # Another key's secret is wrong too.
    with pytest.raises(ClientError) as e:
        auth_server.client("dynamodb", GOOD_KEY, OTHER_SECRET).list_tables()
    assert error_code(e) == "InvalidSignatureException"


def test_unknown_key_is_unrecognized_client(auth_server):
    for service, call in (("dynamodb", "list_tables"), ("kinesis", "list_streams")):
        client = auth_server.client(service, "AKIDUNKNOWN", GOOD_SECRET)
        with pytest.raises(ClientError) as e:
            getattr(client, call)()
        assert error_code(e) == "UnrecognizedClientException", service


def test_tampered_body_is_invalid_signature(auth_server):
    """A request whose body was changed after signing fails verification."""
    client = auth_server.client("dynamodb", GOOD_KEY, GOOD_SECRET)

    def tamper(request, **kwargs):
        request.body = b'{"Limit": 1}'
        request.headers["Content-Length"] = str(len(request.body))

    client.meta.events.register_first("before-send.dynamodb.ListTables", tamper)
    with pytest.raises(ClientError) as e:
        client.list_tables()
    assert error_code(e) == "InvalidSignatureException"


def test_expired_signature_is_invalid_signature(auth_server, monkeypatch):
    """A signature dated more than 15 minutes away from the server's clock is refused."""
    import datetime

    import botocore.auth

    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda *a, **k: real(*a, **k) - datetime.timedelta(minutes=20))
    with pytest.raises(ClientError) as e:
        auth_server.client("dynamodb", GOOD_KEY, GOOD_SECRET).list_tables()
    assert error_code(e) == "InvalidSignatureException"
    assert "expired" in e.value.response["Error"]["Message"].lower()
    # Within the window is fine.
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda *a, **k: real(*a, **k) - datetime.timedelta(minutes=5))
    assert "TableNames" in auth_server.client("dynamodb", GOOD_KEY, GOOD_SECRET).list_tables()


def test_no_authorization_header(auth_server):
    resp = requests.post(
        auth_server.url + "/",
        data="{}",
        headers={"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"},
        timeout=10,
    )
    assert 400 <= resp.status_code < 500
    assert resp.json()["__type"].rsplit("#", 1)[-1] == "MissingAuthenticationTokenException"


def test_without_auth_any_credentials_work(server):
    import boto3

    for key, secret in (("anything", "goes"), ("AKIDEXAMPLE", "x")):
        assert "TableNames" in server.client("dynamodb", key, secret).list_tables()
        assert "StreamNames" in server.client("kinesis", key, secret).list_streams()
    # Temporary credentials (X-Amz-Security-Token) too.
    c = boto3.session.Session().client("dynamodb", endpoint_url=server.url, region_name="us-east-1",
                                       aws_access_key_id="ASIATEMP", aws_secret_access_key="s",
                                       aws_session_token="token/with+chars==")
    assert "TableNames" in c.list_tables()
