"""Instance capacity on one machine: GPU instance types need a GPU this machine may not have.

SageMaker fails a job with a ``CapacityError`` when it cannot provision the requested instances; the
pipeline then falls back to CPU. Locally the only capacity is this machine, so a GPU instance type
on a machine without an NVIDIA GPU fails the same way, for a real reason, and the fallback path runs.
"""

from __future__ import annotations

import re
from functools import cache

from core.machine import nvidia_gpu_count

# SageMaker's accelerated families: P and G (NVIDIA GPUs).
_GPU_INSTANCE = re.compile(r"^ml\.(p\d|g\d)[a-z0-9]*\.")


def is_gpu_instance(instance_type: str) -> bool:
    return bool(_GPU_INSTANCE.match(instance_type))


@cache
def machine_has_gpu() -> bool:
    """Whether ``nvidia-smi -L`` lists a GPU here, as the training image sees it (asked once per process)."""
    return nvidia_gpu_count() > 0


def capacity_failure(instance_type: str, *, has_gpu: bool | None = None) -> str | None:
    """The FailureReason SageMaker gives when it cannot provision ``instance_type``; None when it can."""
    gpu_here = machine_has_gpu() if has_gpu is None else has_gpu
    if is_gpu_instance(instance_type) and not gpu_here:
        return (
            f"CapacityError: Unable to provision requested ML compute capacity for {instance_type}: "
            "this machine has no NVIDIA GPU (local mode). Retry with a CPU instance type."
        )
    return None
