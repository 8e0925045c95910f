"""A process's output as a CloudWatch Logs stream, where a person (and ``aws logs tail``) looks on AWS.

SageMaker writes a training host's output to ``/aws/sagemaker/TrainingJobs``, stream
``<job>/algo-N-<epoch seconds>``, and an endpoint's to ``/aws/sagemaker/Endpoints/<endpoint>``. Its log
shipping shows a tab as ``#011`` (syslog's octal escape), which is why metric regexes for the built-in
XGBoost say ``#011``: lines are written, and matched, in that form.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from core.container import LOGGED_TAB

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ENDPOINT_LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"
_MAX_BATCH = 500
_FLUSH_EVERY_S = 1.0


def as_logged(line: str) -> str:
    """A line of output the way SageMaker's log shipping shows it."""
    return line.rstrip("\r\n").replace("\t", LOGGED_TAB)


class LogStream:
    """Buffers lines and puts them to one log stream at least every second until :meth:`close`.

    ``write`` and ``flush`` are safe from any thread. Writing to the log must never fail the job it
    describes: a put that fails (the embedded AWS being shut down, say) drops the batch.
    """

    def __init__(self, logs: Any, group: str, stream: str, clock: Callable[[], float] = time.time) -> None:
        self.group = group
        self.stream = stream
        self._logs = logs
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._last_flush = clock()
        self._closed = threading.Event()
        _create(logs, group, stream)
        threading.Thread(target=self._flush_every_second, name=f"log {stream}", daemon=True).start()

    def _flush_every_second(self) -> None:
        while not self._closed.wait(_FLUSH_EVERY_S):
            self.flush()

    def close(self) -> None:
        self._closed.set()
        self.flush()

    def write(self, line: str) -> None:
        with self._lock:
            self._pending.append({"timestamp": int(self._clock() * 1000), "message": line})
            due = len(self._pending) >= _MAX_BATCH or self._clock() - self._last_flush >= _FLUSH_EVERY_S
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._last_flush = self._clock()
            if not batch:
                return
            try:
                self._logs.put_log_events(logGroupName=self.group, logStreamName=self.stream, logEvents=batch)
            except Exception:
                return


def _create(logs: Any, group: str, stream: str) -> None:
    _unless_it_exists(logs.create_log_group, logGroupName=group)
    _unless_it_exists(logs.create_log_stream, logGroupName=group, logStreamName=stream)


def _unless_it_exists(create: Callable[..., object], **names: str) -> None:
    """Create a group or stream that another job's stream may be creating at the same moment.

    Told apart by the error's code, not by ``client.exceptions``' class: a client shared by two jobs'
    threads may build that class twice (botocore makes it lazily, unlocked), and an error raised as one
    copy is not an instance of the other (seen: a job failed on "log group already exists").
    """
    try:
        create(**names)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
            raise
