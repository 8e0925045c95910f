"""Metrics of a model on a held-out channel, fitting the problem type, for ``evaluation.json``.

The metrics themselves are :func:`core.metrics.score`, the one implementation the evaluate step also
uses on the live model, so champion and challenger are measured alike. Predictions are taken as margins
and turned into probabilities here, so every objective of a problem type (logistic, logitraw, softmax,
softprob) is scored the same way.
"""

from __future__ import annotations

import numpy as np
import xgboost as xgb

from core.metrics import score
from core.schema import ProblemType


def predict_margin(booster: xgb.Booster, features: np.ndarray) -> np.ndarray:
    return booster.inplace_predict(features, predict_type="margin")


def output(*, problem_type: ProblemType, objective: str, margin: np.ndarray) -> np.ndarray:
    """The model's answer from its margin: P(class 1) for binary, one probability per class for
    multiclass, the value on the objective's own scale for regression."""
    margin = margin.astype(np.float64)
    if problem_type == "binary":
        if objective == "binary:hinge":  # predicts 0 or 1 itself, no probability
            return (margin > 0).astype(np.float64)
        return 1.0 / (1.0 + np.exp(-margin))
    if problem_type == "multiclass":
        return softmax(margin)
    return _regression_output(objective, margin)


def evaluate(*, problem_type: ProblemType, labels: np.ndarray, prediction: np.ndarray) -> dict[str, float | None]:
    """Score one channel's :func:`output` with the metrics that fit its problem type.

    binary → auc, accuracy, f1, logloss; multiclass → accuracy, f1 (macro), logloss; regression → rmse,
    mae, r2 (on the objective's own output scale).
    """
    labels = labels.astype(np.float64)
    if problem_type == "multiclass":
        return score("multiclass", labels.astype(np.int64), prediction)
    return score(problem_type, labels, prediction)


def _regression_output(objective: str, margin: np.ndarray) -> np.ndarray:
    """Undo the link function: log-link objectives predict exp(margin), reg:logistic a sigmoid."""
    if objective in ("count:poisson", "reg:gamma", "reg:tweedie"):
        return np.exp(margin)
    if objective == "reg:logistic":
        return 1.0 / (1.0 + np.exp(-margin))
    return margin


def softmax(margin: np.ndarray) -> np.ndarray:
    shifted = np.exp(margin - margin.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
