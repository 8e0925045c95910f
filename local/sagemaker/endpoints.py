"""Endpoints that really serve: one ``serve`` process per instance (:mod:`local.sagemaker.servers`).

An endpoint's traffic goes through :meth:`Endpoints.invoke`, which picks one of the current
deployment's servers under a lock. UpdateEndpoint starts the new configuration's servers and waits for
``/ping`` before it swaps the deployment in one step; the old servers get no new request after the swap
and are stopped once their in-flight requests have finished, so no request fails during an update. An
update whose servers never become healthy leaves the old deployment serving, ``InService`` with a
``FailureReason``, as on AWS. UpdateEndpoint is refused while the endpoint is not ``InService``.

DeleteEndpoint is asynchronous, as on AWS: the endpoint is ``Deleting`` (its servers stop, it answers no
request, its name is still taken, so CreateEndpoint of that name is refused) for
``EngineContext.endpoint_deletion_s``, and only then gone (DescribeEndpoint: "Could not find endpoint").

Models and endpoint configurations are records (:mod:`local.sagemaker.models`). Each server's output goes
to CloudWatch Logs ``/aws/sagemaker/Endpoints/<endpoint>``, stream ``<variant>/<instance>``, which is
what a ``ModelError`` points at.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from core.container import OptMlLayout
from local.sagemaker import s3
from local.sagemaker.capacity import capacity_failure
from local.sagemaker.context import EngineContext
from local.sagemaker.errors import ModelError, RuntimeValidationError, SageMakerApiError, ValidationError
from local.sagemaker.images import unrunnable_reason
from local.sagemaker.logs import ENDPOINT_LOG_GROUP_PREFIX
from local.sagemaker.models import Models, Record
from local.sagemaker.registry import Listing, Registry
from local.sagemaker.servers import Server, start_server

_PING_EVERY_S = 0.2
_DRAIN_TIMEOUT_S = 60.0
LISTING = Listing(
    page_key="Endpoints",
    name_field="EndpointName",
    status_field="EndpointStatus",
    sort_fields={"Name": "EndpointName"},
    default_order="Descending",
    time_bounds=True,
)


class _DeploymentFailed(Exception):
    """A server of a new deployment did not become healthy; the message is the endpoint's FailureReason."""


@dataclass
class _Variant:
    name: str
    weight: float
    image: str
    servers: list[Server]
    resolved_at: datetime
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    def next_server(self) -> Server:
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
    def servers(self) -> list[Server]:
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
    """CreateEndpoint … InvokeEndpoint for one engine. Every method is safe to call from any thread.

    One lock, the models' own, guards the endpoints, their deployments' request counts and the models
    and configurations they read, so an endpoint's change and the snapshot of its models are one step.
    """

    def __init__(self, context: EngineContext, models: Models) -> None:
        self._context = context
        self._models = models
        self._lock = models.lock
        self._endpoints: Registry[Endpoint] = Registry(
            lambda name: ValidationError(f'Could not find endpoint "{context.aws.arn("endpoint", name)}".'),
            lock=self._lock,
        )
        self._deployments = itertools.count(1)
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()

    def create_endpoint(self, request: Mapping[str, Any]) -> dict[str, Any]:
        name = request["EndpointName"]
        config = self._models.describe_endpoint_config(request["EndpointConfigName"])
        arn = self._context.aws.arn("endpoint", name)

        def endpoint_now() -> Endpoint:
            now = self._context.clock()
            config_name = config["EndpointConfigName"]
            return Endpoint(name=name, arn=arn, config_name=config_name, created=now, last_modified=now)

        taken = ValidationError(f'Cannot create already existing endpoint "{arn}".')
        with self._lock:
            # "The name is case-insensitive in CreateEndpoint" (SageMaker API reference)
            if any(existing.name.lower() == name.lower() for existing in self._endpoints.values()):
                raise taken
            endpoint = self._endpoints.add(name, endpoint_now, taken=lambda _: taken)
            models = self._models.snapshot(config)
        self._in_background(self._create, endpoint, config, models)
        return {"EndpointArn": arn}

    def update_endpoint(self, request: Mapping[str, Any]) -> dict[str, Any]:
        endpoint = self._endpoints.get(request["EndpointName"])
        config = self._models.describe_endpoint_config(request["EndpointConfigName"])
        with self._lock:
            if endpoint.status != "InService":
                raise ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
            now = self._context.clock()
            endpoint.status = "Updating"
            endpoint.pending = (config["EndpointConfigName"], now)
            endpoint.last_modified = now
            models = self._models.snapshot(config)
        self._in_background(self._update, endpoint, config, models)
        return {"EndpointArn": endpoint.arn}

    def delete_endpoint(self, name: str) -> None:
        gone_at = time.monotonic() + self._context.endpoint_deletion_s
        with self._lock:
            endpoint = self._endpoints.get(name)
            if endpoint.deleted:
                return
            endpoint.status = "Deleting"
            endpoint.deleted = True
            endpoint.pending = None
            endpoint.last_modified = self._context.clock()
            deployment, endpoint.deployment = endpoint.deployment, None
        self._in_background(self._finish_deletion, endpoint, deployment, gone_at)

    def describe_endpoint(self, name: str) -> dict[str, Any]:
        endpoint = self._endpoints.get(name)
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

    def arns(self) -> set[str]:
        return {endpoint.arn for endpoint in self._endpoints.values()}

    def list_endpoints(self, request: Mapping[str, Any]) -> dict[str, Any]:
        summaries = [
            {
                "EndpointName": e.name,
                "EndpointArn": e.arn,
                "CreationTime": e.created,
                "LastModifiedTime": e.last_modified,
                "EndpointStatus": e.status,
            }
            for e in self._endpoints.values()
        ]
        return LISTING.page(summaries, request)

    def invoke(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """InvokeEndpoint: the body, content type and Accept go to a server as they came; its answer back.

        A 4xx/5xx from the container becomes :class:`ModelError` with the container's status and message.
        """
        name = request["EndpointName"]
        with self._lock:
            endpoint = self._endpoints.find(name)
            deployment = endpoint.deployment if endpoint is not None else None
            if endpoint is None or deployment is None:
                raise RuntimeValidationError(f"Endpoint {name} of account {self._context.aws.account_id} not found.")
            variant = deployment.choose(request.get("TargetVariant"))
            server = variant.next_server()
            server.in_flight += 1
        try:
            status, body, headers = server.post(request)
        finally:
            with self._lock:
                server.in_flight -= 1
        if status >= 400:
            text = body.decode("utf-8", "replace")
            kind = "client" if status < 500 else "server"
            raise ModelError(
                f'Received {kind} error ({status}) from primary with message "{text}". See '
                f"{ENDPOINT_LOG_GROUP_PREFIX}{name} in account {self._context.aws.account_id} for more information.",
                original_status=status,
                original_message=text,
                log_stream_arn=self._context.aws.log_stream_arn(server.log.group, server.log.stream),
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
        self._closing.set()  # a deletion still counting down ends now
        with self._lock:
            endpoints = self._endpoints.clear()
            for endpoint in endpoints:
                endpoint.deleted = True
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=self._context.ready_timeout_s + self._context.stop_grace_s)
        for endpoint in endpoints:
            if endpoint.deployment is not None:
                self._retire(endpoint.deployment)

    # -- deployments -------------------------------------------------------------------------------

    def _create(self, endpoint: Endpoint, config: dict[str, Any], models: dict[str, Record]) -> None:
        try:
            deployment = self._deploy(endpoint, config, models)
        except _DeploymentFailed as exc:
            with self._lock:
                if not endpoint.deleted:  # a deletion meanwhile stays Deleting until the name is free
                    endpoint.status, endpoint.failure_reason = "Failed", str(exc)
                    endpoint.last_modified = self._context.clock()
            return
        with self._lock:
            if endpoint.deleted:
                stale: _Deployment | None = deployment
            else:
                stale = None
                endpoint.deployment, endpoint.status = deployment, "InService"
                endpoint.last_modified = self._context.clock()
        if stale is not None:
            self._retire(stale)

    def _finish_deletion(self, endpoint: Endpoint, deployment: _Deployment | None, gone_at: float) -> None:
        if deployment is not None:
            self._retire(deployment)
        self._closing.wait(max(0.0, gone_at - time.monotonic()))
        with self._lock:
            if self._endpoints.find(endpoint.name) is endpoint:
                self._endpoints.remove(endpoint.name)

    def _update(self, endpoint: Endpoint, config: dict[str, Any], models: dict[str, Record]) -> None:
        try:
            deployment = self._deploy(endpoint, config, models)
        except _DeploymentFailed as exc:
            with self._lock:
                if not endpoint.deleted:  # a deletion meanwhile stays Deleting until the name is free
                    endpoint.status, endpoint.failure_reason, endpoint.pending = "InService", str(exc), None
                    endpoint.last_modified = self._context.clock()
            return
        with self._lock:
            if endpoint.deleted:
                old: _Deployment | None = deployment
            else:
                old, endpoint.deployment = endpoint.deployment, deployment
                endpoint.config_name = config["EndpointConfigName"]
                endpoint.status, endpoint.failure_reason, endpoint.pending = "InService", None, None
                endpoint.last_modified = self._context.clock()
        if old is not None:
            self._retire(old)

    def _deploy(self, endpoint: Endpoint, config: dict[str, Any], models: dict[str, Record]) -> _Deployment:
        """Start every server of ``config`` and wait until all answer ``/ping``; none is left on failure."""
        number = next(self._deployments)
        variants: list[_Variant] = []
        try:
            for spec in config["ProductionVariants"]:
                container = models[spec["ModelName"]]["PrimaryContainer"]
                reason = unrunnable_reason(container.get("Image")) or capacity_failure(spec.get("InstanceType", ""))
                if reason is not None:
                    raise _DeploymentFailed(reason)
                folder = self._context.workdir / "endpoints" / endpoint.name / f"{number}-{spec['VariantName']}"
                # The model's data and the servers' logs are reached as the model's execution role.
                role = models[spec["ModelName"]].get("ExecutionRoleArn")
                as_role = replace(self._context, aws=self._context.aws.as_role(role))
                self._unpack_model(as_role, container, OptMlLayout(folder).model_dir)
                variant = _Variant(
                    name=spec["VariantName"],
                    weight=float(spec.get("InitialVariantWeight", 1.0)),
                    image=container["Image"],
                    servers=[],
                    resolved_at=self._context.clock(),
                )
                variants.append(variant)
                for index in range(int(spec.get("InitialInstanceCount") or 1)):
                    variant.servers.append(
                        start_server(
                            as_role,
                            endpoint=endpoint.name,
                            variant=variant.name,
                            index=index,
                            opt_ml=folder,
                            container=container,
                        )
                    )
            for server in [s for v in variants for s in v.servers]:
                self._wait_until_healthy(server)
        except _DeploymentFailed:
            self._retire(_Deployment(config["EndpointConfigName"], variants))
            raise
        except (SageMakerApiError, OSError) as exc:
            self._retire(_Deployment(config["EndpointConfigName"], variants))
            raise _DeploymentFailed(f"ClientError: {getattr(exc, 'message', exc)}") from exc
        return _Deployment(config["EndpointConfigName"], variants)

    def _unpack_model(self, context: EngineContext, container: Mapping[str, Any], model_dir: Path) -> None:
        url = container.get("ModelDataUrl")
        if not url:
            raise _DeploymentFailed("ClientError: the model has no ModelDataUrl; the dropml image needs one")
        try:
            s3.download_and_unpack(context.aws.client("s3"), url, model_dir)
        except Exception as exc:
            raise _DeploymentFailed(f"ClientError: could not download the model data from {url}: {exc}") from exc

    def _wait_until_healthy(self, server: Server) -> None:
        deadline = time.monotonic() + self._context.ready_timeout_s
        while not server.healthy():
            if not server.process.running:
                server.log.flush()
                raise _DeploymentFailed(
                    f"ClientError: the primary container for production variant {server.variant} did not pass "
                    f"the ping health check: serve exited with status {server.process.returncode}. "
                    f"See the log group {server.log.group}."
                )
            if time.monotonic() > deadline:
                raise _DeploymentFailed(
                    f"ClientError: the primary container for production variant {server.variant} did not pass "
                    f"the ping health check within {self._context.ready_timeout_s:g} s."
                )
            time.sleep(_PING_EVERY_S)

    def _retire(self, deployment: _Deployment) -> None:
        """Stop a deployment's servers once the requests they are answering have finished."""
        deadline = time.monotonic() + _DRAIN_TIMEOUT_S
        for server in deployment.servers:
            while server.in_flight > 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.terminate(self._context.stop_grace_s)

    # -- helpers -----------------------------------------------------------------------------------

    def _in_background(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()
