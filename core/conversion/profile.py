"""One streaming pass that learns everything the encoding needs, without writing anything.

Numeric columns are not parsed here at all: the write pass parses them, once. Text columns: the
count of every distinct raw value, in and out of the training rows, from which Python derives the
rest (present values, whether all are numbers or booleans, the training vocabulary, whether values
need stripping): far cheaper than string operations on every row. Target: missing values, rows per
split, what kind of values it holds. A column whose sample looked numeric but holds text further down
is re-read as text (polars names the column it failed on), so the type guess costs a retry at worst,
never a wrong type. Memory grows with the number of distinct values in text columns (and in a
classification target), not with the number of rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from core.conversion import frame
from core.conversion.frame import SPLIT, internal
from core.conversion.layout import Layout
from core.schema import MISSING_TOKENS
from core.settings import SplitFractions

RETYPES_BEFORE_CHECK = 2
_RETYPE = re.compile(r"as dtype `f64` at column .*\(column number (\d+)\)")


class ReadFailed(Exception):
    """polars could not read the file as laid out: a structural problem for :func:`diagnose` to find."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class TextStats:
    """A column read as text (the target aside)."""

    index: int
    values: int  # present values in training rows that have a target
    not_number: int  # present values (any row) that are not numbers
    not_boolean: int  # present values (any row) that are not true/false
    padded: bool  # some value has surrounding whitespace (encoding must strip before comparing)
    train_counts: tuple[tuple[str, int], ...]  # stripped value → count on training rows


@dataclass(frozen=True)
class TargetStats:
    numeric_read: bool
    not_number: int
    integer_valued: bool
    approx_distinct: int
    counts: tuple[tuple[str, int], ...] | None  # text (or number) → rows, over all rows with a target
    first_text: str | None  # a present value that is not a number, for refusals


@dataclass(frozen=True)
class Profile:
    numeric: tuple[bool, ...]  # the read type per column the write pass must use
    rows: int  # records polars produced (blank lines included)
    target_missing: int  # rows without a target (blank lines included)
    split_rows: tuple[int, int, int]
    quoted_delimiters: int  # delimiter characters inside values (counted only when the file has quotes)
    text: Mapping[int, TextStats]  # every column read as text but the target
    target: TargetStats


def profile(
    source: str,
    layout: Layout,
    target: int,
    fractions: SplitFractions,
    storage_options: Mapping[str, str] | None,
    *,
    numeric: Sequence[bool],
    count_quoted: bool,
    check_structure: Callable[[], object],
) -> Profile:
    """Profile the whole file; ``check_structure`` runs once if columns keep failing to parse as numbers.

    Only the target and the text columns are parsed: numeric columns are left to the write pass (which
    retypes them the same way if one holds text after all). A target read as a number that meets text
    costs one more pass; a structural fault (an unterminated quote shifting values) can make columns
    fail one after another, so after ``RETYPES_BEFORE_CHECK`` retries the exact structural check runs
    (and raises) before any further pass.
    """
    numeric = list(numeric)
    null_values = frame.reader_null_values(layout)
    target_few = _sample_has_few_values([record[target] for record in layout.sample if len(record) > target])
    retypes = 0
    while True:
        lazy = frame.scan(source, layout, target, numeric, null_values, fractions, storage_options)
        try:
            result = lazy.select(
                _expressions(layout, numeric, target, count_quoted=count_quoted, target_counts=target_few)
            ).collect(engine="streaming")
        except pl.exceptions.PolarsError as exc:  # ComputeError, NoDataError, SchemaError (extra fields), …
            column = retyped_column(exc, numeric)
            if column is None:
                raise ReadFailed(str(exc).split("\n", 1)[0]) from None
            numeric[column] = False
            retypes += 1
            if retypes == RETYPES_BEFORE_CHECK:
                check_structure()
            continue
        return _read_result(result.row(0, named=True), layout, numeric, target)


def retyped_column(error: Exception, numeric: Sequence[bool]) -> int | None:
    """The column a polars read error says is not a number after all (None: some other error)."""
    found = _RETYPE.search(str(error))
    if found is None or not numeric[int(found.group(1)) - 1]:
        return None
    return int(found.group(1)) - 1


def _sample_has_few_values(values: list[str]) -> bool:
    """Whether to collect the target's exact value counts in the profile pass (a classification guess)."""
    return len({value.strip() for value in values}) <= 1000


def _expressions(
    layout: Layout, numeric: list[bool], target: int, *, count_quoted: bool, target_counts: bool
) -> list[pl.Expr]:
    count = len(layout.columns)
    target_missing = frame.is_missing(target, numeric[target])
    training = (pl.col(SPLIT) == 0) & ~target_missing
    expressions = [
        pl.len().alias("rows"),
        target_missing.sum().alias("target_missing"),
        *[((pl.col(SPLIT) == k) & ~target_missing).sum().alias(f"split{k}") for k in range(3)],
    ]
    for i in range(count):
        present = ~frame.is_missing(i, numeric[i])
        if count_quoted and not numeric[i]:
            expressions.append(
                pl.col(internal(i)).str.count_matches(layout.delimiter, literal=True).sum().alias(f"q{i}")
            )
        if i == target:
            expressions += _target_expressions(i, numeric[i], present, counts=target_counts)
            continue
        if numeric[i]:  # not referenced, so not parsed: the write pass parses numbers once
            continue
        # Text columns: count each distinct raw value (in and out of training) and judge the distinct
        # values in Python; far cheaper than stripping, lowercasing and casting every row.
        raw = pl.struct(pl.col(internal(i)).alias("value"), training.alias("train"))
        expressions.append(raw.value_counts(sort=False).implode().alias(f"raw{i}"))
    return expressions


def _target_expressions(index: int, numeric: bool, present: pl.Expr, *, counts: bool) -> list[pl.Expr]:
    column = pl.col(internal(index))
    if not numeric:
        stripped = frame.text(index)
        number = stripped.cast(pl.Float64, strict=False)
        not_number = present & number.is_null()
        return [
            not_number.sum().alias("t_notnum"),
            stripped.filter(not_number).first().alias("t_text"),
            stripped.filter(present).value_counts(sort=False).implode().alias("t_counts"),
        ]
    expressions = [
        (present & (column != column.floor())).sum().alias("t_fraction"),
        column.filter(present).approx_n_unique().alias("t_distinct"),
    ]
    if counts:
        expressions.append(column.filter(present).value_counts(sort=False).implode().alias("t_counts"))
    return expressions


def _text_stats(index: int, entries: list[dict[str, Any]] | None) -> TextStats:
    """A text column's statistics from its distinct raw values (stripped, as Feature.encode compares)."""
    totals: dict[str, int] = {}
    training: dict[str, int] = {}
    padded = False
    for entry in entries or ():
        key, count = list(entry.values())
        value = key["value"]
        if value is None:
            continue
        text = value.strip()
        padded = padded or text != value
        if text.lower() in MISSING_TOKENS:
            continue
        totals[text] = totals.get(text, 0) + int(count)
        if key["train"]:
            training[text] = training.get(text, 0) + int(count)
    texts = list(totals)
    numbers = pl.Series(texts, dtype=pl.String).cast(pl.Float64, strict=False).is_null().to_list()
    return TextStats(
        index=index,
        values=sum(training.values()),
        not_number=sum(totals[text] for text, failed in zip(texts, numbers, strict=True) if failed),
        not_boolean=sum(count for text, count in totals.items() if text.lower() not in frame.BOOLEAN_TOKENS),
        train_counts=tuple(training.items()),
        padded=padded,
    )


def _pairs(values: list[dict[str, object]] | None) -> tuple[tuple[str, int], ...]:
    if not values:
        return ()
    pairs = []
    for entry in values:
        value, count = list(entry.values())
        pairs.append((_as_text(value), int(count)))  # type: ignore[call-overload]
    return tuple(pairs)


def _as_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_result(row: dict[str, object], layout: Layout, numeric: list[bool], target: int) -> Profile:
    def number(key: str) -> int:
        return int(row.get(key) or 0)  # type: ignore[call-overload]

    text = {
        i: _text_stats(i, row.get(f"raw{i}"))  # type: ignore[arg-type]
        for i in range(len(layout.columns))
        if i != target and not numeric[i]
    }
    counts = row.get("t_counts")
    target_stats = TargetStats(
        numeric_read=numeric[target],
        not_number=number("t_notnum"),
        integer_valued=number("t_fraction") == 0,
        approx_distinct=number("t_distinct"),
        counts=_pairs(counts) if counts is not None else None,  # type: ignore[arg-type]
        first_text=row.get("t_text"),  # type: ignore[arg-type]
    )
    return Profile(
        numeric=tuple(numeric),
        rows=number("rows"),
        target_missing=number("target_missing"),
        split_rows=(number("split0"), number("split1"), number("split2")),
        quoted_delimiters=sum(number(f"q{i}") for i in range(len(layout.columns))),
        text=text,
        target=target_stats,
    )


def target_counts(
    source: str,
    layout: Layout,
    target: int,
    numeric: tuple[bool, ...],
    fractions: SplitFractions,
    storage_options: Mapping[str, str] | None,
) -> tuple[tuple[str, int], ...]:
    """Exact value counts of the target, when the profile pass did not collect them (a second pass)."""
    lazy = frame.scan(source, layout, target, numeric, frame.reader_null_values(layout), fractions, storage_options)
    column = pl.col(internal(target))
    present = ~frame.is_missing(target, numeric[target])
    result = lazy.select(column.filter(present).value_counts(sort=False).implode().alias("c")).collect(
        engine="streaming"
    )
    return _pairs(result.row(0)[0])
