"""Lambda entry point for S3 ``ObjectCreated`` on ``incoming/``: an adapter over :func:`ingest_upload`.

Powertools gives the structured logs (with the run id), traces and metrics; the work itself is plain
code in :mod:`functions.ingest.ingest`. Clients are made on first use, never at import, so that
moto (tests, local mode) applies and a cold start costs nothing for events that are ignored.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ingest.config import IngestConfig
from functions.ingest.ingest import AwsClients, IngestOutcome, Upload, ingest_upload

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def _clients() -> AwsClients:
    session = _session()
    return AwsClients(
        s3=session.client("s3"), stepfunctions=session.client("stepfunctions"), sns=session.client("sns")
    )


def polars_storage_options(session: boto3.session.Session, s3_client: Any) -> dict[str, str]:
    """S3 options for polars' object store, taken from boto3 so both use the same credentials,
    region and endpoint (the function's role on AWS, moto's endpoint locally)."""
    credentials = session.get_credentials().get_frozen_credentials()
    endpoint = s3_client.meta.endpoint_url
    options = {
        "aws_access_key_id": credentials.access_key,
        "aws_secret_access_key": credentials.secret_key,
        "aws_region": s3_client.meta.region_name,
        "aws_endpoint_url": endpoint,
    }
    if credentials.token:
        options["aws_session_token"] = credentials.token
    if endpoint.startswith("http://"):
        options["aws_allow_http"] = "true"
    return options


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> list[dict[str, Any]]:
    config = IngestConfig.from_environment()
    clients = _clients()
    outcomes = []
    for record in event.records:
        obj = record.s3.get_object
        upload = Upload(
            bucket=record.s3.bucket.name,
            key=unquote_plus(obj.key),
            version_id=obj.version_id,
            etag=obj.etag,
            size=obj.size if "size" in obj else None,
        )
        outcome = ingest_upload(
            upload, clients=clients, config=config, storage_options=polars_storage_options(_session(), clients.s3)
        )
        _record(outcome)
        outcomes.append({"key": outcome.key, "status": outcome.status, "run_id": outcome.run_id})
    return outcomes


def _record(outcome: IngestOutcome) -> None:
    logger.append_keys(run_id=outcome.run_id)
    logger.info("upload processed", extra={"status": outcome.status, "key": outcome.key, "reason": outcome.reason})
    if outcome.status == "started":
        metrics.add_metric(name="RowsIngested", unit=MetricUnit.Count, value=outcome.rows)
        metrics.add_metric(name="BytesIngested", unit=MetricUnit.Bytes, value=outcome.bytes_read)
    elif outcome.status == "refused":
        metrics.add_metric(name="UploadsRefused", unit=MetricUnit.Count, value=1)
    elif outcome.status == "duplicate":
        metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=1)
