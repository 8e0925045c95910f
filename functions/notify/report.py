"""The email a person reads at the end of every run, and the JSON a subscriber's program reads.

Built from the execution's final state (the run document as far as the run got, or, when "Prepare
data" failed, the execution input as the user gave it), so the same function explains a deployed
model, a kept champion, and a failure at any step.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from core.names import dataset_of_source
from functions import sns
from functions.run_document import Conversion, Evaluation, Failure, Prepared, RunDocument, RunError, Step

# What a person should do about a failure, by the step that failed.
# Keyed by Step, a str: the definition's failed_step text finds its advice directly.
ADVICE: dict[str, str] = {
    Step.PREPARE: "Fix the CSV or the dataset's dropml.json (or the execution input) and upload/run again.",
    Step.TRAIN: "Read the training job's log in CloudWatch Logs (/aws/sagemaker/TrainingJobs); fix the "
    "hyperparameters in dropml.json if one is named, then run again. For a tuning job, the SageMaker "
    "console shows each trial's failure.",
    Step.EVALUATE: "Check that the live endpoint answers; the run's model is kept in S3 and is deployed by running "
    "again.",
    Step.DEPLOY: "The previous endpoint (if any) is still serving. Check the endpoint's FailureReason and the "
    "instance quota, then run again.",
}
# Advice for an error a function raises on purpose; it goes before the step's.
ERROR_ADVICE: dict[str, str] = {
    RunError.ENDPOINT_OF_ANOTHER_DATASET: "Nothing was deployed and the other dataset's endpoint is untouched. "
    'Name an endpoint of this dataset\'s own with "endpoint_name" in its dropml.json, or tag the endpoint as the '
    "reason shows if this dataset may replace it, then run again.",
    RunError.ENDPOINT_BUSY: "The live model is unchanged and this run's model is kept in S3. Once the endpoint is "
    "InService (or gone), upload the file again (a console run with its source converts the key's latest version).",
    RunError.EARLIER_RUN_STILL_RUNNING: "The live model is unchanged. Look at the earlier run in the Step Functions "
    "console (stop it if it is stuck), then upload the file again (a console run with its source converts the "
    "key's latest version).",
}
UNKNOWN_STEP = "unknown step"
OPEN_THE_CONSOLE = "Open the execution in the Step Functions console."


@dataclass(frozen=True)
class FinalState:
    """What Notify is given. ``run`` is None when the run never had a document: "Prepare data" failed
    (then the state is the user's execution input, which may be anything) or the state did not parse."""

    run: RunDocument | None
    source: str | None
    failure: Failure | None
    failed_step: str | None
    started_at: str | None

    @classmethod
    def from_state(cls, state: dict[str, Any], started_at: str | None) -> FinalState:
        failure = Failure.model_validate(state["failure"]) if isinstance(state.get("failure"), dict) else None
        failed_step = state.get("failed_step")
        run = None
        if failed_step != Step.PREPARE:
            try:
                run = RunDocument.model_validate(state)
            except ValidationError:
                run = None  # still email what is known: a report that is never sent helps nobody
        source = state.get("source")
        return cls(
            run=run,
            source=source if isinstance(source, str) else None,
            failure=failure,
            failed_step=failed_step if isinstance(failed_step, str) else None,
            started_at=started_at,
        )

    @property
    def dataset(self) -> str:
        if self.run is not None:
            return self.run.dataset
        return dataset_of_source(self.source) or "(unknown)"


@dataclass(frozen=True)
class Report:
    subject: str
    body: str
    document: dict[str, Any]


def build_report(final: FinalState, *, failed: bool, finished_at: datetime) -> Report:
    """The success or failure report for one execution's final state.

    ``failed`` comes from the definition (which Notify state ran): a run that recovered from a GPU
    capacity failure still carries that failure in its state, yet succeeded.
    """
    run = final.run
    failure = (final.failure or Failure(Error="Unknown", Cause="no details")) if failed else None
    step = final.failed_step or UNKNOWN_STEP
    evaluation = run.evaluation if run else None
    endpoint = run.deployment.endpoint if run and run.deployment else None
    outcome = _outcome(step, failure, evaluation, endpoint)
    duration = _duration(final.started_at, finished_at)
    advice = (ERROR_ADVICE.get(failure.Error) or ADVICE.get(step, OPEN_THE_CONSOLE)) if failure else None
    lines = [
        f"dropml run {run.run_id if run else '(not assigned)'} for dataset {final.dataset!r}",
        f"File: {final.source or '(unknown)'}" + _version(run),
        f"Result: {outcome}",
    ]
    if duration:
        lines.append(f"Duration: {duration}")
    if failure:
        lines += ["", f"Failed step: {step}", f"Reason: {failure_reason(failure)}", f"What to do: {advice}"]
    if run and run.queue and run.queue.waited_for:
        lines.append(f"Waited for: {', '.join(run.queue.waited_for)} (earlier runs of this dataset) to end first")
    if run:
        lines += _data_lines(run.prepared, run.conversion)
        lines += _training_lines(run)
        lines += _evaluation_lines(evaluation)
        if not failure:
            lines += _endpoint_lines(endpoint, evaluation)
    document = {
        "status": "failed" if failure else "succeeded",
        "outcome": outcome,
        "dataset": final.dataset,
        "run_id": run.run_id if run else None,
        "source": final.source,
        "source_version": run.prepared.source_version if run else None,
        "left_out": run.prepared.left_out if run else {},
        "conversion": run.conversion.model_dump(mode="json") if run and run.conversion else None,
        "failed_step": step if failure else None,
        "reason": failure_reason(failure) if failure else None,
        "what_to_do": advice,
        "decision": evaluation.decision if evaluation else None,
        "metrics": _metrics_table(evaluation),
        "training": _training_summary(run),
        "endpoint": endpoint,
        "duration_seconds": _seconds(final.started_at, finished_at),
    }
    lines += ["", "Machine-readable summary:", json.dumps(document, ensure_ascii=False)]
    subject = sns.subject(f"dropml {final.dataset}: {outcome.split(' (')[0]}")
    return Report(subject=subject, body="\n".join(lines), document=document)


def with_report_page(report: Report, uri: str | None, *, problem: str | None = None) -> Report:
    """The report with its page's address after the Result line (and in the document), or with why
    there is no page."""
    lines = report.body.split("\n")
    at = next(index for index, line in enumerate(lines) if line.startswith("Result: ")) + 1
    if uri is not None:
        added = [f"Report page: {uri}", f"  (to open it: aws s3 cp {uri} report.html)"]
    else:
        added = [f"Report page: none (it could not be written: {problem})"]
    document = {**report.document, "report_page": uri}
    body = [*lines[:at], *added, *lines[at:]]
    summary = body.index("Machine-readable summary:")
    body[summary + 1] = json.dumps(document, ensure_ascii=False)
    return Report(subject=report.subject, body="\n".join(body), document=document)


def _training_summary(run: RunDocument | None) -> dict[str, Any] | None:
    if run is None or run.training is None:
        return None
    winner = run.evaluation.winner if run.evaluation else None
    return {
        "instance_type": run.attempt.instance_type,
        "instances": run.plan.instances.count,
        "spot": run.attempt.spot,
        "training_seconds": winner.training_seconds if winner else None,
        "billable_seconds": winner.billable_seconds if winner else None,
    }


def _version(run: RunDocument | None) -> str:
    """Which upload of the file the run trained: a key may have been uploaded again since."""
    version = run.prepared.source_version if run else None
    return f" (version {version})" if version else ""


def failure_reason(failure: Failure) -> str:
    """The human part of a Step Functions error: a Lambda's errorMessage or SageMaker's FailureReason."""
    found = _message_in(failure.Cause)
    if found:
        message, error_type = found
        return f"{message} ({error_type or failure.Error})"
    return f"{failure.Cause or 'no details'} ({failure.Error})"


def _message_in(cause: str) -> tuple[str, str | None] | None:
    """A Cause is often JSON: a Lambda's error object or a SageMaker Describe* answer. A Processing job's
    own words are its ExitMessage (the conversion's refusal); its FailureReason is SageMaker's generic one."""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        return None
    if not isinstance(parsed, dict):
        return None
    message = (
        parsed.get("errorMessage") or parsed.get("ExitMessage") or parsed.get("FailureReason") or parsed.get("Message")
    )
    return (str(message), parsed.get("errorType")) if message else None


def _outcome(step: str, failure: Failure | None, evaluation: Evaluation | None, endpoint: str | None) -> str:
    if failure is not None:
        return f"FAILED at {step if step != UNKNOWN_STEP else 'an unknown step'}"
    reason = evaluation.reason if evaluation else None
    if evaluation is not None and evaluation.decision == "deploy":
        return f"deployed the new model to endpoint {endpoint or ''} ({reason})"
    return f"kept the live model on endpoint {endpoint or '(none)'} ({reason})"


def _data_lines(prepared: Prepared, conversion: Conversion | None) -> list[str]:
    rows = prepared.rows
    lines = [
        "",
        f"Data: {prepared.problem_type} on column {prepared.target!r}; rows train {rows.get('train')}, "
        f"validation {rows.get('validation')}, test {rows.get('test')}"
        + (f"; {rows['missing_target']} rows without a label left out" if rows.get("missing_target") else ""),
    ]
    if prepared.classes:
        lines.append("Classes: " + ", ".join(f"{i}={name}" for i, name in enumerate(prepared.classes)))
    if conversion is not None:
        lines.append(f"Converted by: {_converted_by(conversion)} ({conversion.reason})")
    if prepared.left_out:
        lines.append("Columns left out: " + "; ".join(f"{name!r} ({why})" for name, why in prepared.left_out.items()))
    return lines


def _converted_by(conversion: Conversion) -> str:
    if conversion.where == "processing":
        return f"SageMaker Processing job {conversion.job} on {conversion.instance_type}"
    return "an earlier run of this upload" if conversion.where == "earlier run" else "a Lambda"


def _training_lines(run: RunDocument) -> list[str]:
    training, attempt, instances = run.training, run.attempt, run.plan.instances
    purchase = "spot" if attempt.spot else "on-demand"
    where = f"{instances.count} × {attempt.instance_type} ({attempt.device}, {purchase})"
    lines = []
    if training:
        if training.tuning_job:
            lines += ["", f"Training: tuning job {training.tuning_job} on {where}; best trial {training.job}"]
        else:
            lines += ["", f"Training: training job {training.job} on {where}"]
        if training.trials is not None:
            lines.append(f"Trials completed: {training.trials}")
        lines.append(f"Instances: {instances.reason}")
    winner = run.evaluation.winner if run.evaluation else None
    if winner and winner.training_seconds is not None:
        billable = winner.billable_seconds
        billed = f"{billable} s billable per instance" if billable is not None else ""
        if billable is not None and winner.spot and winner.training_seconds:
            billed += f" (spot saved {1 - billable / winner.training_seconds:.0%})"
        lines.append(f"Training time: {winner.training_seconds} s" + (f", {billed}" if billed else ""))
    if attempt.replaced is not None:
        earlier = attempt.replaced
        first = f"{earlier.device} {earlier.instance_type}, {'spot' if earlier.spot else 'on-demand'}"
        lines.append(
            f"The first attempt ({first}) got no capacity, so it ran on on-demand {attempt.instance_type} "
            f"instead: {_capacity_reason(earlier.failure)}"
        )
    return lines


def _capacity_reason(failure: str) -> str:
    """A FailureReason, or for a spot job stopped at MaxWaitTimeInSeconds (no reason given) what that means."""
    if "MaxWaitTimeExceeded" in failure:
        return "no spot capacity came within MaxWaitTimeInSeconds (MaxWaitTimeExceeded)"
    found = _message_in(failure)
    return found[0] if found else failure


def _metrics_table(evaluation: Evaluation | None) -> dict[str, dict[str, float | None]]:
    if not evaluation:
        return {}
    champion = (evaluation.champion.metrics if evaluation.champion else None) or {}
    winner = evaluation.winner.metrics
    return {name: {"new_model": value, "live_model": champion.get(name)} for name, value in winner.items()}


def _evaluation_lines(evaluation: Evaluation | None) -> list[str]:
    if not evaluation:
        return []
    lines = ["", "Metrics on this run's test split:", f"  {'metric':<10}{'new model':>12}{'live model':>12}"]
    for name, values in _metrics_table(evaluation).items():
        lines.append(f"  {name:<10}{_number(values['new_model']):>12}{_number(values['live_model']):>12}")
    winner = evaluation.winner
    if winner.hyperparameters:
        settings = ", ".join(f"{k}={v}" for k, v in sorted(winner.hyperparameters.items()))
        lines += ["", f"Hyperparameters of the new model: {settings}"]
    lines.append(f"Model artifact: {winner.model_data}")
    return lines


def _endpoint_lines(endpoint: str | None, evaluation: Evaluation | None) -> list[str]:
    if not endpoint:
        return []
    body = json.dumps([evaluation.example_record if evaluation else {}], ensure_ascii=False)
    # The body from a file (fileb://) is sent as it is by AWS CLI v1 and v2 alike; a --body string needs
    # --cli-binary-format raw-in-base64-out in v2, which v1 refuses as an unknown option. printf, not
    # echo: some shells' echo reads backslashes in the JSON as escapes.
    lines = [
        "",
        f"Call the endpoint {endpoint} with raw rows (column names as in your CSV):",
        f"  printf '%s' {shlex.quote(body)} | aws sagemaker-runtime invoke-endpoint --endpoint-name {endpoint} "
        "--content-type application/json --body fileb:///dev/stdin /dev/stdout",
    ]
    if evaluation and evaluation.example_csv:
        lines += [
            "Or, as SageMaker's built-in XGBoost is called, with the model's numeric columns (one score line per row;",
            "--accept 'text/csv; labels=true' adds your class names):",
            f"  printf '%s\\n' {shlex.quote(evaluation.example_csv)} | aws sagemaker-runtime invoke-endpoint "
            f"--endpoint-name {endpoint} --content-type text/csv --body fileb:///dev/stdin /dev/stdout",
        ]
    return lines


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


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
