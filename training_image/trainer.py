"""The pure training step: arrays and validated parameters in, a booster and its metrics out.

No files and no environment here (the orchestrator owns those), so the same function trains on one
host, on several inside a collective, and from a checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb
from xgboost.callback import EarlyStopping, EvaluationMonitor, TrainingCallback

from core.container import TRAIN_CHANNEL, VALIDATION_CHANNEL
from core.errors import UserInputError
from training_image.channels import Dataset
from training_image.hyperparameters import TrainingParameters

Metrics = dict[str, dict[str, float]]


@dataclass(frozen=True)
class TrainingResult:
    """The model to save (cut back to its best round under early stopping) and how it got there."""

    booster: xgb.Booster
    rounds: int
    best_iteration: int
    resumed_from: int
    metrics: Metrics


class RoundLog(EvaluationMonitor):
    r"""XGBoost's own per-round line (``[12]\ttrain-auc:0.98…``), numbered across resumes.

    SageMaker's MetricDefinitions regexes for the built-in algorithm parse exactly this line; the
    printer is passed in so it goes to stdout whether or not a collective is active.
    """

    def __init__(self, first_round: int, printer: Callable[[str], None]) -> None:
        super().__init__(logger=printer)
        self.first_round = first_round

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: TrainingCallback.EvalsLog) -> bool:
        return super().after_iteration(model, epoch + self.first_round, evals_log)


def check_labels(dataset: Dataset, parameters: TrainingParameters, channel: str) -> None:
    """Refuse labels the objective cannot take, in words (XGBoost's own message names no row)."""
    labels = dataset.labels
    if parameters.problem_type == "binary":
        bad = np.flatnonzero((labels != 0) & (labels != 1))
        expected = "0 or 1"
    elif parameters.problem_type == "multiclass":
        classes = parameters.booster_params["num_class"]
        bad = np.flatnonzero((labels < 0) | (labels >= classes) | (labels != np.floor(labels)))
        expected = f"a class index 0..{classes - 1}"
    else:
        bad = np.flatnonzero(~np.isfinite(labels))
        expected = "a finite number"
    if bad.size:
        row = int(bad[0])
        raise UserInputError(
            f"channel {channel!r}: row {row + 1} has label {labels[row]:g}, expected {expected} "
            f"for objective {parameters.booster_params['objective']}"
        )


def train(
    *,
    train: Dataset,
    validation: Dataset | None,
    parameters: TrainingParameters,
    device: str,
    resume_from: xgb.Booster | None = None,
    callbacks: Sequence[TrainingCallback] = (),
    printer: Callable[[str], None] = print,
) -> TrainingResult:
    """Boost up to ``parameters.num_round`` rounds in all, continuing ``resume_from`` when given."""
    params: dict[str, Any] = {**parameters.booster_params, "device": device}
    if parameters.early_stopping_rounds and validation is None:
        raise UserInputError(
            "hyperparameter early_stopping_rounds needs a validation channel", column="early_stopping_rounds"
        )
    dtrain = _matrix(train)
    evals = [(dtrain, TRAIN_CHANNEL)]
    if validation is not None:
        evals.append((_matrix(validation), VALIDATION_CHANNEL))
    done = resume_from.num_boosted_rounds() if resume_from is not None else 0
    if done >= parameters.num_round:
        assert resume_from is not None
        return TrainingResult(resume_from, done, done - 1, done, _metrics_now(resume_from, evals))

    every_round: list[TrainingCallback] = [RoundLog(done, printer), *callbacks]
    if parameters.early_stopping_rounds:
        every_round.append(EarlyStopping(rounds=parameters.early_stopping_rounds, data_name=VALIDATION_CHANNEL))
    history: dict[str, Any] = {}
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=parameters.num_round - done,
        evals=evals,
        xgb_model=resume_from,
        callbacks=every_round,
        verbose_eval=False,
        evals_result=history,
    )
    rounds = booster.num_boosted_rounds()
    best = int(booster.attr("best_iteration") or rounds - 1) if parameters.early_stopping_rounds else rounds - 1
    at = best - done  # index of the best round in this run's history
    metrics = {name: {metric: float(log[at]) for metric, log in logs.items()} for name, logs in history.items()}
    if best + 1 < rounds and params.get("booster") != "gblinear":
        booster = booster[: best + 1]
    return TrainingResult(booster, rounds, best, done, metrics)


def _matrix(dataset: Dataset) -> xgb.DMatrix:
    """A plain DMatrix, as the built-in algorithm uses.

    QuantileDMatrix would hold a fraction of the memory, but building it from arrays is mostly serial:
    at 500,000 x 48 on two busy cores it took about 35% more wall time than DMatrix plus the first round's
    sketch (same CPU time), which put ``train`` well behind a bare ``xgboost.train`` (benchmarks/training.py).
    """
    return xgb.DMatrix(dataset.features, dataset.labels, weight=dataset.weights)


def _metrics_now(booster: xgb.Booster, evals: list[tuple[xgb.DMatrix, str]]) -> Metrics:
    r"""Parse ``Booster.eval_set``'s line (``[0]\ttrain-auc:0.9\t…``) when no round was run."""
    metrics: Metrics = {}
    for field in booster.eval_set(evals).split("\t")[1:]:
        key, value = field.rsplit(":", 1)
        name, metric = key.split("-", 1)
        metrics.setdefault(name, {})[metric] = float(value)
    return metrics
