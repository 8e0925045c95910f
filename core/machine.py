"""What this machine offers a process: its CPUs and its NVIDIA GPUs, asked cheaply and without CUDA.

The training image asks to choose XGBoost's device and its number of server workers; local mode asks
to know whether a GPU instance type can run here at all. Both must see the same machine the same way.
"""

from __future__ import annotations

import os
import shutil
import subprocess

NVIDIA_SMI_TIMEOUT_S = 20


def cpu_count() -> int:
    """CPUs this process may run on (a container's cpuset or a taskset, not the host's total)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def nvidia_gpu_count() -> int:
    """How many GPUs ``nvidia-smi -L`` lists (``GPU 0: …`` lines); 0 without the tool or when it fails to run.

    ``CUDA_VISIBLE_DEVICES`` is not looked at here: it hides GPUs from one process, not from the machine.
    """
    nvidia_smi = shutil.which("nvidia-smi")
    if nvidia_smi is None:
        return 0
    try:
        listing = subprocess.run(
            [nvidia_smi, "-L"], capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))
