"""Lambda without Docker, and S3 notifications that invoke it asynchronously.

moto runs a function's code in a Docker container (or not at all); local mode runs the handler from its
deployment package in a child process (:mod:`local.lambda_runner`) instead. Replacing the one seam
``LambdaFunction.invoke`` covers the Invoke API, Step Functions' ``lambda:invoke`` tasks and S3
notifications alike. An exception is ``FunctionError: Unhandled`` with AWS's error payload, ``Event``
invocations run in the background and ``DryRun`` runs nothing, as on AWS.

moto's S3 also calls a notified function synchronously, inside the upload; on AWS the upload returns
before the function runs, which the pipeline relies on, so the notification is delivered on a thread.
"""

from __future__ import annotations

import base64
import json
import threading
from typing import Any, Final

from moto.awslambda.models import LambdaFunction
from moto.s3 import notifications as s3_notifications

from local import lambda_runner
from local.moto.state import Replacements, current_settings

_LOG_TAIL_BYTES: Final = 4096


def _run_function(function: LambdaFunction, event: object) -> lambda_runner.Invocation:
    settings = current_settings()
    spec = lambda_runner.FunctionSpec(
        name=function.function_name,
        arn=function.function_arn,
        version=str(function.version),
        handler=str(function.handler),
        code_zip=function.code_bytes,
        environment={key: str(value) for key, value in (function.environment_vars or {}).items()},
        timeout_s=float(function.timeout),
        memory_mb=int(function.memory_size),
    )
    aws = lambda_runner.FunctionAwsSettings(endpoint_url=settings.endpoint_url, region=function.region)
    invocation = lambda_runner.invoke(spec, event, aws=aws, work_dir=settings.work_dir / "lambda")
    report = f"END RequestId: {invocation.request_id}"
    function.logs_backend.ensure_log_group(function.logs_group_name)
    function.save_logs(f"START RequestId: {invocation.request_id}\n{invocation.logs}{report}\n")
    return invocation


def _invoke(self: LambdaFunction, body: str | bytes | None, request_headers: Any, response_headers: Any) -> str:
    event = json.loads(body) if body else {}
    invocation_type = request_headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type == "DryRun":
        return ""
    if invocation_type == "Event":  # queued on AWS: the caller gets 202 and never the result
        threading.Thread(target=_run_function, args=(self, event), daemon=True).start()
        return ""
    invocation = _run_function(self, event)
    if invocation.function_error:
        response_headers["x-amz-function-error"] = invocation.function_error
    tail = invocation.logs.encode("utf-8")[-_LOG_TAIL_BYTES:]
    response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
    return invocation.payload


def patch_invoke(replacements: Replacements) -> None:
    replacements.replace(LambdaFunction, "invoke", _invoke)


def patch_s3_notifications_async(replacements: Replacements) -> None:
    deliver = vars(s3_notifications)["_invoke_awslambda"]

    def invoke_later(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        worker = threading.Thread(target=deliver, args=(account_id, event_body, fn_arn, region_name), daemon=True)
        worker.start()

    replacements.replace(s3_notifications, "_invoke_awslambda", invoke_later)
