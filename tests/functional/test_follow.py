"""``dropml demo``'s live view (cli/follow.py) reports every state a run entered, even between two looks."""

from __future__ import annotations

import json

import boto3

from cli.follow import Watched, follow
from tests.helpers.local import REGION, PatchedAws, create_role, wait_for


def test_states_passed_through_between_two_polls_are_each_reported(patched_aws: PatchedAws) -> None:
    # GIVEN an execution that passed through three states and finished before the view first looked
    stepfunctions = boto3.client("stepfunctions", region_name=REGION)
    role = create_role(boto3.client("iam", region_name=REGION), "dropml-states-follow", "states.amazonaws.com", [])
    definition = {
        "StartAt": "Prepare data",
        "States": {
            "Prepare data": {"Type": "Pass", "Next": "Evaluate"},
            "Evaluate": {"Type": "Pass", "Next": "Deployment failed"},
            "Deployment failed": {"Type": "Fail", "Error": "Deploy", "Cause": "constructed"},
        },
    }
    machine = stepfunctions.create_state_machine(name="follow", definition=json.dumps(definition), roleArn=role)
    arn = stepfunctions.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")["executionArn"]
    wait_for(lambda: stepfunctions.describe_execution(executionArn=arn)["status"] == "FAILED", what="the run")

    # WHEN the live view looks once
    said: list[str] = []
    follow(
        stepfunctions=stepfunctions,
        sagemaker=boto3.client("sagemaker", region_name=REGION),
        executions=[Watched(label="penguins", arn=arn)],
        say=said.append,
        timeout_s=30,
    )

    # THEN each state is a line, in order, then the outcome
    assert [line.split("] ", 1)[1] for line in said] == [
        "penguins: Prepare data",
        "penguins: Evaluate",
        "penguins: Deployment failed",
        "penguins: finished: FAILED",
    ]
