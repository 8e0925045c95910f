"""SageMaker's tuning ranges as an optuna search space, and each sample as the hyperparameter text a job gets.

``IntegerParameterRanges``, ``ContinuousParameterRanges`` and ``CategoricalParameterRanges`` become
optuna's int, float and categorical distributions. ``ScalingType`` ``Logarithmic`` samples on a log
scale, ``ReverseLogarithmic`` samples ``1 - x`` on one (dense near 1), and ``Auto`` picks the log scale
for a positive range spanning two orders of magnitude. The Grid strategy searches the categorical
ranges only, every combination of their values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from local.sagemaker.errors import ValidationError


@dataclass(frozen=True)
class TunedParameter:
    """One tuned hyperparameter: where optuna samples it, and how a sample becomes SageMaker's text."""

    name: str
    distribution: BaseDistribution
    to_text: Callable[[Any], str]


def parameter_space(ranges: Mapping[str, Any]) -> list[TunedParameter]:
    parameters = []
    for spec in ranges.get("IntegerParameterRanges") or []:
        low, high = _bounds(spec, int)
        log = _is_log(spec, float(low), float(high))
        if spec.get("ScalingType") == "ReverseLogarithmic":
            raise ValidationError(f"{spec['Name']}: ReverseLogarithmic scaling applies to continuous ranges only")
        parameters.append(
            TunedParameter(spec["Name"], IntDistribution(int(low), int(high), log=log), lambda v: str(int(v)))
        )
    for spec in ranges.get("ContinuousParameterRanges") or []:
        low, high = _bounds(spec, float)
        if spec.get("ScalingType") == "ReverseLogarithmic":
            if not 0 <= low < high < 1:
                raise ValidationError(f"{spec['Name']}: ReverseLogarithmic needs 0 <= MinValue < MaxValue < 1")
            # 1 - x sampled on a log scale: dense near 1, as SageMaker's reverse logarithmic scaling is.
            distribution = FloatDistribution(1 - high, 1 - low, log=True)
            parameters.append(TunedParameter(spec["Name"], distribution, _reflected(low, high)))
            continue
        log = _is_log(spec, float(low), float(high))
        parameters.append(TunedParameter(spec["Name"], FloatDistribution(low, high, log=log), lambda v: repr(float(v))))
    for spec in ranges.get("CategoricalParameterRanges") or []:
        values = [str(v) for v in spec.get("Values") or []]
        if not values:
            raise ValidationError(f"{spec['Name']}: a categorical range needs at least one value")
        parameters.append(TunedParameter(spec["Name"], CategoricalDistribution(values), str))
    if ranges.get("AutoParameters"):
        raise ValidationError("AutoParameters (Autotune) are not supported locally: give explicit ranges")
    names = [p.name for p in parameters]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValidationError(f"hyperparameter {duplicated[0]!r} has more than one range")
    return parameters


def _reflected(low: float, high: float) -> Callable[[Any], str]:
    """``1 - sample`` as text, kept inside [low, high] against floating-point rounding."""
    return lambda v: repr(min(max(1 - float(v), low), high))


def _bounds(spec: Mapping[str, Any], kind: type) -> tuple[Any, Any]:
    try:
        low, high = float(spec["MinValue"]), float(spec["MaxValue"])
    except (KeyError, ValueError):
        raise ValidationError(f"{spec.get('Name')}: MinValue and MaxValue must be numbers") from None
    if kind is int and not (low.is_integer() and high.is_integer()):
        raise ValidationError(f"{spec['Name']}: an integer range needs integer MinValue and MaxValue")
    if low > high:
        raise ValidationError(
            f"{spec['Name']}: MinValue {spec['MinValue']} is greater than MaxValue {spec['MaxValue']}"
        )
    return (int(low), int(high)) if kind is int else (low, high)


def _is_log(spec: Mapping[str, Any], low: float, high: float) -> bool:
    """Logarithmic when asked for; ``Auto`` picks it for a positive range spanning two orders of magnitude."""
    scaling = spec.get("ScalingType") or "Auto"
    if scaling == "Logarithmic":
        if low <= 0:
            raise ValidationError(f"{spec['Name']}: Logarithmic scaling needs MinValue > 0")
        return True
    return scaling == "Auto" and low > 0 and high / low >= 100


def grid_of(parameters: list[TunedParameter]) -> dict[str, list[Any]]:
    """The Grid strategy's search space: each parameter's values (categorical ranges only)."""
    grid: dict[str, list[Any]] = {}
    for parameter in parameters:
        if not isinstance(parameter.distribution, CategoricalDistribution):
            raise ValidationError("the Grid strategy supports only CategoricalParameterRanges")
        grid[parameter.name] = list(parameter.distribution.choices)
    return grid
