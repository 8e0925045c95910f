from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from training_image.serving import encode
from training_image.serving.encode import (
    CSV,
    JSON,
    LABELLED_CSV,
    choose_media_type,
    encode_csv,
    encode_json,
    encode_labelled_csv,
)
from training_image.serving.predict import Predictions

SPECIES = ("Adelie", "Gentoo", "Chinstrap")


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        # the built-in container's: no Accept, or */*, is text/csv (sagemaker-xgboost-container 1.7-1)
        (None, CSV),
        ("", CSV),
        ("*/*", CSV),
        ("application/json", JSON),
        ("text/csv", CSV),
        ("text/csv; charset=utf-8", CSV),
        ("TEXT/CSV", CSV),
        ("text/*", CSV),
        ("application/*", JSON),
        ("application/json;q=0.5, text/csv", CSV),
        ("text/csv;q=0.2, application/json;q=0.9", JSON),
        ("image/png, text/csv;q=0.1", CSV),
        ("text/html, application/xhtml+xml, */*;q=0.8", CSV),
        ("image/png", None),
        ("text/csv;q=0", None),
        ("application/x-recordio-protobuf", None),
        # dropml's own CSV, with the user's class names
        ("text/csv; labels=true", LABELLED_CSV),
        ("text/csv;labels=true;q=0.9, application/json;q=0.5", LABELLED_CSV),
        ("text/csv; labels=false", CSV),
    ],
)
def test_accept_header_negotiation(accept: str | None, chosen: str | None) -> None:
    assert choose_media_type(accept) == chosen


@pytest.mark.parametrize(
    ("accept", "default", "chosen"),
    [(None, "application/json", JSON), ("*/*", "application/json", JSON), ("text/csv", "application/json", CSV),
     (None, "text/csv", CSV), (None, "application/x-recordio-protobuf", CSV), (None, "", CSV)],
)  # fmt: skip
def test_the_endpoints_default_accept_answers_requests_without_one(
    accept: str | None, default: str, chosen: str
) -> None:
    """SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT, as the built-in container reads it; one we cannot write is text/csv."""
    assert choose_media_type(accept, default) == chosen


def multiclass() -> Predictions:
    probabilities = np.array([[0.93, 0.05, 0.02], [0.1, 0.2, 0.7]], dtype=np.float32)
    return Predictions(scores=probabilities, labels=probabilities.argmax(axis=1), probabilities=probabilities)


def test_json_names_the_users_classes_and_keeps_the_builtins_score() -> None:
    answer = json.loads(encode_json(multiclass(), SPECIES))

    assert answer == {
        "predictions": [
            {
                "score": [0.93, 0.05, 0.02],
                "label": "Adelie",
                "probabilities": {"Adelie": 0.93, "Gentoo": 0.05, "Chinstrap": 0.02},
            },
            {
                "score": [0.1, 0.2, 0.7],
                "label": "Chinstrap",
                "probabilities": {"Adelie": 0.1, "Gentoo": 0.2, "Chinstrap": 0.7},
            },
        ]
    }


def builtin_csv(output: np.ndarray) -> bytes:
    """What sagemaker-xgboost-container 1.7-1 answers for text/csv: ``encoders.encode(preds.tolist(), CSV)``
    of sagemaker-containers 2.8.6, which reshapes a 1-D answer to a column and writes ``csv.writer`` rows."""
    array = np.array(output.tolist())
    if array.ndim == 1:
        array = array.reshape(array.shape[0], 1)
    stream = io.StringIO()
    csv.writer(stream, lineterminator="\n", delimiter=",", quotechar='"', doublequote=True, strict=True).writerows(
        array
    )
    return stream.getvalue().encode()


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        # binary:logistic: one probability per line, as the float32's value in full
        (np.array([0.43861908, 0.0635126], dtype=np.float32), b"0.43861907720565796\n0.06351260095834732\n"),
        # regression
        (np.array([4200.5, 3650.25], dtype=np.float32), b"4200.5\n3650.25\n"),
        # multi:softmax: the class index, as a float
        (np.array([2.0, 0.0], dtype=np.float32), b"2.0\n0.0\n"),
        # multi:softprob: one probability per class
        (np.array([[0.5, 0.25, 0.25]], dtype=np.float32), b"0.5,0.25,0.25\n"),
        (np.array([np.nan, np.inf], dtype=np.float32), b"nan\ninf\n"),
    ],
    ids=["binary", "regression", "softmax", "softprob", "non-finite"],
)
def test_csv_is_what_the_builtin_container_answers(output: np.ndarray, expected: bytes) -> None:
    labels = np.zeros(len(output), dtype=np.int64) if output.ndim == 2 else None
    predictions = Predictions(scores=output, labels=labels, probabilities=output if output.ndim == 2 else None)

    assert encode_csv(predictions, SPECIES) == builtin_csv(output) == expected
    read = np.loadtxt(io.StringIO(expected.decode()), delimiter=",", ndmin=2)
    assert np.array_equal(read, output.astype(np.float64).reshape(len(output), -1), equal_nan=True)


def test_labelled_csv_is_one_headerless_line_per_row_label_first() -> None:
    lines = encode_labelled_csv(multiclass(), SPECIES).decode().splitlines()

    assert lines == ["Adelie,0.93,0.05,0.02", "Chinstrap,0.1,0.2,0.7"]


def test_regression_answers_carry_only_a_score() -> None:
    predictions = Predictions(scores=np.array([4200.5, 3650.25], dtype=np.float32))

    assert json.loads(encode_json(predictions, ())) == {"predictions": [{"score": 4200.5}, {"score": 3650.25}]}
    assert encode_labelled_csv(predictions, ()) == b"4200.5\n3650.25\n"


def test_multi_output_regression_gives_a_list_per_row() -> None:
    predictions = Predictions(scores=np.array([[1.5, 2.0], [3.0, 4.25]], dtype=np.float32))

    assert json.loads(encode_json(predictions, ())) == {"predictions": [{"score": [1.5, 2.0]}, {"score": [3.0, 4.25]}]}
    assert encode_labelled_csv(predictions, ()) == b"1.5,2\n3,4.25\n"
    assert encode_csv(predictions, ()) == b"1.5,2.0\n3.0,4.25\n"


def test_softmax_classes_without_probabilities() -> None:
    predictions = Predictions(scores=np.array([2.0, 0.0], dtype=np.float32), labels=np.array([2, 0]))

    assert json.loads(encode_json(predictions, SPECIES)) == {
        "predictions": [{"score": 2.0, "label": "Chinstrap"}, {"score": 0.0, "label": "Adelie"}]
    }
    assert encode_labelled_csv(predictions, SPECIES) == b"Chinstrap\nAdelie\n"


def test_class_names_that_need_quoting_stay_intact() -> None:
    classes = ('say "no", politely', "Pingüino")
    predictions = Predictions(
        scores=np.array([0.25, 0.75], dtype=np.float32),
        labels=np.array([0, 1]),
        probabilities=np.array([[0.75, 0.25], [0.25, 0.75]], dtype=np.float32),
    )

    rows = list(csv.reader(io.StringIO(encode_labelled_csv(predictions, classes).decode())))
    answer = json.loads(encode_json(predictions, classes))

    assert rows == [[classes[0], "0.75", "0.25"], ["Pingüino", "0.25", "0.75"]]
    assert [p["label"] for p in answer["predictions"]] == list(classes)
    assert answer["predictions"][0]["probabilities"] == {classes[0]: 0.75, "Pingüino": 0.25}


def test_non_finite_scores_stay_valid_json() -> None:
    predictions = Predictions(scores=np.array([np.nan, np.inf, 1.0], dtype=np.float32))

    assert json.loads(encode_json(predictions, ())) == {
        "predictions": [{"score": None}, {"score": None}, {"score": 1.0}]
    }
    assert encode_labelled_csv(predictions, ()) == b"\n\n1\n"


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
    by_python = encode_json(predictions, SPECIES), encode_labelled_csv(predictions, SPECIES)
    monkeypatch.setattr(encode, "ARROW_JOIN_MIN_ROWS", 0)
    by_arrow = encode_json(predictions, SPECIES), encode_labelled_csv(predictions, SPECIES)

    assert by_python == by_arrow
    json.loads(by_python[0])
