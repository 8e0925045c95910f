"""The embedded AWS as a process (``python -m local.server``): functions call back into it, S3
notifications run them asynchronously, and stopping it stops everything it started."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import psutil

from local.moto.persistence import INTERRUPTED_ERROR
from local.ports import free_port
from local.server_state import STATE_FILE
from local.stack import _stop_tree, down, stack_for, start_server
from tests.helpers.local import RunningServer, create_function, create_role, wait_for


def _notify_function_on_uploads(server: RunningServer, bucket: str, function_arn: str) -> None:
    server.client("s3").put_bucket_notification_configuration(
        Bucket=bucket,
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


def _object_exists(server: RunningServer, bucket: str, key: str) -> bool:
    listed = server.client("s3").list_objects_v2(Bucket=bucket, Prefix=key)
    return any(item["Key"] == key for item in listed.get("Contents", []))


def test_a_function_reaches_the_embedded_aws_with_its_own_clients(local_server: RunningServer) -> None:
    s3 = local_server.client("s3")
    s3.create_bucket(Bucket="direct")
    s3.put_object(Bucket="direct", Key="incoming/a.csv", Body=b"a,b\n1,2\n")
    create_function(local_server.client("lambda"), local_server.client("iam"), "copier", "handlers.copy_upload")
    event = {"Records": [{"s3": {"bucket": {"name": "direct"}, "object": {"key": "incoming/a.csv"}}}]}

    response = local_server.client("lambda").invoke(FunctionName="copier", Payload=json.dumps(event))

    assert "FunctionError" not in response, response["Payload"].read()
    assert json.loads(response["Payload"].read()) == {"copied": "incoming/a.csv"}
    assert s3.get_object(Bucket="direct", Key="copied/incoming/a.csv")["Body"].read() == b"a,b\n1,2\n"


def test_an_upload_runs_the_notified_function_after_the_upload_returns(local_server: RunningServer) -> None:
    # GIVEN a bucket that notifies a function which takes 3 s before copying the upload
    s3 = local_server.client("s3")
    s3.create_bucket(Bucket="async")
    function_arn = create_function(
        local_server.client("lambda"),
        local_server.client("iam"),
        "slow-copier",
        "handlers.copy_upload",
        env={"DELAY_S": "3"},
    )
    _notify_function_on_uploads(local_server, "async", function_arn)

    # WHEN a file is uploaded
    s3.put_object(Bucket="async", Key="incoming/b.csv", Body=b"x\n")

    # THEN the upload returned before the function finished (S3 invokes asynchronously), and it ran
    assert not _object_exists(local_server, "async", "copied/incoming/b.csv")
    wait_for(lambda: _object_exists(local_server, "async", "copied/incoming/b.csv"), what="the copy")


def test_stopping_the_server_stops_the_functions_it_is_running(tmp_path: Path) -> None:
    # GIVEN a server running a function that sleeps for a minute
    stack = stack_for(free_port(), tmp_path)
    stack.state_dir.mkdir(parents=True)
    start_server(stack)
    try:
        server = RunningServer(stack=stack, state_home=tmp_path)
        server.client("s3").create_bucket(Bucket="sleepy")
        function_arn = create_function(
            server.client("lambda"), server.client("iam"), "sleeper", "handlers.copy_upload", env={"DELAY_S": "60"}
        )
        _notify_function_on_uploads(server, "sleepy", function_arn)
        server.client("s3").put_object(Bucket="sleepy", Key="incoming/c.csv", Body=b"x\n")
        process = stack.server_process()
        assert process is not None
        children = wait_for(lambda: process.children(recursive=True), what="the function's process")
    finally:
        # WHEN local mode is stopped
        stopped = down(stack.port, state_home=tmp_path)

    # THEN the server and the function's process are gone
    assert stopped
    assert not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    assert stack.server_process() is None


# A server that, asked to stop, starts a process (as a drain starts failure notifications) and exits.
_SERVER_STARTING_A_CHILD_AT_STOP = """
import pathlib, signal, subprocess, sys, time
def stop(signum, frame):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    pathlib.Path(sys.argv[1]).write_text(str(child.pid))
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
pathlib.Path(sys.argv[2]).write_text("ready")
time.sleep(120)
"""


def test_a_graceful_stop_also_stops_what_the_server_started_while_it_stopped(tmp_path: Path) -> None:
    # GIVEN a server in its own session (as start_server starts it) that starts a child when asked to stop
    child_file, ready = tmp_path / "child.pid", tmp_path / "ready"
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER_STARTING_A_CHILD_AT_STOP, str(child_file), str(ready)], start_new_session=True
    )
    wait_for(ready.exists, what="the server to start")
    try:
        # WHEN it is stopped gracefully
        _stop_tree(psutil.Process(server.pid), graceful=True)

        # THEN the child it started meanwhile is stopped too
        wait_for(lambda: _gone(int(child_file.read_text())), timeout_s=10, what="the child to be stopped")
    finally:
        server.wait(timeout=10)
        if child_file.exists():
            with contextlib.suppress(psutil.Error):
                psutil.Process(int(child_file.read_text())).kill()


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_after_a_crash_the_next_start_fails_the_execution_that_was_running(tmp_path: Path) -> None:
    # GIVEN a server running an execution that waits, saved by an autosave
    stack = stack_for(free_port(), tmp_path)
    stack.state_dir.mkdir(parents=True)
    start_server(stack)
    try:
        server = RunningServer(stack=stack, state_home=tmp_path)
        role = create_role(server.client("iam"), "waiter", "states.amazonaws.com", [])
        definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 600, "End": True}}}
        stepfunctions = server.client("stepfunctions")
        machine = stepfunctions.create_state_machine(name="waits", definition=json.dumps(definition), roleArn=role)
        execution = stepfunctions.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
        saved = stack.state_dir / STATE_FILE
        wait_for(lambda: saved.exists() and execution.encode() in saved.read_bytes(), timeout_s=60, what="an autosave")

        # WHEN the server is killed, and started again
        process = stack.server_process()
        assert process is not None
        process.kill()
        process.wait(timeout=10)
        start_server(stack)

        # THEN the execution it was running is FAILED, as local mode cannot resume it
        described = server.client("stepfunctions").describe_execution(executionArn=execution)
        assert (described["status"], described["error"]) == ("FAILED", INTERRUPTED_ERROR)
    finally:
        down(stack.port, state_home=tmp_path, discard=True)
