"""The last-resort email: an execution that ended FAILED, TIMED_OUT or ABORTED without its report.

Every path of the definition ends in "Notify success" or "Notify failure", which email the run's
report. A run can still end without either: an error no Catch takes (``States.Runtime``), Notify itself
failing (SNS refusing a publish), the execution timing out or being stopped from the console. An
EventBridge rule (template.yaml, ``RunEndedRule``) sends each such end of a pipeline execution here; when
its history shows a Notify state completed, the user has their email already and nothing is sent.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.names import dataset_of_source
from functions import sns
from functions.notify.report import Report
from functions.run_document import State

# What a person can do about each way an execution ends without its report.
ADVICE: dict[str, str] = {
    "ABORTED": "The run was stopped (from the console or the API) before it finished; nothing more happens. "
    "Upload the file again to run it.",
    "TIMED_OUT": "The run went past the state machine's time limit. Look at the execution in the Step Functions "
    "console to see which step it was in, then upload the file again.",
    "FAILED": "The run failed in a way its own failure email could not report. Open the execution in the Step "
    "Functions console (its last events name the state and the error), then upload the file again.",
}
NOTIFY_STATES = frozenset({State.NOTIFY_SUCCESS, State.NOTIFY_FAILURE})


class ExecutionDetail(BaseModel):
    """The ``detail`` of EventBridge's "Step Functions Execution Status Change" event."""

    model_config = ConfigDict(extra="allow")

    executionArn: str
    stateMachineArn: str
    name: str
    status: Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]
    input: str | None = None
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChange(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    source: Literal["aws.states"]
    detail_type: Literal["Step Functions Execution Status Change"] = Field(alias="detail-type")
    region: str
    detail: ExecutionDetail


def reported(stepfunctions: Any, execution_arn: str) -> bool:
    """Whether a Notify state of the execution completed (its email went out), newest events first."""
    paginator = stepfunctions.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=execution_arn, reverseOrder=True):
        for event in page["events"]:
            if event.get("stateExitedEventDetails", {}).get("name") in NOTIFY_STATES:
                return True
    return False


def build_unreported_report(event: ExecutionStatusChange) -> Report:
    """The email for an execution that ended without sending its own."""
    detail = event.detail
    source = _source_of(detail.input)
    dataset = dataset_of_source(source) or "(unknown)"
    reason = ": ".join(part for part in (detail.error, detail.cause) if part) or "no error was recorded"
    console = (
        f"https://{event.region}.console.aws.amazon.com/states/home?region={event.region}"
        f"#/v2/executions/details/{detail.executionArn}"
    )
    body = "\n".join(
        [
            f"dropml run {detail.name} for dataset {dataset!r} ended {detail.status} before it could send its report.",
            f"File: {source or '(unknown)'}",
            "",
            f"Reason: {reason}",
            f"What to do: {ADVICE.get(detail.status, ADVICE['FAILED'])}",
            f"Execution: {console}",
        ]
    )
    document = {
        "status": "failed",
        "outcome": f"ended {detail.status} without a report",
        "dataset": dataset,
        "execution": detail.executionArn,
        "source": source,
        "reason": reason,
    }
    subject = sns.subject(f"dropml {dataset}: run {detail.status} without a report")
    return Report(subject=subject, body=body, document=document)


def _source_of(execution_input: str | None) -> str | None:
    try:
        document = json.loads(execution_input or "null")
    except ValueError:
        return None
    source = document.get("source") if isinstance(document, dict) else None
    return source if isinstance(source, str) else None
