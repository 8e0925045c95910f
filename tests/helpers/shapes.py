"""Generated uploads in the shapes real data has, of any size, written block by block.

The conversion's memory must not grow with the file, whatever its columns hold, so the benchmark and the
memory test need files of each shape at several sizes: numeric (HIGGS-like), many quoted text columns
separated by ``;``, a column of unique identifiers, a wide file, and free text. Each block is generated
and appended on its own, so making a large file costs the generator one block of memory; the same seed
and size always give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

BLOCK_ROWS = 50_000
WORDS = np.array(
    [
        "the",
        "a",
        "of",
        "to",
        "and",
        "in",
        "is",
        "it",
        "you",
        "that",
        "he",
        "was",
        "for",
        "on",
        "are",
        "with",
        "as",
        "his",
        "they",
        "be",
        "at",
        "one",
        "have",
        "this",
        "from",
        "or",
        "had",
        "by",
        "hot",
        "word",
        "but",
        "what",
        "some",
        "we",
        "can",
        "out",
        "other",
        "were",
        "all",
        "there",
        "when",
        "up",
        "use",
        "your",
        "how",
        "said",
        "an",
        "each",
        "she",
        "which",
        "do",
        "their",
        "time",
        "if",
        "will",
        "way",
        "about",
        "many",
        "then",
        "them",
        "write",
        "would",
        "like",
        "so",
        "these",
        "her",
        "long",
        "make",
        "thing",
        "see",
        "him",
        "two",
        "has",
        "look",
        "more",
        "day",
        "could",
        "go",
        "come",
        "did",
        "number",
        "sound",
        "no",
        "most",
        "people",
        "my",
        "over",
        "know",
        "water",
        "than",
        "call",
        "first",
        "who",
        "may",
        "down",
        "side",
        "been",
        "now",
        "find",
        "any",
        "new",
        "work",
        "part",
        "take",
        "get",
        "place",
        "made",
        "live",
        "where",
        "after",
        "back",
        "little",
        "only",
        "round",
        "man",
        "year",
        "came",
        "show",
        "every",
        "good",
        "me",
        "give",
        "our",
        "under",
        "name",
        "very",
        "through",
        "just",
        "form",
        "sentence",
        "great",
        "think",
        "say",
        "help",
        "low",
        "line",
        "differ",
        "turn",
        "cause",
        "much",
        "mean",
        "before",
        "move",
        "right",
        "boy",
        "old",
        "too",
        "same",
        "tell",
        "does",
        "set",
        "three",
    ]
)


def _numbers(rng: np.random.Generator, rows: int, count: int, prefix: str = "f") -> dict[str, np.ndarray]:
    return {f"{prefix}{i}": rng.standard_normal(rows).round(6) for i in range(count)}


def _levels(rng: np.random.Generator, rows: int, name: str, levels: int) -> pl.Series:
    codes = rng.zipf(1.3, rows) % levels  # a few frequent values and a long tail, as categories have
    return pl.Series(name, codes).cast(pl.String).str.pad_start(6, "0").str.replace(r"^", f"{name}_")


def _sentences(rng: np.random.Generator, rows: int, name: str, words: int, punctuation: str = "") -> pl.Series:
    """Free text: ``words`` random words per value (almost every value distinct), with ``punctuation``."""
    picks = [pl.Series(WORDS[rng.integers(0, len(WORDS), rows)]) for _ in range(words)]
    text = pl.select(pl.concat_str(picks, separator=" ").alias(name)).to_series()
    if punctuation:
        text = text.str.replace(r" (\w+) (\w+)$", f" ${{1}}{punctuation} ${{2}}")
    return text


def _label(rng: np.random.Generator, signal: np.ndarray) -> np.ndarray:
    return (signal + rng.standard_normal(len(signal)) > 0).astype(np.int8)


def higgs(rng: np.random.Generator, start: int, rows: int) -> pl.DataFrame:
    """28 standard-normal floats (6 decimals), two 10-level text columns, a 0/1 label last."""
    columns = _numbers(rng, rows, 28)
    frame = pl.DataFrame(columns).with_columns(
        pl.Series("color", np.array([f"color_{chr(97 + k)}" for k in range(10)])[rng.integers(0, 10, rows)]),
        pl.Series("shape", np.array([f"shape{k}" for k in range(10)])[rng.integers(0, 10, rows)]),
    )
    return frame.with_columns(pl.Series("label", _label(rng, columns["f0"])))


def unique_id(rng: np.random.Generator, start: int, rows: int) -> pl.DataFrame:
    """HIGGS-like with a first column of identifiers, every one distinct (as an order or user id is)."""
    ids = pl.Series("id", np.arange(start, start + rows) * 2_654_435_761 % 4_294_967_311).cast(pl.String)
    return higgs(rng, start, rows).insert_column(0, ("ord-" + ids.str.pad_start(10, "0")).alias("id"))


def quoted_text(rng: np.random.Generator, start: int, rows: int) -> pl.DataFrame:
    """Seven quoted text columns (categories of 5 to 20,000 levels, two of free text holding ``;``)."""
    columns = _numbers(rng, rows, 8, prefix="x")
    frame = pl.DataFrame(columns).with_columns(
        _levels(rng, rows, "status", 5),
        _levels(rng, rows, "city", 60),
        _levels(rng, rows, "country", 200),
        _levels(rng, rows, "product", 2_000),
        _levels(rng, rows, "code", 20_000),
        _sentences(rng, rows, "comment", 8, punctuation=";"),
        _sentences(rng, rows, "notes", 5, punctuation=","),
    )
    return frame.with_columns(pl.Series("target", _label(rng, columns["x0"])))


def wide(rng: np.random.Generator, start: int, rows: int) -> pl.DataFrame:
    """500 numeric columns (3 decimals) and a label."""
    columns = {f"v{i}": rng.standard_normal(rows).round(3) for i in range(500)}
    return pl.DataFrame(columns).with_columns(pl.Series("label", _label(rng, columns["v0"])))


def free_text(rng: np.random.Generator, start: int, rows: int) -> pl.DataFrame:
    """A free-text review (20 words, almost every one distinct) beside ten numbers and a label."""
    columns = _numbers(rng, rows, 10)
    frame = pl.DataFrame(columns).with_columns(_sentences(rng, rows, "review", 20, punctuation=","))
    return frame.with_columns(pl.Series("label", _label(rng, columns["f0"])))


SHAPES: dict[str, tuple[Callable[[np.random.Generator, int, int], pl.DataFrame], str]] = {
    "higgs": (higgs, ","),
    "quoted_text": (quoted_text, ";"),
    "unique_id": (unique_id, ","),
    "wide": (wide, ","),
    "free_text": (free_text, ","),
}


def write(path: Path, shape: str, megabytes: float, *, seed: int = 0) -> int:
    """Write about ``megabytes`` MB of ``shape`` to ``path`` (whole blocks of rows); return the rows written."""
    make, separator = SHAPES[shape]
    rng = np.random.default_rng(seed)
    rows = 0
    with path.open("wb") as out:
        while out.tell() < megabytes * 1e6:
            block = make(rng, rows, BLOCK_ROWS if shape != "wide" else BLOCK_ROWS // 20)
            quote: Literal["non_numeric", "necessary"]
            quote = "non_numeric" if shape == "quoted_text" else "necessary"
            block.write_csv(out, separator=separator, include_header=rows == 0, quote_style=quote)
            rows += block.height
    return rows
