from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from core.errors import UserInputError
from core.schema import Feature, Schema
from tests.helpers.serving import penguin_records, penguin_schema, train_penguin_model
from training_image.serving.decode import ARROW_MIN_BYTES, DECODERS, decode_csv, decode_json
from training_image.serving.model import ServedModel, load_model


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> ServedModel:
    model_dir = tmp_path_factory.mktemp("opt_ml") / "model"
    train_penguin_model(model_dir, rounds=2)
    return load_model(model_dir)


@pytest.fixture(scope="module")
def schemaless(tmp_path_factory: pytest.TempPathFactory) -> ServedModel:
    model_dir = tmp_path_factory.mktemp("opt_ml") / "model"
    train_penguin_model(model_dir, rounds=2, with_schema=False)
    return load_model(model_dir)


def csv_line(values: list[object]) -> str:
    return ",".join("" if v is None else str(v) for v in values)


# ---- CSV ----------------------------------------------------------------------------------------------


def test_csv_rows_become_a_float32_matrix(model: ServedModel) -> None:
    body = b"0,1,0,39.1,18.7,181,3750,1,0,2007\n1,0,0,46.5,17.9,192,3500,0,1,2008\n"

    matrix = decode_csv(body, model)

    assert matrix.dtype == np.float32
    assert matrix.shape == (2, 10)
    assert matrix[1, 3] == pytest.approx(46.5)


def test_csv_empty_cells_and_na_spellings_are_missing(model: ServedModel) -> None:
    body = b"0,1,0,,18.7,NA,n/a,?,-,2007\r\n\n"

    matrix = decode_csv(body, model)

    assert matrix.shape == (1, 10)
    assert np.isnan(matrix[0, [3, 5, 6, 7, 8]]).all()
    assert (matrix[0, 4], matrix[0, 9]) == (pytest.approx(18.7), 2007)


def test_csv_with_the_wrong_number_of_values_names_the_expected_count(model: ServedModel) -> None:
    body = b"0,1,0,39.1,18.7,181,3750,1,0,2007\n0,1,0,39.1\n"

    with pytest.raises(UserInputError) as refused:
        decode_csv(body, model)

    assert "line 2 has 4 values" in refused.value.reason
    assert "expects 10" in refused.value.reason
    assert refused.value.line == 2


def test_csv_with_a_word_among_numbers_names_line_and_value(model: ServedModel) -> None:
    with pytest.raises(UserInputError) as refused:
        decode_csv(b"0,1,0,39.1,18.7,181,3750,1,0,2007\n0,1,0,Dream,18.7,181,3750,1,0,2007\n", model)

    assert refused.value.reason == "line 2, value 4: expected a number, got 'Dream'"


def test_csv_that_is_not_text_is_refused(model: ServedModel) -> None:
    with pytest.raises(UserInputError, match="not UTF-8"):
        decode_csv(b"\xff\xfe\x00garbage", model)


def test_csv_of_blank_lines_holds_no_rows(model: ServedModel) -> None:
    with pytest.raises(UserInputError, match="no rows"):
        decode_csv(b"\n \n", model)


def test_quoted_csv_values_are_read(model: ServedModel) -> None:
    matrix = decode_csv(b'"0","1",0,"39.1",18.7,181,3750,1,0,2007\n', model)

    assert matrix[0, 3] == pytest.approx(39.1)


def test_large_csv_bodies_decode_exactly_as_small_ones(model: ServedModel) -> None:
    """Bodies over ARROW_MIN_BYTES take pyarrow's parser; it must agree with the reference one."""
    rng = np.random.default_rng(1)
    values = rng.normal(size=(800, 10)).round(3).astype(object)
    values[rng.random(values.shape) < 0.1] = None
    values[3, 2] = "NA"
    values[5, 7] = "nan"
    lines = [csv_line(list(row)) for row in values]
    body = ("\n".join(lines) + "\n").encode()
    assert len(body) >= ARROW_MIN_BYTES

    whole = decode_csv(body, model)
    line_by_line = np.vstack([decode_csv(line.encode(), model) for line in lines])

    np.testing.assert_array_equal(whole, line_by_line)
    assert np.isnan(whole[3, 2]) and np.isnan(whole[5, 7])


def test_large_csv_body_with_a_short_line_is_refused_with_its_line_number(model: ServedModel) -> None:
    lines = ["0,1,0,39.1,18.7,181,3750,1,0,2007"] * 1000
    lines[700] = "0,1,0,39.1"
    body = ("\n".join(lines) + "\n").encode()
    assert len(body) >= ARROW_MIN_BYTES

    with pytest.raises(UserInputError, match="line 701 has 4 values"):
        decode_csv(body, model)


# ---- JSON ---------------------------------------------------------------------------------------------


def test_json_numeric_rows(model: ServedModel) -> None:
    rows = [[0, 1, 0, 39.1, 18.7, 181, 3750, 1, 0, 2007], [1, 0, 0, None, 17.9, 192, 3500, 0, 1, 2008]]

    matrix = decode_json(json.dumps(rows).encode(), model)

    assert matrix.shape == (2, 10)
    assert np.isnan(matrix[1, 3])


def test_json_single_numeric_row_and_instances_wrapper(model: ServedModel) -> None:
    row = [0, 1, 0, 39.1, 18.7, 181, 3750, 1, 0, 2007]

    single = decode_json(json.dumps(row).encode(), model)
    wrapped = decode_json(json.dumps({"instances": [row]}).encode(), model)

    np.testing.assert_array_equal(single, wrapped)
    assert single.shape == (1, 10)


def test_json_numeric_strings_and_na_spellings(model: ServedModel) -> None:
    row = ["0", 1, 0, "39.1", "NA", "", 3750, True, 0, 2007]

    matrix = decode_json(json.dumps([row]).encode(), model)

    assert matrix[0, 3] == pytest.approx(39.1)
    assert np.isnan(matrix[0, 4]) and np.isnan(matrix[0, 5])
    assert matrix[0, 7] == 1.0


def test_json_row_of_the_wrong_width_names_the_expected_count(model: ServedModel) -> None:
    with pytest.raises(UserInputError, match="row 0 has 3 values; this model expects 10"):
        decode_json(b"[[1, 2, 3]]", model)


def test_json_row_with_a_word_names_it(model: ServedModel) -> None:
    row = [0, 1, 0, "Dream", 18.7, 181, 3750, 1, 0, 2007]

    with pytest.raises(UserInputError, match="row 0, value 3: expected a number, got 'Dream'"):
        decode_json(json.dumps([row]).encode(), model)


def test_json_records_are_encoded_by_the_schema(model: ServedModel) -> None:
    """Raw records go through Schema.encode_records, the same encoding ingest used for training."""
    records = penguin_records()[:5]

    matrix = decode_json(json.dumps(records).encode(), model)

    np.testing.assert_array_equal(matrix, penguin_schema("multiclass").encode_records(records))


def test_json_record_with_unseen_category_missing_and_extra_fields(model: ServedModel) -> None:
    record = {"island": "Atlantis", "bill_length_mm": 40.0, "sex": "female", "penguin_id": 7, "species": "?"}

    matrix = decode_json(json.dumps(record).encode(), model)

    names = penguin_schema("multiclass").output_names()
    row = dict(zip(names, matrix[0].tolist(), strict=True))
    assert all(np.isnan(row[f"island={i}"]) for i in ("Biscoe", "Dream", "Torgersen"))
    assert row["bill_length_mm"] == 40.0
    assert np.isnan(row["body_mass_g"]) and np.isnan(row["year"])
    assert (row["sex=male"], row["sex=female"]) == (0.0, 1.0)


def test_json_record_with_a_word_for_a_number_names_the_column(model: ServedModel) -> None:
    with pytest.raises(UserInputError, match="column 'bill_length_mm' expects a number"):
        decode_json(b'[{"bill_length_mm": "long"}]', model)


def test_records_need_a_schema(schemaless: ServedModel) -> None:
    with pytest.raises(UserInputError, match=r"no schema\.json.*rows of 10 numbers"):
        decode_json(b'[{"island": "Dream"}]', schemaless)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "send a JSON list"),
        (b'"text"', "send a JSON list"),
        (b'[[1, 2], {"a": 1}]', "mixes rows"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_malformed_json_is_refused_with_a_reason(model: ServedModel, body: bytes, reason: str) -> None:
    with pytest.raises(UserInputError, match=reason):
        decode_json(body, model)


def test_a_feature_called_instances_is_a_record_not_a_wrapper(tmp_path: Path) -> None:
    schema = Schema(
        target="y", problem_type="regression", features=(Feature("instances", "numeric"), Feature("x", "numeric"))
    )
    booster = xgb.train({"nthread": 1}, xgb.DMatrix(np.array([[1.0, 2.0], [3.0, 4.0]]), label=[0.0, 1.0]), 1)
    (tmp_path / "model").mkdir()
    booster.save_model(tmp_path / "model" / "model.ubj")
    (tmp_path / "model" / "schema.json").write_text(schema.to_json())

    matrix = decode_json(b'{"instances": 5, "x": 6}', load_model(tmp_path / "model"))

    assert matrix.tolist() == [[5.0, 6.0]]


def test_a_record_with_none_of_the_models_columns_is_refused(model: ServedModel) -> None:
    """Partial records are fine; one that matches no column at all is a naming mistake, not a penguin."""
    with pytest.raises(UserInputError) as refused:
        decode_json(b'[{"island": "Dream"}, {"Island": "Dream", "Bill_Length_mm": 40}]', model)

    assert refused.value.reason.startswith("record 1 has none of this model's columns ('island', 'bill_length_mm'")
    assert refused.value.reason.endswith("names are case-sensitive")


def test_a_byte_order_mark_is_not_data(model: ServedModel) -> None:
    row = b"0,1,0,39.1,18.7,181,3750,1,0,2007\n"
    large = row * (ARROW_MIN_BYTES // len(row) + 1)

    assert decode_csv(b"\xef\xbb\xbf" + row, model).tolist() == decode_csv(row, model).tolist()
    assert decode_csv(b"\xef\xbb\xbf" + large, model).tolist() == decode_csv(large, model).tolist()
    assert decode_json(b'\xef\xbb\xbf[{"island": "Dream"}]', model).shape == (1, 10)


@pytest.mark.parametrize(
    ("content_type", "body", "where"),
    [
        ("application/json", b'[{"island": "Dream", "bill_length_mm": Infinity}]', "row 0, column 'bill_length_mm'"),
        ("application/json", b'[{"bill_length_mm": 40}, {"body_mass_g": 1e400}]', "row 1, column 'body_mass_g'"),
        ("application/json", b'[{"flipper_length_mm": "1e39"}]', "row 0, column 'flipper_length_mm'"),
        ("text/csv", b"0,1,0,39.1,18.7,181,3750,1,0,2007\n0,1,0,-inf,18.7,181,3750,1,0,2007\n", "row 1, column"),
    ],
)
def test_a_number_that_is_not_finite_is_refused_naming_where(
    model: ServedModel, content_type: str, body: bytes, where: str
) -> None:
    with pytest.raises(UserInputError, match="the number is not finite") as refused:
        DECODERS[content_type](body, model)
    assert refused.value.reason.startswith(where)
