"""Fixtures shared across the suite: real datasets as CSV files, the awkward-upload corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "corpus"


def load_corpus_cases() -> dict[str, dict[str, Any]]:
    """``tests/corpus/cases.json``: file name → expected refusal or accepted summary (see its README)."""
    return json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def penguins_csv() -> Path:
    return REPO / "datasets" / "penguins" / "penguins.csv"


@pytest.fixture(scope="session")
def diabetes_csv() -> Path:
    return REPO / "datasets" / "diabetes" / "diabetes.csv"


@pytest.fixture(scope="session")
def penguins_raw_csv() -> Path:
    """palmerpenguins' raw export: names like "Culmen Length (mm)", text, dates, missing values."""
    import palmerpenguins

    return Path(palmerpenguins.__file__).parent / "data" / "penguins-raw.csv"


@pytest.fixture(scope="session")
def sklearn_csvs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """scikit-learn's bundled datasets written as ordinary CSVs (their own files have a counts line first).

    breast_cancer: 0/1 target; wine: 0/1/2 target; iris: species names as text.
    """
    from sklearn import datasets

    folder = tmp_path_factory.mktemp("sklearn")
    paths = {}
    for name, loader in (("breast_cancer", datasets.load_breast_cancer), ("wine", datasets.load_wine)):
        path = folder / f"{name}.csv"
        loader(as_frame=True).frame.to_csv(path, index=False)
        paths[name] = path
    iris = datasets.load_iris(as_frame=True)
    frame = iris.frame.assign(target=iris.target_names[iris.target.to_numpy()])
    paths["iris"] = folder / "iris.csv"
    frame.rename(columns={"target": "species"}).to_csv(paths["iris"], index=False)
    return paths
