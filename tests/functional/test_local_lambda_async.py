"""Asynchronous invocations (``local.moto.awslambda``, ``local.lambda_async``): Lambda's retries, its
EventInvokeConfig and the invocation record its destinations receive, driven through the Lambda API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from local import lambda_runner
from local.deploy import deploy
from local.lambda_async import RETRY_DELAYS_ENV
from local.stack import REPO_ROOT
from tests.helpers.local import REGION, PatchedAws, create_function, wait_for


@pytest.fixture(autouse=True)
def short_retry_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RETRY_DELAYS_ENV, "0.2,0.4")


def _queue_the_function_may_send_to(aws: PatchedAws, name: str) -> tuple[str, str]:
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("iam").put_role_policy(
        RoleName="dropml-test-function",
        PolicyName=f"send-to-{name}",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                # SendMessage is all Lambda needs to deliver to a queue destination
                "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arn}],
            }
        ),
    )
    return url, arn


def _function_reporting_to_a_queue(
    aws: PatchedAws, function: str, handler: str, queue: str, *, on: str = "OnFailure", **config: Any
) -> tuple[str, str]:
    """A function whose ``on`` destination is a new queue it may send to: (its ARN, the queue's URL)."""
    lambda_client = aws.client("lambda")
    arn = create_function(lambda_client, aws.client("iam"), function, handler)
    queue_url, queue_arn = _queue_the_function_may_send_to(aws, queue)
    lambda_client.put_function_event_invoke_config(
        FunctionName=function, DestinationConfig={on: {"Destination": queue_arn}}, **config
    )
    return arn, queue_url


def _the_record(aws: PatchedAws, queue_url: str) -> dict[str, Any]:
    def received() -> list[dict[str, Any]]:
        return aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])

    [message] = wait_for(received, what="the invocation record", timeout_s=60)
    record: dict[str, Any] = json.loads(message["Body"])
    return record


def _starts(aws: PatchedAws, function: str) -> list[str]:
    events = aws.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
    return [event["message"] for event in events if event["message"].startswith("START RequestId:")]


def test_a_failing_event_is_tried_three_times_then_its_record_goes_to_the_on_failure_destination(
    patched_aws: PatchedAws,
) -> None:
    # GIVEN a function that always fails, whose failures go to a queue
    lambda_client = patched_aws.client("lambda")
    _, queue_url = _function_reporting_to_a_queue(patched_aws, "fail", "handlers.fail", "failures")

    # WHEN it is invoked asynchronously
    response = lambda_client.invoke(FunctionName="fail", InvocationType="Event", Payload=b'{"who": "bob"}')
    assert response["StatusCode"] == 202

    # THEN the destination receives AWS's record of an event whose retries are exhausted
    record = _the_record(patched_aws, queue_url)
    assert record["version"] == "1.0"
    context = record["requestContext"]
    assert context["condition"] == "RetriesExhausted"
    assert context["approximateInvokeCount"] == 3
    assert context["functionArn"].endswith(":function:fail:$LATEST")
    assert record["requestPayload"] == {"who": "bob"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "PaymentRequired"
    assert record["responsePayload"]["errorMessage"] == "no credit for bob"
    assert record["timestamp"].endswith("Z")
    # AND the function ran three times, every attempt under the event's one request id
    assert _starts(patched_aws, "fail") == [f"START RequestId: {context['requestId']} Version: $LATEST"] * 3


def test_maximum_retry_attempts_zero_gives_one_attempt(patched_aws: PatchedAws, tmp_path: Path) -> None:
    lambda_client = patched_aws.client("lambda")
    _, queue_url = _function_reporting_to_a_queue(
        patched_aws, "once", "handlers.fail_until", "once-failures", MaximumRetryAttempts=0
    )
    tally = tmp_path / "attempts.txt"

    lambda_client.invoke(FunctionName="once", InvocationType="Event", Payload=json.dumps({"tally": str(tally)}))

    record = _the_record(patched_aws, queue_url)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert len(tally.read_text().splitlines()) == 1


def test_an_event_that_succeeds_on_a_retry_goes_to_the_on_success_destination(
    patched_aws: PatchedAws, tmp_path: Path
) -> None:
    # GIVEN a function that fails once, then succeeds
    lambda_client = patched_aws.client("lambda")
    _, queue_url = _function_reporting_to_a_queue(
        patched_aws, "flaky", "handlers.fail_until", "successes", on="OnSuccess"
    )
    tally = tmp_path / "attempts.txt"

    lambda_client.invoke(
        FunctionName="flaky", InvocationType="Event", Payload=json.dumps({"tally": str(tally), "succeed_on": 2})
    )

    # THEN the second attempt's success is recorded, and both attempts saw the same request id
    record = _the_record(patched_aws, queue_url)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"attempts": 2}
    assert tally.read_text().splitlines() == [record["requestContext"]["requestId"]] * 2


def test_an_s3_notification_is_retried_like_any_asynchronous_invocation(
    patched_aws: PatchedAws, tmp_path: Path
) -> None:
    # GIVEN a bucket that notifies a function that always fails, whose failures go to a queue
    arn, queue_url = _function_reporting_to_a_queue(
        patched_aws, "fail", "handlers.fail", "upload-failures", MaximumRetryAttempts=1
    )
    s3 = patched_aws.client("s3")
    s3.create_bucket(Bucket="uploads")
    s3.put_bucket_notification_configuration(
        Bucket="uploads",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )

    # WHEN an object is uploaded
    s3.put_object(Bucket="uploads", Key="incoming/penguins/data.csv", Body=b"a,b\n1,2\n")

    # THEN the event is tried twice (MaximumRetryAttempts 1) and the record carries the S3 event
    record = _the_record(patched_aws, queue_url)
    assert record["requestContext"]["approximateInvokeCount"] == 2
    [s3_record] = record["requestPayload"]["Records"]
    assert s3_record["s3"]["object"]["key"] == "incoming/penguins/data.csv"
    assert len(_starts(patched_aws, "fail")) == 2


def test_put_event_invoke_config_replaces_it_and_update_changes_only_what_it_names(patched_aws: PatchedAws) -> None:
    lambda_client = patched_aws.client("lambda")
    create_function(lambda_client, patched_aws.client("iam"), "fail", "handlers.fail")
    _, queue_arn = _queue_the_function_may_send_to(patched_aws, "later")

    lambda_client.put_function_event_invoke_config(FunctionName="fail", MaximumRetryAttempts=1)
    lambda_client.put_function_event_invoke_config(FunctionName="fail", MaximumEventAgeInSeconds=120)
    replaced = lambda_client.get_function_event_invoke_config(FunctionName="fail")
    lambda_client.update_function_event_invoke_config(
        FunctionName="fail", DestinationConfig={"OnFailure": {"Destination": queue_arn}}
    )
    updated = lambda_client.get_function_event_invoke_config(FunctionName="fail")

    assert "MaximumRetryAttempts" not in replaced
    assert replaced["MaximumEventAgeInSeconds"] == 120
    assert updated["MaximumEventAgeInSeconds"] == 120
    assert updated["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn


def test_the_templates_event_invoke_config_is_put_on_the_ingest_function(patched_aws: PatchedAws) -> None:
    deployment = deploy(
        session=boto3.Session(region_name=REGION),
        endpoint_url=None,
        repo_root=REPO_ROOT,
        notification_email="ana@example.com",
    )
    lambda_client = patched_aws.client("lambda")

    config = lambda_client.get_function_event_invoke_config(FunctionName=deployment.outputs["IngestFunctionName"])

    notify = [name for name in _function_names(lambda_client) if "NotifyFunction" in name]
    [notify_arn] = [lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"] for name in notify]
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == notify_arn


def _function_names(lambda_client: Any) -> list[str]:
    return [function["FunctionName"] for function in lambda_client.list_functions()["Functions"]]


def test_an_event_that_would_be_too_old_for_its_retry_is_given_up_as_event_age_exceeded(
    patched_aws: PatchedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN retries a minute apart, and events that may live one minute
    monkeypatch.setenv(RETRY_DELAYS_ENV, "61,120")
    lambda_client = patched_aws.client("lambda")
    _, queue_url = _function_reporting_to_a_queue(
        patched_aws, "fail", "handlers.fail", "too-old", MaximumEventAgeInSeconds=60
    )

    lambda_client.invoke(FunctionName="fail", InvocationType="Event", Payload=b"{}")

    # THEN the first failure is the last attempt: the event would be past its age at the retry
    record = _the_record(patched_aws, queue_url)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_an_attempt_local_mode_cannot_run_is_a_logged_function_error_retried_and_recorded(
    patched_aws: PatchedAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a function whose package local mode cannot unpack, whose failures go to a queue
    lambda_client = patched_aws.client("lambda")
    _, queue_url = _function_reporting_to_a_queue(patched_aws, "unrunnable", "handlers.echo", "unrunnable-failures")

    def no_space(code_zip: bytes, work_dir: Path) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(lambda_runner, "unpack", no_space)

    # WHEN it is invoked asynchronously
    lambda_client.invoke(FunctionName="unrunnable", InvocationType="Event", Payload=b'{"who": "carol"}')

    # THEN every attempt is a function error, retried as one, and the record reaches the OnFailure queue
    record = _the_record(patched_aws, queue_url)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == {"who": "carol"}
    assert record["responsePayload"]["errorType"] == "Runtime.Unknown"
    assert "No space left on device" in record["responsePayload"]["errorMessage"]
    # AND the function's log group says why, once per attempt
    events = patched_aws.client("logs").filter_log_events(logGroupName="/aws/lambda/unrunnable")["events"]
    assert sum("No space left on device" in event["message"] for event in events) == 3
