"""A training image program (``train``, ``serve``) run the way SageMaker runs a container, as a process.

The program gets this process's environment, the user's ``Environment`` from the request, and on top
the contract's own variables (:mod:`core.container`): where its ``/opt/ml`` is, and whatever the caller
adds (hosts and tracker port for training, port for serving). It runs in its own session, so a signal
reaches the program and every process it started (gunicorn's workers, say), and its output goes line by
line, as SageMaker's log shipping shows it, to a :class:`~local.sagemaker.logs.LogStream`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from core.container import OPT_ML_ENV
from local.sagemaker.logs import LogStream, as_logged

KILL_WAIT_S = 10


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
    """One running image program; its output is copied to ``log`` (and to ``on_line``) until it ends."""

    def __init__(
        self,
        executable: Path,
        program: str,
        *,
        opt_ml: Path,
        environment: Mapping[str, str],
        log: LogStream,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        self.log = log
        self._on_line = on_line
        self._process = subprocess.Popen(
            [str(executable), program],
            cwd=opt_ml,
            env=dict(environment),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
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

    def terminate(self, grace_s: float) -> None:
        """SIGTERM, ``grace_s`` to exit (to save its work, to finish its requests), then SIGKILL."""
        if self.running:
            self.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.kill()
