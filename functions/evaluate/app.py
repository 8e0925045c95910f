"""Adapter over :func:`evaluate_run`: the definition passes the winner, endpoint, data and margin."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from core.names import split_s3_uri
from core.schema import Schema
from functions import aws
from functions.evaluate.champion import evaluate_run

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    s3 = aws.client("s3")
    bucket, key = split_s3_uri(event["schema"])
    schema = Schema.from_dict(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    result = evaluate_run(
        sagemaker=aws.client("sagemaker"),
        runtime=aws.client("sagemaker-runtime"),
        s3=s3,
        winner_job=event["winner_job"],
        endpoint=event["endpoint"],
        data_uri=event["data"],
        schema=schema,
        margin=float(event.get("deploy_margin", 0.0)),
    )
    logger.info("champion/challenger decided", extra={"decision": result["decision"], "reason": result["reason"]})
    return result
