"""The deployed stack's ingest, when it fails for good: Lambda retries the S3 event, then its OnFailure
destination (Notify) emails the user why their upload was not processed. Driven through boto3 against
a real local server running the template."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import Message

import pytest

from local.deploy import deploy
from local.lambda_async import RETRY_DELAYS_ENV
from local.mail import list_outbox
from local.ports import free_port
from local.stack import REPO_ROOT, down, stack_for, start_server
from tests.helpers.local import RunningServer, wait_for

DATASET = "big"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A local server whose asynchronous retries wait a fraction of a second instead of minutes."""
    state_home = tmp_path_factory.mktemp("dropml-home")
    stack = stack_for(free_port(), state_home)
    stack.state_dir.mkdir(parents=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(RETRY_DELAYS_ENV, "0.5,1")
        start_server(stack)
    try:
        yield RunningServer(stack=stack, state_home=state_home)
    finally:
        down(stack.port, state_home=state_home)


def _wide_csv(megabytes: int) -> bytes:
    header = b"x1,x2,x3,x4,x5,x6,label\n"
    row = b"0.123456,1.234567,2.345678,3.456789,4.567891,5.678912,yes\n"
    return header + row * ((megabytes << 20) // len(row))


def _email(server: RunningServer, subject_part: str) -> Message:
    outbox = server.stack.state_dir / "outbox"

    def arrived() -> Message | None:
        for item in list_outbox(outbox):
            if subject_part in item.subject:
                return email.message_from_bytes(item.path.read_bytes())
        return None

    found: Message = wait_for(arrived, timeout_s=180, what=f"an email about {subject_part!r}")
    return found


def test_an_upload_ingest_runs_out_of_memory_on_is_retried_then_emailed_to_the_user(server: RunningServer) -> None:
    # GIVEN the template deployed, its ingest function at Lambda's smallest memory size
    deployment = deploy(
        session=server.stack.session(),
        endpoint_url=server.stack.endpoint_url,
        repo_root=REPO_ROOT,
        notification_email="ana@example.com",
    )
    bucket, ingest = deployment.outputs["BucketName"], deployment.outputs["IngestFunctionName"]
    lambda_client = server.client("lambda")
    config = lambda_client.get_function_event_invoke_config(FunctionName=ingest)
    assert config["MaximumRetryAttempts"] == 2
    assert ":function:" in config["DestinationConfig"]["OnFailure"]["Destination"]
    lambda_client.update_function_configuration(FunctionName=ingest, MemorySize=128)

    # WHEN a CSV larger than that memory is uploaded
    key = f"incoming/{DATASET}/wide.csv"
    server.client("s3").put_object(Bucket=bucket, Key=key, Body=_wide_csv(48))

    # THEN the user is emailed that the file could not be processed, and why
    message = _email(server, "upload not processed")
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    text = body.decode()
    assert (
        f"s3://{bucket}/{key} could not be processed: the ingest function ran out of memory (Runtime.OutOfMemory)"
        in (text)
    )
    assert "Attempts: 3 (all attempts failed)" in text
    assert "MemorySize" in text  # what to do about it
    # AND ingest ran three times before giving up
    events = server.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{ingest}")["events"]
    assert sum(event["message"].startswith("START RequestId:") for event in events) == 3
