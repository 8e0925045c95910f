"""The small rules a user meets: delimiter sniffing, target naming, class order, problem-type inference."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.conversion import convert
from core.conversion.layout import sniff_delimiter
from core.conversion.target import find_target
from core.errors import UserInputError
from core.settings import DatasetSettings


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a;b;c\n1,5;2,5;3\n", ";"),  # decimal commas do not fool it
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ('"x, y";z\n"1, 2";3\n', ";"),  # a comma inside a quoted name is not a separator
        ("only\n1\n", ","),
    ],
)
def test_sniff_delimiter(text: str, delimiter: str) -> None:
    assert sniff_delimiter(text) == delimiter


@pytest.mark.parametrize("name", ["target", "Label", "Y", "CLASS"])
def test_conventional_target_names_in_any_case(name: str) -> None:
    assert find_target(("a", name, "b"), None) == 1


def test_requested_target_wins_over_conventional_names() -> None:
    assert find_target(("label", "price"), "price") == 1


def convert_lines(tmp_path: Path, lines: list[str], **settings: object) -> object:
    source = tmp_path / "f.csv"
    source.write_text("\n".join(lines) + "\n")
    return convert(str(source), str(tmp_path / "out"), DatasetSettings(**settings)).schema  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("labels", "problem_type", "classes"),
    [
        (["yes", "no"], "binary", ("no", "yes")),
        (["TRUE", "FALSE"], "binary", ("FALSE", "TRUE")),
        (["1", "0"], "binary", ("0", "1")),
        (["10", "2", "1"], "multiclass", ("1", "2", "10")),  # numbers in numeric order
        (["cat", "ant", "bee"], "multiclass", ("ant", "bee", "cat")),
        (["1.5", "2.25", "7"], "regression", ()),
    ],
)
def test_problem_type_and_class_order(
    tmp_path: Path, labels: list[str], problem_type: str, classes: tuple[str, ...]
) -> None:
    lines = ["x,label"] + [f"{i},{labels[i % len(labels)]}" for i in range(30)]
    schema = convert_lines(tmp_path, lines)
    assert (schema.problem_type, schema.classes) == (problem_type, classes)  # type: ignore[attr-defined]


def test_many_integer_values_are_regression_unless_told(tmp_path: Path) -> None:
    lines = ["x,label"] + [f"{i},{i * 7 % 50}" for i in range(60)]
    assert convert_lines(tmp_path, lines).problem_type == "regression"  # type: ignore[attr-defined]
    told = convert_lines(tmp_path, lines, problem_type="multiclass")
    assert told.problem_type == "multiclass" and len(told.classes) == 50  # type: ignore[attr-defined]


def test_label_column_is_written_as_class_index(tmp_path: Path) -> None:
    lines = ["x,label"] + [f"{i},{['no', 'yes'][i % 2]}" for i in range(30)]
    convert_lines(tmp_path, lines)
    rows = [line.split(",") for line in (tmp_path / "out" / "train" / "part-00000.csv").read_text().splitlines()]
    assert rows[:2] == [["0", "0.0"], ["1", "1.0"]]  # label first: no → 0, yes → 1; then x
    assert all(int(label) == int(float(x)) % 2 for label, x in rows)


def test_settings_target_must_exist(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="'price' is not in the header"):
        convert_lines(tmp_path, ["x,label", "1,a"], target="price")


def test_a_text_column_of_identifiers_is_left_out_and_free_text_is_kept(tmp_path: Path) -> None:
    # GIVEN 300 rows: a customer id (every value distinct), a free-text comment (also all distinct, but
    # words with spaces), a city of three values, a number and a label
    lines = ["customer,comment,city,x,label"] + [
        f"C{i * 7919 % 100_003:06d},note number {i} about the order,{['Oslo', 'Rome', 'Lima'][i % 3]},{i % 17},{i % 2}"
        for i in range(300)
    ]
    # WHEN it is converted
    schema = convert_lines(tmp_path, lines)
    # THEN the id is no feature and the schema says why; the free text keeps a (capped) vocabulary
    assert schema.identifier_columns == ("customer",)
    kinds = {feature.name: (feature.kind, feature.capped) for feature in schema.features}
    assert kinds == {"comment": ("categorical", True), "city": ("categorical", False), "x": ("numeric", False)}


def test_distinct_values_in_a_small_file_are_still_categories(tmp_path: Path) -> None:
    lines = ["code,label"] + [f"K{i:03d},{i % 2}" for i in range(60)]  # too few rows to call it an id
    schema = convert_lines(tmp_path, lines)
    assert schema.identifier_columns == ()
    assert [feature.kind for feature in schema.features] == ["categorical"]


def test_a_text_target_with_thousands_of_values_is_refused_as_no_classification_target(tmp_path: Path) -> None:
    lines = ["x,label"] + [f"{i % 10},name-{i}" for i in range(1_500)]
    with pytest.raises(UserInputError, match=r"more than 1000 distinct values.*should the problem type be regression"):
        convert_lines(tmp_path, lines)
