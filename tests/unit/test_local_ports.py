"""Ports handed out by local mode never collide: not within a process, not across processes.

The cross-process cases use ranges below ``LOWEST_PORT``, which nothing else in the suite is handed.
"""

import subprocess
import sys

import pytest

from local import ports

TAKE_ALL = """
import sys
from local import ports
ports.LOWEST_PORT, ports._ephemeral_start = {low}, lambda: {high}
taken = []
try:
    while True:
        taken.append(ports.free_port())
except RuntimeError as error:
    print(len(taken), error, file=sys.stderr)
print(len(taken))
"""


def take_all_in_another_process(low: int, high: int) -> int:
    code = TAKE_ALL.format(low=low, high=high)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    return int(done.stdout)


def use_range(monkeypatch: pytest.MonkeyPatch, low: int, high: int) -> None:
    monkeypatch.setattr(ports, "LOWEST_PORT", low)
    monkeypatch.setattr(ports, "_ephemeral_start", lambda: high)


def test_ports_are_below_the_ephemeral_range_and_never_handed_out_twice() -> None:
    taken = [ports.free_port() for _ in range(50)]
    assert len(set(taken)) == 50
    assert all(ports.LOWEST_PORT <= port < ports._ephemeral_start() for port in taken)


def test_another_process_is_never_handed_a_port_this_one_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN this process holds every free port of a range
    use_range(monkeypatch, 9_100, 9_120)
    held = []
    with pytest.raises(RuntimeError, match="no free port"):
        while True:
            held.append(ports.free_port())
    assert held

    # THEN another process is handed none of them
    assert take_all_in_another_process(9_100, 9_120) == 0


def test_the_ports_of_a_process_that_ended_are_handed_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a process that took every free port of a range, and ended
    assert take_all_in_another_process(9_130, 9_150) > 0

    # THEN this process is handed one of them
    use_range(monkeypatch, 9_130, 9_150)
    assert 9_130 <= ports.free_port() < 9_150
