"""Run a Lambda function's handler from its deployment package in a child process, without Docker.

A separate process gives each invocation what Lambda gives it: only the packaged code on the import
path, only the function's own environment (plus credentials and the endpoint pointing back at the
embedded AWS), a hard timeout, a memory cap, and a crash that cannot take the embedded AWS down with
it. The outcome is shaped like the Invoke API's: a JSON payload, or an error payload with
``FunctionError`` carrying the errorType and message AWS's runtime gives.

The memory size is enforced as Lambda's cgroup does, on resident memory, not on address space
(numpy and polars reserve far more virtual memory than they use, so ``RLIMIT_AS`` would kill healthy
functions). Local mode cannot create cgroups, so the child's process tree is sampled every
:data:`MEMORY_SAMPLE_S` and killed past the limit, and the child's exact high-water mark (``VmHWM``,
which the bootstrap reports; :func:`local.lambda_bootstrap.peak_rss_bytes` says why not ``ru_maxrss``)
is checked when it ends, so a burst between two samples is still an out-of-memory.

The child leads a process group of its own, and the group is killed however the invocation ends (the
handler returned, or a limit was hit): what the handler started in the background ends with it, as
Lambda freezes or ends the sandbox after the response. Only a descendant that leaves the group
(``setsid``) and outlives the child escapes: local mode has no cgroup to hold the sandbox in.

Not emulated: there are no warm containers (every invocation is a cold start) and no layers. The
interpreter is local mode's own, so dependencies come from its environment rather than from the package.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Final

import psutil

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
MEMORY_SAMPLE_S: Final = 0.05
"""How often a running child's resident memory is measured against the function's memory size."""
_MIB: Final = 1024 * 1024
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
    access_key_id: str
    secret_access_key: str
    session_token: str


@dataclass(frozen=True)
class Invocation:
    """One invocation's outcome: ``payload`` is JSON text; ``function_error`` is set when it failed.

    ``duration_ms`` and ``max_memory_used_mb`` are what Lambda's ``REPORT`` log line says of it."""

    request_id: str
    payload: str
    function_error: str | None
    logs: str
    duration_ms: float = 0.0
    max_memory_used_mb: int = 0


class Ending(Enum):
    """How a watched child stopped: by itself, or killed by the runner for one of Lambda's limits."""

    EXITED = "exited"
    TIMED_OUT = "timed out"
    OUT_OF_MEMORY = "out of memory"


@dataclass(frozen=True)
class Watched:
    ending: Ending
    peak_rss_bytes: int


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
    request_id: str | None = None,
) -> Invocation:
    """Run ``spec.handler(event, context)`` in a child process and collect its outcome.

    ``request_id`` is given for a retry of an asynchronous event, which keeps its first attempt's id on AWS.
    """
    code_dir = unpack(spec.code_zip, work_dir)
    request_id = request_id or str(uuid.uuid4())
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
    attempt = uuid.uuid4().hex[:8]  # retries share the request id, so the files are named per attempt too
    request_path = calls / f"{request_id}-{attempt}.request.json"
    result_path = calls / f"{request_id}-{attempt}.result.json"
    log_path = calls / f"{request_id}-{attempt}.log"
    request_path.write_text(json.dumps(request))
    try:
        return _run_child(spec, aws, code_dir, request_id, request_path, result_path, log_path)
    finally:
        request_path.unlink(missing_ok=True)
        result_path.unlink(missing_ok=True)
        log_path.unlink(missing_ok=True)


def _run_child(
    spec: FunctionSpec,
    aws: FunctionAwsSettings,
    code_dir: Path,
    request_id: str,
    request_path: Path,
    result_path: Path,
    log_path: Path,
) -> Invocation:
    command = [sys.executable, "-P", str(BOOTSTRAP), str(request_path), str(result_path)]
    started = time.monotonic()
    with log_path.open("wb") as log:  # a file, not a pipe: nothing has to drain it while the child runs
        process = subprocess.Popen(
            command,
            cwd=code_dir,
            env=function_environment(spec, aws, code_dir),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed with whatever it left running
        )
        watched = watch(process, timeout_s=spec.timeout_s, limit_bytes=spec.memory_mb * _MIB)
    duration_ms = (time.monotonic() - started) * 1000
    logs = log_path.read_bytes().decode("utf-8", errors="replace")
    outcome = json.loads(result_path.read_text()) if result_path.exists() else None
    peak = max(watched.peak_rss_bytes, int(outcome.get("peak_rss_bytes", 0)) if outcome else 0)

    def ended(payload: object, function_error: str | None) -> Invocation:
        return Invocation(request_id, json.dumps(payload), function_error, logs, duration_ms, math.ceil(peak / _MIB))

    def failed(error_type: str, error: str) -> Invocation:
        return ended({"errorMessage": f"RequestId: {request_id} Error: {error}", "errorType": error_type}, "Unhandled")

    if watched.ending is Ending.TIMED_OUT:
        return failed("Sandbox.Timedout", f"Task timed out after {spec.timeout_s:.2f} seconds")
    if watched.ending is Ending.OUT_OF_MEMORY or peak > spec.memory_mb * _MIB:
        # The high-water mark catches a burst the samples missed: on AWS that burst was the kill.
        return failed("Runtime.OutOfMemory", "Runtime exited with error: signal: killed")
    if process.returncode != 0 or outcome is None:
        return failed("Runtime.ExitError", f"Runtime exited with error: {_exit_status(process.returncode)}")
    if "error" in outcome:
        return ended(outcome["error"], "Unhandled")
    return ended(outcome["payload"], None)


def watch(process: subprocess.Popen[bytes], *, timeout_s: float, limit_bytes: int) -> Watched:
    """Wait for ``process``, killing its whole tree past ``timeout_s`` or past ``limit_bytes`` resident, and
    its process group (what it left running in the background) when it exits."""
    deadline = time.monotonic() + timeout_s
    root = psutil.Process(process.pid)
    peak = 0
    while True:
        try:
            process.wait(timeout=MEMORY_SAMPLE_S)
        except subprocess.TimeoutExpired:
            pass
        else:
            _kill_group(process.pid)
            return Watched(Ending.EXITED, peak)
        resident = tree_rss_bytes(root)
        peak = max(peak, resident)
        if resident > limit_bytes:
            ending = Ending.OUT_OF_MEMORY
        elif time.monotonic() >= deadline:
            ending = Ending.TIMED_OUT
        else:
            continue
        _kill_tree(root)
        process.wait()
        _kill_group(process.pid)
        return Watched(ending, peak)


def tree_rss_bytes(root: psutil.Process) -> int:
    """Resident memory of ``root`` and every descendant: what a function's sandbox is charged for."""
    try:
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:  # ended between the listing and the reading (zombies included)
            continue
    return total


def _kill_tree(root: psutil.Process) -> None:
    """SIGKILL, as Lambda's sandbox does: the descendants are listed first, so none is orphaned and missed."""
    try:
        members = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for member in members:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            continue


def _kill_group(group: int) -> None:
    """SIGKILL what is left of the child's process group (named by its leader's pid) once the child ended."""
    with contextlib.suppress(ProcessLookupError, PermissionError):  # nothing is left in it
        os.killpg(group, signal.SIGKILL)


def _exit_status(returncode: int) -> str:
    """Lambda's (Go) wording: ``exit status 1``, or ``signal: killed`` for a child ended by a signal."""
    if returncode < 0:
        return f"signal: {(signal.strsignal(-returncode) or str(-returncode)).lower()}"
    return f"exit status {returncode}"


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
