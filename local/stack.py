"""Local mode's lifecycle: start the embedded AWS in the background, deploy the template, stop it all.

State lives in one folder per port (``$DROPML_HOME/local-<port>/``, default ``<repo>/.dropml/``):
the server's pid and SMTP port, the deployment's outputs, the mail outbox, Lambda work files, the
server log, and what the embedded AWS held when it last stopped (:mod:`local.server_state`). Several
stacks on different ports never share anything.

``down`` then ``up`` keeps what the stack held, as an AWS account would: ``up`` finds the stack
deployed and does not deploy it again. ``down --discard`` empties the folder (the server log stays), so the
next ``up`` starts clean and deploys the working tree's template.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psutil

from core.errors import UserInputError
from local import deploy
from local.credentials import FAKE_CREDENTIALS
from local.ports import is_listening
from local.sagemaker.processes import stop_recorded, terminate_then_kill

DEFAULT_PORT = 4566
HOST = "127.0.0.1"
READY_FILE = "server.json"  # written by the server once its patches are installed: pid and SMTP port
REGION = "us-east-1"
DEFAULT_EMAIL = "you@example.com"
REPO_ROOT = Path(__file__).resolve().parent.parent
_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 10.0
# A graceful stop ends the runs in flight (bounded by the server's drain) and saves before exiting.
_GRACEFUL_STOP_TIMEOUT_S = 120.0
DEPLOYMENT_FILE = "deployment.json"


@dataclass(frozen=True)
class LocalStack:
    """One local stack's address and state folder."""

    port: int
    state_dir: Path

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def outbox(self) -> Path:
        return self.state_dir / "outbox"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "server.log"

    def environment(self) -> dict[str, str]:
        """Return what a shell, boto3 or the AWS CLI needs to reach this stack."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def session(self) -> boto3.Session:
        """Return a boto3 session with local mode's fake credentials and region."""
        return boto3.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=REGION,
        )

    def server_info(self) -> dict[str, Any] | None:
        path = self.state_dir / READY_FILE
        return json.loads(path.read_text()) if path.exists() else None

    def deployment(self) -> dict[str, Any] | None:
        path = self.state_dir / DEPLOYMENT_FILE
        return json.loads(path.read_text()) if path.exists() else None

    def server_process(self) -> psutil.Process | None:
        """Return the running server process, if the recorded pid is still this stack's server.

        The command line is checked too: after a reboot the pid may belong to another program,
        which ``down`` must never kill.
        """
        info = self.server_info()
        if info is None:
            return None
        try:
            process = psutil.Process(int(info["pid"]))
            command = process.cmdline()
            alive = process.is_running() and process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return None
        ours = "local.server" in command and str(self.state_dir) in command
        return process if alive and ours else None


def home() -> Path:
    return Path(os.environ.get("DROPML_HOME") or REPO_ROOT / ".dropml").absolute()


def stack_for(port: int, state_home: Path | None = None) -> LocalStack:
    return LocalStack(port=port, state_dir=(state_home or home()) / f"local-{port}")


def up(port: int = DEFAULT_PORT, *, email: str | None = None, state_home: Path | None = None) -> LocalStack:
    """Start the server for ``port`` in the background, deploy the template, return when ready.

    ``email`` is the NotificationEmail parameter (default :data:`DEFAULT_EMAIL`); a stack kept from the
    last ``down`` keeps its own, so another one given for it is refused."""
    stack = stack_for(port, state_home)
    if stack.server_process() is not None:
        raise UserInputError(f"local mode is already running on port {port} (dropml local down --port {port})")
    if is_listening(port):
        raise UserInputError(f"port {port} is in use by another program; choose another with --port")
    stack.state_dir.mkdir(parents=True, exist_ok=True)
    (stack.state_dir / READY_FILE).unlink(missing_ok=True)
    stop_recorded(stack.state_dir)  # what a server that was killed left running

    start_server(stack)
    deployed = _deployed(stack)
    if deployed is not None:
        kept_email = next(
            (
                item["ParameterValue"]
                for item in deployed.get("Parameters", [])
                if item["ParameterKey"] == "NotificationEmail"
            ),
            None,
        )
        if email is not None and kept_email is not None and email != kept_email:
            down(port, state_home=state_home)
            raise UserInputError(
                f"the stack kept on port {port} emails {kept_email}; to change it, start clean with "
                f"dropml local down --discard --port {port}, then up --email {email}"
            )
        return stack
    (stack.state_dir / DEPLOYMENT_FILE).unlink(missing_ok=True)
    try:
        deployment = deploy.deploy(
            session=stack.session(),
            endpoint_url=stack.endpoint_url,
            repo_root=REPO_ROOT,
            notification_email=email or DEFAULT_EMAIL,
        )
    except Exception:
        down(port, state_home=state_home, discard=True)
        raise
    (stack.state_dir / DEPLOYMENT_FILE).write_text(
        json.dumps({"stack_name": deployment.stack_name, "outputs": deployment.outputs}, indent=2)
    )
    return stack


def _deployed(stack: LocalStack) -> dict[str, Any] | None:
    """The stack recorded in the folder, if it is still there (kept from the last ``down``)."""
    deployment = stack.deployment()
    if deployment is None:
        return None
    cloudformation = stack.session().client("cloudformation", endpoint_url=stack.endpoint_url)
    try:
        found = cloudformation.describe_stacks(StackName=deployment["stack_name"])["Stacks"]
    except cloudformation.exceptions.ClientError:
        return None
    return dict(found[0]) if found and found[0]["StackStatus"] == "CREATE_COMPLETE" else None


def start_server(stack: LocalStack) -> None:
    """Start the embedded AWS server for ``stack`` in its own session; return once it answers."""
    environment = {**os.environ, **FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    environment.pop("AWS_ENDPOINT_URL", None)
    command = [sys.executable, "-m", "local.server", "--port", str(stack.port)]
    command += ["--state-dir", str(stack.state_dir)]
    with stack.log_file.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local AWS server exited at start:\n{_tail(stack.log_file)}")
        if stack.server_info() is not None and _answers(stack):
            return
        time.sleep(0.1)
    _stop_tree(psutil.Process(process.pid), graceful=False)
    raise RuntimeError(f"the local AWS server did not answer within {_START_TIMEOUT_S:.0f} s:\n{_tail(stack.log_file)}")


def _answers(stack: LocalStack) -> bool:
    try:
        with urllib.request.urlopen(f"{stack.endpoint_url}/moto-api/data.json", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def down(port: int = DEFAULT_PORT, *, state_home: Path | None = None, discard: bool = False) -> bool:
    """Stop the server for ``port`` and every process it started; False when none was running.

    The server first ends the runs in flight and saves what it holds, for the next ``up``. With
    ``discard`` it is stopped at once instead and the state folder is deleted: the next ``up`` starts clean.
    """
    stack = stack_for(port, state_home)
    process = stack.server_process()
    (stack.state_dir / READY_FILE).unlink(missing_ok=True)
    if process is not None:
        _stop_tree(process, graceful=not discard)
    stop_recorded(stack.state_dir)  # what a server that was killed (this one or an earlier one) left running
    if discard:
        _discard(stack)
    return process is not None


def _discard(stack: LocalStack) -> None:
    """Delete everything in the state folder but the server log, which says what happened before."""
    if not stack.state_dir.is_dir():
        return
    for path in stack.state_dir.iterdir():
        if path == stack.log_file:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _stop_tree(process: psutil.Process, *, graceful: bool) -> None:
    """Stop a process and all its descendants; kill whatever is left after a grace period.

    Graceful: only the server is asked to stop (SIGTERM), and given the time to drain and save; the
    children it started are stopped by it, and whatever it left behind is stopped after it exits: those
    listed before, and those started meanwhile (Lambda invocations during the drain), found by the
    server's session once it has exited and they are no longer its children.
    """
    try:
        family = [process, *process.children(recursive=True)]
        leader = os.getsid(process.pid) == process.pid  # started by start_server, in a session of its own
    except (psutil.NoSuchProcess, ProcessLookupError):
        return
    if graceful:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
        psutil.wait_procs([process], timeout=_GRACEFUL_STOP_TIMEOUT_S)
        if leader:
            family += [member for member in _session(process.pid) if member not in family]
    terminate_then_kill(family, grace_s=_STOP_TIMEOUT_S)


def _session(session_id: int) -> list[psutil.Process]:
    """The processes left in a session (what a server that exited had started)."""
    found = []
    for candidate in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getsid(candidate.pid) == session_id:
                found.append(candidate)
    return found


def status(port: int = DEFAULT_PORT, *, state_home: Path | None = None) -> dict[str, Any] | None:
    """Describe what is deployed on the stack for ``port``; None when it is not running."""
    stack = stack_for(port, state_home)
    process = stack.server_process()
    if process is None:
        return None
    deployment = stack.deployment() or {}
    outputs = deployment.get("outputs", {})
    return {
        "port": port,
        "pid": process.pid,
        "endpoint_url": stack.endpoint_url,
        "region": REGION,
        "state_dir": str(stack.state_dir),
        "outbox": str(stack.outbox),
        "stack_name": deployment.get("stack_name"),
        "bucket": outputs.get("BucketName"),
        "state_machine_arn": outputs.get("StateMachineArn"),
        "topic_arn": outputs.get("TopicArn"),
        "ingest_function": outputs.get("IngestFunctionName"),
        "endpoints": _endpoints(stack),
    }


def _endpoints(stack: LocalStack) -> list[dict[str, str]]:
    sagemaker = stack.session().client("sagemaker", endpoint_url=stack.endpoint_url)
    found = sagemaker.list_endpoints().get("Endpoints", [])
    return [{"name": item["EndpointName"], "status": item["EndpointStatus"]} for item in found]


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
