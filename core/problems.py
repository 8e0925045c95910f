"""What each problem type means to the pipeline, in one table.

The plan (which objective to train, which metric to tune and in which direction), the training image
(its default objective, which problem an objective solves), serving (reading a model without a schema)
and the champion/challenger decision (which metric to compare) must agree, or a model tuned for one
metric is judged on another. So each reads this table instead of keeping its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.schema import ProblemType


@dataclass(frozen=True)
class Problem:
    """``objective``: XGBoost's default for the problem; ``tuning_metric``: what the tuner optimises on
    the validation channel, ``tuning_direction`` SageMaker's word for which way is better;
    ``comparison_metric``: what champion and challenger are compared on (a :func:`core.metrics.score`
    name), ``higher_is_better`` its direction; ``eval_metrics``: what the image logs per round when
    the user names none (early stopping watches the last one, so the tuning metric comes last)."""

    objective: str
    tuning_metric: str
    tuning_direction: Literal["Maximize", "Minimize"]
    comparison_metric: str
    higher_is_better: bool
    eval_metrics: tuple[str, ...]


PROBLEMS: dict[ProblemType, Problem] = {
    "binary": Problem("binary:logistic", "auc", "Maximize", "auc", True, ("logloss", "auc")),
    "multiclass": Problem("multi:softprob", "mlogloss", "Minimize", "logloss", False, ("merror", "mlogloss")),
    "regression": Problem("reg:squarederror", "rmse", "Minimize", "rmse", False, ("rmse",)),
}


def problem_of_objective(objective: str) -> ProblemType:
    """The problem an XGBoost objective solves: ``binary:*``, ``multi:*``, anything else is a number."""
    if objective.startswith("binary:"):
        return "binary"
    if objective.startswith("multi:"):
        return "multiclass"
    return "regression"
