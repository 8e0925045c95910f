"""Happy paths on real datasets: what a user sees, and the written numbers against Schema.encode_records."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from core.conversion import convert
from core.schema import Schema, is_missing
from core.settings import DatasetSettings

SPLITS = ("train", "validation", "test")


def written(out: Path, split: str) -> np.ndarray:
    """A split's part file as floats; an empty field reads as NaN (as XGBoost reads it)."""
    return np.genfromtxt(out / split / "part-00000.csv", delimiter=",", dtype=np.float64, ndmin=2)


def raw_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def expected_label(schema: Schema, value: str) -> float:
    if schema.problem_type == "regression":
        return float(value)
    text = value.strip()
    if text in schema.classes:
        return float(schema.classes.index(text))
    return float([float(c) for c in schema.classes].index(float(text)))


def assert_round_trip(source: Path, out: Path, schema: Schema) -> None:
    """The three splits together are exactly the rows with a target, in file order, each encoded as
    ``Schema.encode_records`` encodes the raw row (label first; NaN where a field is empty)."""
    rows = [row for row in raw_rows(source) if not is_missing(row[schema.target])]
    encoded = schema.encode_records(rows).astype(np.float64)
    labels = np.array([expected_label(schema, row[schema.target]) for row in rows])
    expected = np.column_stack([labels, encoded])
    parts = {split: written(out, split) for split in SPLITS}
    assert all(part.shape[1] == schema.width + 1 for part in parts.values())
    position = dict.fromkeys(SPLITS, 0)
    for row in expected:
        for split in SPLITS:
            part = parts[split]
            if position[split] < len(part) and _same(part[position[split]], row):
                position[split] += 1
                break
        else:
            raise AssertionError(f"row {row} is in no split at its place")
    assert position == {split: len(parts[split]) for split in SPLITS}
    assert {split: len(parts[split]) for split in SPLITS} == {split: schema.rows[split] for split in SPLITS}


def _same(left: np.ndarray, right: np.ndarray) -> bool:
    return bool(np.allclose(left.astype(np.float32), right.astype(np.float32), equal_nan=True, rtol=1e-6))


def test_penguins_multiclass_with_missing_values(penguins_csv: Path, tmp_path: Path) -> None:
    result = convert(str(penguins_csv), str(tmp_path), DatasetSettings(target="species"))
    schema = result.schema
    assert schema.problem_type == "multiclass"
    assert schema.classes == ("Adelie", "Chinstrap", "Gentoo")
    assert schema.rows == {"train": 275, "validation": 35, "test": 34, "missing_target": 0}
    island = next(f for f in schema.features if f.name == "island")
    assert (island.kind, island.categories) == ("categorical", ("Biscoe", "Dream", "Torgersen"))
    sex = next(f for f in schema.features if f.name == "sex")
    assert set(sex.categories) == {"male", "female"}  # "NA" is missing, not a category
    assert schema.width == 10
    for split in SPLITS:
        labels = written(tmp_path, split)[:, 0]
        assert set(labels) <= {0.0, 1.0, 2.0}
    assert set(written(tmp_path, "train")[:, 0]) == {0.0, 1.0, 2.0}  # every class reaches training
    assert_round_trip(penguins_csv, tmp_path, schema)


def test_penguins_raw_spreadsheet_names_and_capped_vocabulary(penguins_raw_csv: Path, tmp_path: Path) -> None:
    settings = DatasetSettings(target="Species", max_categories=2)
    schema = convert(str(penguins_raw_csv), str(tmp_path), settings).schema
    assert schema.problem_type == "multiclass"
    assert [c.split()[0] for c in schema.classes] == ["Adelie", "Chinstrap", "Gentoo"]
    by_name = {f.name: f for f in schema.features}
    assert by_name["Culmen Length (mm)"].kind == "numeric"
    assert by_name["Delta 15 N (o/oo)"].kind == "numeric"
    island = by_name["Island"]
    assert island.kind == "categorical" and island.capped and len(island.categories) == 2
    assert island.width == 3  # two most frequent islands + __other__
    assert "Comments" in by_name or "Comments" in schema.dropped_columns
    assert_round_trip(penguins_raw_csv, tmp_path, schema)


def test_diabetes_regression(diabetes_csv: Path, tmp_path: Path) -> None:
    settings = DatasetSettings(target="progression")
    schema = convert(str(diabetes_csv), str(tmp_path), settings).schema
    assert schema.problem_type == "regression"
    assert schema.classes == ()
    assert sum(schema.rows[s] for s in SPLITS) == 442
    assert schema.width == 10 and all(f.kind == "numeric" for f in schema.features)
    labels = np.concatenate([written(tmp_path, s)[:, 0] for s in SPLITS])
    assert labels.min() >= 25 and labels.max() <= 346
    assert_round_trip(diabetes_csv, tmp_path, schema)


@pytest.mark.parametrize(
    ("name", "problem_type", "classes", "width"),
    [
        ("breast_cancer", "binary", ("0", "1"), 30),
        ("wine", "multiclass", ("0", "1", "2"), 13),
        ("iris", "multiclass", ("setosa", "versicolor", "virginica"), 4),
    ],
)
def test_sklearn_datasets(
    sklearn_csvs: dict[str, Path], tmp_path: Path, name: str, problem_type: str, classes: tuple[str, ...], width: int
) -> None:
    target = "species" if name == "iris" else "target"
    schema = convert(str(sklearn_csvs[name]), str(tmp_path), DatasetSettings(target=target)).schema
    assert (schema.problem_type, schema.classes, schema.width) == (problem_type, classes, width)
    assert_round_trip(sklearn_csvs[name], tmp_path, schema)


def test_same_file_same_split(penguins_raw_csv: Path, tmp_path: Path) -> None:
    settings = DatasetSettings(target="Species")
    convert(str(penguins_raw_csv), str(tmp_path / "first"), settings)
    convert(str(penguins_raw_csv), str(tmp_path / "second"), settings)
    for split in SPLITS:
        first = (tmp_path / "first" / split / "part-00000.csv").read_bytes()
        assert first == (tmp_path / "second" / split / "part-00000.csv").read_bytes()


def test_split_fractions_from_settings(penguins_csv: Path, tmp_path: Path) -> None:
    settings = DatasetSettings(target="species", split={"train": 0.5, "validation": 0.25, "test": 0.25})
    rows = convert(str(penguins_csv), str(tmp_path), settings).schema.rows
    assert sum(rows[s] for s in SPLITS) == 344
    for split, fraction in zip(SPLITS, (0.5, 0.25, 0.25), strict=True):
        assert abs(rows[split] - fraction * 344) <= 2


def test_missing_numbers_are_empty_fields_never_zero(tmp_path: Path) -> None:
    source = tmp_path / "gaps.csv"
    lines = ["x,note,label"] + [f"{'NA' if i % 4 == 0 else i},{'' if i % 3 == 0 else 'n'},{i % 2}" for i in range(40)]
    source.write_text("\n".join(lines) + "\n")
    schema = convert(str(source), str(tmp_path / "out"), DatasetSettings()).schema
    matrix = np.concatenate([written(tmp_path / "out", s) for s in SPLITS])
    assert int(np.isnan(matrix[:, 1]).sum()) == 10
    assert not (matrix[:, 1] == 0).any()  # x is 1..39 where present: a 0 would be a missing value
    assert math.isnan(schema.encode_records([{"x": "NA"}])[0, 0])
    assert_round_trip(source, tmp_path / "out", schema)
