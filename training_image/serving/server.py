"""Run :class:`~training_image.serving.app.ServingApp` under gunicorn: a worker per CPU, one thread each.

Each worker loads the model after the fork (XGBoost's OpenMP state does not survive a fork) and
predicts with one thread, so N CPUs serve N requests at once without contending. The ``gthread``
worker keeps client connections alive between requests, which saves a TCP handshake per prediction;
its single thread still serves one request at a time. SIGTERM (how SageMaker and local mode stop an
endpoint) lets in-flight requests finish, then exits 0.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

from core.container import BIND_TO_PORT_ENV, MODEL_SERVER_TIMEOUT_ENV, MODEL_SERVER_WORKERS_ENV
from core.machine import cpu_count
from training_image.serving.app import ServingApp
from training_image.serving.model import load_model, model_dir_from_env

log = logging.getLogger("gunicorn.error")

DEFAULT_PORT = 8080
DEFAULT_TIMEOUT_S = 60
# Seconds an idle client connection stays open; SageMaker's front end reuses its connections.
KEEPALIVE_S = 60
# Seconds in-flight requests get to finish after SIGTERM.
GRACEFUL_TIMEOUT_S = 10


def server_options(environ: Mapping[str, str]) -> dict[str, Any]:
    """gunicorn settings from SageMaker's environment variables (the same names as its containers)."""
    return {
        "bind": f"0.0.0.0:{int(environ.get(BIND_TO_PORT_ENV) or DEFAULT_PORT)}",
        "workers": int(environ.get(MODEL_SERVER_WORKERS_ENV) or cpu_count()),
        "worker_class": "gthread",
        "threads": 1,
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
        return ServingApp(model, workers=self.options["workers"])


def main() -> int:
    _Server(server_options(os.environ)).run()
    return 0
