"""``dropml prepare`` as a user runs it: a subprocess, its exit status, what it prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.corpus import CORPUS

REPO = Path(__file__).resolve().parents[2]


def dropml(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def test_prepare_writes_splits_and_schema_and_says_so(penguins_csv: Path, tmp_path: Path) -> None:
    done = dropml("prepare", str(penguins_csv), "--out", str(tmp_path), "--target", "species")
    assert done.returncode == 0, done.stderr
    assert "train 275 rows, validation 35, test 34" in done.stdout
    assert "multiclass, 3 classes: 0=Adelie, 1=Chinstrap, 2=Gentoo" in done.stdout
    assert "10 model columns from 7 input columns" in done.stdout
    schema = json.loads((tmp_path / "schema.json").read_text())
    assert schema["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    for split in ("train", "validation", "test"):
        assert (tmp_path / split / "part-00000.csv").stat().st_size > 0


def test_settings_file_and_options(diabetes_csv: Path, tmp_path: Path) -> None:
    settings = REPO / "datasets" / "diabetes" / "dropml.json"
    done = dropml(
        "prepare", str(diabetes_csv), "--out", str(tmp_path), "--settings", str(settings), "--split", "0.6,0.2,0.2"
    )
    assert done.returncode == 0, done.stderr
    assert "target 'progression': regression" in done.stdout
    rows = json.loads((tmp_path / "schema.json").read_text())["rows"]
    assert abs(rows["train"] - 0.6 * 442) <= 2 and abs(rows["test"] - 0.2 * 442) <= 2


def test_problem_type_option_is_checked_against_the_data(tmp_path: Path) -> None:
    done = dropml(
        "prepare",
        str(CORPUS / "binary_with_three_classes.csv"),
        "--out",
        str(tmp_path / "o"),
        "--problem-type",
        "binary",
    )
    assert done.returncode == 2
    assert "binary needs exactly 2 classes" in done.stderr


def test_refusal_is_one_line_without_traceback(tmp_path: Path) -> None:
    done = dropml("prepare", str(CORPUS / "ragged_too_few.csv"), "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("dropml: line 3 has 3 fields")
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "o").exists()


def test_missing_file_and_bad_options_are_refused(tmp_path: Path) -> None:
    missing = dropml("prepare", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o"))
    assert (missing.returncode, missing.stderr) == (2, f"dropml: no such file: {tmp_path / 'nope.csv'}\n")
    bad_split = dropml(
        "prepare", str(CORPUS / "tab_delimited.csv"), "--out", str(tmp_path / "o"), "--split", "0.9,0.2,0.1"
    )
    assert bad_split.returncode == 2
    assert "must add up to 1" in bad_split.stderr and "Traceback" not in bad_split.stderr
    bad_settings = tmp_path / "dropml.json"
    bad_settings.write_text('{"targett": "x"}')
    typo = dropml(
        "prepare", str(CORPUS / "tab_delimited.csv"), "--out", str(tmp_path / "o"), "--settings", str(bad_settings)
    )
    assert (typo.returncode, typo.stderr) == (2, "dropml: dropml.json: targett: unknown setting\n")
