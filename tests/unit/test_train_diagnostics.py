import numpy as np
import xgboost as xgb
from sklearn import metrics as sk

from core.schema import Feature, Schema
from training_image.diagnostics import CURVE_POINTS, SAMPLE_POINTS, diagnostics

RNG = np.random.default_rng(7)
# an input column "colour" one-hot encoded into three model columns, then "size"
SCHEMA = Schema(
    target="label",
    problem_type="binary",
    features=(Feature("colour", "categorical", ("red", "green", "blue")), Feature("size", "numeric")),
    classes=("no", "yes"),
)


def _binary(rows: int) -> tuple[xgb.Booster, np.ndarray, np.ndarray]:
    colour = RNG.integers(0, 3, rows)
    size = RNG.normal(size=rows)
    features = np.column_stack([colour == 0, colour == 1, colour == 2, size]).astype(np.float32)
    labels = ((colour == 0) ^ (size + 0.4 * RNG.normal(size=rows) > 0.8)).astype(np.float64)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(features, labels), 20)
    return booster, labels, booster.predict(xgb.DMatrix(features))


def test_binary_figures_data_agree_with_sklearn_and_fold_one_hot_columns_into_their_column() -> None:
    booster, labels, probability = _binary(3000)
    found = diagnostics(
        problem_type="binary",
        booster=booster,
        labels=labels,
        prediction=probability,
        source_columns=SCHEMA.source_columns(),
    )
    assert set(found["importance"]) == {"colour", "size"}
    assert abs(sum(found["importance"].values()) - 1) < 1e-9
    assert found["confusion"] == sk.confusion_matrix(labels, probability > 0.5).tolist()
    roc = found["roc"]
    assert len(roc["fpr"]) <= CURVE_POINTS + 1
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(roc["fpr"]) >= 0) and np.all(np.diff(roc["tpr"]) >= 0)
    # thinned, the curve's area is still the model's AUC
    assert abs(np.trapezoid(roc["tpr"], roc["fpr"]) - sk.roc_auc_score(labels, probability)) < 0.01
    curve = found["precision_recall"]
    assert (curve["recall"][0], curve["precision"][0], curve["recall"][-1]) == (0.0, 1.0, 1.0)
    recall, precision = np.array(curve["recall"]), np.array(curve["precision"])
    average_precision = float(np.sum(np.diff(recall) * precision[1:]))  # sklearn's step-wise definition
    assert abs(average_precision - sk.average_precision_score(labels, probability)) < 0.02


def test_multiclass_confusion_counts_every_test_row_by_actual_and_predicted_class() -> None:
    features = RNG.normal(size=(600, 2)).astype(np.float32)
    labels = (features[:, 0] > 0).astype(np.int64) + (features[:, 1] > 0.5)
    booster = xgb.train({"objective": "multi:softprob", "num_class": 3}, xgb.DMatrix(features, labels), 10)
    probabilities = booster.predict(xgb.DMatrix(features))
    found = diagnostics(
        problem_type="multiclass", booster=booster, labels=labels, prediction=probabilities, source_columns=None
    )
    assert found["confusion"] == sk.confusion_matrix(labels, probabilities.argmax(axis=1), labels=[0, 1, 2]).tolist()
    assert "roc" not in found
    assert set(found["importance"]) <= {"f0", "f1"}  # no schema: the CSV's feature columns by position


def test_regression_keeps_an_evenly_spaced_sample_of_actual_and_predicted_values() -> None:
    features = RNG.normal(size=(5000, 2)).astype(np.float32)
    labels = 3 * features[:, 0] + RNG.normal(size=5000)
    booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(features, labels), 10)
    predicted = booster.predict(xgb.DMatrix(features))
    found = diagnostics(
        problem_type="regression", booster=booster, labels=labels, prediction=predicted, source_columns=None
    )
    sample = found["sample"]
    assert len(sample["actual"]) == len(sample["predicted"]) == SAMPLE_POINTS
    assert sample["actual"][0] == labels[0] and sample["actual"][-1] == labels[-1]
    assert sample["predicted"][-1] == float(predicted[-1])
    assert "confusion" not in found
