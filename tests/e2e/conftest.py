"""Fixtures for the end-to-end suite: a real `eddy serve` process and boto3 clients.

The binary comes from the environment variable EDDY_BIN (scripts/e2e.sh sets it);
without it, `$CARGO_TARGET_DIR/debug/eddy` (default `target/debug/eddy`) is used.

One server runs per test module (fresh data directory, port 0); tests use unique
table and stream names, so they don't depend on each other.
"""

from __future__ import annotations

import os

import pytest

from helpers import start_server, unique


@pytest.fixture(scope="module")
def server(tmp_path_factory, request):
    srv = start_server(tmp_path_factory, request.module.__name__.split(".")[-1])
    yield srv
    crashed = not srv.alive()
    code = srv.stop()
    stderr = srv.stderr()
    srv.cleanup()
    if crashed:
        pytest.fail(
            f"eddy serve died during {request.module.__name__} (exit {code})\nstderr:\n{stderr}",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def dynamodb(server):
    return server.client("dynamodb")


@pytest.fixture(scope="module")
def kinesis(server):
    return server.client("kinesis")


@pytest.fixture
def table_name():
    return unique("t")


@pytest.fixture
def stream_name():
    return unique("s")


def pytest_report_header(config):
    return [f"eddy binary: {os.environ.get('EDDY_BIN', '(default target/debug/eddy)')}"]
