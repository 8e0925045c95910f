"""What every job and endpoint of one engine shares (its :class:`EngineContext`): how to reach AWS, where
to work, what to run.

S3 and CloudWatch Logs are reached with boto3 pointed at the embedded AWS (moto's server) over HTTP,
not through moto's backend objects: the engine then depends only on the public API, the same code works
against any S3-compatible endpoint, and moto's internals can change without breaking it. Inside the moto
server process that means the server calls itself, which its threaded HTTP server allows.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from core.container import PROCESS_PROGRAM, SERVE_PROGRAM, TRAIN_PROGRAM
from core.machine import cpu_count

REPO_ROOT = Path(__file__).resolve().parents[2]
SPOT_INTERRUPTIONS_ENV = "DROPML_LOCAL_SPOT_INTERRUPTIONS"
DEFAULT_MAX_RUNTIME_S = 86_400
"""A job's ``MaxRuntimeInSeconds`` when its request sets none: "The default value is 1 day" (AWS)."""
DEFAULT_ACCOUNT_ID = "123456789012"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Programs:
    """The training image's executables: the SageMaker container contract's ``train`` and ``serve``, and
    ``process``, a Processing job's entrypoint."""

    train: Path = REPO_ROOT / "training_image" / TRAIN_PROGRAM
    serve: Path = REPO_ROOT / "training_image" / SERVE_PROGRAM
    process: Path = REPO_ROOT / "training_image" / PROCESS_PROGRAM


RoleSessions = Callable[[str, str, str], tuple[str, str, str]]
"""``(account, role ARN, session name) → (access key id, secret, session token)`` of a session of the role."""
ROLE_SESSION_NAME = "SageMaker"
"""The session name SageMaker's sessions of an execution role carry (``assumed-role/ROLE/SageMaker``)."""


class AwsAccount:
    """One account and region at one endpoint: its boto3 clients (made on first use, thread-safe) and ARNs."""

    def __init__(
        self,
        *,
        endpoint_url: str | None,
        region: str,
        account_id: str = DEFAULT_ACCOUNT_ID,
        credentials: tuple[str, ...] | None = None,
        assume_role: RoleSessions | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.account_id = account_id
        self._credentials = credentials
        self._assume_role = assume_role
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._roles: dict[tuple[str, tuple[str, ...]], AwsAccount] = {}

    def as_role(self, role_arn: str | None) -> AwsAccount:
        """The account as a job's or endpoint's role: SageMaker reaches S3 and logs with a session of the
        ``RoleArn``/``ExecutionRoleArn`` it was given, never with the caller's credentials. Without
        ``assume_role`` (an engine outside the local server, where IAM is not checked) it is this account."""
        if self._assume_role is None or not role_arn:
            return self
        keys = self._assume_role(self.account_id, role_arn, ROLE_SESSION_NAME)
        with self._lock:
            if (role_arn, keys) not in self._roles:  # new keys after the embedded AWS was reset
                self._roles[(role_arn, keys)] = AwsAccount(
                    endpoint_url=self.endpoint_url, region=self.region, account_id=self.account_id, credentials=keys
                )
            return self._roles[(role_arn, keys)]

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                keys = self._credentials
                session = boto3.Session(
                    region_name=self.region,
                    aws_access_key_id=keys[0] if keys else None,
                    aws_secret_access_key=keys[1] if keys else None,
                    aws_session_token=keys[2] if keys and len(keys) > 2 else None,
                )
                self._clients[service] = session.client(service, endpoint_url=self.endpoint_url)
            return self._clients[service]

    def arn(self, resource: str, name: str) -> str:
        """SageMaker ARNs carry the resource name in lower case, as AWS's do."""
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{resource}/{name.lower()}"

    def log_stream_arn(self, group: str, stream: str) -> str:
        return f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{group}:log-stream:{stream}"


@dataclass(frozen=True)
class EngineContext:
    """What the training jobs, tuning jobs and endpoints of one engine share.

    ``stop_grace_s`` is how long a stopped process may take to save its work after SIGTERM before it is
    killed (AWS allows 120 s; local jobs are small). ``ready_timeout_s`` bounds an endpoint server's
    start-up. ``max_parallel_processes`` caps tuning parallelism at the machine's cores.
    ``endpoint_deletion_s`` is how long a deleted endpoint stays ``Deleting`` (its name still taken)
    before it is gone: AWS takes minutes, and a client that does not wait for it must fail here too.
    ``spot_interruptions`` is a fault to opt into: how many times each managed spot training job is
    interrupted and restarted (``DROPML_LOCAL_SPOT_INTERRUPTIONS``; 0, never, by default), after
    ``spot_restart_s`` of waiting for new instances.
    """

    aws: AwsAccount
    workdir: Path
    programs: Programs = field(default_factory=Programs)
    clock: Callable[[], datetime] = utc_now
    stop_grace_s: float = 10.0
    ready_timeout_s: float = 60.0
    max_parallel_processes: int = field(default_factory=cpu_count)
    endpoint_deletion_s: float = 5.0
    spot_interruptions: int = field(default_factory=lambda: int(os.environ.get(SPOT_INTERRUPTIONS_ENV) or 0))
    spot_restart_s: float = 1.0
