"""Loopback ports for local mode's servers, handed out so that two never collide.

Asking the OS for port 0 and closing the socket leaves a window: the kernel hands the same range to
every outgoing connection (a boto3 call, a test's HTTP client) and to other processes asking the
same way, so the port can be taken before our server binds it, and a test fails by chance. So ports
come from below the kernel's ephemeral range, where no outgoing connection is ever given one, and
each is reserved machine-wide for the life of the process that took it (a file named after the port
holding that process's id), so parallel test workers and several local stacks never pick the same.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import tempfile
from pathlib import Path

RESERVATIONS = Path(tempfile.gettempdir()) / "dropml-ports"
LOWEST_PORT = 10_000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL_START = 32_768  # Linux's default; other systems start higher


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, that no other process of ours will be handed while this one lives."""
    candidates = list(range(LOWEST_PORT, _ephemeral_start()))
    random.shuffle(candidates)
    RESERVATIONS.mkdir(exist_ok=True)
    for port in candidates:
        if _reserve(port) and _bindable(host, port):
            return port
    raise RuntimeError(f"no free port between {LOWEST_PORT} and {_ephemeral_start()} on {host}")


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def _ephemeral_start() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_START


def _reserve(port: int) -> bool:
    """Claim ``port`` for this process; a claim whose process has ended is taken over."""
    path = RESERVATIONS / str(port)
    for _ in range(2):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _holder_ended(path):
                return False
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        with os.fdopen(descriptor, "w") as claim:
            claim.write(str(os.getpid()))
        return True
    return False


def _holder_ended(path: Path) -> bool:
    try:
        pid = int(path.read_text() or "0")
    except (OSError, ValueError):
        return False  # being written right now: its writer is alive
    if pid == os.getpid():
        return False  # ours already: handed out earlier in this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True
