"""What the embedded AWS holds, on disk: saved by the local server when it stops, loaded before it serves.

moto 5.2.5 keeps every service's state in memory only (its backends, one ``BackendDict`` per service,
account and region) and has no save or load of its own. So that ``dropml local down`` then ``up`` keeps
the buckets, the deployed stack and the executions' history, as an AWS account would, the backends in
use are pickled together, in one pickle so that objects shared between services (a stack's resources
are the Lambda functions, the state machine, the bucket) stay one object, and put back into moto's own
``BackendDict`` globals at the next start.

Five kinds of object in moto's state cannot be pickled as they are, and are written as what they mean:
- an execution's interpreter (a thread with its locks): written as its history, which is all a finished
  execution still answers with (``GetExecutionHistory``); an execution that was still running is failed
  at load, because the interpreter cannot be resumed (:func:`fail_running_executions`);
- locks: written as new, unlocked locks;
- S3's versioned key store, a ``dict`` whose items are only each key's latest version (pickled as it is,
  every older version would be lost): written as every version of every key;
- ``WeakValueDictionary`` indexes (Lambda's by-ARN index) and ``defaultdict`` with a local-function
  factory: written as their contents;
- a reference to a ``BackendDict`` global from inside a model: written as the reference, so that it still
  names moto's global after load rather than a copy.
"""

from __future__ import annotations

import copy
import io
import pickle
import sys
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

from moto.core.base_backend import BackendDict, BaseBackend
from moto.s3.utils import _VersionedKeyStore
from moto.stepfunctions.parser.api import ExecutionStatus, HistoryEventType
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

INTERRUPTED_ERROR: Final = "Local.ServerStopped"
INTERRUPTED_CAUSE: Final = (
    "The local server stopped while this execution was running (crash or kill); local mode cannot resume it."
)
_LOCK: Final = type(threading.Lock())
_RLOCK: Final = type(threading.RLock())
Saved = list[tuple[type[BaseBackend], dict[str, dict[str, BaseBackend]]]]


class RecordedHistory:
    """What a saved execution keeps of its interpreter: the history events, answered as the interpreter's
    ``env.event_manager.get_event_history()`` would (the only thing moto reads of a finished one)."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    @property
    def env(self) -> RecordedHistory:
        return self

    @property
    def event_manager(self) -> RecordedHistory:
        return self

    def get_event_history(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.events)

    def stop(self, stop_date: datetime, error: str | None, cause: str | None) -> None:
        """StopExecution of a recorded execution: nothing runs any more, so nothing to stop."""


def _global_backend_dict(module: str, name: str) -> BackendDict[Any]:
    backends: BackendDict[Any] = getattr(sys.modules[module], name)
    return backends


def _weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(items)


def _versioned_keys(kind: type[_VersionedKeyStore], versions: dict[str, list[Any]]) -> _VersionedKeyStore:
    store = kind()
    for key, listed in versions.items():
        store.setlist(key, listed)
    return store


def _defaultdict(factory: type, items: dict[Any, Any]) -> defaultdict[Any, Any]:
    return defaultdict(factory, items)


class _StatePickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, ExecutionWorker):
            events = obj.env.event_manager.get_event_history() if obj.env is not None else []
            return RecordedHistory, (list(events),)
        if type(obj) is _LOCK:
            return threading.Lock, ()
        if type(obj) is _RLOCK:
            return threading.RLock, ()
        if isinstance(obj, _VersionedKeyStore):
            return _versioned_keys, (type(obj), dict(obj.lists()))
        if isinstance(obj, weakref.WeakValueDictionary):
            return _weak_values, (dict(obj.items()),)
        if (
            isinstance(obj, defaultdict)
            and obj.default_factory is not None
            and "<locals>" in getattr(obj.default_factory, "__qualname__", "")
        ):
            return _defaultdict, (type(obj.default_factory()), dict(obj))
        if isinstance(obj, BackendDict):
            return _global_backend_dict, _global_name(obj)
        return NotImplemented


def _global_name(backends: BackendDict[Any]) -> tuple[str, str]:
    module = backends.backend.__module__
    for name, value in vars(sys.modules[module]).items():
        if value is backends:
            return module, name
    raise pickle.PicklingError(f"no module global holds the BackendDict of {backends.backend.__qualname__}")


def _in_use() -> Saved:
    """Every service's backends that hold something: moto lists a BackendDict once an account used it."""
    return [
        (backends.backend, {account: dict(regions) for account, regions in backends.items()})
        for backends in _instances()
    ]


def _instances() -> list[BackendDict[Any]]:
    """moto's own list of the services in use (a BackendDict joins it once an account used it)."""
    instances: list[BackendDict[Any]] = getattr(BackendDict, "_instances")  # noqa: B009 (mypy: a generic class attribute)
    return list(instances)


def dumps() -> bytes:
    """Everything moto holds, as bytes for :func:`loads`. Raises ``RuntimeError`` when a request changed
    a backend while it was being read; the caller tries again."""
    buffer = io.BytesIO()
    _StatePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(_in_use())
    return buffer.getvalue()


def loads(data: bytes) -> None:
    """Put the state from :func:`dumps` back into moto's backends (before the server serves)."""
    saved: Saved = pickle.loads(data)
    for backend_class, accounts in saved:
        backends = _backend_dict_of(backend_class)
        for account, regions in accounts.items():
            for region, backend in regions.items():
                backends[account][region] = backend


def _backend_dict_of(backend_class: type[BaseBackend]) -> BackendDict[Any]:
    for value in vars(sys.modules[backend_class.__module__]).values():
        if isinstance(value, BackendDict) and value.backend is backend_class:
            return value
    raise RuntimeError(f"moto has no BackendDict for {backend_class.__qualname__}")


def executions() -> Iterator[Execution]:
    """Every Step Functions execution moto holds (the definition-running parser's, all accounts/regions)."""
    for backends in _instances():
        for _account, _region, backend in backends.iter_backends():
            for machine in getattr(backend, "state_machines", []):
                for execution in getattr(machine, "executions", []):
                    if isinstance(execution, Execution):
                        yield execution


def running_executions() -> list[Execution]:
    return [e for e in executions() if e.exec_status == ExecutionStatus.RUNNING]


def fail_running_executions() -> list[str]:
    """Fail every execution loaded as RUNNING (the server was killed and could not finish or save it):
    status FAILED with :data:`INTERRUPTED_ERROR`, and an ``ExecutionFailed`` event closing its history.
    Returns their ARNs."""
    now = datetime.now(UTC)
    failed = []
    for execution in running_executions():
        worker = execution.exec_worker
        if isinstance(worker, RecordedHistory):
            last = worker.events[-1]["id"] if worker.events else 0
            worker.events.append(
                {
                    "timestamp": now,
                    "type": HistoryEventType.ExecutionFailed,
                    "id": last + 1,
                    "previousEventId": last,
                    "executionFailedEventDetails": {"error": INTERRUPTED_ERROR, "cause": INTERRUPTED_CAUSE},
                }
            )
        execution.exec_status = ExecutionStatus.FAILED
        execution.stop_date = now
        execution.error = INTERRUPTED_ERROR
        execution.cause = INTERRUPTED_CAUSE
        failed.append(execution.exec_arn)
    return failed
