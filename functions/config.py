"""Each function's configuration: a frozen dataclass read from its environment in one place.

The variable names are written here once, so the template, local mode and tests spell them alike. A
missing or malformed value fails the first invocation with the variable's name (a misconfigured stack
is visible at once), never as a silent default or a bare ``KeyError`` deep in the work.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Self, get_type_hints

_ENV = "env"
_OPTIONAL = "optional"


def _variable(name: str, *, optional: bool = False) -> Any:
    return field(metadata={_ENV: name, _OPTIONAL: optional})


class _FromEnvironment:
    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Self:
        types = get_type_hints(cls)
        values: dict[str, Any] = {}
        missing, malformed = [], []
        for item in fields(cls):  # type: ignore[arg-type]
            name, text = item.metadata[_ENV], environ.get(item.metadata[_ENV], "")
            if not text:
                if not item.metadata[_OPTIONAL]:
                    missing.append(name)
                values[item.name] = None
            elif types[item.name] is int:
                try:
                    values[item.name] = int(text)
                except ValueError:
                    malformed.append(f"{name} must be an integer, not {text!r}")
            else:
                values[item.name] = text
        problems = ([f"set {', '.join(missing)}"] if missing else []) + malformed
        if problems:
            raise RuntimeError(f"{cls.__name__} misconfigured: {'; '.join(problems)}")
        return cls(**values)


@dataclass(frozen=True)
class IngestConfig(_FromEnvironment):
    state_machine_arn: str = _variable("STATE_MACHINE_ARN")
    topic_arn: str = _variable("NOTIFICATION_TOPIC_ARN")
    lambda_conversion_max_bytes: int = _variable("LAMBDA_CONVERSION_MAX_BYTES")


@dataclass(frozen=True)
class PrepareConfig(_FromEnvironment):
    """The stack's parameters that shape a run. The budget and the endpoint instance types are caps: a
    dataset's dropml.json may ask for less, never for more."""

    name_prefix: str = _variable("NAME_PREFIX")
    cpu_instance_type: str = _variable("CPU_INSTANCE_TYPE")
    gpu_instance_type: str | None = _variable("GPU_INSTANCE_TYPE", optional=True)  # empty: always CPU
    max_runtime_seconds: int = _variable("MAX_RUNTIME_SECONDS")
    endpoint_poll_seconds: int = _variable("ENDPOINT_POLL_SECONDS")
    endpoint_instance_type: str = _variable("ENDPOINT_INSTANCE_TYPE")
    max_tuning_jobs: int = _variable("MAX_TUNING_JOBS")
    max_parallel_tuning_jobs: int = _variable("MAX_PARALLEL_TUNING_JOBS")
    max_training_instances: int = _variable("MAX_TRAINING_INSTANCES")
    processing_instance_type: str = _variable("PROCESSING_INSTANCE_TYPE")
    lambda_conversion_max_bytes: int = _variable("LAMBDA_CONVERSION_MAX_BYTES")
    # comma-separated; the stack's EndpointInstanceType is allowed too
    allowed_endpoint_instance_types: str | None = _variable("ALLOWED_ENDPOINT_INSTANCE_TYPES", optional=True)

    @property
    def endpoint_instance_types(self) -> tuple[str, ...]:
        listed = [t.strip() for t in (self.allowed_endpoint_instance_types or "").split(",") if t.strip()]
        return tuple(dict.fromkeys([self.endpoint_instance_type, *listed]))


@dataclass(frozen=True)
class NotifyConfig(_FromEnvironment):
    topic_arn: str = _variable("NOTIFICATION_TOPIC_ARN")
