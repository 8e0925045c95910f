from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from training_image.serving import encode
from training_image.serving.encode import CSV, JSON, choose_media_type, encode_csv, encode_json
from training_image.serving.predict import Predictions

SPECIES = ("Adelie", "Gentoo", "Chinstrap")


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/json", JSON),
        ("text/csv", CSV),
        ("text/csv; charset=utf-8", CSV),
        ("TEXT/CSV", CSV),
        ("text/*", CSV),
        ("application/json;q=0.5, text/csv", CSV),
        ("text/csv;q=0.2, application/json;q=0.9", JSON),
        ("image/png, text/csv;q=0.1", CSV),
        ("text/html, application/xhtml+xml, */*;q=0.8", JSON),
        ("image/png", None),
        ("text/csv;q=0", None),
        ("application/x-recordio-protobuf", None),
    ],
)
def test_accept_header_negotiation(accept: str | None, chosen: str | None) -> None:
    assert choose_media_type(accept) == chosen


def multiclass() -> Predictions:
    probabilities = np.array([[0.93, 0.05, 0.02], [0.1, 0.2, 0.7]], dtype=np.float32)
    labels = probabilities.argmax(axis=1)
    return Predictions(scores=probabilities.max(axis=1), labels=labels, probabilities=probabilities)


def test_json_names_the_users_classes_and_keeps_score() -> None:
    answer = json.loads(encode_json(multiclass(), SPECIES))

    assert answer == {
        "predictions": [
            {"score": 0.93, "label": "Adelie", "probabilities": {"Adelie": 0.93, "Gentoo": 0.05, "Chinstrap": 0.02}},
            {"score": 0.7, "label": "Chinstrap", "probabilities": {"Adelie": 0.1, "Gentoo": 0.2, "Chinstrap": 0.7}},
        ]
    }


def test_csv_is_one_headerless_line_per_row_score_first() -> None:
    lines = encode_csv(multiclass(), SPECIES).decode().splitlines()

    assert lines == ["0.93,Adelie,0.93,0.05,0.02", "0.7,Chinstrap,0.1,0.2,0.7"]


def test_regression_answers_carry_only_a_score() -> None:
    predictions = Predictions(scores=np.array([4200.5, 3650.25], dtype=np.float32))

    assert json.loads(encode_json(predictions, ())) == {"predictions": [{"score": 4200.5}, {"score": 3650.25}]}
    assert encode_csv(predictions, ()) == b"4200.5\n3650.25\n"


def test_multi_output_regression_gives_a_list_per_row() -> None:
    predictions = Predictions(scores=np.array([[1.5, 2.0], [3.0, 4.25]], dtype=np.float32))

    assert json.loads(encode_json(predictions, ())) == {"predictions": [{"score": [1.5, 2.0]}, {"score": [3.0, 4.25]}]}
    assert encode_csv(predictions, ()) == b"1.5,2\n3,4.25\n"


def test_softmax_classes_without_probabilities() -> None:
    predictions = Predictions(scores=np.array([2.0, 0.0], dtype=np.float32), labels=np.array([2, 0]))

    assert json.loads(encode_json(predictions, SPECIES)) == {
        "predictions": [{"score": 2.0, "label": "Chinstrap"}, {"score": 0.0, "label": "Adelie"}]
    }


def test_class_names_that_need_quoting_stay_intact() -> None:
    classes = ('say "no", politely', "Pingüino")
    predictions = Predictions(
        scores=np.array([0.25, 0.75], dtype=np.float32),
        labels=np.array([0, 1]),
        probabilities=np.array([[0.75, 0.25], [0.25, 0.75]], dtype=np.float32),
    )

    rows = list(csv.reader(io.StringIO(encode_csv(predictions, classes).decode())))
    answer = json.loads(encode_json(predictions, classes))

    assert rows == [["0.25", classes[0], "0.75", "0.25"], ["0.75", "Pingüino", "0.25", "0.75"]]
    assert [p["label"] for p in answer["predictions"]] == list(classes)
    assert answer["predictions"][0]["probabilities"] == {classes[0]: 0.75, "Pingüino": 0.25}


def test_non_finite_scores_stay_valid_json() -> None:
    predictions = Predictions(scores=np.array([np.nan, np.inf, 1.0], dtype=np.float32))

    assert json.loads(encode_json(predictions, ())) == {
        "predictions": [{"score": None}, {"score": None}, {"score": 1.0}]
    }
    assert encode_csv(predictions, ()) == b"\n\n1\n"


@pytest.mark.parametrize(
    "predictions",
    [
        multiclass(),
        Predictions(scores=np.array([0.25, np.nan, 0.75], dtype=np.float32)),
        Predictions(scores=np.array([[1.5, np.inf], [3.0, 4.25]], dtype=np.float32)),
        Predictions(scores=np.array([2.0, 0.0], dtype=np.float32), labels=np.array([2, 0])),
    ],
    ids=["multiclass", "regression", "multi-output", "softmax"],
)
def test_small_and_large_answers_are_joined_to_the_same_bytes(
    predictions: Predictions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python joins small answers and Arrow large ones: the choice must never show in the output."""
    monkeypatch.setattr(encode, "ARROW_JOIN_MIN_ROWS", 10**9)
    by_python = encode_json(predictions, SPECIES), encode_csv(predictions, SPECIES)
    monkeypatch.setattr(encode, "ARROW_JOIN_MIN_ROWS", 0)
    by_arrow = encode_json(predictions, SPECIES), encode_csv(predictions, SPECIES)

    assert by_python == by_arrow
    json.loads(by_python[0])
