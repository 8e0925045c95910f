"""Follow pipeline executions live, as a person watches them in the Step Functions console.

Reads only public APIs (Step Functions history, SageMaker tuning listings), so what it prints is what
the console would show: the state each run is in and, while tuning, trial k of N with the best
objective so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.run_document import RunDocument, State

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class Watched:
    label: str
    arn: str
    status: str = "RUNNING"
    last_line: str = ""
    run: RunDocument | None = None  # the final run document, once the execution has succeeded
    states_seen: int = 0  # how many of its entered states have been reported
    seconds: float = 0.0


def states_entered(stepfunctions: Any, arn: str) -> list[tuple[str, str]]:
    """Every state the execution has entered so far, in order: its name and the input it entered with."""
    entered = []
    for page in stepfunctions.get_paginator("get_execution_history").paginate(executionArn=arn):
        for event in page["events"]:
            details = event.get("stateEnteredEventDetails")
            if details:
                entered.append((str(details["name"]), str(details.get("input") or "{}")))
    return entered


def tuning_progress(sagemaker: Any, tuning_job: str) -> str:
    """``trial k/N, best <metric> <value>`` for a running tuning job."""
    try:
        job = sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job)
    except sagemaker.exceptions.ClientError:
        return ""
    total = job["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    counters = job.get("TrainingJobStatusCounters", {})
    failed = counters.get("RetryableError", 0) + counters.get("NonRetryableError", 0)
    finished = counters.get("Completed", 0) + counters.get("Stopped", 0) + failed
    objective = job["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    best = job.get("BestTrainingJob", {}).get("FinalHyperParameterTuningJobObjectiveMetric")
    text = f"trial {finished}/{total} finished" + (f" ({failed} failed)" if failed else "")
    if best:
        text += f", best {objective['MetricName']} {best['Value']:.4f}"
    return text


def progress_line(sagemaker: Any, state: str, state_input: str) -> str:
    """What a person would read in the console: the state, where a job runs, how far tuning is."""
    if state not in (State.TRAIN, State.TUNE):
        return state
    attempt = RunDocument.model_validate_json(state_input).attempt
    line = f"{state} on {attempt.device}"
    progress = tuning_progress(sagemaker, attempt.tuning_job_name) if state == State.TUNE else ""
    return f"{line}: {progress}" if progress else line


def follow(
    *,
    stepfunctions: Any,
    sagemaker: Any,
    executions: list[Watched],
    say: Callable[[str], None],
    timeout_s: float,
    poll_s: float = 0.5,
) -> None:
    """Print each execution's progress when it changes, until all have finished or time is up."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        running = [w for w in executions if w.status not in TERMINAL]
        if not running:
            return
        for watched in running:
            described = stepfunctions.describe_execution(executionArn=watched.arn)
            watched.status = described["status"]
            watched.seconds = time.monotonic() - started
            # Every state entered since the last look, so a state passed through between two polls (a
            # GPU attempt that failed at once, say) is reported as the console's history shows it.
            entered = states_entered(stepfunctions, watched.arn)
            lines = [progress_line(sagemaker, *state) for state in entered[watched.states_seen :]]
            watched.states_seen = len(entered)
            if watched.status in TERMINAL:
                if watched.status == "SUCCEEDED":
                    watched.run = RunDocument.model_validate_json(described["output"])
                lines.append(f"finished: {watched.status}")
            elif entered and not lines:  # still in the same state: its progress (tuning trials) may move
                lines.append(progress_line(sagemaker, *entered[-1]))
            elif not entered:
                lines.append("starting")
            for line in lines:
                if line != watched.last_line:
                    say(f"[{watched.seconds:6.1f}s] {watched.label}: {line}")
                    watched.last_line = line
        time.sleep(poll_s)
    raise TimeoutError(f"executions still running after {timeout_s:.0f} s")
