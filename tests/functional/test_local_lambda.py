"""The Lambda patches (``local.moto.awslambda``) and the Lambda runner: the Invoke API runs the handler from its
package, without Docker."""

from __future__ import annotations

import base64
import json
from pathlib import Path

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
