"""The embedded AWS process: moto's server with dropml's patches and the SMTP sink, on loopback.

Started by ``dropml local up`` as ``python -m local.server --port P --state-dir D``; moto's own
``moto_server`` entry point cannot be used because the patches must be applied inside the serving
process. Everything it starts (Lambda children, the sink) lives and dies with it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

from local import mail
from local.moto import LocalSettings, installed
from local.ports import free_port
from local.stack import HOST, READY_FILE


def _stop(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


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
        endpoint_url=f"http://{HOST}:{args.port}", work_dir=state_dir, smtp_port=smtp_port, run_sagemaker=True
    )
    signal.signal(signal.SIGTERM, _stop)
    try:
        with installed(settings):
            (state_dir / READY_FILE).write_text(
                json.dumps({"pid": os.getpid(), "port": args.port, "smtp_port": smtp_port})
            )
            run_simple(
                HOST,
                args.port,
                DomainDispatcherApplication(create_backend_app),
                threaded=True,
                request_handler=MotoRequestHandler,
            )
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
