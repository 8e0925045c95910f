"""Feature matrix → predictions in the terms a user asked for: a score, and for classifiers a label.

``score`` is what SageMaker's built-in XGBoost container answers, the booster's own output, so clients
written for it keep working: the regression value, the probability of class 1 for a binary
classifier (its margin for ``binary:logitraw``), the class index for ``multi:softmax``, and one
probability per class for ``multi:softprob``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training_image.serving.model import ServedModel


@dataclass(frozen=True)
class Predictions:
    """Row-aligned arrays: ``labels`` are encoded class indices, ``probabilities`` one column per class.

    Both are ``None`` for regression; ``probabilities`` is also ``None`` for ``multi:softmax``, which
    yields only the class.
    """

    scores: np.ndarray  # one per row, or one list per row (multi:softprob, multi-output regression)
    labels: np.ndarray | None = None
    probabilities: np.ndarray | None = None


def predict(model: ServedModel, matrix: np.ndarray) -> Predictions:
    raw = model.booster.inplace_predict(matrix, iteration_range=model.iteration_range, validate_features=False)
    if model.problem_type == "regression":
        return Predictions(scores=raw)
    if raw.ndim == 2:  # multi:softprob: one probability per class
        return Predictions(scores=raw, labels=raw.argmax(axis=1), probabilities=raw)
    if model.problem_type == "binary":
        positive = 1.0 / (1.0 + np.exp(-raw)) if model.outputs_margin else raw
        labels = (positive >= 0.5).astype(np.int64)
        return Predictions(scores=raw, labels=labels, probabilities=np.column_stack([1.0 - positive, positive]))
    # multi:softmax predicts the class index itself.
    return Predictions(scores=raw, labels=raw.astype(np.int64))
