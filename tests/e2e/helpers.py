"""Helpers for the end-to-end suite: the `eddy serve` process wrapper and AWS-side utilities."""

from __future__ import annotations

import itertools
import os
import pathlib
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import boto3
import pytest
from botocore.config import Config

REPO = pathlib.Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "000000000000"
START_TIMEOUT = 30.0
LISTEN_RE = re.compile(r"^eddy serve: listening on (http://\S+)$")


def eddy_bin() -> str:
    explicit = os.environ.get("EDDY_BIN")
    if explicit:
        path = pathlib.Path(explicit)
    else:
        target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
        if not target.is_absolute():
            target = REPO / target
        path = target / "debug" / "eddy"
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.exit(
            f"eddy binary not found at {path}: build it (cargo build -p eddy-cli) "
            "or set EDDY_BIN, or run scripts/e2e.sh",
            returncode=2,
        )
    return str(path)


class EddyServer:
    """One `eddy serve` child process."""

    def __init__(self, data_dir: pathlib.Path, extra_args: tuple[str, ...] = ()):
        self.data_dir = pathlib.Path(data_dir)
        self.extra_args = tuple(extra_args)
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self._stderr_path = pathlib.Path(
            tempfile.mkstemp(prefix="eddy-serve-", suffix=".stderr")[1]
        )
        self._stderr_file = None
        self._stdout_lines: "queue.Queue[str | None]" = queue.Queue()

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> "EddyServer":
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stderr_file = open(self._stderr_path, "ab")
        cmd = [
            eddy_bin(),
            "serve",
            "--data",
            str(self.data_dir),
            "--listen",
            "127.0.0.1:0",
            *self.extra_args,
        ]
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "1")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            env=env,
            text=True,
        )
        self._stdout_lines = queue.Queue()
        threading.Thread(
            target=self._drain_stdout, args=(self.proc, self._stdout_lines), daemon=True
        ).start()
        deadline = time.monotonic() + START_TIMEOUT
        seen = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                pytest.fail(
                    f"eddy serve did not print its listening line within {START_TIMEOUT:.0f} s\n"
                    f"command: {' '.join(cmd)}\nstdout: {seen!r}\nstderr:\n{self.stderr()}",
                    pytrace=False,
                )
            try:
                line = self._stdout_lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                if self.proc.poll() is not None and self._stdout_lines.empty():
                    code = self.proc.returncode
                    pytest.fail(
                        f"eddy serve exited with {code} before listening\n"
                        f"command: {' '.join(cmd)}\nstdout: {seen!r}\nstderr:\n{self.stderr()}",
                        pytrace=False,
                    )
                continue
            if line is None:
                continue
            seen.append(line)
            m = LISTEN_RE.match(line.strip())
            if m:
                self.url = m.group(1)
                return self

    @staticmethod
    def _drain_stdout(proc: subprocess.Popen, lines: "queue.Queue[str | None]") -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Sends `sig` and waits for the exit; returns the exit code (negative: killed)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(
                    f"eddy serve did not exit within {timeout} s of signal {sig}\n"
                    f"stderr:\n{self.stderr()}"
                )
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr(self, tail: int = 8000) -> str:
        try:
            text = self._stderr_path.read_text(errors="replace")
        except OSError:
            return "<no stderr>"
        return text[-tail:]

    def cleanup(self) -> None:
        self.kill()
        try:
            self._stderr_path.unlink()
        except OSError:
            pass

    # -- clients -------------------------------------------------------------------

    def client(
        self,
        service: str,
        access_key: str = "AKIDEXAMPLE",
        secret_key: str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        read_timeout: float = 30.0,
    ):
        assert self.url, "server not started"
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=5,
                read_timeout=read_timeout,
            ),
        )


def start_server(tmp_path_factory, name: str, extra_args=()) -> EddyServer:
    data = tmp_path_factory.mktemp(name) / "data"
    return EddyServer(data, tuple(extra_args)).start()




_counter = itertools.count()
_run = uuid.uuid4().hex[:6]


def unique(prefix: str) -> str:
    """A table/stream name unique within the run: `<prefix>-<run>-<n>`."""
    return f"{prefix}-{_run}-{next(_counter)}"


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def wait_until(fn, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    """Polls `fn` until it returns a truthy value; returns that value or fails."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def create_table(
    dynamodb,
    name: str,
    hash_key=("pk", "S"),
    range_key=None,
    extra_attrs=(),
    gsis=None,
    lsis=None,
    wait=True,
):
    attrs = {hash_key[0]: hash_key[1]}
    schema = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
    if range_key:
        attrs[range_key[0]] = range_key[1]
        schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
    for n, t in extra_attrs:
        attrs[n] = t
    kwargs = dict(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in attrs.items()],
        BillingMode="PAY_PER_REQUEST",
    )
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = gsis
    if lsis:
        kwargs["LocalSecondaryIndexes"] = lsis
    resp = dynamodb.create_table(**kwargs)
    if wait:
        wait_table_active(dynamodb, name)
    return resp


def wait_table_active(dynamodb, name: str, timeout: float = 15.0):
    def active():
        t = dynamodb.describe_table(TableName=name)["Table"]
        if t["TableStatus"] != "ACTIVE":
            return None
        for g in t.get("GlobalSecondaryIndexes", []):
            if g.get("IndexStatus") != "ACTIVE":
                return None
        return t

    return wait_until(active, timeout, 0.1, f"table {name} ACTIVE")


def create_stream(kinesis, name: str, shards: int = 1, timeout: float = 15.0):
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return wait_stream_active(kinesis, name, timeout)


def wait_stream_active(kinesis, name: str, timeout: float = 15.0):
    def active():
        s = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return s if s["StreamStatus"] == "ACTIVE" else None

    return wait_until(active, timeout, 0.1, f"stream {name} ACTIVE")


def list_all_shards(kinesis, name: str):
    shards, token = [], None
    while True:
        resp = (
            kinesis.list_shards(NextToken=token)
            if token
            else kinesis.list_shards(StreamName=name)
        )
        shards.extend(resp["Shards"])
        token = resp.get("NextToken")
        if not token:
            return shards


def read_shard(kinesis, name: str, shard_id: str, iterator_type="TRIM_HORIZON", **kw):
    """All records currently readable in one shard (follows NextShardIterator until an
    empty page or the end of a closed shard)."""
    it = kinesis.get_shard_iterator(
        StreamName=name, ShardId=shard_id, ShardIteratorType=iterator_type, **kw
    )["ShardIterator"]
    out = []
    for _ in range(1000):
        resp = kinesis.get_records(ShardIterator=it, Limit=10000)
        out.extend(resp["Records"])
        it = resp.get("NextShardIterator")
        if not it or (not resp["Records"] and resp.get("MillisBehindLatest", 0) == 0):
            break
    return out


def read_stream(kinesis, name: str):
    """{shard_id: [records]} for every shard of the stream, from TRIM_HORIZON."""
    return {s["ShardId"]: read_shard(kinesis, name, s["ShardId"]) for s in list_all_shards(kinesis, name)}


def poll_stream_records(kinesis, name: str, count: int, timeout: float = 10.0):
    """Polls every shard from TRIM_HORIZON until at least `count` records are readable;
    returns {shard_id: [records]}."""
    last = {}

    def enough():
        nonlocal last
        last = read_stream(kinesis, name)
        return sum(len(v) for v in last.values()) >= count

    try:
        wait_until(enough, timeout, 0.2, f"{count} records in stream {name}")
    except AssertionError:
        got = sum(len(v) for v in last.values())
        raise AssertionError(
            f"stream {name}: expected at least {count} records within {timeout} s, got {got}"
        ) from None
    return last


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"
