"""The state machine's first state: an adapter over :func:`prepare_execution`.

The definition passes ``{"input": <execution input>, "execution": <execution name>}``. A refused
input raises :class:`core.errors.UserInputError`; Step Functions sees its type as the error name and the
message as the cause, and the definition's Catch turns it into a failure email.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import aws
from functions.prepare.prepare import prepare_execution

GPU_INSTANCE_TYPE = "GPU_INSTANCE_TYPE"
NAME_PREFIX = "NAME_PREFIX"
MAX_RUNTIME_SECONDS = "MAX_RUNTIME_SECONDS"
ENDPOINT_POLL_SECONDS = "ENDPOINT_POLL_SECONDS"
ENDPOINT_INSTANCE_TYPE = "ENDPOINT_INSTANCE_TYPE"
MAX_TUNING_JOBS = "MAX_TUNING_JOBS"
MAX_PARALLEL_TUNING_JOBS = "MAX_PARALLEL_TUNING_JOBS"

logger = Logger()
tracer = Tracer()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = prepare_execution(
        event["input"],
        execution_name=event["execution"],
        s3=aws.client("s3"),
        storage_options=aws.polars_storage_options(),
        gpu_configured=bool(os.environ.get(GPU_INSTANCE_TYPE)),
        name_prefix=os.environ[NAME_PREFIX],
        max_runtime_seconds=int(os.environ[MAX_RUNTIME_SECONDS]),
        endpoint_poll_seconds=int(os.environ[ENDPOINT_POLL_SECONDS]),
        endpoint_instance_type=os.environ[ENDPOINT_INSTANCE_TYPE],
        default_settings={
            "tuning": {
                "max_jobs": int(os.environ[MAX_TUNING_JOBS]),
                "max_parallel_jobs": int(os.environ[MAX_PARALLEL_TUNING_JOBS]),
            }
        },
    )
    logger.append_keys(run_id=run["run_id"])
    logger.info("run planned", extra={"mode": run["plan"]["mode"], "use_gpu": run["plan"]["use_gpu"]})
    return run
