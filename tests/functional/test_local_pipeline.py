"""The first version of ``state_machine/pipeline.asl.json``, deployed by the template and executed:
it checks the execution input and emails either "data prepared" or the reason the run failed."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default
from typing import Any

import boto3
import pytest

from local.deploy import deploy
from local.mail import list_outbox
from local.stack import REPO_ROOT
from tests.local_fixtures import REGION, PatchedAws, patched_aws_fixture, wait_for  # noqa: F401 - fixtures

PREPARED = {
    "source": "s3://dropml-bucket/incoming/penguins/penguins.csv",
    "settings": {"target": "species"},
    "prepared": {
        "dataset": "penguins",
        "run_id": "0123456789ab",
        "data": "s3://dropml-bucket/runs/penguins/0123456789ab/data/",
        "schema": "s3://dropml-bucket/runs/penguins/0123456789ab/schema.json",
        "problem_type": "multiclass",
        "target": "species",
        "classes": ["Adelie", "Chinstrap", "Gentoo"],
        "rows": {"train": 275, "validation": 34, "test": 35},
    },
}


@pytest.fixture
def pipeline(patched_aws: PatchedAws) -> str:
    deployment = deploy(
        session=boto3.Session(region_name=REGION),
        endpoint_url=None,
        repo_root=REPO_ROOT,
        notification_email="ana@example.com",
    )
    return deployment.outputs["StateMachineArn"]


def _run(aws: PatchedAws, machine: str, document: dict[str, Any]) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    execution_arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(document))["executionArn"]

    def finished() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=execution_arn)
        return None if described["status"] == "RUNNING" else dict(described)

    return dict(wait_for(finished, what="the execution"))


def _only_email(aws: PatchedAws) -> tuple[str, str]:
    [item] = wait_for(lambda: list_outbox(aws.outbox), what="the email")
    return item.subject, message_from_bytes(item.path.read_bytes(), policy=default).get_content()


def test_prepared_data_is_announced_by_email(patched_aws: PatchedAws, pipeline: str) -> None:
    described = _run(patched_aws, pipeline, PREPARED)

    assert described["status"] == "SUCCEEDED"
    subject, body = _only_email(patched_aws)
    assert subject == "dropml: data prepared"
    assert "s3://dropml-bucket/incoming/penguins/penguins.csv is prepared as dataset penguins" in body
    assert "run 0123456789ab" in body
    assert "a multiclass problem predicting species" in body
    assert "Schema: s3://dropml-bucket/runs/penguins/0123456789ab/schema.json" in body


def test_a_source_without_prepared_data_fails_with_a_reason_by_email(patched_aws: PatchedAws, pipeline: str) -> None:
    described = _run(patched_aws, pipeline, {"source": PREPARED["source"]})

    assert described["status"] == "FAILED"
    assert described["error"] == "dropml.DataNotPrepared"
    subject, body = _only_email(patched_aws)
    assert subject == "dropml: run failed"
    assert "Reason (dropml.DataNotPrepared): The execution input has no prepared data" in body


@pytest.mark.parametrize(
    "document",
    [{}, {"source": 42}, {"source": "s3://bucket/elsewhere/file.csv"}, {"source": "s3://b/incoming/x/notes.txt"}],
)
def test_an_input_without_a_csv_source_under_incoming_is_refused(
    patched_aws: PatchedAws, pipeline: str, document: dict[str, Any]
) -> None:
    described = _run(patched_aws, pipeline, document)

    assert described["status"] == "FAILED"
    assert described["error"] == "dropml.InvalidInput"
    subject, body = _only_email(patched_aws)
    assert subject == "dropml: run failed"
    assert 'needs "source"' in body
