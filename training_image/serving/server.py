"""Run :class:`~training_image.serving.app.ServingApp` under gunicorn: a worker per CPU, one request at a time each.

Each worker loads the model after the fork (XGBoost's OpenMP state does not survive a fork) and
predicts with one thread, so N CPUs serve N requests at once without contending. The ``gthread``
worker keeps client connections alive between requests, which saves a TCP handshake per prediction.

A worker has many threads: gunicorn gives each new connection a thread that waits up to 5 s for its
first bytes, and a request waits for a free thread, so with one thread each idle client (connect, send
nothing) held the endpoint ~5 s and a slow one held it until its body was in. Threads are started only
as connections need them, and they only read and write: :class:`ServingApp` still predicts one request
at a time per worker. Connections between requests wait in the worker's poller, without a thread.

It listens on ``DROPML_BIND_TO_HOST`` (default all interfaces, which SageMaker's front end needs) at
``SAGEMAKER_BIND_TO_PORT``. SIGTERM (how SageMaker and local mode stop an endpoint) lets in-flight
requests finish, then exits 0.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

from core.container import BIND_TO_HOST_ENV, BIND_TO_PORT_ENV, MODEL_SERVER_TIMEOUT_ENV, MODEL_SERVER_WORKERS_ENV
from core.machine import cpu_count
from training_image.serving.app import ServingApp
from training_image.serving.encode import DEFAULT_ACCEPT_ENV
from training_image.serving.model import load_model, model_dir_from_env

log = logging.getLogger("gunicorn.error")

DEFAULT_HOST = "0.0.0.0"  # SageMaker's front end reaches the container from outside it
DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_S = 60
# Seconds an idle client connection stays open; SageMaker's front end reuses its connections.
KEEPALIVE_S = 60
# Seconds in-flight requests get to finish after SIGTERM.
GRACEFUL_TIMEOUT_S = 10
# Connections a worker reads from or answers at once (idle new ones included), and those it keeps
# alive between requests on top (gunicorn's max_keepalived is worker_connections - threads).
THREADS_PER_WORKER = 1000
KEPT_ALIVE_PER_WORKER = 1000


def server_options(environ: Mapping[str, str]) -> dict[str, Any]:
    """gunicorn settings from SageMaker's environment variables (the same names as its containers)."""
    host = environ.get(BIND_TO_HOST_ENV) or DEFAULT_HOST
    port = int(environ.get(BIND_TO_PORT_ENV) or DEFAULT_PORT)
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": int(environ.get(MODEL_SERVER_WORKERS_ENV) or cpu_count()),
        "worker_class": "gthread",
        "threads": THREADS_PER_WORKER,
        "worker_connections": THREADS_PER_WORKER + KEPT_ALIVE_PER_WORKER,
        "keepalive": KEEPALIVE_S,
        "timeout": int(environ.get(MODEL_SERVER_TIMEOUT_ENV) or DEFAULT_TIMEOUT_S),
        "graceful_timeout": GRACEFUL_TIMEOUT_S,
        "loglevel": "info",
        "proc_name": "dropml-serve",
        # gunicorn's runtime control socket lives at one path per user: several endpoints on one machine
        # (local mode) would fight over it, and nothing here uses it.
        "control_socket_disable": True,
    }


class _Server(BaseApplication):
    """gunicorn, configured in code: no config file or ``GUNICORN_CMD_ARGS`` can change the contract."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> ServingApp:
        # Called in each worker after the fork: every worker has its own booster.
        model_dir = model_dir_from_env()
        model = load_model(model_dir)
        log.info(
            "worker %d serves %s: %s, %d model columns, %s",
            os.getpid(),
            model_dir,
            model.problem_type,
            model.width,
            f"classes {list(model.classes)}" if model.classes else "no classes",
        )
        return ServingApp(model, workers=self.options["workers"], default_accept=os.environ.get(DEFAULT_ACCEPT_ENV))


def main() -> int:
    _Server(server_options(os.environ)).run()
    return 0
