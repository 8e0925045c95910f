import numpy as np
import pytest
from sklearn.metrics import f1_score, log_loss, mean_absolute_error, r2_score, roc_auc_score

from core.metrics import improvement, score

rng = np.random.default_rng(7)


def test_binary_metrics_agree_with_scikit_learn_including_ties() -> None:
    labels = rng.integers(0, 2, 2000)
    scores = np.round(np.clip(labels * 0.3 + rng.random(2000) * 0.7, 0.001, 0.999), 2)  # many ties
    got = score("binary", labels, scores)
    assert got["auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert got["f1"] == pytest.approx(f1_score(labels, scores >= 0.5))
    assert got["logloss"] == pytest.approx(log_loss(labels, scores))
    assert got["accuracy"] == pytest.approx(np.mean((scores >= 0.5) == labels))


def test_multiclass_metrics_agree_with_scikit_learn() -> None:
    labels = rng.integers(0, 4, 800)
    probabilities = rng.random((800, 4)) + np.eye(4)[labels]
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    got = score("multiclass", labels, probabilities)
    assert got["f1"] == pytest.approx(f1_score(labels, probabilities.argmax(1), average="macro"))
    assert got["logloss"] == pytest.approx(log_loss(labels, probabilities))


def test_regression_metrics_agree_with_scikit_learn() -> None:
    labels = rng.normal(100, 20, 500)
    predictions = labels + rng.normal(0, 5, 500)
    got = score("regression", labels, predictions)
    assert got["rmse"] == pytest.approx(np.sqrt(np.mean((labels - predictions) ** 2)))
    assert got["mae"] == pytest.approx(mean_absolute_error(labels, predictions))
    assert got["r2"] == pytest.approx(r2_score(labels, predictions))


def test_improvement_respects_metric_direction() -> None:
    assert improvement("binary", 0.90, 0.80) == pytest.approx(0.125)
    assert improvement("binary", 0.80, 0.90) < 0
    assert improvement("regression", 8.0, 10.0) == pytest.approx(0.2)
    assert improvement("multiclass", 0.5, 0.4) < 0
