"""Feature matrix → predictions in the terms a user asked for: a score, and for classifiers a label.

``score`` keeps the meaning it has in SageMaker's built-in XGBoost container (the regression value,
the probability of class 1 for a binary classifier), so clients written for it keep working; a
multiclass model's score is the probability of the predicted class.
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

    scores: np.ndarray
    labels: np.ndarray | None = None
    probabilities: np.ndarray | None = None


def predict(model: ServedModel, matrix: np.ndarray) -> Predictions:
    raw = model.booster.inplace_predict(matrix, iteration_range=model.iteration_range, validate_features=False)
    if model.problem_type == "regression":
        return Predictions(scores=raw)
    if raw.ndim == 2:  # multi:softprob: one probability per class
        labels = raw.argmax(axis=1)
        return Predictions(scores=raw[np.arange(len(raw)), labels], labels=labels, probabilities=raw)
    if model.problem_type == "binary":
        positive = 1.0 / (1.0 + np.exp(-raw)) if model.outputs_margin else raw
        labels = (positive >= 0.5).astype(np.int64)
        return Predictions(scores=raw, labels=labels, probabilities=np.column_stack([1.0 - positive, positive]))
    # multi:softmax predicts the class index itself.
    return Predictions(scores=raw, labels=raw.astype(np.int64))
