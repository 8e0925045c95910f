"""Metrics of a model on a held-out channel, fitting the problem type, for ``evaluation.json``.

The image ships without scikit-learn, so the few metrics are written here with numpy (the unit tests
compare them with scikit-learn's). Predictions are taken as margins and turned into probabilities here,
so every objective of a problem type (logistic, logitraw, softmax, softprob) is scored the same way.
"""

from __future__ import annotations

import numpy as np
import xgboost as xgb
from scipy.stats import rankdata

from core.schema import ProblemType

EPSILON = 1e-15


def predict_margin(booster: xgb.Booster, features: np.ndarray) -> np.ndarray:
    return booster.inplace_predict(features, predict_type="margin")


def evaluate(*, problem_type: ProblemType, objective: str, labels: np.ndarray, margin: np.ndarray) -> dict:
    """Score one channel with the metrics that fit its problem type.

    binary → auc, accuracy, f1, logloss; multiclass → accuracy, f1 (macro), logloss; regression → rmse,
    mae, r2 (on the objective's own output scale).
    """
    labels = labels.astype(np.float64)
    margin = margin.astype(np.float64)
    if problem_type == "binary":
        hinge = objective == "binary:hinge"  # predicts 0 or 1 itself, no probability
        probability = (margin > 0).astype(np.float64) if hinge else 1.0 / (1.0 + np.exp(-margin))
        return binary_metrics(labels, probability)
    if problem_type == "multiclass":
        return multiclass_metrics(labels.astype(np.int64), softmax(margin))
    return regression_metrics(labels, _regression_output(objective, margin))


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


def binary_metrics(labels: np.ndarray, probability: np.ndarray) -> dict:
    predicted = probability >= 0.5
    positive = labels == 1
    clipped = np.clip(probability, EPSILON, 1 - EPSILON)
    logloss = -np.mean(np.where(positive, np.log(clipped), np.log(1 - clipped)))
    return {
        "auc": auc(positive, probability),
        "accuracy": float(np.mean(predicted == positive)),
        "f1": _f1(predicted, positive),
        "logloss": float(logloss),
    }


def multiclass_metrics(labels: np.ndarray, probability: np.ndarray) -> dict:
    predicted = probability.argmax(axis=1)
    classes = np.union1d(labels, predicted)
    picked = np.clip(probability[np.arange(labels.size), labels], EPSILON, 1.0)
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "f1": float(np.mean([_f1(predicted == c, labels == c) for c in classes])),
        "logloss": float(-np.mean(np.log(picked))),
    }


def regression_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict:
    error = predicted - labels
    total = np.sum((labels - labels.mean()) ** 2)
    return {
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mae": float(np.mean(np.abs(error))),
        "r2": float(1.0 - np.sum(error**2) / total) if total > 0 else None,
    }


def auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve by the rank-sum formula (ties count half); None with one class only."""
    n_positive = int(positive.sum())
    n_negative = positive.size - n_positive
    if n_positive == 0 or n_negative == 0:
        return None
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))


def _f1(predicted: np.ndarray, actual: np.ndarray) -> float:
    true_positive = np.sum(predicted & actual)
    denominator = np.sum(predicted) + np.sum(actual)
    return float(2 * true_positive / denominator) if denominator else 0.0
