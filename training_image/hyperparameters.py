"""Hyperparameters: the built-in SageMaker XGBoost algorithm's names and meanings, validated from a table
(:data:`core.hyperparameters.RULES`).

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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import UserInputError
from core.hyperparameters import EVAL_METRICS, RULES, is_sagemaker_own
from core.problems import PROBLEMS, problem_of_objective
from core.schema import ProblemType

DEFAULT_NUM_ROUND = 100
DEFAULT_CHECKPOINT_FREQUENCY = 10

DROPPED_BY_XGBOOST = frozenset(
    {"single_precision_histogram", "deterministic_histogram", "use_dask_gpu_training", "lambda_bias",
     "sketch_eps", "save_model_on_termination", "prob_buffer_row"}
)  # fmt: skip
NOT_BOOSTER_PARAMETERS = frozenset({"num_round", "early_stopping_rounds", "checkpoint_frequency", "csv_weights"})


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
