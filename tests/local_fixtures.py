"""Fixtures for local mode's tests (imported by ``tests/*/test_local_*.py``; not a conftest).

Two ways to get the embedded AWS:
- ``patched_aws``: in-process ``mock_aws`` with ``local.moto_patches`` installed for one test, for
  tests that reach into moto's backends (e.g. to move a SageMaker job's status);
- ``local_server``: the real ``python -m local.server`` process on a free port with its own state
  folder, for tests whose Lambda functions call AWS themselves, torn down with everything it started.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local import mail, moto_patches
from local.ports import free_port
from local.stack import REPO_ROOT, LocalStack, down, stack_for, start_server

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTIONS_DIR = Path(__file__).parent / "local_functions"
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
    outbox: Path
    work_dir: Path

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=REGION)


@pytest.fixture(name="patched_aws")
def patched_aws_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PatchedAws]:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    outbox = tmp_path / "outbox"
    sink = mail.start_sink(outbox, port=free_port())
    settings = moto_patches.LocalSettings(
        endpoint_url="http://127.0.0.1:9", work_dir=tmp_path / "work", smtp_port=sink.port
    )
    try:
        with mock_aws(), moto_patches.installed(settings):
            yield PatchedAws(outbox=outbox, work_dir=settings.work_dir)
    finally:
        sink.stop()


@dataclass
class RunningServer:
    stack: LocalStack
    state_home: Path

    def client(self, service: str) -> Any:
        return self.stack.session().client(service, endpoint_url=self.stack.endpoint_url)


@pytest.fixture(name="local_server", scope="module")
def local_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    state_home = tmp_path_factory.mktemp("dropml-home")
    stack = stack_for(free_port(), state_home)
    stack.state_dir.mkdir(parents=True)
    start_server(stack)
    try:
        yield RunningServer(stack=stack, state_home=state_home)
    finally:
        down(stack.port, state_home=state_home)


def dropml(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the ``dropml`` CLI as a user would (a separate process)."""
    return subprocess.run(
        [sys.executable, "-m", "local.cli", *args],
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
