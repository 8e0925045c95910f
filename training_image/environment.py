"""Everything SageMaker tells a training container, read once into one read-only object.

SageMaker's contract is a folder (``/opt/ml``) of JSON files and channel folders; reading it in one place
means the rest of the code takes plain arguments and can be tested without a container. Outside a
container ``DROPML_OPT_ML`` points at a folder with the same layout.

Host names such as ``algo-1`` resolve inside SageMaker's network only. Local mode runs several hosts as
processes on one machine and sets ``DROPML_HOST_ADDRESSES`` (a JSON object host → address, e.g.
``{"algo-1": "127.0.0.1", "algo-2": "127.0.0.1"}``) and ``DROPML_TRACKER_PORT`` (the port the first
host's tracker listens on; SageMaker's built-in XGBoost uses 9099, our default too).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.container import (
    DEFAULT_HOST,
    HOST_ADDRESSES_ENV,
    RESOURCE_CONFIG_FILE,
    TRACKER_PORT_ENV,
    OptMlLayout,
    opt_ml_root,
)
from core.errors import UserInputError

CUDA_VISIBLE_DEVICES_ENV = "CUDA_VISIBLE_DEVICES"

DEFAULT_TRACKER_PORT = 9099
DEFAULT_CONTENT_TYPE = "text/csv"

Distribution = Literal["FullyReplicated", "ShardedByS3Key"]


@dataclass(frozen=True)
class Channel:
    """One input channel: its folder, its declared content type and how S3 objects were spread."""

    name: str
    path: Path
    content_type: str = DEFAULT_CONTENT_TYPE
    distribution: Distribution = "FullyReplicated"


@dataclass(frozen=True)
class TrainingEnvironment:
    """The job as SageMaker describes it; ``hosts`` are sorted, so every host agrees on who is first."""

    root: Path
    hyperparameters: Mapping[str, str]
    channels: Mapping[str, Channel]
    hosts: tuple[str, ...] = (DEFAULT_HOST,)
    current_host: str = DEFAULT_HOST
    host_addresses: Mapping[str, str] = field(default_factory=dict)
    tracker_port: int = DEFAULT_TRACKER_PORT
    cuda_visible_devices: str | None = None

    @property
    def layout(self) -> OptMlLayout:
        return OptMlLayout(self.root)

    @property
    def model_dir(self) -> Path:
        return self.layout.model_dir

    @property
    def output_data_dir(self) -> Path:
        return self.layout.output_data_dir

    @property
    def failure_file(self) -> Path:
        return self.layout.failure_file

    @property
    def checkpoint_dir(self) -> Path:
        return self.layout.checkpoint_dir

    @property
    def rank(self) -> int:
        return self.hosts.index(self.current_host)

    @property
    def is_distributed(self) -> bool:
        return len(self.hosts) > 1

    def address_of(self, host: str) -> str:
        """Where ``host`` is reached: the override when local mode gave one, else its name (SageMaker DNS)."""
        return self.host_addresses.get(host, host)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> TrainingEnvironment:
        layout = OptMlLayout(opt_ml_root(environ).resolve())
        resources = _read_json(layout.resource_config_file, default={})
        hosts = tuple(sorted(resources.get("hosts") or [DEFAULT_HOST]))
        current = resources.get("current_host") or hosts[0]
        if current not in hosts:
            message = f"{RESOURCE_CONFIG_FILE}: current_host {current!r} is not in hosts {list(hosts)}"
            raise UserInputError(message)
        declared_channels = _read_json(layout.input_data_config_file, default={})
        return cls(
            root=layout.root,
            hyperparameters=_hyperparameters(layout.hyperparameters_file),
            channels=_channels(layout.data_dir, declared_channels),
            hosts=hosts,
            current_host=current,
            host_addresses=_host_addresses(environ.get(HOST_ADDRESSES_ENV)),
            tracker_port=_port(environ.get(TRACKER_PORT_ENV)),
            cuda_visible_devices=environ.get(CUDA_VISIBLE_DEVICES_ENV),
        )


def _read_json(path: Path, *, default: dict[str, Any]) -> dict[str, Any]:
    if not path.exists():
        return default
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path.name} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UserInputError(f"{path.name} must hold a JSON object")
    return data


def _hyperparameters(path: Path) -> dict[str, str]:
    """SageMaker writes every value as a string; a hand-written file may not, so normalise to text."""
    raw = _read_json(path, default={})
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}


def _channels(data_dir: Path, declared: Mapping[str, Any]) -> dict[str, Channel]:
    """Channels declared in inputdataconfig.json, plus channel folders present without a declaration."""
    present = {p.name for p in data_dir.iterdir() if p.is_dir()} if data_dir.is_dir() else set()
    names = set(declared) | present
    channels = {}
    for name in sorted(names):
        spec = declared.get(name) or {}
        distribution = spec.get("S3DistributionType", "FullyReplicated")
        if distribution not in ("FullyReplicated", "ShardedByS3Key"):
            raise UserInputError(f"channel {name!r}: unknown S3DistributionType {distribution!r}")
        channels[name] = Channel(
            name=name,
            path=data_dir / name,
            content_type=spec.get("ContentType") or DEFAULT_CONTENT_TYPE,
            distribution=distribution,
        )
    return channels


def _host_addresses(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        addresses = json.loads(text)
    except json.JSONDecodeError:
        addresses = None
    if not isinstance(addresses, dict) or not all(isinstance(v, str) for v in addresses.values()):
        raise UserInputError(f'{HOST_ADDRESSES_ENV} must be a JSON object like {{"algo-1": "127.0.0.1"}}')
    return addresses


def _port(text: str | None) -> int:
    if not text:
        return DEFAULT_TRACKER_PORT
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UserInputError(f"{TRACKER_PORT_ENV} must be a port number, got {text!r}")
    return int(text)
