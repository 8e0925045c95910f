"""Models, endpoint configurations and endpoints that really serve: one ``serve`` process per instance.

An endpoint's traffic goes through :meth:`Endpoints.invoke`, which picks one of the current
deployment's servers under a lock. UpdateEndpoint starts the new configuration's servers and waits for
``/ping`` before it swaps the deployment in one step; the old servers get no new request after the swap
and are stopped once their in-flight requests have finished, so no request fails during an update. An
update whose servers never become healthy leaves the old deployment serving, ``InService`` with a
``FailureReason``, as on AWS.

Each server's output goes to CloudWatch Logs ``/aws/sagemaker/Endpoints/<endpoint>``, stream
``<variant>/<instance>``, which is what a ``ModelError`` points at.
"""

from __future__ import annotations

import copy
import http.client
import itertools
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from local.sagemaker import s3
from local.sagemaker.capacity import capacity_failure
from local.sagemaker.errors import (
    InternalFailure,
    ModelError,
    RuntimeValidationError,
    SageMakerApiError,
    ValidationError,
)
from local.sagemaker.images import unrunnable_reason
from local.sagemaker.logs import ENDPOINT_LOG_GROUP_PREFIX, LogStream, as_logged
from local.sagemaker.runtime import Runtime, free_port

PORT_ENV = "SAGEMAKER_BIND_TO_PORT"
WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
OPT_ML_ENV = "DROPML_OPT_ML"
INVOKE_TIMEOUT_S = 60.0
_PING_EVERY_S = 0.2
_DRAIN_TIMEOUT_S = 60.0


class _DeploymentFailed(Exception):
    """A server of a new deployment did not become healthy; the message is the endpoint's FailureReason."""


@dataclass
class _Server:
    """One instance of one production variant: a ``serve`` process on a loopback port."""

    variant: str
    instance: str
    port: int
    process: subprocess.Popen[str]
    log: LogStream
    in_flight: int = 0

    def healthy(self) -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", "/ping")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    def terminate(self, grace_s: float) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


@dataclass
class _Variant:
    name: str
    weight: float
    image: str
    servers: list[_Server]
    resolved_at: datetime
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    def next_server(self) -> _Server:
        return self.servers[next(self._turn) % len(self.servers)]

    def summary(self) -> dict[str, Any]:
        return {
            "VariantName": self.name,
            "DeployedImages": [
                {"SpecifiedImage": self.image, "ResolvedImage": self.image, "ResolutionTime": self.resolved_at}
            ],
            "CurrentWeight": self.weight,
            "DesiredWeight": self.weight,
            "CurrentInstanceCount": len(self.servers),
            "DesiredInstanceCount": len(self.servers),
        }


@dataclass
class _Deployment:
    config_name: str
    variants: list[_Variant]

    @property
    def servers(self) -> list[_Server]:
        return [server for variant in self.variants for server in variant.servers]

    def choose(self, target_variant: str | None) -> _Variant:
        if target_variant:
            for variant in self.variants:
                if variant.name == target_variant:
                    return variant
            raise RuntimeValidationError(f"Variant {target_variant} not found.")
        weights = [max(variant.weight, 0.0) for variant in self.variants]
        if not any(weights):
            weights = [1.0] * len(self.variants)
        return random.choices(self.variants, weights=weights)[0]


@dataclass
class Endpoint:
    name: str
    arn: str
    config_name: str
    created: datetime
    status: str = "Creating"
    failure_reason: str | None = None
    last_modified: datetime | None = None
    deployment: _Deployment | None = None
    pending: tuple[str, datetime] | None = None
    deleted: bool = False


class Endpoints:
    """CreateModel … InvokeEndpoint for one engine. Every method is safe to call from any thread."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._lock = threading.RLock()
        self._models: dict[str, dict[str, Any]] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._deployments = itertools.count(1)
        self._threads: list[threading.Thread] = []

    # -- models and endpoint configurations --------------------------------------------------------

    def create_model(self, request: Mapping[str, Any]) -> dict[str, Any]:
        name = request["ModelName"]
        arn = self._runtime.aws.arn("model", name)
        container = request.get("PrimaryContainer") or next(iter(request.get("Containers") or []), None)
        if container is None:
            raise ValidationError("a model needs a PrimaryContainer (or Containers)")
        with self._lock:
            if name in self._models:
                raise ValidationError(f'Cannot create already existing model "{arn}".')
            self._models[name] = {
                "ModelName": name,
                "PrimaryContainer": copy.deepcopy(dict(container)),
                "ExecutionRoleArn": request.get("ExecutionRoleArn"),
                "CreationTime": self._runtime.clock(),
                "ModelArn": arn,
                "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation", False)),
            }
        return {"ModelArn": arn}

    def describe_model(self, name: str) -> dict[str, Any]:
        with self._lock:
            model = self._models.get(name)
        if model is None:
            raise ValidationError(f'Could not find model "{self._runtime.aws.arn("model", name)}".')
        return {k: v for k, v in model.items() if v is not None}

    def delete_model(self, name: str) -> None:
        self.describe_model(name)
        with self._lock:
            del self._models[name]

    def list_models(self) -> dict[str, Any]:
        with self._lock:
            models = sorted(self._models.values(), key=lambda m: m["CreationTime"])
        return {"Models": [{k: m[k] for k in ("ModelName", "ModelArn", "CreationTime")} for m in models]}

    def create_endpoint_config(self, request: Mapping[str, Any]) -> dict[str, Any]:
        name = request["EndpointConfigName"]
        arn = self._runtime.aws.arn("endpoint-config", name)
        variants = request.get("ProductionVariants") or []
        if not variants:
            raise ValidationError("ProductionVariants must name at least one variant")
        with self._lock:
            if name in self._configs:
                raise ValidationError(f'Cannot create already existing endpoint configuration "{arn}".')
            for variant in variants:
                if variant.get("ModelName") not in self._models:
                    model_arn = self._runtime.aws.arn("model", str(variant.get("ModelName")))
                    raise ValidationError(f'Could not find model "{model_arn}".')
            self._configs[name] = {
                "EndpointConfigName": name,
                "EndpointConfigArn": arn,
                "ProductionVariants": copy.deepcopy(list(variants)),
                "CreationTime": self._runtime.clock(),
            }
        return {"EndpointConfigArn": arn}

    def describe_endpoint_config(self, name: str) -> dict[str, Any]:
        with self._lock:
            config = self._configs.get(name)
        if config is None:
            arn = self._runtime.aws.arn("endpoint-config", name)
            raise ValidationError(f'Could not find endpoint configuration "{arn}".')
        return copy.deepcopy(config)

    def delete_endpoint_config(self, name: str) -> None:
        self.describe_endpoint_config(name)
        with self._lock:
            del self._configs[name]

    # -- endpoints ---------------------------------------------------------------------------------

    def create_endpoint(self, request: Mapping[str, Any]) -> dict[str, Any]:
        name = request["EndpointName"]
        config = self.describe_endpoint_config(request["EndpointConfigName"])
        arn = self._runtime.aws.arn("endpoint", name)
        with self._lock:
            if name in self._endpoints:
                raise ValidationError(f'Cannot create already existing endpoint "{arn}".')
            now = self._runtime.clock()
            endpoint = Endpoint(name=name, arn=arn, config_name=config["EndpointConfigName"], created=now)
            endpoint.last_modified = now
            self._endpoints[name] = endpoint
            models = self._models_of(config)
        self._in_background(self._create, endpoint, config, models)
        return {"EndpointArn": arn}

    def update_endpoint(self, request: Mapping[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoint(request["EndpointName"])
        config = self.describe_endpoint_config(request["EndpointConfigName"])
        with self._lock:
            if endpoint.status != "InService":
                raise ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            now = self._runtime.clock()
            endpoint.status = "Updating"
            endpoint.pending = (config["EndpointConfigName"], now)
            endpoint.last_modified = now
            models = self._models_of(config)
        self._in_background(self._update, endpoint, config, models)
        return {"EndpointArn": endpoint.arn}

    def delete_endpoint(self, name: str) -> None:
        endpoint = self._endpoint(name)
        with self._lock:
            endpoint.status = "Deleting"
            endpoint.deleted = True
            del self._endpoints[name]
            deployment, endpoint.deployment = endpoint.deployment, None
        if deployment is not None:
            self._in_background(self._retire, deployment)

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        endpoint = self._endpoint(name)
        with self._lock:
            description: dict[str, Any] = {
                "EndpointName": endpoint.name,
                "EndpointArn": endpoint.arn,
                "EndpointConfigName": endpoint.config_name,
                "EndpointStatus": endpoint.status,
                "CreationTime": endpoint.created,
                "LastModifiedTime": endpoint.last_modified,
            }
            if endpoint.deployment is not None:
                description["ProductionVariants"] = [v.summary() for v in endpoint.deployment.variants]
            if endpoint.failure_reason:
                description["FailureReason"] = endpoint.failure_reason
            if endpoint.pending is not None:
                description["PendingDeploymentSummary"] = {
                    "EndpointConfigName": endpoint.pending[0],
                    "StartTime": endpoint.pending[1],
                }
            return description

    def list_endpoints(self, request: Mapping[str, Any]) -> dict[str, Any]:
        with self._lock:
            endpoints = list(self._endpoints.values())
        if request.get("NameContains"):
            endpoints = [e for e in endpoints if request["NameContains"] in e.name]
        if request.get("StatusEquals"):
            endpoints = [e for e in endpoints if e.status == request["StatusEquals"]]
        by_name = request.get("SortBy") == "Name"
        endpoints.sort(
            key=lambda e: (e.name if by_name else "", e.created),
            reverse=(request.get("SortOrder") or "Descending") == "Descending",
        )
        summaries = [
            {
                "EndpointName": e.name,
                "EndpointArn": e.arn,
                "CreationTime": e.created,
                "LastModifiedTime": e.last_modified,
                "EndpointStatus": e.status,
            }
            for e in endpoints
        ]
        return {"Endpoints": summaries}

    def invoke(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """InvokeEndpoint: the body, content type and Accept go to a server as they came; its answer back.

        A 4xx/5xx from the container becomes :class:`ModelError` with the container's status and message.
        """
        name = request["EndpointName"]
        with self._lock:
            endpoint = self._endpoints.get(name)
            deployment = endpoint.deployment if endpoint is not None else None
            if endpoint is None or deployment is None:
                raise RuntimeValidationError(f"Endpoint {name} of account {self._runtime.aws.account_id} not found.")
            variant = deployment.choose(request.get("TargetVariant"))
            server = variant.next_server()
            server.in_flight += 1
        try:
            status, body, headers = _post(server.port, request)
        finally:
            with self._lock:
                server.in_flight -= 1
        if status >= 400:
            text = body.decode("utf-8", "replace")
            kind = "client" if status < 500 else "server"
            raise ModelError(
                f'Received {kind} error ({status}) from primary with message "{text}". See '
                f"{ENDPOINT_LOG_GROUP_PREFIX}{name} in account {self._runtime.aws.account_id} for more information.",
                original_status=status,
                original_message=text,
                log_stream_arn=self._runtime.aws.log_stream_arn(server.log.group, server.log.stream),
            )
        answer: dict[str, Any] = {
            "Body": body,
            "ContentType": headers.get("content-type", "application/octet-stream"),
            "InvokedProductionVariant": variant.name,
        }
        if headers.get("x-amzn-sagemaker-custom-attributes"):
            answer["CustomAttributes"] = headers["x-amzn-sagemaker-custom-attributes"]
        return answer

    def shutdown(self) -> None:
        with self._lock:
            endpoints = list(self._endpoints.values())
            self._endpoints.clear()
            for endpoint in endpoints:
                endpoint.deleted = True
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=self._runtime.ready_timeout_s + self._runtime.stop_grace_s)
        for endpoint in endpoints:
            if endpoint.deployment is not None:
                self._retire(endpoint.deployment)

    # -- deployments -------------------------------------------------------------------------------

    def _create(self, endpoint: Endpoint, config: dict[str, Any], models: dict[str, dict[str, Any]]) -> None:
        try:
            deployment = self._deploy(endpoint, config, models)
        except _DeploymentFailed as exc:
            with self._lock:
                endpoint.status, endpoint.failure_reason = "Failed", str(exc)
                endpoint.last_modified = self._runtime.clock()
            return
        with self._lock:
            if endpoint.deleted:
                stale: _Deployment | None = deployment
            else:
                stale = None
                endpoint.deployment, endpoint.status = deployment, "InService"
                endpoint.last_modified = self._runtime.clock()
        if stale is not None:
            self._retire(stale)

    def _update(self, endpoint: Endpoint, config: dict[str, Any], models: dict[str, dict[str, Any]]) -> None:
        try:
            deployment = self._deploy(endpoint, config, models)
        except _DeploymentFailed as exc:
            with self._lock:
                endpoint.status, endpoint.failure_reason, endpoint.pending = "InService", str(exc), None
                endpoint.last_modified = self._runtime.clock()
            return
        with self._lock:
            if endpoint.deleted:
                old: _Deployment | None = deployment
            else:
                old, endpoint.deployment = endpoint.deployment, deployment
                endpoint.config_name = config["EndpointConfigName"]
                endpoint.status, endpoint.failure_reason, endpoint.pending = "InService", None, None
                endpoint.last_modified = self._runtime.clock()
        if old is not None:
            self._retire(old)

    def _deploy(self, endpoint: Endpoint, config: dict[str, Any], models: dict[str, dict[str, Any]]) -> _Deployment:
        """Start every server of ``config`` and wait until all answer ``/ping``; none is left on failure."""
        number = next(self._deployments)
        variants: list[_Variant] = []
        try:
            for spec in config["ProductionVariants"]:
                container = models[spec["ModelName"]]["PrimaryContainer"]
                reason = unrunnable_reason(container.get("Image")) or capacity_failure(spec.get("InstanceType", ""))
                if reason is not None:
                    raise _DeploymentFailed(reason)
                folder = self._runtime.workdir / "endpoints" / endpoint.name / f"{number}-{spec['VariantName']}"
                self._unpack_model(container, folder / "model")
                variant = _Variant(
                    name=spec["VariantName"],
                    weight=float(spec.get("InitialVariantWeight", 1.0)),
                    image=container["Image"],
                    servers=[],
                    resolved_at=self._runtime.clock(),
                )
                variants.append(variant)
                for index in range(int(spec.get("InitialInstanceCount") or 1)):
                    variant.servers.append(self._start_server(endpoint.name, variant.name, index, folder, container))
            for server in [s for v in variants for s in v.servers]:
                self._wait_until_healthy(server)
        except _DeploymentFailed:
            self._retire(_Deployment(config["EndpointConfigName"], variants))
            raise
        except (SageMakerApiError, OSError) as exc:
            self._retire(_Deployment(config["EndpointConfigName"], variants))
            raise _DeploymentFailed(f"ClientError: {getattr(exc, 'message', exc)}") from exc
        return _Deployment(config["EndpointConfigName"], variants)

    def _unpack_model(self, container: Mapping[str, Any], model_dir: Path) -> None:
        url = container.get("ModelDataUrl")
        if not url:
            raise _DeploymentFailed("ClientError: the model has no ModelDataUrl; the dropml image needs one")
        try:
            s3.download_and_unpack(self._runtime.aws.client("s3"), url, model_dir)
        except Exception as exc:
            raise _DeploymentFailed(f"ClientError: could not download the model data from {url}: {exc}") from exc

    def _start_server(
        self, endpoint: str, variant: str, index: int, folder: Path, container: Mapping[str, Any]
    ) -> _Server:
        port = free_port()
        instance = f"i-{endpoint[:20]}-{index:04d}"
        environment = {
            **os.environ,
            WORKERS_ENV: "1",
            **{str(k): str(v) for k, v in (container.get("Environment") or {}).items()},
            OPT_ML_ENV: str(folder),
            PORT_ENV: str(port),
            "PYTHONUNBUFFERED": "1",
        }
        log = LogStream(
            self._runtime.aws.client("logs"), f"{ENDPOINT_LOG_GROUP_PREFIX}{endpoint}", f"{variant}/{instance}"
        )
        process = subprocess.Popen(
            [str(self._runtime.programs.serve), "serve"],
            cwd=folder,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        server = _Server(variant=variant, instance=instance, port=port, process=process, log=log)
        threading.Thread(target=_copy_output, args=(server,), daemon=True).start()
        return server

    def _wait_until_healthy(self, server: _Server) -> None:
        deadline = time.monotonic() + self._runtime.ready_timeout_s
        while not server.healthy():
            if server.process.poll() is not None:
                server.log.flush()
                raise _DeploymentFailed(
                    f"ClientError: the primary container for production variant {server.variant} did not pass "
                    f"the ping health check: serve exited with status {server.process.returncode}. "
                    f"See the log group {server.log.group}."
                )
            if time.monotonic() > deadline:
                raise _DeploymentFailed(
                    f"ClientError: the primary container for production variant {server.variant} did not pass "
                    f"the ping health check within {self._runtime.ready_timeout_s:g} s."
                )
            time.sleep(_PING_EVERY_S)

    def _retire(self, deployment: _Deployment) -> None:
        """Stop a deployment's servers once the requests they are answering have finished."""
        deadline = time.monotonic() + _DRAIN_TIMEOUT_S
        for server in deployment.servers:
            while server.in_flight > 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.terminate(self._runtime.stop_grace_s)

    # -- helpers -----------------------------------------------------------------------------------

    def _endpoint(self, name: str) -> Endpoint:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise ValidationError(f'Could not find endpoint "{self._runtime.aws.arn("endpoint", name)}".')
        return endpoint

    def _models_of(self, config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The models as they are now: deleting or replacing a model later does not change a deployment."""
        models = {}
        for variant in config["ProductionVariants"]:
            model = self._models.get(variant["ModelName"])
            if model is None:
                raise ValidationError(f'Could not find model "{self._runtime.aws.arn("model", variant["ModelName"])}".')
            models[variant["ModelName"]] = copy.deepcopy(model)
        return models

    def _in_background(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()


def _copy_output(server: _Server) -> None:
    assert server.process.stdout is not None
    for line in server.process.stdout:
        server.log.write(as_logged(line))
    server.log.close()


def _post(port: int, request: Mapping[str, Any]) -> tuple[int, bytes, dict[str, str]]:
    headers = {"Content-Type": request.get("ContentType") or "application/octet-stream"}
    if request.get("Accept"):
        headers["Accept"] = request["Accept"]
    if request.get("CustomAttributes"):
        headers["X-Amzn-SageMaker-Custom-Attributes"] = request["CustomAttributes"]
    body = request.get("Body") or b""
    if isinstance(body, str):
        body = body.encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=INVOKE_TIMEOUT_S)
    try:
        connection.request("POST", "/invocations", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    except OSError as exc:
        raise InternalFailure(f"An internal error occurred while invoking the endpoint: {exc}") from exc
    finally:
        connection.close()
