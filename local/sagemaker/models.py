"""Models and endpoint configurations: records only, as on AWS, where nothing runs until an endpoint does.

A model names its container (image, ``ModelDataUrl``, ``Environment``); an endpoint configuration names
its production variants and their models, which must exist when it is created. An endpoint takes a
snapshot of its models when it is created or updated (:meth:`Models.snapshot`), so deleting or replacing
a model later does not change what it serves.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any

from local.sagemaker.context import EngineContext
from local.sagemaker.errors import ValidationError
from local.sagemaker.registry import Listing, Registry

Record = dict[str, Any]
MODEL_LISTING = Listing(
    page_key="Models",
    name_field="ModelName",
    sort_fields={"Name": "ModelName"},
    default_order="Descending",
    time_bounds=True,
)
CONFIG_LISTING = Listing(
    page_key="EndpointConfigs",
    name_field="EndpointConfigName",
    sort_fields={"Name": "EndpointConfigName"},
    default_order="Descending",
    time_bounds=True,
)


class Models:
    """CreateModel … DeleteEndpointConfig for one engine. ``lock`` guards both kinds, and the endpoints'
    changes that read them."""

    def __init__(self, context: EngineContext) -> None:
        self._context = context
        self.lock = threading.RLock()
        self._models: Registry[Record] = Registry(
            lambda name: ValidationError(f'Could not find model "{context.aws.arn("model", name)}".'), lock=self.lock
        )
        self._configs: Registry[Record] = Registry(
            lambda name: ValidationError(
                f'Could not find endpoint configuration "{context.aws.arn("endpoint-config", name)}".'
            ),
            lock=self.lock,
        )

    # -- models ------------------------------------------------------------------------------------

    def create_model(self, request: Mapping[str, Any]) -> dict[str, Any]:
        name = request["ModelName"]
        arn = self._context.aws.arn("model", name)
        container = request.get("PrimaryContainer") or next(iter(request.get("Containers") or []), None)
        if container is None:
            raise ValidationError("a model needs a PrimaryContainer (or Containers)")
        self._models.add(
            name,
            lambda: {
                "ModelName": name,
                "PrimaryContainer": copy.deepcopy(dict(container)),
                "ExecutionRoleArn": request.get("ExecutionRoleArn"),
                "CreationTime": self._context.clock(),
                "ModelArn": arn,
                "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation", False)),
            },
            taken=lambda _: ValidationError(f'Cannot create already existing model "{arn}".'),
        )
        return {"ModelArn": arn}

    def describe_model(self, name: str) -> dict[str, Any]:
        return {k: v for k, v in self._models.get(name).items() if v is not None}

    def delete_model(self, name: str) -> None:
        self._models.remove(name)

    def list_models(self, request: Mapping[str, Any]) -> dict[str, Any]:
        summaries = [{k: m[k] for k in ("ModelName", "ModelArn", "CreationTime")} for m in self._models.values()]
        return MODEL_LISTING.page(summaries, request)

    # -- endpoint configurations -------------------------------------------------------------------

    def create_endpoint_config(self, request: Mapping[str, Any]) -> dict[str, Any]:
        name = request["EndpointConfigName"]
        arn = self._context.aws.arn("endpoint-config", name)
        variants = request.get("ProductionVariants") or []
        if not variants:
            raise ValidationError("ProductionVariants must name at least one variant")

        def record() -> Record:
            for variant in variants:
                self._models.get(str(variant.get("ModelName")))
            return {
                "EndpointConfigName": name,
                "EndpointConfigArn": arn,
                "ProductionVariants": copy.deepcopy(list(variants)),
                "CreationTime": self._context.clock(),
            }

        taken = ValidationError(f'Cannot create already existing endpoint configuration "{arn}".')
        self._configs.add(name, record, taken=lambda _: taken)
        return {"EndpointConfigArn": arn}

    def describe_endpoint_config(self, name: str) -> dict[str, Any]:
        return copy.deepcopy(self._configs.get(name))

    def delete_endpoint_config(self, name: str) -> None:
        self._configs.remove(name)

    def list_endpoint_configs(self, request: Mapping[str, Any]) -> dict[str, Any]:
        keys = ("EndpointConfigName", "EndpointConfigArn", "CreationTime")
        return CONFIG_LISTING.page([{k: c[k] for k in keys} for c in self._configs.values()], request)

    def arns(self) -> set[str]:
        """Every model's and endpoint configuration's ARN (what ListTags and AddTags may name)."""
        with self.lock:
            return {m["ModelArn"] for m in self._models.values()} | {
                c["EndpointConfigArn"] for c in self._configs.values()
            }

    def snapshot(self, config: Mapping[str, Any]) -> dict[str, Record]:
        """The models of ``config``'s variants as they are now, by name."""
        with self.lock:
            return {
                variant["ModelName"]: copy.deepcopy(self._models.get(variant["ModelName"]))
                for variant in config["ProductionVariants"]
            }
