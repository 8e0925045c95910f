"""Run a Lambda function's handler from its deployment package in a child process, without Docker.

A separate process gives each invocation what Lambda gives it: only the packaged code on the import
path, only the function's own environment (plus credentials and the endpoint pointing back at the
embedded AWS), a hard timeout, and a crash that cannot take the embedded AWS down with it. The outcome
is shaped like the Invoke API's: a JSON payload, or an error payload with ``FunctionError``.

Not emulated: the memory size is reported to the handler but not enforced, and there are no warm
containers (every invocation is a cold start) and no layers. The interpreter is local mode's own,
so dependencies come from its environment rather than from the package.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
# Environment variables a Lambda runtime has whatever the function sets; the parent's are not inherited.
_INHERITED = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")


@dataclass(frozen=True)
class FunctionSpec:
    """What the runner needs to know about a deployed function."""

    name: str
    arn: str
    version: str
    handler: str
    code_zip: bytes
    environment: dict[str, str]
    timeout_s: float
    memory_mb: int


@dataclass(frozen=True)
class FunctionAwsSettings:
    """How the function's own boto3 clients reach the embedded AWS: the endpoint, region and credentials
    its environment gets (``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID`` …)."""

    endpoint_url: str
    region: str
    access_key_id: str = "testing"
    secret_access_key: str = "testing"
    session_token: str = "testing"


@dataclass(frozen=True)
class Invocation:
    """One invocation's outcome: ``payload`` is JSON text; ``function_error`` is set when it failed."""

    request_id: str
    payload: str
    function_error: str | None
    logs: str


def unpack(code_zip: bytes, work_dir: Path) -> Path:
    """Unpack the package once per distinct zip (by content hash), safely under concurrent calls."""
    target = work_dir / "code" / hashlib.sha256(code_zip).hexdigest()[:16]
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
    with zipfile.ZipFile(io.BytesIO(code_zip)) as archive:
        archive.extractall(staging)
    try:
        staging.rename(target)
    except OSError:  # another invocation unpacked the same zip first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def invoke(
    spec: FunctionSpec,
    event: object,
    *,
    aws: FunctionAwsSettings,
    work_dir: Path,
) -> Invocation:
    """Run ``spec.handler(event, context)`` in a child process and collect its outcome."""
    code_dir = unpack(spec.code_zip, work_dir)
    request_id = str(uuid.uuid4())
    started = time.time()
    log_stream = time.strftime("%Y/%m/%d", time.gmtime(started)) + f"/[{spec.version}]{request_id[:8]}"
    request = {
        "handler": spec.handler,
        "event": event,
        "context": {
            "function_name": spec.name,
            "function_version": spec.version,
            "invoked_function_arn": spec.arn,
            "memory_limit_in_mb": spec.memory_mb,
            "aws_request_id": request_id,
            "log_group_name": f"/aws/lambda/{spec.name}",
            "log_stream_name": log_stream,
            "deadline_ms": int((started + spec.timeout_s) * 1000),
        },
    }
    calls = work_dir / "invocations"
    calls.mkdir(parents=True, exist_ok=True)
    request_path = calls / f"{request_id}.request.json"
    result_path = calls / f"{request_id}.result.json"
    request_path.write_text(json.dumps(request))
    try:
        return _run_child(spec, aws, code_dir, request_id, request_path, result_path)
    finally:
        request_path.unlink(missing_ok=True)
        result_path.unlink(missing_ok=True)


def _run_child(
    spec: FunctionSpec,
    aws: FunctionAwsSettings,
    code_dir: Path,
    request_id: str,
    request_path: Path,
    result_path: Path,
) -> Invocation:
    command = [sys.executable, "-P", str(BOOTSTRAP), str(request_path), str(result_path)]
    try:
        completed = subprocess.run(
            command,
            cwd=code_dir,
            env=function_environment(spec, aws, code_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=spec.timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        logs = _text(expired.output)
        message = f"RequestId: {request_id} Error: Task timed out after {spec.timeout_s:.2f} seconds"
        return _failed(request_id, "Sandbox.Timedout", message, logs)
    logs = _text(completed.stdout)
    if completed.returncode != 0 or not result_path.exists():
        status = completed.returncode
        message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {status}"
        return _failed(request_id, "Runtime.ExitError", message, logs)
    outcome = json.loads(result_path.read_text())
    if "error" in outcome:
        return Invocation(request_id, json.dumps(outcome["error"]), "Unhandled", logs)
    return Invocation(request_id, json.dumps(outcome["payload"]), None, logs)


def function_environment(spec: FunctionSpec, aws: FunctionAwsSettings, code_dir: Path) -> dict[str, str]:
    """Build the child's whole environment: Lambda's reserved variables, then the function's own."""
    environment = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    environment.update(
        {
            "PYTHONPATH": str(code_dir),
            "LAMBDA_TASK_ROOT": str(code_dir),
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_REGION": aws.region,
            "AWS_DEFAULT_REGION": aws.region,
            "AWS_ACCESS_KEY_ID": aws.access_key_id,
            "AWS_SECRET_ACCESS_KEY": aws.secret_access_key,
            "AWS_SESSION_TOKEN": aws.session_token,
            "AWS_ENDPOINT_URL": aws.endpoint_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    environment.update(spec.environment)
    return environment


def _failed(request_id: str, error_type: str, message: str, logs: str) -> Invocation:
    payload = {"errorMessage": message, "errorType": error_type}
    return Invocation(request_id, json.dumps(payload), "Unhandled", logs)


def _text(output: bytes | str | None) -> str:
    if output is None:
        return ""
    return output.decode("utf-8", errors="replace") if isinstance(output, bytes) else output
