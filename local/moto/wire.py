"""Describe* answers as AWS puts them on the wire, for the Step Functions and SageMaker patches.

Both hand a dict from moto or from the local SageMaker engine to JSON: unset (``None``) members are left
out, as AWS omits them, and datetimes become epoch numbers, whose unit is the one thing that differs:
Step Functions shows them in integer milliseconds (task outputs, failure causes), SageMaker's JSON
protocol sends seconds (a float).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

EpochUnit = Literal["s", "ms"]


def to_wire(value: Any, *, epoch: EpochUnit) -> Any:
    """``value`` made JSON-safe: ``None`` members dropped, datetimes as epoch seconds or milliseconds."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000) if epoch == "ms" else value.timestamp()
    if isinstance(value, dict):
        return {key: to_wire(item, epoch=epoch) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [to_wire(item, epoch=epoch) for item in value]
    return value
