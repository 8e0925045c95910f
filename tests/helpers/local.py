"""Helpers for local mode's tests: test Lambda functions, polling, running the ``dropml`` CLI.

``PatchedAws`` and ``RunningServer`` are what the ``patched_aws`` and ``local_server`` fixtures
(``tests/fixtures/local.py``) give a test.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.stack import REPO_ROOT, LocalStack

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTIONS_DIR = Path(__file__).parents[1] / "local_functions"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def function_zip() -> bytes:
    """The test function package: ``tests/local_functions/handlers.py`` at the zip's root."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(FUNCTIONS_DIR / "handlers.py", "handlers.py")
    return buffer.getvalue()


def create_function(
    lambda_client: Any, iam_client: Any, name: str, handler: str, *, timeout: int = 30, env: dict | None = None
) -> str:
    try:
        role = iam_client.get_role(RoleName="dropml-test-function")["Role"]["Arn"]
    except iam_client.exceptions.NoSuchEntityException:
        role = iam_client.create_role(
            RoleName="dropml-test-function",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        # What handlers.copy_upload does, no more: local mode's IAM holds the functions to their role.
        copies = [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/incoming/*"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::*/copied/*"},
        ]
        iam_client.put_role_policy(
            RoleName="dropml-test-function",
            PolicyName="copy-uploads",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": copies}),
        )
    created = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler=handler,
        Code={"ZipFile": function_zip()},
        Timeout=timeout,
        MemorySize=256,
        Environment={"Variables": env or {}},
    )
    return str(created["FunctionArn"])


def create_role(iam_client: Any, name: str, service: str, statements: list[dict[str, Any]]) -> str:
    """A role ``service`` (``states.amazonaws.com``) may assume, allowed exactly ``statements`` and nothing
    else (none: it may do nothing): local mode's IAM holds what runs as it to its policy, as AWS does."""
    trust = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    role = iam_client.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    )["Role"]["Arn"]
    if statements:
        iam_client.put_role_policy(
            RoleName=name,
            PolicyName="least-privilege",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
    return str(role)


def wait_for(condition: Callable[[], Any], *, timeout_s: float = 30.0, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


@dataclass
class PatchedAws:
    """What ``patched_aws`` gives a test: the in-process AWS, its outbox and the Lambda runner's folder."""

    outbox: Path
    work_dir: Path

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)


@dataclass
class RunningServer:
    """What ``local_server`` gives a test: a running ``python -m local.server`` and its state folder."""

    stack: LocalStack
    state_home: Path

    def client(self, service: str) -> Any:
        return self.stack.session().client(service, endpoint_url=self.stack.endpoint_url)


def dropml(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the ``dropml`` CLI as a user would (a separate process)."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any AWS settings, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(extra)
    return env
