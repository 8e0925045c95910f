"""S3's event notifications in local mode carry what AWS's do: the object's version (the pipeline's bucket
is versioned), a sequencer, the key encoded as S3 encodes it; so the ingest, run by a real upload, makes a
run of every version and never a second run of one."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from core.names import run_id
from local import deploy
from local.stack import REPO_ROOT
from tests.helpers.aws import s3_event
from tests.helpers.local import PatchedAws, RunningServer, wait_for

PENGUINS = REPO_ROOT / "datasets" / "penguins" / "penguins.csv"
PASS_DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
TEMPLATE_ENVIRONMENT = {
    "POWERTOOLS_METRICS_NAMESPACE": "dropml",
    "POWERTOOLS_SERVICE_NAME": "dropml-ingest",
    "LAMBDA_CONVERSION_MAX_BYTES": str(1 << 30),
}
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def _notify_queue(aws: PatchedAws, bucket: str, *, versioned: bool) -> str:
    s3, sqs = aws.client("s3"), aws.client("sqs")
    s3.create_bucket(Bucket=bucket)
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue_url = sqs.create_queue(QueueName=f"{bucket}-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]
        },
    )
    return str(queue_url)


def _records(aws: PatchedAws, queue_url: str, count: int) -> list[dict[str, Any]]:
    """The next ``count`` event records the queue receives (not S3's ``s3:TestEvent``, which has none)."""
    records: list[dict[str, Any]] = []

    def received() -> bool:
        messages = aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        records.extend(record for message in messages for record in json.loads(message["Body"]).get("Records", []))
        return len(records) >= count

    wait_for(received, timeout_s=10, what=f"{count} event records")
    assert len(records) == count
    return records


def test_each_upload_of_the_same_bytes_is_an_event_naming_its_own_version(patched_aws: PatchedAws) -> None:
    # GIVEN a versioned bucket that sends its events to a queue
    queue_url = _notify_queue(patched_aws, "versioned", versioned=True)
    s3 = patched_aws.client("s3")

    # WHEN the same bytes are uploaded twice to a key with a space and a folder in it
    puts = [s3.put_object(Bucket="versioned", Key="incoming/my data/a.csv", Body=b"a,b\n1,2\n") for _ in range(2)]

    # THEN each event names its own version, as PutObject answered it, and the later sorts after the earlier
    objects = {
        record["s3"]["object"]["versionId"]: record["s3"]["object"] for record in _records(patched_aws, queue_url, 2)
    }
    first, second = (objects[put["VersionId"]] for put in puts)
    assert first["versionId"] != second["versionId"]
    assert first["key"] == second["key"] == "incoming/my+data/a.csv"
    assert first["eTag"] == second["eTag"] == puts[0]["ETag"].strip('"')
    assert first["size"] == 8
    assert len(first["sequencer"]) == len(second["sequencer"]) and first["sequencer"] < second["sequencer"]
    int(first["sequencer"], 16)


def test_an_unversioned_bucket_names_no_version_and_a_removal_no_size(patched_aws: PatchedAws) -> None:
    queue_url = _notify_queue(patched_aws, "plain", versioned=False)
    s3 = patched_aws.client("s3")

    s3.put_object(Bucket="plain", Key="a.csv", Body=b"x\n")
    s3.delete_object(Bucket="plain", Key="a.csv")

    objects = {record["eventName"]: record["s3"]["object"] for record in _records(patched_aws, queue_url, 2)}
    created, removed = objects["ObjectCreated:Put"], objects["ObjectRemoved:Delete"]
    assert set(created) == {"key", "size", "eTag", "sequencer"}
    assert set(removed) == {"key", "sequencer"}
    assert created["sequencer"] < removed["sequencer"]


@pytest.fixture(scope="module")
def ingest(local_server: RunningServer) -> dict[str, str]:
    """The real ingest function on the local server, notified by a versioned bucket as the template
    wires it, starting executions of a one-state machine."""
    s3, iam, awslambda = local_server.client("s3"), local_server.client("iam"), local_server.client("lambda")
    s3.create_bucket(Bucket="uploads")
    s3.put_bucket_versioning(Bucket="uploads", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="uploads", Key="incoming/penguins/dropml.json", Body=b'{"target": "species"}')
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="ingest", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="ingest", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
    machine = local_server.client("stepfunctions").create_state_machine(
        name="runs", definition=PASS_DEFINITION, roleArn=role
    )["stateMachineArn"]
    topic = local_server.client("sns").create_topic(Name="notifications")["TopicArn"]
    function_arn = awslambda.create_function(
        FunctionName="ingest",
        Runtime="python3.12",
        Role=role,
        Handler="functions.ingest.app.lambda_handler",
        Code={"ZipFile": deploy.package_code(REPO_ROOT)},
        Timeout=300,
        MemorySize=1024,
        Environment={
            "Variables": {**TEMPLATE_ENVIRONMENT, "STATE_MACHINE_ARN": machine, "NOTIFICATION_TOPIC_ARN": topic}
        },
    )["FunctionArn"]
    s3.put_bucket_notification_configuration(
        Bucket="uploads",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": function_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
                }
            ]
        },
    )
    return {"machine": machine}


def test_two_uploads_of_the_same_file_are_two_runs_and_a_version_runs_once(
    local_server: RunningServer, ingest: dict[str, str]
) -> None:
    s3, sfn = local_server.client("s3"), local_server.client("stepfunctions")

    # WHEN penguins.csv is uploaded twice, unchanged
    body = PENGUINS.read_bytes()
    versions = [
        s3.put_object(Bucket="uploads", Key="incoming/penguins/penguins.csv", Body=body)["VersionId"] for _ in "12"
    ]

    # THEN each upload starts a run of its own
    def executions() -> list[dict[str, Any]]:
        return list(sfn.list_executions(stateMachineArn=ingest["machine"])["executions"])

    started = wait_for(lambda: len(executions()) == 2 and executions(), timeout_s=180, what="two executions")
    sources = [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in started]
    assert len({source["prepared"]["run_id"] for source in sources}) == 2

    # AND S3 delivering the first upload's event again (it delivers at least once) starts nothing
    etag = hashlib.md5(body).hexdigest()
    event = s3_event("uploads", "incoming/penguins/penguins.csv", etag=etag, version_id=versions[0], size=len(body))
    answer = local_server.client("lambda").invoke(FunctionName="ingest", Payload=json.dumps(event))
    outcomes = json.loads(answer["Payload"].read())
    assert outcomes == [
        {"key": "incoming/penguins/penguins.csv", "status": "duplicate", "run_id": _run_of(sources, versions, 0)}
    ], outcomes
    assert len(executions()) == 2


def _run_of(sources: list[dict[str, Any]], versions: list[str], index: int) -> str:
    expected = run_id("uploads", "incoming/penguins/penguins.csv", versions[index])
    assert expected in {source["prepared"]["run_id"] for source in sources}
    return expected
