"""One instance of an endpoint's production variant: the image's ``serve`` on a loopback port.

It is started the way SageMaker starts a serving container (``SAGEMAKER_BIND_TO_PORT``, one model server
worker unless the model's ``Environment`` says otherwise, the model unpacked in ``/opt/ml/model``), is
healthy once ``GET /ping`` answers 200, and is asked ``POST /invocations`` with the request's body and
headers as they came. Its output goes to CloudWatch Logs ``/aws/sagemaker/Endpoints/<endpoint>``, stream
``<variant>/<instance>``.

On SageMaker only the front end reaches a container; on a laptop a server on every interface would be
open, unauthenticated, to the network. So it listens on loopback (``DROPML_BIND_TO_HOST``), unless asked
otherwise: that variable in the local server's environment (``DROPML_BIND_TO_HOST=0.0.0.0 dropml local
up``) or in the model's ``Environment``.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.container import BIND_TO_HOST_ENV, BIND_TO_PORT_ENV, MODEL_SERVER_WORKERS_ENV, SERVE_PROGRAM
from local.ports import free_port
from local.sagemaker.context import EngineContext
from local.sagemaker.errors import InternalFailure
from local.sagemaker.logs import ENDPOINT_LOG_GROUP_PREFIX, LogStream
from local.sagemaker.processes import ImageProcess, container_environment, records_folder

INVOKE_TIMEOUT_S = 60.0
PING_TIMEOUT_S = 2
LOOPBACK = "127.0.0.1"
# A server listening on every interface is reached on loopback.
_REACHED_AT = {"0.0.0.0": LOOPBACK, "::": "::1"}


@dataclass
class Server:
    """A running ``serve``; ``in_flight`` counts the requests it is answering (guarded by the endpoints' lock)."""

    variant: str
    instance: str
    host: str  # the address it is reached at
    port: int
    process: ImageProcess
    in_flight: int = 0

    @property
    def log(self) -> LogStream:
        return self.process.log

    def healthy(self) -> bool:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=PING_TIMEOUT_S)
        try:
            connection.request("GET", "/ping")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def post(self, request: Mapping[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        """InvokeEndpoint's body, content type, Accept and custom attributes to ``/invocations``; the answer's
        status, body and headers (lower-case names). A server that cannot be reached is InternalFailure."""
        headers = {"Content-Type": request.get("ContentType") or "application/octet-stream"}
        if request.get("Accept"):
            headers["Accept"] = request["Accept"]
        if request.get("CustomAttributes"):
            headers["X-Amzn-SageMaker-Custom-Attributes"] = request["CustomAttributes"]
        body = request.get("Body") or b""
        if isinstance(body, str):
            body = body.encode()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=INVOKE_TIMEOUT_S)
        try:
            connection.request("POST", "/invocations", body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
        except OSError as exc:
            raise InternalFailure(f"An internal error occurred while invoking the endpoint: {exc}") from exc
        finally:
            connection.close()

    def terminate(self, grace_s: float) -> None:
        """SIGTERM (serve lets in-flight requests finish), SIGKILL after ``grace_s``."""
        self.process.terminate(grace_s)
        self.log.close()


def start_server(
    context: EngineContext, *, endpoint: str, variant: str, index: int, opt_ml: Path, container: Mapping[str, Any]
) -> Server:
    """Start instance ``index`` of ``variant`` on a free port; ``opt_ml`` holds its unpacked model."""
    port = free_port()
    instance = f"i-{endpoint[:20]}-{index:04d}"
    environment = container_environment(
        opt_ml,
        container.get("Environment"),
        defaults={MODEL_SERVER_WORKERS_ENV: "1", BIND_TO_HOST_ENV: os.environ.get(BIND_TO_HOST_ENV) or LOOPBACK},
        fixed={BIND_TO_PORT_ENV: str(port)},
    )
    host = environment[BIND_TO_HOST_ENV]
    log = LogStream(context.aws.client("logs"), f"{ENDPOINT_LOG_GROUP_PREFIX}{endpoint}", f"{variant}/{instance}")
    process = ImageProcess(
        context.programs.serve,
        SERVE_PROGRAM,
        opt_ml=opt_ml,
        environment=environment,
        log=log,
        records=records_folder(context.workdir),
    )
    return Server(variant=variant, instance=instance, host=_REACHED_AT.get(host, host), port=port, process=process)
