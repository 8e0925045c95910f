from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from core.errors import UserInputError
from tests.helpers.serving import SPECIES, penguin_records, penguin_schema, train_penguin_model
from training_image.serving.model import load_model
from training_image.serving.predict import predict


def test_multiclass_labels_are_the_users_species(tmp_path: Path) -> None:
    train_penguin_model(tmp_path / "model", "multiclass")
    model = load_model(tmp_path / "model")
    records = penguin_records()
    truth = [r["species"] for r in records]

    predictions = predict(model, penguin_schema("multiclass").encode_records(records))

    assert model.classes == SPECIES
    assert predictions.probabilities is not None and predictions.labels is not None
    assert predictions.probabilities.shape == (len(records), 3)
    np.testing.assert_allclose(predictions.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(predictions.scores, predictions.probabilities)  # the built-in's score
    accuracy = np.mean([model.classes[i] == t for i, t in zip(predictions.labels, truth, strict=True)])
    assert accuracy > 0.9


def test_binary_score_is_the_probability_of_the_second_class(tmp_path: Path) -> None:
    booster = train_penguin_model(tmp_path / "model", "binary")
    model = load_model(tmp_path / "model")
    matrix = penguin_schema("binary").encode_records(penguin_records()[:40])

    predictions = predict(model, matrix)

    expected = booster.inplace_predict(matrix)
    np.testing.assert_array_equal(predictions.scores, expected)
    assert predictions.labels is not None and predictions.probabilities is not None
    np.testing.assert_array_equal(predictions.labels, (expected >= 0.5).astype(int))
    np.testing.assert_allclose(predictions.probabilities[:, 1], expected)
    assert model.classes == ("other", "Adelie")


def test_regression_predicts_body_mass_without_labels(tmp_path: Path) -> None:
    train_penguin_model(tmp_path / "model", "regression", rounds=30)
    model = load_model(tmp_path / "model")
    records = [r for r in penguin_records() if r["body_mass_g"] is not None]

    predictions = predict(model, penguin_schema("regression").encode_records(records))

    assert predictions.labels is None and predictions.probabilities is None
    truth = np.array([r["body_mass_g"] for r in records], dtype=float)
    assert np.mean(np.abs(predictions.scores - truth)) < 400  # grams; the spread is ~800


def test_without_a_schema_classes_are_the_encoded_indices(tmp_path: Path) -> None:
    train_penguin_model(tmp_path / "model", "multiclass", with_schema=False)

    model = load_model(tmp_path / "model")

    assert (model.schema, model.problem_type, model.classes) == (None, "multiclass", ("0", "1", "2"))


def test_logitraw_margins_become_probabilities_for_the_label(tmp_path: Path) -> None:
    matrix = penguin_schema("binary").encode_records(penguin_records())
    labels = np.array([r["species"] == "Adelie" for r in penguin_records()], dtype=float)
    booster = xgb.train({"objective": "binary:logitraw", "nthread": 1}, xgb.DMatrix(matrix, label=labels), 5)
    booster.save_model(_model_file(tmp_path))

    predictions = predict(load_model(tmp_path / "model"), matrix)

    margins = booster.inplace_predict(matrix)
    assert predictions.labels is not None and predictions.probabilities is not None
    np.testing.assert_array_equal(predictions.scores, margins)
    np.testing.assert_array_equal(predictions.labels, (margins >= 0).astype(int))
    np.testing.assert_allclose(predictions.probabilities[:, 1], 1 / (1 + np.exp(-margins)), rtol=1e-6)


def test_softmax_predicts_the_class_index(tmp_path: Path) -> None:
    matrix = penguin_schema("multiclass").encode_records(penguin_records())
    labels = np.array([SPECIES.index(str(r["species"])) for r in penguin_records()], dtype=float)
    params = {"objective": "multi:softmax", "num_class": 3, "nthread": 1}
    xgb.train(params, xgb.DMatrix(matrix, label=labels), 5).save_model(_model_file(tmp_path))

    predictions = predict(load_model(tmp_path / "model"), matrix)

    assert predictions.probabilities is None and predictions.labels is not None
    assert set(predictions.labels.tolist()) == {0, 1, 2}


def test_early_stopped_models_predict_with_their_best_iteration(tmp_path: Path) -> None:
    matrix = penguin_schema("binary").encode_records(penguin_records())
    labels = np.array([r["species"] == "Adelie" for r in penguin_records()], dtype=float)
    booster = xgb.train({"objective": "binary:logistic", "nthread": 1}, xgb.DMatrix(matrix, label=labels), 10)
    booster.set_attr(best_iteration="2")
    booster.save_model(_model_file(tmp_path))

    predictions = predict(load_model(tmp_path / "model"), matrix)

    np.testing.assert_array_equal(predictions.scores, booster.inplace_predict(matrix, iteration_range=(0, 3)))
    assert not np.array_equal(predictions.scores, booster.inplace_predict(matrix))


def test_a_schema_that_does_not_fit_the_model_is_refused_at_load(tmp_path: Path) -> None:
    train_penguin_model(tmp_path / "model", "multiclass")
    (tmp_path / "model" / "schema.json").write_text(penguin_schema("regression").to_json())

    with pytest.raises(UserInputError, match=r"describes 9 model columns but model\.ubj expects 10"):
        load_model(tmp_path / "model")


def test_a_model_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"no model\.ubj"):
        load_model(tmp_path)


def _model_file(tmp_path: Path) -> Path:
    (tmp_path / "model").mkdir()
    return tmp_path / "model" / "model.ubj"
