"""How many distinct settings a SageMaker tuning job's ``ParameterRanges`` hold.

SageMaker refuses a tuning job whose ``MaxNumberOfTrainingJobs`` exceeds this ("You don't have enough
combinations of hyperparameter ranges…"): the plan keeps its budget within it and local mode's
SageMaker refuses as AWS does, so both read it here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def combinations(ranges: Mapping[str, Any]) -> float:
    """Each integer range's integers times each categorical range's values; ``math.inf`` once a
    continuous range is searched (any number of its values is distinct)."""
    if ranges.get("ContinuousParameterRanges"):
        return math.inf
    count = 1
    for integer in ranges.get("IntegerParameterRanges") or []:
        count *= int(integer["MaxValue"]) - int(integer["MinValue"]) + 1
    for categorical in ranges.get("CategoricalParameterRanges") or []:
        count *= len(categorical["Values"])
    return count
