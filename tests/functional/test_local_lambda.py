"""The Lambda patches (``local.moto.awslambda``) and the Lambda runner: the Invoke API runs the handler from its
package, without Docker."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from pathlib import Path

import psutil

from tests.helpers.local import PatchedAws, create_function, wait_for


def _invoke(aws: PatchedAws, name: str, event: object) -> tuple[dict, dict | str]:
    response = aws.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event), LogType="Tail")
    return response, json.loads(response["Payload"].read())


def test_invoke_runs_the_packaged_handler_with_its_environment_and_context(patched_aws: PatchedAws) -> None:
    # GIVEN a function with its own environment variable
    create_function(
        patched_aws.client("lambda"),
        patched_aws.client("iam"),
        "echo",
        "handlers.echo",
        timeout=20,
        env={"GREETING": "hello"},
    )

    # WHEN it is invoked through the Lambda API
    response, payload = _invoke(patched_aws, "echo", {"answer": 42})

    # THEN the handler ran with the event, a real context and the function's environment
    assert "FunctionError" not in response
    assert isinstance(payload, dict)
    assert payload["event"] == {"answer": 42}
    assert payload["function_name"] == "echo"
    assert payload["memory_limit_in_mb"] == 256
    assert len(payload["aws_request_id"]) == 36
    assert 0 < payload["remaining_ms"] <= 20_000
    assert payload["greeting"] == "hello"
    assert payload["endpoint"] == "http://127.0.0.1:9"
    # from the unpacked package, not from the working tree
    assert Path(payload["module_file"]).is_relative_to(patched_aws.work_dir)


def test_an_exception_is_an_unhandled_function_error_shaped_like_aws(patched_aws: PatchedAws) -> None:
    create_function(patched_aws.client("lambda"), patched_aws.client("iam"), "fail", "handlers.fail")

    response, payload = _invoke(patched_aws, "fail", {"who": "alice"})

    assert response["FunctionError"] == "Unhandled"
    assert isinstance(payload, dict)
    assert payload["errorType"] == "PaymentRequired"
    assert payload["errorMessage"] == "no credit for alice"
    assert any("in fail" in frame for frame in payload["stackTrace"])
    # what the handler printed comes back as the log tail, as with LogType=Tail on AWS
    assert "about to fail" in base64.b64decode(response["LogResult"]).decode()


def test_a_handler_that_runs_past_its_timeout_is_stopped(patched_aws: PatchedAws) -> None:
    create_function(patched_aws.client("lambda"), patched_aws.client("iam"), "sleepy", "handlers.sleep", timeout=1)

    response, payload = _invoke(patched_aws, "sleepy", {"seconds": 60})

    assert response["FunctionError"] == "Unhandled"
    assert isinstance(payload, dict)
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]


def test_a_handler_that_cannot_be_imported_says_so(patched_aws: PatchedAws) -> None:
    create_function(patched_aws.client("lambda"), patched_aws.client("iam"), "missing", "nowhere.handler")

    response, payload = _invoke(patched_aws, "missing", {})

    assert response["FunctionError"] == "Unhandled"
    assert isinstance(payload, dict)
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "nowhere" in payload["errorMessage"]


def test_every_invocation_is_logged_to_the_functions_log_group(patched_aws: PatchedAws) -> None:
    create_function(patched_aws.client("lambda"), patched_aws.client("iam"), "fail", "handlers.fail")

    _invoke(patched_aws, "fail", {})

    events = patched_aws.client("logs").filter_log_events(logGroupName="/aws/lambda/fail")["events"]
    assert any("about to fail" in event["message"] for event in events)


def test_an_event_invocation_returns_at_once_and_runs_in_the_background(patched_aws: PatchedAws) -> None:
    create_function(patched_aws.client("lambda"), patched_aws.client("iam"), "fail", "handlers.fail")

    response = patched_aws.client("lambda").invoke(FunctionName="fail", InvocationType="Event", Payload=b"{}")

    assert response["StatusCode"] == 202
    assert "FunctionError" not in response

    def logged() -> bool:
        logs = patched_aws.client("logs")
        if not logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/fail")["logGroups"]:
            return False
        events = logs.filter_log_events(logGroupName="/aws/lambda/fail")["events"]
        return any("about to fail" in event["message"] for event in events)

    wait_for(logged, what="the background invocation's log")


def test_a_dry_run_checks_the_call_and_runs_nothing(patched_aws: PatchedAws) -> None:
    create_function(patched_aws.client("lambda"), patched_aws.client("iam"), "fail", "handlers.fail")

    response = patched_aws.client("lambda").invoke(FunctionName="fail", InvocationType="DryRun", Payload=b"{}")

    assert response["StatusCode"] == 204
    assert list((patched_aws.work_dir / "lambda").glob("code/*")) == []


def _with_memory(aws: PatchedAws, name: str, memory_mb: int) -> None:
    lambda_client = aws.client("lambda")
    lambda_client.update_function_configuration(FunctionName=name, MemorySize=memory_mb)
    wait_for(
        lambda: lambda_client.get_function_configuration(FunctionName=name)["MemorySize"] == memory_mb,
        what=f"{name}'s memory size",
    )


def test_a_function_past_its_memory_size_is_killed_and_reported_as_aws_does(patched_aws: PatchedAws) -> None:
    # GIVEN a 128 MB function
    create_function(patched_aws.client("lambda"), patched_aws.client("iam"), "hungry", "handlers.allocate")
    _with_memory(patched_aws, "hungry", 128)

    # WHEN it fills 200 MiB
    response, payload = _invoke(patched_aws, "hungry", {"mb": 200})

    # THEN it is an out-of-memory, as the Invoke API reports it
    assert response["FunctionError"] == "Unhandled"
    assert isinstance(payload, dict)
    assert payload["errorType"] == "Runtime.OutOfMemory"
    assert re.fullmatch(
        r"RequestId: [0-9a-f-]{36} Error: Runtime exited with error: signal: killed", payload["errorMessage"]
    )
    # AND the function's log says so, with the REPORT line's memory
    events = patched_aws.client("logs").filter_log_events(logGroupName="/aws/lambda/hungry")["events"]
    log = "".join(event["message"] for event in events)
    assert "Runtime.OutOfMemory" in log
    assert "Memory Size: 128 MB" in log


def test_a_function_that_grows_past_its_memory_while_running_is_killed_before_its_timeout(
    patched_aws: PatchedAws,
) -> None:
    create_function(patched_aws.client("lambda"), patched_aws.client("iam"), "hoarder", "handlers.allocate", timeout=60)
    _with_memory(patched_aws, "hoarder", 128)

    # WHEN it holds 200 MiB and would then sleep past its timeout
    _response, payload = _invoke(patched_aws, "hoarder", {"mb": 200, "then_sleep_s": 120})

    # THEN it is killed for its memory while it runs, not stopped at its timeout
    assert isinstance(payload, dict)
    assert payload["errorType"] == "Runtime.OutOfMemory"


def test_a_function_within_its_memory_size_answers(patched_aws: PatchedAws) -> None:
    create_function(patched_aws.client("lambda"), patched_aws.client("iam"), "modest", "handlers.allocate")
    _with_memory(patched_aws, "modest", 128)

    response, payload = _invoke(patched_aws, "modest", {"mb": 16})

    assert "FunctionError" not in response, payload
    assert payload == {"held_mb": 16}


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # killed, not yet reaped by its new parent
    except psutil.NoSuchProcess:
        return True


def test_what_a_handler_leaves_running_in_the_background_ends_with_the_invocation(patched_aws: PatchedAws) -> None:
    # GIVEN a function that starts a ten-minute child and returns at once
    create_function(patched_aws.client("lambda"), patched_aws.client("iam"), "spawner", "handlers.spawn_background")

    # WHEN it is invoked
    response, payload = _invoke(patched_aws, "spawner", {})

    # THEN the invocation answers, and the child it left behind has been ended with it
    assert "FunctionError" not in response, payload
    assert isinstance(payload, dict)
    pid = payload["pid"]
    try:
        wait_for(lambda: _gone(pid), what=f"the handler's background child {pid} to end", timeout_s=10)
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):  # not left sleeping for the runs that follow
            psutil.Process(pid).kill()
