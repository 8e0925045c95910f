"""The awkward-upload corpus: ``tests/corpus/`` and its manifest (see its README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def load_corpus_cases() -> dict[str, dict[str, Any]]:
    """``tests/corpus/cases.json``: file name → expected refusal or accepted summary (see its README)."""
    return json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))
