"""Lambda entry point for S3 ``ObjectCreated`` on ``incoming/``: an adapter over :func:`ingest_upload`.

Powertools gives the structured logs (with the run id), traces and metrics; the work itself is plain
code in :mod:`functions.ingest.ingest`. Clients come from :mod:`functions.aws`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import aws
from functions.config import IngestConfig
from functions.ingest.ingest import AwsClients, IngestOutcome, Upload, ingest_upload

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> list[dict[str, Any]]:
    config = IngestConfig.from_environment()
    clients = AwsClients(s3=aws.client("s3"), stepfunctions=aws.client("stepfunctions"), sns=aws.client("sns"))
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
        outcome = ingest_upload(upload, clients=clients, config=config, storage_options=aws.polars_storage_options())
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
    else:
        metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=1)
