"""The embedded AWS process: moto's server with dropml's patches and the SMTP sink, on loopback.

Started by ``dropml local up`` as ``python -m local.server --port P --state-dir D``; moto's own
``moto_server`` entry point cannot be used because the patches must be applied inside the serving
process. Everything it starts (Lambda children, the sink) lives and dies with it.

What it holds outlives it (:mod:`local.server_state`): the state saved in ``D`` is loaded before it
serves, and SIGTERM (``dropml local down``) ends the runs in flight as AWS would end runs whose jobs
and functions died, saves, and only then stops serving. The ready file is written once the saved
records are back; the saved endpoints come back ``Creating`` and are ``InService`` once their servers
answer, in the background.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from local import mail, server_state
from local.moto import LocalSettings, installed
from local.moto.sagemaker import installed_engine
from local.ports import free_port
from local.stack import HOST, READY_FILE


class _CountingApp:
    """The WSGI app, counting requests: an autosave is due only when something may have changed. A request
    is counted once the app has handled it, so an autosave taken while it ran is followed by another."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self.requests = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self._app(environ, start_response)
        finally:
            self.requests += 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.server", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args(argv)

    # Step Functions tasks call back into moto at localhost:$MOTO_PORT.
    os.environ["MOTO_PORT"] = str(args.port)
    state_dir: Path = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    smtp_port = free_port()
    sink = mail.start_sink(state_dir / "outbox", port=smtp_port)
    settings = LocalSettings(
        endpoint_url=f"http://{HOST}:{args.port}",
        work_dir=state_dir,
        smtp_port=smtp_port,
        run_sagemaker=True,
    )
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        with installed(settings):
            restored, sagemaker_records = server_state.load_aws(state_dir)
            app = _CountingApp(DomainDispatcherApplication(create_backend_app))
            httpd = make_server(HOST, args.port, app, threaded=True, request_handler=MotoRequestHandler)
            serving = threading.Thread(target=httpd.serve_forever, name="local-server", daemon=True)
            serving.start()
            try:
                engine = installed_engine()
                server_state.restore_sagemaker(engine, sagemaker_records)
                _log(f"restored: {restored}")
                # written whole or not at all: a client polling for it must never read half of it
                ready = state_dir / f"{READY_FILE}.partial"
                ready.write_text(json.dumps({"pid": os.getpid(), "port": args.port, "smtp_port": smtp_port}))
                os.replace(ready, state_dir / READY_FILE)
                saved_at = app.requests
                while not stopping.wait(server_state.AUTOSAVE_EVERY_S):
                    if app.requests != saved_at:
                        saved_at = app.requests
                        _log(f"autosaved in {server_state.save(state_dir, engine):.3f} s")
                left = server_state.drain(engine)
                _log(f"drained; still running at the deadline: {left}")
                _log(f"saved in {server_state.save(state_dir, engine):.3f} s")
            finally:
                httpd.shutdown()
                serving.join()
    finally:
        sink.stop()
    return 0


def _log(message: str) -> None:
    print(f"local.server: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
