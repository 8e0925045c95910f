"""A training image program (``train``, ``serve``) run the way SageMaker runs a container, as a process.

The program gets this process's environment, the user's ``Environment`` from the request, and on top
the contract's own variables (:mod:`core.container`): where its ``/opt/ml`` is, and whatever the caller
adds (hosts and tracker port for training, port for serving). It runs in its own session, so a signal
reaches the program and every process it started (gunicorn's workers, say), and its output goes line by
line, as SageMaker's log shipping shows it, to a :class:`~local.sagemaker.logs.LogStream`.

Each running program is also recorded, by pid and create time, in a ``processes/`` folder under the
engine's work folder, from its start until it has been waited for. A local server killed with SIGKILL
runs no cleanup, and its programs, in sessions of their own, would go on serving; the next ``dropml local
up`` or ``down`` calls :func:`stop_recorded`, which stops what those records name. A pid alone could by
then be another program's, so a record only ever names the process with that pid *and* create time (how
psutil tells a reused pid from the process it once was), never a process found by its name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from core.container import OPT_ML_ENV
from local.sagemaker.logs import LogStream, as_logged

KILL_WAIT_S = 10
RECORDS_FOLDER = "processes"


def records_folder(workdir: Path) -> Path:
    """Where the programs started for an engine working in ``workdir`` are recorded."""
    return workdir / RECORDS_FOLDER


def container_environment(
    opt_ml: Path,
    user: Mapping[str, Any] | None,
    *,
    defaults: Mapping[str, str] | None = None,
    fixed: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A program's whole environment: ours, then ``defaults`` (the user may override them), then the
    user's, then what the contract fixes: ``DROPML_OPT_ML`` and ``fixed``."""
    return {
        **os.environ,
        **(defaults or {}),
        **{str(k): str(v) for k, v in (user or {}).items()},
        OPT_ML_ENV: str(opt_ml),
        **(fixed or {}),
        "PYTHONUNBUFFERED": "1",
    }


class ImageProcess:
    """One running image program; its output is copied to ``log`` (and to ``on_line``) until it ends.

    It runs as ``executable program`` (SageMaker's ``docker run <image> train``), or with ``arguments``
    instead of ``program`` (a Processing job's ``ContainerEntrypoint`` and ``ContainerArguments``).
    """

    def __init__(
        self,
        executable: Path,
        program: str,
        *,
        opt_ml: Path,
        environment: Mapping[str, str],
        log: LogStream,
        records: Path,
        on_line: Callable[[str], None] | None = None,
        arguments: Sequence[str] | None = None,
    ) -> None:
        self.log = log
        self._on_line = on_line
        self._process = subprocess.Popen(
            [str(executable), *([program] if arguments is None else arguments)],
            cwd=opt_ml,
            env=dict(environment),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        self._record = ProcessRecord.of(self._process.pid, program, records)
        self._reader = threading.Thread(target=self._copy_output, name=f"output of {log.stream}", daemon=True)
        self._reader.start()

    def _copy_output(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            logged = as_logged(line)
            self.log.write(logged)
            if self._on_line is not None:
                self._on_line(logged)
        self.log.close()
        # The output ends when the program and everything that shared it have exited.
        self._process.wait()
        self._forget()

    def _forget(self) -> None:
        if self._record is not None:
            self._record.remove()

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._process.poll()

    def join_output(self, timeout: float) -> None:
        """Wait until the program's output has all been copied (it ends when the program does)."""
        self._reader.join(timeout=timeout)

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the program and everything it started, when it still runs."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signum)

    def kill(self) -> None:
        if self.running:
            self.send_signal(signal.SIGKILL)
            self._process.wait(timeout=KILL_WAIT_S)
            self._forget()

    def terminate(self, grace_s: float) -> None:
        """SIGTERM, ``grace_s`` to exit (to save its work, to finish its requests), then SIGKILL."""
        if self.running:
            self.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.kill()
            self._forget()


@dataclass(frozen=True)
class ProcessRecord:
    """One started program as its record file names it: pid and create time, and what it was (for people)."""

    pid: int
    create_time: float
    program: str
    path: Path

    @classmethod
    def of(cls, pid: int, program: str, folder: Path) -> ProcessRecord | None:
        """Record the process ``pid`` in ``folder``; None when it has already gone (nothing is left to stop)."""
        try:
            create_time = psutil.Process(pid).create_time()
        except psutil.NoSuchProcess:
            return None
        record = cls(pid=pid, create_time=create_time, program=program, path=folder / f"{pid}.json")
        folder.mkdir(parents=True, exist_ok=True)
        written = record.path.with_suffix(".tmp")
        # Written whole, then renamed: a server killed mid-write leaves no half record.
        written.write_text(json.dumps({k: v for k, v in asdict(record).items() if k != "path"}))
        written.replace(record.path)
        return record

    @classmethod
    def read(cls, path: Path) -> ProcessRecord | None:
        try:
            fields = json.loads(path.read_text())
            return cls(
                pid=int(fields["pid"]), create_time=float(fields["create_time"]), program=fields["program"], path=path
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def processes(self) -> list[psutil.Process]:
        """The recorded process, if it still is the one recorded, and the rest of its session.

        The programs run in sessions of their own, led by the recorded process. While any member of a
        session is alive, Linux gives no new process the session's id as its pid; so members of session
        ``pid`` are ours when the leader has exited, and none are when ``pid`` now names another process.
        """
        try:
            leader = psutil.Process(self.pid)
            if leader.create_time() != self.create_time:
                return []  # the pid was reused: that process is someone else's
            found = [leader]
        except psutil.NoSuchProcess:
            found = []
        return found + [member for member in _session_members(self.pid) if member.pid != self.pid]


def _session_members(session: int) -> Iterator[psutil.Process]:
    for process in psutil.process_iter():
        with contextlib.suppress(OSError):
            if os.getsid(process.pid) == session:
                yield process


def stop_recorded(state_dir: Path, *, grace_s: float = KILL_WAIT_S) -> list[int]:
    """Stop every program that a server with ``state_dir`` recorded and that still runs; the pids stopped.

    For what a server that is gone left behind: ``dropml local up`` and ``down`` call it. SIGTERM first
    (an endpoint finishes its requests, a training job may save a checkpoint), SIGKILL after ``grace_s``.
    """
    found: list[psutil.Process] = []
    for path in sorted(state_dir.rglob(f"{RECORDS_FOLDER}/*.json")):
        record = ProcessRecord.read(path)
        if record is not None:
            found.extend(record.processes())
        path.unlink(missing_ok=True)
    terminate_then_kill(found, grace_s=grace_s)
    return [process.pid for process in found]


def terminate_then_kill(processes: list[psutil.Process], *, grace_s: float) -> None:
    """SIGTERM to each, SIGKILL to whatever still runs ``grace_s`` later: time to save work, then an end."""
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=grace_s)
