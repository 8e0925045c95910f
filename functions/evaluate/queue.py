"""Runs of one dataset take turns at its endpoint.

Two runs of a dataset (two uploads a moment apart, or an upload and a console run) would otherwise
evaluate against the same live model and deploy at once: the second's CreateEndpoint or UpdateEndpoint
fails ("Cannot update in-progress endpoint"), or it compares with a model that is about to be replaced.
So before it evaluates, a run looks for executions of the same state machine that are still running,
started before it, and hold the same dataset; while there is one, it waits (the definition loops), and
once there is none it goes on. The order is the executions' start time (then their ARN), which every
run reads alike, so no two runs wait for each other and nothing is left to clean up when a run dies:
an execution that ended, however, is no longer running.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.names import dataset_of_source, execution_slug, slug_of_upload_execution
from functions.run_document import Queue, RunDocument


class EarlierRunStillRunning(Exception):
    """The run waited as long as its plan allows for an earlier run of its dataset.

    Its class name is the error Step Functions records (``RunError.EARLIER_RUN_STILL_RUNNING``).
    """


@dataclass(frozen=True)
class ThisExecution:
    """The execution asking, from the Step Functions context object (``$$.Execution.Id``,
    ``$$.StateMachine.Id``). Its start time is read from the API like the others': the context's may be
    written with another precision, and two runs must order each other alike."""

    arn: str
    state_machine_arn: str


def dataset_of(document: Any) -> str | None:
    """The dataset an execution's input is about (its ``source``), or None for input that names none."""
    return dataset_of_source(document.get("source")) if isinstance(document, dict) else None


def runs_ahead(stepfunctions: Any, me: ThisExecution, dataset: str) -> list[str]:
    """ARNs of the running executions of ``dataset`` that started before ``me``, earliest first."""
    mine = (stepfunctions.describe_execution(executionArn=me.arn)["startDate"], me.arn)
    ahead: list[tuple[datetime, str]] = []
    paginator = stepfunctions.get_paginator("list_executions")
    for page in paginator.paginate(stateMachineArn=me.state_machine_arn, statusFilter="RUNNING"):
        for execution in page["executions"]:
            arn, started = execution["executionArn"], execution["startDate"]
            if (started, arn) >= mine or not _may_be_of(execution["name"], dataset):
                continue
            described = stepfunctions.describe_execution(executionArn=arn)
            if described["status"] == "RUNNING" and dataset_of(json.loads(described.get("input") or "null")) == dataset:
                ahead.append((started, arn))
    return [arn for _, arn in sorted(ahead)]


def _may_be_of(name: str, dataset: str) -> bool:
    """False for an execution the S3 trigger named for another dataset (``<slug>-<run id>``), which need
    not be described: each poll of each waiting run would otherwise describe every running execution.
    A console run's name is the person's, so it is described (unless it mimics another dataset's)."""
    of_upload = slug_of_upload_execution(name)
    return of_upload is None or of_upload == execution_slug(dataset)


def take_turn(run: RunDocument, stepfunctions: Any, me: ThisExecution) -> Queue:
    """Where the run stands in its dataset's queue: ``ahead`` None means it may evaluate and deploy."""
    previous = run.queue or Queue(ahead=None, polls=0, waited_for=[])
    ahead = runs_ahead(stepfunctions, me, run.dataset)
    if not ahead:
        return previous.model_copy(update={"ahead": None})
    if previous.polls >= run.plan.queue_polls:
        raise EarlierRunStillRunning(
            f"this run waited {previous.polls} times for {ahead[0]} (an earlier run of dataset {run.dataset!r}) "
            "to end, and it is still running; nothing was deployed. Run again once it has ended."
        )
    name = ahead[0].rsplit(":", 1)[-1]
    waited = previous.waited_for if name in previous.waited_for else [*previous.waited_for, name]
    return Queue(ahead=ahead[0], polls=previous.polls + 1, waited_for=waited)
