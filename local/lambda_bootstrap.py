"""The child side of a local Lambda invocation: import the handler, call it once, report the outcome.

Run as a script (``python -P lambda_bootstrap.py REQUEST RESULT``) with ``PYTHONPATH`` set to the
unpacked function package only, so the handler sees the packaged code and not the working tree. It
uses the standard library alone for the same reason. The outcome goes to the RESULT file, not stdout:
whatever the handler prints is its log, as on AWS. The outcome also carries the process's exact
peak resident memory, which the runner holds against the function's memory size.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LambdaContext:
    """The attributes of AWS's Python context object that handlers and Powertools read."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None
    _clock: Any = field(default=time.time, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(self._clock() * 1000))


def _error(error_type: str, message: str, stack: list[str]) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": stack}


def _load_handler(handler: str) -> Any:
    module_name, _, function_name = handler.rpartition(".")
    module = importlib.import_module(module_name)
    return getattr(module, function_name)


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Invoke the handler named in ``request``; the result is ``{"payload": …}`` or ``{"error": …}``."""
    try:
        handler = _load_handler(request["handler"])
    except ImportError as exc:
        message = f"Unable to import module '{request['handler'].rpartition('.')[0]}': {exc}"
        return {"error": _error("Runtime.ImportModuleError", message, [])}
    except AttributeError:
        message = f"Handler '{request['handler'].rpartition('.')[2]}' missing on module"
        return {"error": _error("Runtime.HandlerNotFound", message, [])}

    context = LambdaContext(**request["context"])
    try:
        result = handler(request["event"], context)
    except Exception as exc:
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        return {"error": _error(type(exc).__name__, str(exc), stack)}
    try:
        return {"payload": json.loads(json.dumps(result))}
    except (TypeError, ValueError) as exc:
        message = f"Unable to marshal response: {exc}"
        return {"error": _error("Runtime.MarshalError", message, [])}


def peak_rss_bytes() -> int:
    """The resident high-water mark of this process since it began running this script.

    ``VmHWM``, not ``ru_maxrss``: Linux keeps ``ru_maxrss`` across ``exec``, so it would charge the
    function with the peak of the (large) embedded AWS process that forked it.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # reported in kB
    return 0


def main(argv: list[str]) -> int:
    request_path, result_path = argv
    with open(request_path, encoding="utf-8") as source:
        request = json.load(source)
    outcome = run(request)
    outcome["peak_rss_bytes"] = peak_rss_bytes()
    with open(result_path, "w", encoding="utf-8") as sink:
        json.dump(outcome, sink)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
