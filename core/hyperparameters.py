"""The built-in SageMaker XGBoost algorithm's hyperparameters: each name and the values it accepts.

One table for the two places that judge a user's hyperparameters: the run's plan, which refuses every
bad one in one email before any job starts, and the training image, which SageMaker may also start with
hyperparameters of anyone's writing (a tutorial's, a tuner's) and which refuses them the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import UserInputError

INF = math.inf

OBJECTIVES = (
    "binary:logistic", "binary:logitraw", "binary:hinge",
    "multi:softprob", "multi:softmax",
    "reg:squarederror", "reg:linear", "reg:squaredlogerror", "reg:logistic", "reg:pseudohubererror",
    "reg:absoluteerror", "reg:gamma", "reg:tweedie", "count:poisson",
)  # fmt: skip
EVAL_METRICS = (
    "rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "merror", "mlogloss", "auc", "aucpr",
    "poisson-nloglik", "gamma-nloglik", "gamma-deviance", "tweedie-nloglik",
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """What one hyperparameter accepts: a type and a range, or a set of words."""

    kind: type = float
    low: float = -INF
    high: float = INF
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        noun = "an integer" if self.kind is int else "a number" if self.kind is float else "text"
        if self.low == -INF and self.high == INF:
            return noun
        left = "(" if self.low_open else "["
        right = ")" if self.high_open or self.high == INF else "]"
        high = "∞" if self.high == INF else _number(self.high)
        return f"{noun} in {left}{_number(self.low)}, {high}{right}"

    def parse(self, name: str, text: str) -> Any:
        if self.choices:
            if text not in self.choices:
                raise _bad(name, text, self)
            return int(text) if self.kind is int else text
        if self.kind is str:
            return text
        try:
            value = float(text)
        except ValueError:
            raise _bad(name, text, self) from None
        if self.kind is int:
            if not value.is_integer():
                raise _bad(name, text, self)
            value = int(value)
        too_low = value <= self.low if self.low_open else value < self.low
        too_high = value >= self.high if self.high_open else value > self.high
        if math.isnan(value) or too_low or too_high:
            raise _bad(name, text, self)
        return value


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _bad(name: str, text: str, rule: Rule) -> UserInputError:
    message = f"hyperparameter {name}={text!r} is invalid: expected {rule.describe()}"
    return UserInputError(message, column=name)


UNIT = Rule(float, 0, 1)
UNIT_OPEN_LOW = Rule(float, 0, 1, low_open=True)
NON_NEGATIVE = Rule(float, 0)
FLAG = Rule(int, choices=("0", "1"))
TRUE_FALSE = Rule(str, choices=("true", "false"))
TEXT = Rule(str)

RULES: dict[str, Rule] = {
    "num_round": Rule(int, 1, 1_000_000),
    "early_stopping_rounds": Rule(int, 1, 1_000_000),
    "checkpoint_frequency": Rule(int, 1, 1_000_000),
    "csv_weights": FLAG,
    "num_class": Rule(int, 2, 1_000_000),
    "objective": Rule(str, choices=OBJECTIVES),
    "eval_metric": TEXT,  # a comma-separated list, checked by _eval_metrics
    "booster": Rule(str, choices=("gbtree", "gblinear", "dart")),
    "eta": UNIT,
    "learning_rate": UNIT,
    "gamma": NON_NEGATIVE,
    "max_depth": Rule(int, 0, 1_000),
    "min_child_weight": NON_NEGATIVE,
    "max_delta_step": NON_NEGATIVE,
    "subsample": UNIT_OPEN_LOW,
    "sampling_method": Rule(str, choices=("uniform", "gradient_based")),
    "colsample_bytree": UNIT_OPEN_LOW,
    "colsample_bylevel": UNIT_OPEN_LOW,
    "colsample_bynode": UNIT_OPEN_LOW,
    "lambda": NON_NEGATIVE,
    "alpha": NON_NEGATIVE,
    "tree_method": Rule(str, choices=("auto", "exact", "approx", "hist", "gpu_hist")),
    "scale_pos_weight": Rule(float, 0, low_open=True),
    "updater": TEXT,
    "refresh_leaf": FLAG,
    "process_type": Rule(str, choices=("default", "update")),
    "grow_policy": Rule(str, choices=("depthwise", "lossguide")),
    "max_leaves": Rule(int, 0),
    "max_bin": Rule(int, 2, 65_536),
    "base_score": TEXT,
    "sample_type": Rule(str, choices=("uniform", "weighted")),
    "normalize_type": Rule(str, choices=("tree", "forest")),
    "rate_drop": UNIT,
    "one_drop": FLAG,
    "skip_drop": UNIT,
    "tweedie_variance_power": Rule(float, 1, 2, low_open=True, high_open=True),
    "monotone_constraints": TEXT,
    "interaction_constraints": TEXT,
    "seed": Rule(int, 0, 2**31 - 1),
    "nthread": Rule(int, 1, 4_096),
    "verbosity": Rule(int, 0, 3),
    "device": TEXT,  # checked by device.choose_device against what the machine has
    "single_precision_histogram": TRUE_FALSE,
    "deterministic_histogram": TRUE_FALSE,
    "use_dask_gpu_training": TRUE_FALSE,
    "save_model_on_termination": TRUE_FALSE,
    "lambda_bias": UNIT,
    "sketch_eps": Rule(float, 0, 1, low_open=True, high_open=True),
    "prob_buffer_row": Rule(float, 1),
}


def is_sagemaker_own(name: str) -> bool:
    """Keys SageMaker adds to every job (tuning objective, framework settings): accepted and not ours."""
    return name.startswith("_") or name.startswith("sagemaker_")


def problems(raw: Mapping[str, str]) -> list[str]:
    """Every unknown name and bad value in ``raw`` (strings, as SageMaker passes them), in name order."""
    found = []
    for name in sorted(raw):
        if is_sagemaker_own(name):
            continue
        rule = RULES.get(name)
        if rule is None:
            found.append(f"unknown hyperparameter {name!r}")
            continue
        try:
            rule.parse(name, str(raw[name]).strip())
        except UserInputError as bad:
            found.append(bad.reason)
    for metric in (m.strip() for m in str(raw.get("eval_metric", "")).split(",")):
        if metric and metric.split("@", 1)[0] not in EVAL_METRICS:
            found.append(f"hyperparameter eval_metric has unknown metric {metric!r}")
    return found
