"""The email a person reads at the end of every run, and the JSON a subscriber's program reads.

Built from the execution's state document (whatever the states before managed to add), so the same
function explains a deployed model, a kept champion, and a failure at any step.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SUBJECT_LIMIT = 99

# What a person should do about a failure, by the step that failed.
ADVICE = {
    "Prepare data": "Fix the CSV or the dataset's dropml.json (or the execution input) and upload/run again.",
    "Train": "Read the training job's log in CloudWatch Logs (/aws/sagemaker/TrainingJobs); fix the "
    "hyperparameters in dropml.json if one is named, then run again.",
    "Pick the winner": "Look at the tuning job in the SageMaker console: no trial may have finished.",
    "Evaluate": "Check that the live endpoint answers; the run's model is kept in S3 and is deployed by running again.",
    "Deploy": "The previous endpoint (if any) is still serving. Check the endpoint's FailureReason and the "
    "instance quota, then run again.",
}


@dataclass(frozen=True)
class Report:
    subject: str
    body: str
    document: dict[str, Any]


def build_report(state: dict[str, Any], *, failed: bool, finished_at: datetime) -> Report:
    """The success or failure report for one execution's final state.

    ``failed`` comes from the definition (which Notify state ran): a run that recovered from a GPU
    capacity failure still carries that failure in its state, yet succeeded.
    """
    failure = (state.get("failure") or {"Error": "Unknown", "Cause": "no details"}) if failed else None
    dataset = state.get("dataset") or _dataset_from_source(state.get("source", ""))
    outcome = _outcome(state, failure)
    duration = _duration(state.get("started_at"), finished_at)
    lines = [
        f"dropml run {state.get('run_id', '(not assigned)')} for dataset {dataset!r}",
        f"File: {state.get('source', '(unknown)')}",
        f"Result: {outcome}",
    ]
    if duration:
        lines.append(f"Duration: {duration}")
    if failure:
        step = state.get("failed_step", "unknown step")
        lines += ["", f"Failed step: {step}", f"Reason: {failure_reason(failure)}"]
        lines += [f"What to do: {ADVICE.get(step, 'Open the execution in the Step Functions console.')}"]
    lines += _data_lines(state.get("prepared"))
    lines += _training_lines(state.get("training"), state.get("gpu_fallback"))
    lines += _evaluation_lines(state.get("evaluation"))
    if not failure:
        lines += _endpoint_lines(state)
    document = {
        "status": "failed" if failure else "succeeded",
        "outcome": outcome,
        "dataset": dataset,
        "run_id": state.get("run_id"),
        "source": state.get("source"),
        "failed_step": state.get("failed_step", "unknown step") if failure else None,
        "reason": failure_reason(failure) if failure else None,
        "decision": (state.get("evaluation") or {}).get("decision"),
        "metrics": _metrics_table(state.get("evaluation")),
        "endpoint": (state.get("deployment") or {}).get("endpoint"),
        "duration_seconds": _seconds(state.get("started_at"), finished_at),
    }
    lines += ["", "Machine-readable summary:", json.dumps(document, ensure_ascii=False)]
    return Report(subject=_subject(dataset, outcome, bool(failure)), body="\n".join(lines), document=document)


def failure_reason(failure: dict[str, Any]) -> str:
    """The human part of a Step Functions error: a Lambda's errorMessage or SageMaker's FailureReason."""
    error, cause = failure.get("Error", "Error"), failure.get("Cause", "")
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict):
        message = parsed.get("errorMessage") or parsed.get("FailureReason") or parsed.get("Message")
        if message:
            return f"{message} ({parsed.get('errorType', error)})"
    return f"{cause or 'no details'} ({error})"


def _outcome(state: dict[str, Any], failure: dict[str, Any] | None) -> str:
    if failure is not None:
        return f"FAILED at {state.get('failed_step', 'an unknown step')}"
    evaluation = state.get("evaluation") or {}
    endpoint = (state.get("deployment") or {}).get("endpoint", "")
    if evaluation.get("decision") == "deploy":
        return f"deployed the new model to endpoint {endpoint} ({evaluation.get('reason')})"
    return f"kept the live model on endpoint {endpoint or '(none)'} ({evaluation.get('reason')})"


def _subject(dataset: str, outcome: str, failed: bool) -> str:
    short = outcome.split(" (")[0]
    text = f"dropml {dataset}: {short}"
    text = text.encode("ascii", "replace").decode()  # SNS subjects are ASCII, one line, < 100 characters
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def _data_lines(prepared: dict[str, Any] | None) -> list[str]:
    if not prepared:
        return []
    rows = prepared.get("rows", {})
    lines = [
        "",
        f"Data: {prepared['problem_type']} on column {prepared['target']!r}; rows train {rows.get('train')}, "
        f"validation {rows.get('validation')}, test {rows.get('test')}"
        + (f"; {rows['missing_target']} rows without a label left out" if rows.get("missing_target") else ""),
    ]
    if prepared.get("classes"):
        lines.append("Classes: " + ", ".join(f"{i}={name}" for i, name in enumerate(prepared["classes"])))
    return lines


def _training_lines(training: dict[str, Any] | None, gpu_fallback: dict[str, Any] | None) -> list[str]:
    lines = []
    if training:
        device = training.get("device", "?")
        if training.get("tuning_job"):
            lines += [
                "",
                f"Training: tuning job {training['tuning_job']} on {device}; best trial {training.get('job')}",
            ]
        else:
            lines += ["", f"Training: training job {training.get('job')} on {device}"]
        if training.get("trials") is not None:
            lines.append(f"Trials completed: {training['trials']}")
    if gpu_fallback:
        reason = gpu_fallback.get("reason", "")
        try:
            parsed = json.loads(reason)
        except (TypeError, ValueError):
            parsed = None
        if isinstance(parsed, dict):
            reason = parsed.get("FailureReason") or parsed.get("errorMessage") or reason
        lines.append(f"GPU capacity was not available, so it ran on CPU instead: {reason}")
    return lines


def _metrics_table(evaluation: dict[str, Any] | None) -> dict[str, dict[str, float | None]]:
    if not evaluation:
        return {}
    winner = (evaluation.get("winner") or {}).get("metrics", {})
    champion = (evaluation.get("champion") or {}).get("metrics", {})
    return {name: {"new_model": winner.get(name), "live_model": champion.get(name)} for name in winner}


def _evaluation_lines(evaluation: dict[str, Any] | None) -> list[str]:
    if not evaluation:
        return []
    table = _metrics_table(evaluation)
    lines = ["", "Metrics on this run's test split:", f"  {'metric':<10}{'new model':>12}{'live model':>12}"]
    for name, values in table.items():
        lines.append(f"  {name:<10}{_number(values['new_model']):>12}{_number(values['live_model']):>12}")
    winner = evaluation.get("winner") or {}
    if winner.get("hyperparameters"):
        settings = ", ".join(f"{k}={v}" for k, v in sorted(winner["hyperparameters"].items()))
        lines += ["", f"Hyperparameters of the new model: {settings}"]
    if winner.get("model_data"):
        lines.append(f"Model artifact: {winner['model_data']}")
    return lines


def _endpoint_lines(state: dict[str, Any]) -> list[str]:
    endpoint = (state.get("deployment") or {}).get("endpoint")
    if not endpoint:
        return []
    example = (state.get("evaluation") or {}).get("example_record") or {}
    body = json.dumps([example], ensure_ascii=False)
    return [
        "",
        f"Call the endpoint {endpoint} with raw rows (column names as in your CSV):",
        f"  aws sagemaker-runtime invoke-endpoint --endpoint-name {endpoint} --content-type application/json "
        f"--cli-binary-format raw-in-base64-out --body {shlex.quote(body)} /dev/stdout",
    ]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _dataset_from_source(source: str) -> str:
    parts = source.removeprefix("s3://").split("/")
    return parts[2] if len(parts) > 3 and parts[1] == "incoming" else "(unknown)"


def _seconds(started_at: str | None, finished_at: datetime) -> float | None:
    if not started_at:
        return None
    started = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    return round((finished_at - started).total_seconds(), 1)


def _duration(started_at: str | None, finished_at: datetime) -> str:
    seconds = _seconds(started_at, finished_at)
    if seconds is None:
        return ""
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"
