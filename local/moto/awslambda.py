"""Lambda without Docker, and S3 notifications that invoke it asynchronously.

moto runs a function's code in a Docker container (or not at all); local mode runs the handler from its
deployment package in a child process (:mod:`local.lambda_runner`) instead. Replacing the one seam
``LambdaFunction.invoke`` covers the Invoke API, Step Functions' ``lambda:invoke`` tasks and S3
notifications alike. An exception is ``FunctionError: Unhandled`` with AWS's error payload, a function
past its memory size or timeout is killed and reported as AWS reports it, and ``DryRun`` runs nothing.

``Event`` invocations and S3 notifications are asynchronous as on AWS (moto's S3 calls the function
inside the upload; the pipeline relies on the upload returning first): each event is processed on a
thread of its own, retried and handed to its EventInvokeConfig's destinations as
:mod:`local.lambda_async` describes. The record goes out through the embedded AWS's own API with the
function's credentials, so a role that may not reach its destination is refused as on AWS; a delivery
that fails is written to the function's log group (AWS counts it in ``DestinationDeliveryFailures``).
An attempt that local mode itself cannot run (the package does not unpack, the role gives no credentials)
is a function error, logged to the function's log group, retried and recorded as one. Uninstalling the
patches drops the queued events: none is attempted or delivered after it, and restore waits (a bounded
time) for the events' threads to end.
Destinations may be Lambda functions, SNS topics, SQS queues and EventBridge buses; an S3 bucket
destination is not emulated (its delivery failure is logged).
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import time
import uuid
from typing import Any, Final

import boto3
from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.models import EventInvokeConfig, LambdaBackend, LambdaFunction
from moto.awslambda.utils import get_backend
from moto.core.models import botocore_stubber
from moto.s3 import notifications as s3_notifications

from local import lambda_async, lambda_runner
from local.moto.role_sessions import role_credentials
from local.moto.state import Replacements, current_settings

_LOG_TAIL_BYTES: Final = 4096
_RESTORE_JOIN_S: Final = 10.0
"""How long uninstalling waits, in all, for the threads of queued events (one may be inside an attempt)."""
_uninstalled = threading.Event()
"""Set when the patches that queued an event are uninstalled (one Event per installation, taken by each
event when it is queued), so an event waiting for a retry is dropped, not run against an AWS that is gone."""
_workers: list[threading.Thread] = []
"""The threads of this installation's queued events (one list per installation, as ``_uninstalled``)."""
_workers_lock = threading.Lock()


def _run_function(
    function: LambdaFunction, event: object, *, request_id: str | None = None
) -> tuple[lambda_runner.Invocation, lambda_runner.FunctionAwsSettings]:
    """Run one attempt; also return the credentials it ran with, which a destination's record goes out with."""
    settings = current_settings()
    aws = _function_aws(function)
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
    invocation = lambda_runner.invoke(
        spec, event, aws=aws, work_dir=settings.work_dir / "lambda", request_id=request_id
    )
    request = f"RequestId: {invocation.request_id}"
    report = (
        f"REPORT {request}\tDuration: {invocation.duration_ms:.2f} ms\tMemory Size: {spec.memory_mb} MB\t"
        f"Max Memory Used: {invocation.max_memory_used_mb} MB"
    )
    failure = _failure_line(invocation)
    _log(function, f"START {request} Version: {spec.version}\n{invocation.logs}{failure}END {request}\n{report}\n")
    return invocation, aws


def _function_aws(function: LambdaFunction) -> lambda_runner.FunctionAwsSettings:
    """The endpoint, region and credentials of ``function``'s execution role, which its code runs with."""
    keys = role_credentials(function.account_id, str(function.role), function.function_name)
    return lambda_runner.FunctionAwsSettings(
        endpoint_url=current_settings().endpoint_url,
        region=function.region,
        access_key_id=keys.access_key_id,
        secret_access_key=keys.secret_access_key,
        session_token=keys.session_token,
    )


def _attempt_failed(function: LambdaFunction, request_id: str, exc: Exception) -> lambda_runner.Invocation:
    """An attempt local mode could not run: a function error, as AWS reports a runtime that fails."""
    message = f"RequestId: {request_id} Error: local mode could not run the function: {type(exc).__name__}: {exc}"
    _log(function, f"{message}\nRuntime.Unknown\n")
    payload = json.dumps({"errorMessage": message, "errorType": "Runtime.Unknown"})
    return lambda_runner.Invocation(request_id, payload, "Unhandled", "")


def _failure_line(invocation: lambda_runner.Invocation) -> str:
    """What Lambda's runtime logs for a sandbox it killed or that exited: the error's message and type."""
    error = json.loads(invocation.payload) if invocation.function_error else {}
    if not isinstance(error, dict) or not str(error.get("errorType", "")).startswith(("Runtime.", "Sandbox.")):
        return ""
    return f"{error.get('errorMessage')}\n{error.get('errorType')}\n"


def _log(function: LambdaFunction, text: str) -> None:
    function.logs_backend.ensure_log_group(function.logs_group_name)
    function.save_logs(text)


def _invoke(self: LambdaFunction, body: str | bytes | None, request_headers: Any, response_headers: Any) -> str:
    event = json.loads(body) if body else {}
    invocation_type = request_headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type == "DryRun":
        return ""
    if invocation_type == "Event":  # queued on AWS: the caller gets 202 and never the result
        queue_event(self, event)
        return ""
    invocation, _ = _run_function(self, event)
    if invocation.function_error:
        response_headers["x-amz-function-error"] = invocation.function_error
    tail = invocation.logs.encode("utf-8")[-_LOG_TAIL_BYTES:]
    response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
    return invocation.payload


def queue_event(function: LambdaFunction, event: object) -> None:
    """Process ``event`` as an asynchronous invocation of ``function``: on a thread of its own, retried."""
    worker = threading.Thread(target=_process_event, args=(function, event, time.time(), _uninstalled), daemon=True)
    with _workers_lock:
        _workers[:] = [thread for thread in _workers if thread.is_alive()]
        _workers.append(worker)
        worker.start()  # under the lock, so a concurrent pruning cannot drop it before it is alive


def _stop_events(uninstalled: threading.Event, workers: list[threading.Thread]) -> None:
    """Drop the queued events and wait, a bounded time, for their threads (an attempt may be running)."""
    uninstalled.set()
    deadline = time.monotonic() + _RESTORE_JOIN_S
    with _workers_lock:
        pending = list(workers)
    for worker in pending:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))


def _process_event(function: LambdaFunction, event: object, queued_at: float, uninstalled: threading.Event) -> None:
    configs = function.event_invoke_config
    policy = lambda_async.AsyncPolicy.from_config(configs[0].config if configs else None)
    request_id = str(uuid.uuid4())  # one id for every attempt, as on AWS
    attempts: list[lambda_runner.FunctionAwsSettings] = []

    def attempt() -> lambda_runner.Invocation:
        try:
            invocation, aws = _run_function(function, event, request_id=request_id)
        except Exception as exc:  # on AWS a runtime that fails is the function's error, retried as any
            return _attempt_failed(function, request_id, exc)
        attempts.append(aws)
        return invocation

    outcome = lambda_async.process_event(
        attempt, policy, delays=lambda_async.retry_delays(), queued_at=queued_at, stopped=uninstalled
    )
    if outcome is None or uninstalled.is_set():
        return
    destination = policy.on_success if outcome.succeeded else policy.on_failure
    if destination is None:
        return
    record = lambda_async.invocation_record(
        outcome, function_arn=function.function_arn, version=str(function.version), event=event
    )
    try:
        _deliver(
            destination, record, attempts[-1] if attempts else _function_aws(function), succeeded=outcome.succeeded
        )
    except Exception as exc:  # any refusal (AccessDenied, a missing target) is the user's to read
        _log(function, f"Destination delivery to {destination} failed for {request_id}: {exc}\n")


def _deliver(
    destination: str, record: dict[str, Any], aws: lambda_runner.FunctionAwsSettings, *, succeeded: bool
) -> None:
    """Send ``record`` to ``destination`` as Lambda does, through the API, as the function's role."""
    _, _, service, _, account, resource = destination.split(":", 5)
    body = json.dumps(record)
    client = _client(service, aws)
    if service == "lambda":
        client.invoke(FunctionName=destination, InvocationType="Event", Payload=body.encode())
    elif service == "sns":
        client.publish(TopicArn=destination, Message=body)
    elif service == "sqs":
        # The queue's URL from its ARN, as Lambda addresses it: SendMessage is all the role needs.
        client.send_message(QueueUrl=f"{client.meta.endpoint_url}/{account}/{resource}", MessageBody=body)
    elif service == "events":
        outcome = "Success" if succeeded else "Failure"
        entry = {
            "Source": "lambda",
            "DetailType": f"Lambda Function Invocation Result - {outcome}",
            "Detail": body,
            "EventBusName": destination,
            "Resources": [record["requestContext"]["functionArn"]],
        }
        client.put_events(Entries=[entry])
    else:
        raise ValueError(f"local mode does not deliver invocation records to {service} destinations")


def _client(service: str, aws: lambda_runner.FunctionAwsSettings) -> Any:
    """A client of the embedded AWS: in-process under ``mock_aws``, over HTTP in the local server."""
    return boto3.client(
        service,
        region_name=aws.region,
        endpoint_url=None if botocore_stubber.enabled else aws.endpoint_url,
        aws_access_key_id=aws.access_key_id,
        aws_secret_access_key=aws.secret_access_key,
        aws_session_token=aws.session_token,
    )


def patch_invoke(replacements: Replacements) -> None:
    global _uninstalled, _workers
    _uninstalled = threading.Event()
    _workers = []
    replacements.replace(LambdaFunction, "invoke", _invoke)
    replacements.on_restore(functools.partial(_stop_events, _uninstalled, _workers))


def _put_event_invoke_config(self: LambdaBackend, function_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """AWS overwrites a function's config (moto appends, and goes on answering and applying the first)."""
    function = self.get_function(function_name)
    function.event_invoke_config = [EventInvokeConfig(function.function_arn, function.last_modified, config)]
    return dict(function.event_invoke_config[0].response())


def _update_event_invoke_config(self: LambdaBackend, function_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """AWS changes only the settings given (moto's update is a put that drops the others)."""
    function = self.get_function(function_name)
    current = function.event_invoke_config[0].config if function.event_invoke_config else {}
    return _put_event_invoke_config(self, function_name, {**current, **config})


def patch_event_invoke_configs(replacements: Replacements) -> None:
    replacements.replace(LambdaBackend, "put_function_event_invoke_config", _put_event_invoke_config)
    replacements.replace(LambdaBackend, "update_function_event_invoke_config", _update_event_invoke_config)


def patch_s3_notifications_async(replacements: Replacements) -> None:
    def invoke_later(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        try:
            function = get_backend(account_id, region_name).get_function(fn_arn)
        except UnknownFunctionException:  # S3 drops the event of a function that is gone, as moto's hook does
            return
        queue_event(function, event_body)

    replacements.replace(s3_notifications, "_invoke_awslambda", invoke_later)
