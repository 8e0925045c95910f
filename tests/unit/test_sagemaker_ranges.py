"""Tuning ranges as SageMaker defines them, turned into optuna search spaces and hyperparameter text."""

from __future__ import annotations

import statistics

import optuna
import pytest

from local.sagemaker.errors import ValidationError
from local.sagemaker.search_space import TunedParameter, parameter_space


def samples(parameter: TunedParameter, count: int = 400) -> list[str]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    return [
        parameter.to_text(study.ask({parameter.name: parameter.distribution}).params[parameter.name])
        for _ in range(count)
    ]


def one(kind: str, **spec: object) -> TunedParameter:
    [parameter] = parameter_space({kind: [spec]})
    return parameter


def test_integer_ranges_give_integer_text_within_bounds() -> None:
    values = [int(v) for v in samples(one("IntegerParameterRanges", Name="max_depth", MinValue="1", MaxValue="10"))]
    assert min(values) == 1 and max(values) == 10


def test_logarithmic_and_reverse_logarithmic_crowd_where_they_should() -> None:
    linear = [float(v) for v in samples(one("ContinuousParameterRanges", Name="eta", MinValue="0.001", MaxValue="1",
                                            ScalingType="Linear"))]  # fmt: skip
    log = [float(v) for v in samples(one("ContinuousParameterRanges", Name="eta", MinValue="0.001", MaxValue="1",
                                         ScalingType="Logarithmic"))]  # fmt: skip
    reverse = [float(v) for v in samples(one("ContinuousParameterRanges", Name="subsample", MinValue="0.5",
                                             MaxValue="0.999", ScalingType="ReverseLogarithmic"))]  # fmt: skip
    assert all(0.001 <= v <= 1 for v in linear + log)
    assert statistics.median(linear) > 0.3
    assert statistics.median(log) < 0.1
    assert all(0.5 <= v <= 0.999 for v in reverse)
    assert statistics.median(reverse) > 0.95


def test_auto_scaling_is_logarithmic_only_for_positive_ranges_spanning_two_decades() -> None:
    wide = one("ContinuousParameterRanges", Name="alpha", MinValue="0.001", MaxValue="10", ScalingType="Auto")
    from_zero = one("ContinuousParameterRanges", Name="alpha", MinValue="0", MaxValue="10", ScalingType="Auto")
    assert wide.distribution.log  # type: ignore[attr-defined]
    assert not from_zero.distribution.log  # type: ignore[attr-defined]


def test_categorical_values_come_back_as_given() -> None:
    values = set(samples(one("CategoricalParameterRanges", Name="grow_policy", Values=["depthwise", "lossguide"])))
    assert values == {"depthwise", "lossguide"}


@pytest.mark.parametrize(
    ("kind", "spec", "reason"),
    [
        ("ContinuousParameterRanges", {"Name": "a", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"},
         "Logarithmic scaling needs MinValue > 0"),
        ("ContinuousParameterRanges", {"Name": "a", "MinValue": "0.5", "MaxValue": "1",
                                       "ScalingType": "ReverseLogarithmic"}, "0 <= MinValue < MaxValue < 1"),
        ("IntegerParameterRanges", {"Name": "a", "MinValue": "5", "MaxValue": "1"}, "greater than MaxValue"),
        ("IntegerParameterRanges", {"Name": "a", "MinValue": "0.5", "MaxValue": "1"}, "integer MinValue"),
        ("CategoricalParameterRanges", {"Name": "a", "Values": []}, "at least one value"),
    ],
)  # fmt: skip
def test_invalid_ranges_are_refused_with_a_reason(kind: str, spec: dict, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        parameter_space({kind: [spec]})
