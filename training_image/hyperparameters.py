"""Hyperparameters: the built-in SageMaker XGBoost algorithm's names and meanings, validated from a table.

SageMaker hands every value over as a string. Configurations written for the built-in algorithm must
run unchanged, so its names are accepted (``num_round``, ``eta``, ``lambda``, ``csv_weights``, …); a bad
value fails before any data is read, naming the parameter and what it accepts. Names starting with ``_``
or ``sagemaker_`` belong to SageMaker (the tuner passes ``_tuning_objective_metric``): they are not ours
to refuse, and the tuning objective's metric is put last in ``eval_metric``, so a log line has it last.

Differences from the built-in algorithm, on purpose:
- ``num_round`` is optional (default :data:`DEFAULT_NUM_ROUND`): the pipeline trains from a dataset's
  schema without asking the user for a round count.
- ``objective`` defaults from the dataset's problem type (binary:logistic, multi:softprob with the
  schema's class count, reg:squarederror) instead of always reg:squarederror.
- ``checkpoint_frequency`` (rounds between checkpoints) is ours.
- Parameters XGBoost 3 has dropped (``single_precision_histogram``, ``deterministic_histogram``,
  ``use_dask_gpu_training``, ``lambda_bias``, ``sketch_eps``, ``save_model_on_termination``) are
  validated and then not passed on; ``tree_method=gpu_hist`` means ``hist`` on the GPU.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import UserInputError
from core.problems import PROBLEMS, problem_of_objective
from core.schema import ProblemType

DEFAULT_NUM_ROUND = 100
DEFAULT_CHECKPOINT_FREQUENCY = 10
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
DROPPED_BY_XGBOOST = frozenset(
    {"single_precision_histogram", "deterministic_histogram", "use_dask_gpu_training", "lambda_bias",
     "sketch_eps", "save_model_on_termination", "prob_buffer_row"}
)  # fmt: skip
NOT_BOOSTER_PARAMETERS = frozenset({"num_round", "early_stopping_rounds", "checkpoint_frequency", "csv_weights"})


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


@dataclass(frozen=True)
class TrainingParameters:
    """Validated hyperparameters, split into what XGBoost's booster takes and what steers the loop."""

    booster_params: Mapping[str, Any]
    num_round: int
    early_stopping_rounds: int | None
    checkpoint_frequency: int
    csv_weights: bool
    problem_type: ProblemType
    requested_device: str | None

    @property
    def eval_metrics(self) -> tuple[str, ...]:
        return tuple(self.booster_params["eval_metric"])


def is_sagemaker_own(name: str) -> bool:
    """Keys SageMaker adds to every job (tuning objective, framework settings): accepted and not ours."""
    return name.startswith("_") or name.startswith("sagemaker_")


def parse_hyperparameters(
    raw: Mapping[str, str], *, problem_type: ProblemType | None, num_class: int | None
) -> TrainingParameters:
    """Validate ``raw`` (strings, as SageMaker writes them) against :data:`RULES`.

    ``problem_type`` and ``num_class`` come from the dataset's schema when there is one; they supply
    defaults (objective, num_class, eval_metric) and never override what the user wrote.
    """
    unknown = sorted(k for k in raw if k not in RULES and not is_sagemaker_own(k))
    if unknown:
        raise UserInputError(
            f"unknown hyperparameter {unknown[0]!r}; accepted are the SageMaker XGBoost algorithm's names "
            "(num_round, eta, max_depth, objective, eval_metric, …) and checkpoint_frequency",
            column=unknown[0],
        )
    values = {name: RULES[name].parse(name, text.strip()) for name, text in raw.items() if name in RULES}

    objective = values.get("objective") or PROBLEMS[problem_type or "regression"].objective
    if objective == "reg:linear":
        objective = "reg:squarederror"
    kind = problem_of_objective(objective)  # it decides the metrics; the schema only chose the default
    params: dict[str, Any] = {
        k: v for k, v in values.items() if k not in NOT_BOOSTER_PARAMETERS and k not in DROPPED_BY_XGBOOST
    }
    params["objective"] = objective
    if kind == "multiclass":
        classes = values.get("num_class") or num_class
        if not classes:
            message = f"hyperparameter num_class is required with objective {objective}"
            raise UserInputError(message, column="num_class")
        params["num_class"] = classes
    else:
        params.pop("num_class", None)  # the built-in algorithm tolerates num_class=2 with binary objectives
    tuning_objective = raw.get("_tuning_objective_metric")
    params["eval_metric"] = _eval_metrics(values.get("eval_metric"), kind, tuning_objective)
    if params.get("tree_method") == "gpu_hist":
        params["tree_method"] = "hist"
    requested_device = params.pop("device", None)
    if values.get("tree_method") == "gpu_hist" and requested_device is None:
        requested_device = "cuda"
    return TrainingParameters(
        booster_params=params,
        num_round=values.get("num_round", DEFAULT_NUM_ROUND),
        early_stopping_rounds=values.get("early_stopping_rounds"),
        checkpoint_frequency=values.get("checkpoint_frequency", DEFAULT_CHECKPOINT_FREQUENCY),
        csv_weights=bool(values.get("csv_weights", 0)),
        problem_type=kind,
        requested_device=requested_device,
    )


def _eval_metrics(text: str | None, kind: ProblemType, tuning_objective: str | None) -> list[str]:
    metrics = [m.strip() for m in text.split(",") if m.strip()] if text else list(PROBLEMS[kind].eval_metrics)
    for metric in metrics:
        base = metric.split("@", 1)[0]
        if base not in EVAL_METRICS:
            raise UserInputError(
                f"hyperparameter eval_metric has unknown metric {metric!r}: expected some of {', '.join(EVAL_METRICS)}",
                column="eval_metric",
            )
    wanted = _metric_of(tuning_objective)
    if wanted:
        # Last on the line: early stopping follows the last metric, and a ``(\S+)`` regex (``#011`` is no
        # whitespace) reads only the line's last value correctly.
        metrics = [m for m in metrics if m != wanted] + [wanted]
    return metrics


def _metric_of(tuning_objective: str | None) -> str | None:
    """``validation:auc`` → ``auc`` (the built-in algorithm's tuning objective names)."""
    if not tuning_objective or ":" not in tuning_objective:
        return None
    metric = tuning_objective.split(":", 1)[1].strip()
    return metric if metric.split("@", 1)[0] in EVAL_METRICS else None
