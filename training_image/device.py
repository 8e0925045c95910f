"""CPU or GPU: the GPU by default when XGBoost can use one, unless the hyperparameters say otherwise.

The same image runs on CPU and GPU instances, and the state machine falls back to CPU when GPU capacity
is short, so the choice is made at start from what the machine has, cheaply (no CUDA context is made).
"""

from __future__ import annotations

import re

from core.errors import UserInputError
from core.machine import nvidia_gpu_count

NO_DEVICES = frozenset({"", "-1", "none", "nodevfiles", "void"})
_CUDA = re.compile(r"^(cuda|gpu)(:\d+)?$")


def visible_gpus(cuda_visible_devices: str | None) -> int:
    """How many GPUs ``nvidia-smi -L`` lists, or 0 when CUDA_VISIBLE_DEVICES hides them or it is absent."""
    if cuda_visible_devices is not None and cuda_visible_devices.strip().lower() in NO_DEVICES:
        return 0
    return nvidia_gpu_count()


def choose_device(*, requested: str | None, cuda_built: bool, gpus: int) -> str:
    """XGBoost's ``device``: what was asked for, else ``cuda`` when this build and machine allow it."""
    usable = cuda_built and gpus > 0
    if requested is None:
        return "cuda" if usable else "cpu"
    if requested == "cpu":
        return "cpu"
    match = _CUDA.match(requested)
    if match is None:
        raise UserInputError(
            f"hyperparameter device={requested!r} is invalid: expected cpu, cuda, cuda:<n> or gpu",
            column="device",
        )
    if not usable:
        raise UserInputError(
            f"hyperparameter device={requested!r} asks for a GPU, but this instance has none usable; "
            "choose a GPU instance type or remove the device setting",
            column="device",
        )
    return "cuda" + (match.group(2) or "")
