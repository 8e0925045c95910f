"""Every awkward upload in tests/corpus: refused with its one-line reason and line, or accepted as stated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.conversion import convert
from core.errors import UserInputError
from core.settings import DatasetSettings
from tests.helpers.corpus import CORPUS, load_corpus_cases

CASES = load_corpus_cases()
REFUSED = sorted(name for name, case in CASES.items() if "reason" in case)
ACCEPTED = sorted(name for name, case in CASES.items() if "accepted" in case)


def test_corpus_is_complete() -> None:
    assert len(CASES) >= 20
    assert len(ACCEPTED) >= 5
    assert sorted(REFUSED + ACCEPTED) == sorted(CASES)
    on_disk = {path.name for path in CORPUS.iterdir() if path.suffix == ".csv"}
    assert on_disk == set(CASES)


@pytest.mark.parametrize("name", REFUSED)
def test_refused_with_reason_and_line(name: str, tmp_path: Path) -> None:
    case: dict[str, Any] = CASES[name]
    out = tmp_path / "out"
    with pytest.raises(UserInputError) as refusal:
        convert(str(CORPUS / name), str(out), DatasetSettings(**case.get("settings", {})))
    assert case["reason"] in refusal.value.reason
    assert "\n" not in refusal.value.reason
    if "line" in case:
        assert refusal.value.line == case["line"]
    assert not out.exists()  # nothing written on refusal


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_as_stated(name: str, tmp_path: Path) -> None:
    case: dict[str, Any] = CASES[name]
    result = convert(str(CORPUS / name), str(tmp_path), DatasetSettings(**case.get("settings", {})))
    schema = result.schema
    expected = case["accepted"]
    seen = {"problem_type": schema.problem_type, "classes": list(schema.classes), "width": schema.width}
    for key in ("problem_type", "classes", "width"):
        if key in expected:
            assert seen[key] == expected[key], key
    for key, rows in expected.get("rows", {}).items():
        assert schema.rows[key] == rows, key
    for split in ("train", "validation", "test"):
        lines = (tmp_path / split / "part-00000.csv").read_text().splitlines()
        assert len(lines) == schema.rows[split]
        assert all(len(line.split(",")) == schema.width + 1 for line in lines)
