"""Helpers for the functional tier's tests against moto's server (the ``aws`` fixture, ``tests/fixtures/aws.py``):
boto3 clients, a Lambda context, the S3 event a PUT sends."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3

REGION = "us-east-1"
EVENTS = Path(__file__).resolve().parents[1] / "events"


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
