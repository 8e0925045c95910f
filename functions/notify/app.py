"""Adapter: build the report for the execution's final state, publish it, keep a copy with the run."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.names import split_s3_uri
from functions import aws
from functions.notify.report import build_report

NOTIFICATION_TOPIC_ARN = "NOTIFICATION_TOPIC_ARN"

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = {**event["state"], "started_at": event.get("started_at")}
    report = build_report(state, failed=event["outcome"] == "failed", finished_at=datetime.now(UTC))
    aws.client("sns").publish(
        TopicArn=os.environ[NOTIFICATION_TOPIC_ARN],
        Subject=report.subject,
        Message=report.body,
        MessageAttributes={
            "status": {"DataType": "String", "StringValue": report.document["status"]},
            "dataset": {"DataType": "String", "StringValue": str(report.document["dataset"])},
        },
    )
    source, run = state.get("source", ""), state.get("run_id")
    if run and source.startswith("s3://"):
        bucket, _ = split_s3_uri(source)
        aws.client("s3").put_object(
            Bucket=bucket,
            Key=f"runs/{report.document['dataset']}/{run}/report.json",
            Body=json.dumps({**report.document, "email": report.body}, indent=2, ensure_ascii=False).encode(),
            ContentType="application/json",
        )
    logger.info("notified", extra={"status": report.document["status"], "subject": report.subject})
    return report.document
