"""Follow pipeline executions live, as a person watches them in the Step Functions console.

Reads only public APIs (Step Functions history, SageMaker tuning listings), so what it prints is what
the console would show: the state each run is in and, while tuning, trial k of N with the best
objective so far.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class Watched:
    label: str
    arn: str
    status: str = "RUNNING"
    last_line: str = ""
    output: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    names: dict[str, str] | None = None


def current_state(stepfunctions: Any, arn: str) -> str | None:
    """The name of the state the execution entered last."""
    entered = None
    for page in stepfunctions.get_paginator("get_execution_history").paginate(executionArn=arn):
        for event in page["events"]:
            details = event.get("stateEnteredEventDetails")
            if details:
                entered = str(details["name"])
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
            if watched.status in TERMINAL:
                watched.output = json.loads(described.get("output") or "{}")
                line = f"finished: {watched.status}"
            else:
                state = current_state(stepfunctions, watched.arn) or "starting"
                line = state
                if state.startswith("Tune on"):
                    watched.names = watched.names or _names_from_history(stepfunctions, watched.arn)
                    if watched.names:
                        key = "tuning_gpu" if state.endswith("GPU") else "tuning_cpu"
                        progress = tuning_progress(sagemaker, watched.names[key])
                        line = f"{state}: {progress}" if progress else state
            if line != watched.last_line:
                say(f"[{watched.seconds:6.1f}s] {watched.label}: {line}")
                watched.last_line = line
        time.sleep(poll_s)
    raise TimeoutError(f"executions still running after {timeout_s:.0f} s")


def _names_from_history(stepfunctions: Any, arn: str) -> dict[str, str] | None:
    """The plan's job names, read from the Prepare step's output in the execution's history."""
    for page in stepfunctions.get_paginator("get_execution_history").paginate(executionArn=arn):
        for event in page["events"]:
            details = event.get("stateExitedEventDetails")
            if details and details["name"] == "Prepare data":
                names: dict[str, str] = json.loads(details["output"])["plan"]["names"]
                return names
    return None
