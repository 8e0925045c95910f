import numpy as np
import pytest
from sklearn import metrics as sk

from training_image.evaluation import evaluate, output, softmax

RNG = np.random.default_rng(3)


def test_binary_metrics_agree_with_scikit_learn():
    labels = RNG.integers(0, 2, 500).astype(np.float32)
    margin = labels * 1.5 + RNG.normal(size=500)
    margin[:20] = 0.0  # ties, which the AUC must count half
    probability = 1 / (1 + np.exp(-margin))

    result = evaluate(
        problem_type="binary",
        labels=labels,
        prediction=output(problem_type="binary", objective="binary:logistic", margin=margin),
    )

    assert set(result) == {"auc", "accuracy", "f1", "logloss"}
    assert result["auc"] == pytest.approx(sk.roc_auc_score(labels, probability))
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(labels, probability >= 0.5))
    assert result["f1"] == pytest.approx(sk.f1_score(labels, probability >= 0.5))
    assert result["logloss"] == pytest.approx(sk.log_loss(labels, probability))


def test_multiclass_metrics_agree_with_scikit_learn():
    labels = RNG.integers(0, 3, 300)
    margin = np.eye(3)[labels] * 2 + RNG.normal(size=(300, 3))
    probability = softmax(margin)

    result = evaluate(
        problem_type="multiclass",
        labels=labels,
        prediction=output(problem_type="multiclass", objective="multi:softprob", margin=margin),
    )

    assert set(result) == {"accuracy", "f1", "logloss"}
    predicted = probability.argmax(axis=1)
    assert result["accuracy"] == pytest.approx(sk.accuracy_score(labels, predicted))
    assert result["f1"] == pytest.approx(sk.f1_score(labels, predicted, average="macro"))
    assert result["logloss"] == pytest.approx(sk.log_loss(labels, probability))


def test_regression_metrics_agree_with_scikit_learn_on_the_objectives_scale():
    labels = RNG.gamma(2.0, 3.0, 200)
    margin = np.log(labels) + RNG.normal(scale=0.1, size=200)

    result = evaluate(
        problem_type="regression",
        labels=labels,
        prediction=output(problem_type="regression", objective="reg:gamma", margin=margin),
    )

    assert set(result) == {"rmse", "mae", "r2"}
    predicted = np.exp(margin)  # the log link undone
    assert result["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(labels, predicted)))
    assert result["mae"] == pytest.approx(sk.mean_absolute_error(labels, predicted))
    assert result["r2"] == pytest.approx(sk.r2_score(labels, predicted))


def test_auc_with_a_single_class_is_null_not_a_number_json_cannot_hold():
    result = evaluate(
        problem_type="binary",
        labels=np.ones(5),
        prediction=output(problem_type="binary", objective="binary:logistic", margin=np.zeros(5)),
    )

    assert result["auc"] is None
