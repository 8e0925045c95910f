"""Model quality metrics, computed the same way wherever a model is judged.

The training image reports the winner's metrics on the test split; the evaluate step scores the live
model on the same rows. If each computed AUC or RMSE its own way, champion and challenger would not be
comparable, so both call :func:`score`. Plain numpy: no scikit-learn in the Lambda package.
"""

from __future__ import annotations

import numpy as np

from core.problems import PROBLEMS
from core.schema import ProblemType

_EPS = 1e-15


def score(problem_type: ProblemType, labels: np.ndarray, predictions: np.ndarray) -> dict[str, float | None]:
    """Metrics that fit the problem type.

    ``predictions``: P(class 1) per row for binary, an (n, k) probability matrix for multiclass, the
    predicted value for regression. A metric that is undefined on these rows (AUC with one class, R²
    of a constant label) is None, which JSON can carry and a comparison can see.
    """
    labels = np.asarray(labels, dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64)
    if len(labels) == 0:
        raise ValueError("no rows to score")
    if problem_type == "binary":
        predicted = (predictions >= 0.5).astype(np.float64)
        p = np.clip(predictions, _EPS, 1 - _EPS)
        return {
            "auc": _auc(labels, predictions),
            "accuracy": float(np.mean(predicted == labels)),
            "f1": _f1(labels, predicted, positive=1.0),
            "logloss": float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))),
        }
    if problem_type == "multiclass":
        probabilities = np.clip(predictions, _EPS, 1.0)
        probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
        classes = labels.astype(np.int64)
        predicted = probabilities.argmax(axis=1)
        return {
            "accuracy": float(np.mean(predicted == classes)),
            # macro F1 over the classes present in labels or predictions, as scikit-learn averages it
            "f1": float(np.mean([_f1(classes, predicted, positive=k) for k in np.union1d(classes, predicted)])),
            "logloss": float(-np.mean(np.log(probabilities[np.arange(len(classes)), classes]))),
        }
    errors = predictions - labels
    total = float(np.sum((labels - labels.mean()) ** 2))
    return {
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mae": float(np.mean(np.abs(errors))),
        "r2": float(1 - np.sum(errors**2) / total) if total > 0 else None,
    }


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half; None with one class only."""
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based rank, averaged over ties
    ranks = average_rank[inverse]
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _f1(labels: np.ndarray, predicted: np.ndarray, *, positive: float) -> float:
    tp = float(np.sum((predicted == positive) & (labels == positive)))
    fp = float(np.sum((predicted == positive) & (labels != positive)))
    fn = float(np.sum((predicted != positive) & (labels == positive)))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def improvement(problem_type: ProblemType, challenger: float, champion: float) -> float:
    """Relative improvement of the challenger over the champion on the comparison metric (>0 is better)."""
    gain = challenger - champion if PROBLEMS[problem_type].higher_is_better else champion - challenger
    return gain / abs(champion) if champion != 0 else (float("inf") if gain > 0 else 0.0)
