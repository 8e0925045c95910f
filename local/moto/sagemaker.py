"""SageMaker jobs and endpoints that really run, when :attr:`LocalSettings.run_sagemaker` is set.

moto's SageMaker only records calls: a training job is ``Completed`` at once and trains nothing, an
endpoint answers nothing. With ``run_sagemaker`` (the local server sets it) the operations in
:data:`local.sagemaker.api.OPERATIONS` and SageMaker Runtime's InvokeEndpoint go to the local engine
(:mod:`local.sagemaker`), which runs the training image for real, and Step Functions' ``.sync`` tasks
poll its job descriptions. Off (in-process tests), SageMaker stays moto's recorder, whose job statuses
tests can script. Answers go out as SageMaker's JSON protocol sends them, timestamps in epoch seconds.
InvokeEndpoint's body reaches the container as the bytes the client sent: moto's front end would decode
it as UTF-8 first and answer a body that is not UTF-8 with HTTP 500, where AWS hands it to the model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

from local.moto.role_sessions import role_keys
from local.moto.state import Replacements, current_settings
from local.moto.stepfunctions import use_sagemaker_job_source
from local.moto.wire import to_wire
from local.sagemaker.api import OPERATIONS, LocalSageMaker
from local.sagemaker.errors import ModelError, SageMakerApiError


def _sagemaker_action(engine: LocalSageMaker, action: str) -> Callable[[SageMakerResponse], str]:
    def handle(self: SageMakerResponse) -> str:
        try:
            answer = engine.call(action, self.current_account, self.region, json.loads(self.body or "{}"))
        except SageMakerApiError as error:
            raise JsonRESTError(error.code, error.message) from None
        return json.dumps(to_wire(answer, epoch="s"))

    return handle


def _endpoint_invoker(
    engine: LocalSageMaker,
) -> Callable[[SageMakerRuntimeResponse], tuple[int, dict[str, str], bytes | str]]:
    def invoke_endpoint(self: SageMakerRuntimeResponse) -> tuple[int, dict[str, str], bytes | str]:
        request: dict[str, Any] = {
            "EndpointName": self.path.split("/")[2],
            "Body": self.body if isinstance(self.body, bytes) else (self.body or "").encode(),
            "ContentType": self.headers.get("Content-Type", "application/octet-stream"),
            "Accept": self.headers.get("Accept", "*/*"),
        }
        for header, key in (
            ("X-Amzn-SageMaker-Target-Variant", "TargetVariant"),
            ("X-Amzn-SageMaker-Custom-Attributes", "CustomAttributes"),
        ):
            if self.headers.get(header):
                request[key] = self.headers[header]
        try:
            answer = engine.invoke(self.current_account, self.region, request)
        except SageMakerApiError as error:
            body: dict[str, Any] = {"message": error.message}
            if isinstance(error, ModelError):
                body.update(
                    OriginalStatusCode=error.original_status,
                    OriginalMessage=error.original_message,
                    LogStreamArn=error.log_stream_arn,
                )
            # moto takes a handler's status from the "status" header, not from the tuple's first item.
            headers = {"status": str(error.status), "x-amzn-ErrorType": error.code, "Content-Type": "application/json"}
            return error.status, headers, json.dumps(body)
        headers = {
            "Content-Type": answer["ContentType"],
            "x-Amzn-Invoked-Production-Variant": answer["InvokedProductionVariant"],
        }
        if answer.get("CustomAttributes"):
            headers["X-Amzn-SageMaker-Custom-Attributes"] = answer["CustomAttributes"]
        return 200, headers, answer["Body"]

    return invoke_endpoint


_installed: LocalSageMaker | None = None
"""The engine serving the API while the patches are installed with ``run_sagemaker`` (else None)."""


def installed_engine() -> LocalSageMaker | None:
    """The engine behind the SageMaker API now: the local server saves and restores its records."""
    return _installed


def _forget_engine() -> None:
    global _installed
    _installed = None


def patch_jobs_and_endpoints(replacements: Replacements) -> None:
    settings = current_settings()
    if not settings.run_sagemaker:
        return
    engine = LocalSageMaker(
        endpoint_url=settings.endpoint_url, work_dir=settings.work_dir / "sagemaker", assume_role=role_keys
    )
    serve_engine(replacements, engine)


def serve_engine(replacements: Replacements, engine: LocalSageMaker) -> None:
    """Answer the SageMaker and SageMaker Runtime APIs, and the ``.sync`` polls, from ``engine`` until
    ``replacements`` are restored, which shuts it down. The local server's engine comes this way; so does
    a test's, running programs of its own behind moto's server in the test's process."""
    global _installed
    replacements.on_restore(engine.shutdown)
    _installed = engine
    replacements.on_restore(_forget_engine)
    for action in OPERATIONS:
        name = "".join("_" + c.lower() if c.isupper() else c for c in action).lstrip("_")
        replacements.replace(SageMakerResponse, name, _sagemaker_action(engine, action))
    replacements.replace(SageMakerRuntimeResponse, "invoke_endpoint", _endpoint_invoker(engine))
    replacements.replace(SageMakerRuntimeResponse, "use_raw_body", True)
    previous = use_sagemaker_job_source(engine.describe_job)
    replacements.on_restore(lambda: use_sagemaker_job_source(previous))
