"""Functional tier: handlers and plain functions against moto running as a real server.

polars and pyarrow talk to S3 with their own HTTP clients, which in-process ``mock_aws`` cannot see,
so the functional tests use moto's threaded server on a free port and point every client at it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

REGION = "us-east-1"

# Powertools reads these when a handler module is imported, as Lambda sets them before the import.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "dropml")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
EVENTS = Path(__file__).parent.parent / "events"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean moto account per test, reached through AWS_ENDPOINT_URL like any AWS client would."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    for name, value in {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    yield moto_endpoint


def client(service: str) -> Any:  # boto3 clients are untyped
    return boto3.client(service, region_name=REGION)


@dataclass
class LambdaContext:
    """The parts of the Lambda context object that Powertools reads."""

    function_name: str = "IngestFunction"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:IngestFunction"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def s3_event(bucket: str, key: str, *, etag: str, version_id: str | None, size: int) -> dict:
    """The S3 notification AWS sends for one PUT; the key URL-encoded as S3 encodes it."""
    event = json.loads((EVENTS / "s3_object_created.json").read_text())
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = bucket
    record["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    record["object"].update(key=quote_plus(key, safe="/"), eTag=etag, versionId=version_id, size=size)
    return event
