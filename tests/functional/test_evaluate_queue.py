"""Runs of one dataset take turns at its endpoint (``functions.evaluate.queue``), read from the state
machine's running executions as Step Functions lists and describes them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.evaluate.queue import EarlierRunStillRunning, ThisExecution, take_turn
from functions.run_document import Queue, RunError
from tests.helpers.aws import client
from tests.helpers.runs import planned_run

ROLE = "arn:aws:iam::123456789012:role/states"
WAITS = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}


@pytest.fixture
def machine(aws: str) -> str:
    created = client("stepfunctions").create_state_machine(name="pipeline", definition=json.dumps(WAITS), roleArn=ROLE)
    return str(created["stateMachineArn"])


def start(machine: str, name: str, source: Any) -> ThisExecution:
    started = client("stepfunctions").start_execution(
        stateMachineArn=machine, name=name, input=json.dumps({"source": source})
    )
    return ThisExecution(arn=started["executionArn"], state_machine_arn=machine)


def test_a_run_waits_only_for_earlier_running_runs_of_its_own_dataset(machine: str) -> None:
    # GIVEN runs of penguins (named so that name order is the reverse of start order), one upload of
    # another dataset between them, and a console run with odd input
    first = start(machine, "zeta-console", "s3://b/incoming/penguins/a.csv")
    other = start(machine, "iris-0123456789ab", "s3://b/incoming/iris/iris.csv")
    start(machine, "odd", ["not", "an", "input", "of", "ours"])
    second = start(machine, "penguins-00000000000b", "s3://b/incoming/penguins/b.csv")
    third = start(machine, "alpha-console", "s3://b/incoming/penguins/a.csv")
    sfn, penguins, iris = client("stepfunctions"), planned_run(dataset="penguins"), planned_run(dataset="iris")

    # THEN the first of each dataset goes on; each later one waits for the earliest still running
    assert take_turn(penguins, sfn, first) == Queue(ahead=None, polls=0, waited_for=[])
    assert take_turn(iris, sfn, other).ahead is None
    assert take_turn(penguins, sfn, second) == Queue(ahead=first.arn, polls=1, waited_for=["zeta-console"])
    assert take_turn(penguins, sfn, third).ahead == first.arn

    # WHEN the first ends THEN the second's turn comes, and the third now waits for the second
    sfn.stop_execution(executionArn=first.arn)
    waited = penguins.model_copy(update={"queue": Queue(ahead=first.arn, polls=1, waited_for=["zeta-console"])})
    assert take_turn(waited, sfn, second) == Queue(ahead=None, polls=1, waited_for=["zeta-console"])
    assert take_turn(penguins, sfn, third).ahead == second.arn


def test_a_run_that_waited_its_plans_polls_fails_naming_the_run_ahead(machine: str) -> None:
    first = start(machine, "first", "s3://b/incoming/penguins/a.csv")
    second = start(machine, "second", "s3://b/incoming/penguins/b.csv")
    run = planned_run(dataset="penguins")
    exhausted = run.model_copy(
        update={"queue": Queue(ahead=first.arn, polls=run.plan.queue_polls, waited_for=["first"])}
    )

    with pytest.raises(EarlierRunStillRunning, match=f"waited {run.plan.queue_polls} times for {first.arn}"):
        take_turn(exhausted, client("stepfunctions"), second)
    assert EarlierRunStillRunning.__name__ == RunError.EARLIER_RUN_STILL_RUNNING  # the error the email advises on
