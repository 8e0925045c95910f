"""What the local server keeps across ``dropml local down`` / ``up``, and how it stops a run in flight.

One file in the stack's state folder (:data:`STATE_FILE`) holds what moto held
(:mod:`local.moto.persistence`) and the local SageMaker's records (:mod:`local.sagemaker.persistence`),
written atomically, so a crash mid-write leaves the previous save. It is written:
- at a graceful stop, after :func:`drain`: the running training and tuning jobs are stopped and the
  running Lambda invocations killed, as a job or function killed mid-way ends on AWS, so each run in
  flight takes its Catch, sends its failure email and ends FAILED; the drain waits for that, bounded;
- every :data:`AUTOSAVE_EVERY_S` while serving, when requests came in since the last save, so that after
  a crash (``kill -9``) the next start still finds the stack and the runs, and fails the ones that were
  running (their interpreters cannot be resumed).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import psutil

from local import lambda_runner
from local.moto import persistence as aws_state
from local.sagemaker import persistence as sagemaker_state
from local.sagemaker.api import LocalSageMaker

STATE_FILE: Final = "state.pickle"
AUTOSAVE_EVERY_S: Final = 10.0
DRAIN_TIMEOUT_S: Final = 60.0
_POLL_S: Final = 0.2
_SAVE_TRIES: Final = 5


@dataclass(frozen=True)
class Restored:
    """What a start found: whether there was a saved state, and the executions it had to fail."""

    found: bool
    failed_executions: list[str]
    seconds: float


def load_aws(state_dir: Path) -> tuple[Restored, sagemaker_state.Snapshot]:
    """Put the saved AWS state back into moto (before serving); the SageMaker records are returned for
    :func:`restore_sagemaker`, which needs the server to answer (endpoints download their models)."""
    started = time.monotonic()
    path = state_dir / STATE_FILE
    if not path.exists():
        return Restored(found=False, failed_executions=[], seconds=0.0), {}
    saved: dict[str, Any] = pickle.loads(path.read_bytes())
    aws_state.loads(saved["aws"])
    failed = aws_state.fail_running_executions()
    return Restored(True, failed, time.monotonic() - started), saved["sagemaker"]


def restore_sagemaker(engine: LocalSageMaker | None, snapshot: sagemaker_state.Snapshot) -> None:
    if engine is not None and snapshot:
        sagemaker_state.restore(engine, snapshot)


def save(state_dir: Path, engine: LocalSageMaker | None) -> float:
    """Write the state file; returns the seconds it took. A request that changes a backend while it is
    read makes pickling fail (``RuntimeError``: changed size during iteration): tried again."""
    started = time.monotonic()
    for attempt in range(_SAVE_TRIES):
        try:
            data = pickle.dumps(
                {
                    "aws": aws_state.dumps(),
                    "sagemaker": sagemaker_state.snapshot(engine) if engine is not None else {},
                },
                protocol=pickle.HIGHEST_PROTOCOL,
            )
            break
        except RuntimeError:
            if attempt == _SAVE_TRIES - 1:
                raise
            time.sleep(_POLL_S)
    path = state_dir / STATE_FILE
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)
    return time.monotonic() - started


def drain(engine: LocalSageMaker | None) -> list[str]:
    """End the runs in flight as AWS would if their jobs and functions died: kill the Lambda invocations
    running now, stop every running training and tuning job (again while the drain lasts, so a retry or a
    CPU fallback started meanwhile is stopped too), and wait until no execution and no job runs, at most
    :data:`DRAIN_TIMEOUT_S`. Returns the executions still running at the deadline (saved RUNNING, failed at load).

    The invocations started after the kill (the runs' failure notifications) are left to finish.
    """
    for invocation in _lambda_invocations():
        with contextlib.suppress(psutil.NoSuchProcess):
            invocation.kill()
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while True:
        if engine is not None:
            sagemaker_state.stop_running_jobs(engine)
        running = [execution.exec_arn for execution in aws_state.running_executions()]
        jobs = sagemaker_state.running_jobs(engine) if engine is not None else 0
        if (not running and not jobs) or time.monotonic() > deadline:
            return running
        time.sleep(_POLL_S)


def _lambda_invocations() -> list[psutil.Process]:
    """The server's children that run a Lambda handler (:mod:`local.lambda_runner`'s bootstrap)."""
    bootstrap = str(lambda_runner.BOOTSTRAP)
    found = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if bootstrap in child.cmdline():
                found.append(child)
    return found
