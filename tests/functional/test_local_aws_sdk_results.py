"""aws-sdk task results are JSON in local mode, as on AWS (``local.moto.stepfunctions.patch_aws_sdk_results``).

moto leaves boto3's ``datetime`` objects in an aws-sdk task's result; ``States.JsonToString`` of it (what
"Endpoint did not take the new model" puts in the failure email) then ends the execution with a
``TypeError`` instead of a Cause.
"""

from __future__ import annotations

import json
from typing import Any

from tests.helpers.local import PatchedAws, create_role, wait_for


def test_an_aws_sdk_result_with_timestamps_goes_through_json_to_string(patched_aws: PatchedAws) -> None:
    # GIVEN a bucket (ListBuckets answers with a CreationDate timestamp) and a definition that turns
    # the aws-sdk answer into a JSON text
    patched_aws.client("s3").create_bucket(Bucket="dropml-timestamps")
    definition = {
        "StartAt": "List",
        "States": {
            "List": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets",
                "Parameters": {},
                "ResultSelector": {"text.$": "States.JsonToString($.Buckets)"},
                "End": True,
            }
        },
    }
    # its role may list buckets, which is all it does (ListBuckets has no resource-level permissions)
    lists = [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]
    role = create_role(patched_aws.client("iam"), "dropml-states-sdk-json", "states.amazonaws.com", lists)
    sfn = patched_aws.client("stepfunctions")
    machine = sfn.create_state_machine(name="sdk-json", definition=json.dumps(definition), roleArn=role)[
        "stateMachineArn"
    ]

    # WHEN it runs
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]

    def finished() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=execution)
        return None if described["status"] == "RUNNING" else dict(described)

    described = wait_for(finished, timeout_s=30, what="the execution")

    # THEN it succeeds, with the timestamp as a number in the text
    assert described["status"] == "SUCCEEDED", described
    [bucket] = [b for b in json.loads(json.loads(described["output"])["text"]) if b["Name"] == "dropml-timestamps"]
    assert isinstance(bucket["CreationDate"], int)
