"""boto3 clients for the Lambda handlers, made on first use and reused across warm invocations.

Never at import: moto (tests, local mode) must be in place before a client exists, and an event that
is ignored should not pay for clients it does not use.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


@cache
def session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    return session().client(service)


def reset() -> None:
    """Forget cached clients (tests point each one at a fresh moto)."""
    client.cache_clear()
    session.cache_clear()


def polars_storage_options() -> dict[str, str]:
    """S3 options for polars' object store, taken from boto3 so both use the same credentials,
    region and endpoint (the function's role on AWS, moto's endpoint locally)."""
    s3 = client("s3")
    credentials = session().get_credentials().get_frozen_credentials()
    endpoint = s3.meta.endpoint_url
    options = {
        "aws_access_key_id": credentials.access_key,
        "aws_secret_access_key": credentials.secret_key,
        "aws_region": s3.meta.region_name,
        "aws_endpoint_url": endpoint,
    }
    if credentials.token:
        options["aws_session_token"] = credentials.token
    if endpoint.startswith("http://"):
        options["aws_allow_http"] = "true"
    return options
