"""What the run report draws from the model's predictions on the test split, for ``evaluation.json``.

The report's figures need the predictions, and only the training job has both the model and the test
split in hand; the pipeline's functions never load a model. So the job writes the figures' data, kept
small (curves thinned to at most ``CURVE_POINTS`` points, a sample of at most ``SAMPLE_POINTS`` rows)
whatever the size of the test split, and the report draws it with the user's column and class names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xgboost as xgb

from core.schema import ProblemType

CURVE_POINTS = 200
SAMPLE_POINTS = 2000


def diagnostics(
    *,
    problem_type: ProblemType,
    booster: xgb.Booster,
    labels: np.ndarray,
    prediction: np.ndarray,
    source_columns: Sequence[str] | None,
) -> dict[str, Any]:
    """``prediction`` is the model's output on the test split: P(class 1) for binary, one probability
    per class for multiclass, the value for regression."""
    found: dict[str, Any] = {"importance": importance(booster, source_columns)}
    if problem_type == "regression":
        found["sample"] = sample(labels, prediction)
        return found
    predicted = (prediction > 0.5).astype(np.int64) if problem_type == "binary" else prediction.argmax(axis=1)
    classes = 2 if problem_type == "binary" else prediction.shape[1]
    found["confusion"] = confusion(labels.astype(np.int64), predicted, classes)
    if problem_type == "binary":
        found.update(curves(labels.astype(np.int64), prediction))
    return found


def importance(booster: xgb.Booster, source_columns: Sequence[str] | None) -> dict[str, float]:
    """Each input column's share of the model's total gain, largest first. A one-hot column's gain goes
    to its source column; total gain (not XGBoost's per-split average) is what adds up across them.
    Without a schema, columns are named by their position in the CSV after the label (``f0`` …)."""
    folded: dict[str, float] = {}
    for name, gain in booster.get_score(importance_type="total_gain").items():
        index = int(name[1:]) if name.startswith("f") and name[1:].isdigit() else None
        column = source_columns[index] if source_columns is not None and index is not None else name
        folded[column] = folded.get(column, 0.0) + float(gain)  # type: ignore[arg-type]
    total = sum(folded.values()) or 1.0
    return {column: gain / total for column, gain in sorted(folded.items(), key=lambda item: -item[1])}


def confusion(labels: np.ndarray, predicted: np.ndarray, classes: int) -> list[list[int]]:
    """``matrix[actual][predicted]`` counts."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix.tolist()


def curves(labels: np.ndarray, probability: np.ndarray) -> dict[str, dict[str, list[float]]]:
    """ROC and precision-recall curves, one point per distinct score threshold (highest first), thinned."""
    order = np.argsort(-probability, kind="stable")
    scores, positive = probability[order], labels[order] == 1
    last_of_threshold = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_positives = np.cumsum(positive)[last_of_threshold]
    false_positives = (last_of_threshold + 1) - true_positives
    positives, negatives = max(int(positive.sum()), 1), max(int((~positive).sum()), 1)
    keep = _thinned(len(last_of_threshold))
    tpr, fpr = true_positives / positives, false_positives / negatives
    precision = true_positives / (true_positives + false_positives)
    return {
        "roc": {"fpr": [0.0, *fpr[keep].tolist()], "tpr": [0.0, *tpr[keep].tolist()]},
        # from recall 0 at precision 1 (no row predicted positive), as sklearn draws it
        "precision_recall": {"recall": [0.0, *tpr[keep].tolist()], "precision": [1.0, *precision[keep].tolist()]},
    }


def sample(labels: np.ndarray, prediction: np.ndarray) -> dict[str, list[float]]:
    """Actual and predicted values of evenly spaced test rows (all of them when there are few)."""
    keep = _thinned(len(labels), SAMPLE_POINTS)
    return {"actual": labels[keep].astype(float).tolist(), "predicted": prediction[keep].astype(float).tolist()}


def _thinned(count: int, most: int = CURVE_POINTS) -> np.ndarray:
    """At most ``most`` evenly spaced indices of ``count``, the first and the last always among them."""
    if count <= most:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, most).round().astype(np.int64))
