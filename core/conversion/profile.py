"""One streaming pass that learns everything the encoding needs, in memory that does not grow with the file.

Numeric columns are not parsed here at all: the write pass parses them, once. The pass reads the text
columns and the target in batches of rows (sized in bytes from the head of the file) and folds each
batch into fixed-size summaries (:mod:`core.conversion.sketches`): per text column, exact sums (present
values, values that are not numbers or not booleans, values with spaces), its most frequent values on
training rows (the vocabulary) and an estimate of its distinct values (which tells an identifier).
Target: missing values, rows per split, what kind of values it holds, and its value counts while it
has few enough values to be classes. Each batch is reduced to its distinct values before anything is
done to them, so a category repeated a million times costs one string operation, not a million.

A column whose sample looked numeric but holds text further down is re-read as text (polars names the
column it failed on), so the type guess costs a retry at worst, never a wrong type.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from core.conversion import frame
from core.conversion.frame import SPLIT, internal
from core.conversion.layout import Layout
from core.conversion.sketches import COUNT, VALUE, DistinctValues, TopValues
from core.schema import MISSING_TOKENS
from core.settings import SplitFractions

RETYPES_BEFORE_CHECK = 2
_RETYPE = re.compile(r"as dtype `f64` at column .*\(column number (\d+)\)")
BATCH_BYTES = 16 << 20  # raw text of the profiled columns per batch: what one batch costs in memory
TARGET_VALUES = 1000  # target values counted exactly; a target with more is no classification target
VOCABULARY_PER_CATEGORY = 10  # the vocabulary summary holds this many values per category kept …
VOCABULARY_MIN = 1000  # … and at least this many
IDENTIFIER_DISTINCT = 0.95  # a text column with at least this share of distinct values …
IDENTIFIER_MIN_VALUES = 100  # … among at least this many, and no spaces in its values, is an identifier
IDENTIFIER_SPACED = 0.01  # (free text, whose values hold spaces, keeps its capped vocabulary)


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
    present: int  # present values in any row
    not_number: int  # present values (any row) that are not numbers
    not_boolean: int  # present values (any row) that are not true/false
    spaced: int  # present values (any row) with whitespace inside them
    distinct: int  # distinct present values (any row): exact up to 4,096, then an estimate
    padded: bool  # some value has surrounding whitespace (encoding must strip before comparing)
    train_counts: tuple[tuple[str, int], ...]  # most frequent stripped values → count on training rows
    every_value: bool  # train_counts holds every training value (else only the most frequent)

    @property
    def identifier(self) -> bool:
        """Almost every value distinct and none of them text with spaces: an ID, which predicts nothing."""
        return (
            self.present >= IDENTIFIER_MIN_VALUES
            and self.distinct >= IDENTIFIER_DISTINCT * self.present
            and self.spaced <= IDENTIFIER_SPACED * self.present
        )


@dataclass(frozen=True)
class TargetStats:
    numeric_read: bool
    not_number: int
    integer_valued: bool
    counts: tuple[tuple[str, int], ...] | None  # value → rows over all rows with a target; None: over TARGET_VALUES
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
    max_categories: int,
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
    retypes = 0
    while True:
        learner = _Learner(layout, numeric, target, count_quoted=count_quoted, max_categories=max_categories)
        batches = frame.batches(
            source,
            layout,
            numeric,
            storage_options,
            columns=learner.columns,
            target=target,
            fractions=fractions,
            batch_bytes=BATCH_BYTES,
        )
        try:
            for batch in batches:
                learner.add(batch)
        except pl.exceptions.PolarsError as exc:  # ComputeError, NoDataError, SchemaError (extra fields), …
            column = retyped_column(exc, numeric)
            if column is None:
                raise ReadFailed(str(exc).split("\n", 1)[0]) from None
            numeric[column] = False
            retypes += 1
            if retypes == RETYPES_BEFORE_CHECK:
                check_structure()
            continue
        return learner.result()


def retyped_column(error: Exception, numeric: Sequence[bool]) -> int | None:
    """The column a polars read error says is not a number after all (None: some other error)."""
    found = _RETYPE.search(str(error))
    if found is None or not numeric[int(found.group(1)) - 1]:
        return None
    return int(found.group(1)) - 1


class _TextLearner:
    """One text column's sums and summaries, batch after batch."""

    def __init__(self, index: int, capacity: int) -> None:
        self.index = index
        self.sums = dict.fromkeys(("values", "present", "not_number", "not_boolean", "spaced"), 0)
        self.padded = False
        self.top = TopValues(capacity, pl.String())
        self.distinct = DistinctValues()

    def add(self, batch: pl.DataFrame, training: pl.Series) -> None:
        raw = batch.get_column(internal(self.index))
        counts = (
            pl.DataFrame({"raw": raw, "train": training})
            .group_by("raw", "train")
            .len(name=COUNT)
            .filter(pl.col("raw").is_not_null())
            .with_columns(pl.col("raw").str.strip_chars().alias(VALUE))
        )
        self.padded = self.padded or bool((counts.get_column("raw") != counts.get_column(VALUE)).any())
        present = counts.filter(~pl.col(VALUE).str.to_lowercase().is_in(sorted(MISSING_TOKENS)))
        value = pl.col(VALUE)
        weight = pl.col(COUNT)
        sums = present.select(
            weight.filter(pl.col("train")).sum().alias("values"),
            weight.sum().alias("present"),
            weight.filter(value.cast(pl.Float64, strict=False).is_null()).sum().alias("not_number"),
            weight.filter(~value.str.to_lowercase().is_in(frame.BOOLEAN_TOKENS)).sum().alias("not_boolean"),
            weight.filter(value.str.contains(r"\s")).sum().alias("spaced"),
        ).row(0, named=True)
        for name, amount in sums.items():
            self.sums[name] += int(amount or 0)
        self.top.add(present.filter(pl.col("train")).group_by(VALUE).agg(weight.sum()))
        self.distinct.add(present.get_column(VALUE))

    def result(self) -> TextStats:
        return TextStats(
            index=self.index,
            padded=self.padded,
            distinct=self.distinct.estimate(),
            train_counts=tuple((str(value), count) for value, count in self.top.ranked()),
            every_value=self.top.exact,
            **self.sums,
        )


class _TargetLearner:
    """The target's kind of values and, while there are few enough of them, their exact counts."""

    def __init__(self, index: int, numeric: bool) -> None:
        self.index = index
        self.numeric = numeric
        self.not_number = 0
        self.fractions = 0
        self.first_text: str | None = None
        self.top = TopValues(TARGET_VALUES, pl.Float64() if numeric else pl.String())

    def add(self, batch: pl.DataFrame, has_target: pl.Series) -> None:
        column = batch.get_column(internal(self.index)).filter(has_target)
        if not self.numeric:
            column = column.str.strip_chars()
        counts = column.value_counts(name=COUNT).rename({column.name: VALUE})
        if self.numeric:
            value = pl.col(VALUE)
            self.fractions += int(counts.select(pl.col(COUNT).filter(value != value.floor()).sum()).item() or 0)
        else:
            not_number = counts.filter(pl.col(VALUE).cast(pl.Float64, strict=False).is_null())
            self.not_number += int(not_number.get_column(COUNT).sum())
            if self.first_text is None and not_number.height:
                self.first_text = str(column.filter(column.cast(pl.Float64, strict=False).is_null())[0])
        if self.top.exact:  # past TARGET_VALUES values the counts are not needed (nor exact)
            self.top.add(counts)

    def result(self) -> TargetStats:
        counts = tuple((_as_text(value), count) for value, count in self.top.ranked()) if self.top.exact else None
        return TargetStats(
            numeric_read=self.numeric,
            not_number=self.not_number,
            integer_valued=self.fractions == 0,
            counts=counts,
            first_text=self.first_text,
        )


class _Learner:
    """The whole profile, folded batch by batch; :attr:`columns` are the indexes of the columns it reads."""

    def __init__(
        self, layout: Layout, numeric: Sequence[bool], target: int, *, count_quoted: bool, max_categories: int
    ) -> None:
        self.layout = layout
        self.numeric = tuple(numeric)
        self.target = target
        self.count_quoted = count_quoted
        text = [i for i in range(len(layout.columns)) if i != target and not numeric[i]]
        capacity = max(VOCABULARY_MIN, VOCABULARY_PER_CATEGORY * max_categories)
        self.text = {i: _TextLearner(i, capacity) for i in text}
        self.target_learner = _TargetLearner(target, numeric[target])
        self.columns = sorted([*text, target])
        self.sums = {"rows": 0, "target_missing": 0, "split0": 0, "split1": 0, "split2": 0, "quoted": 0}

    def add(self, batch: pl.DataFrame) -> None:
        missing = frame.is_missing(self.target, self.numeric[self.target])
        quoted = [
            pl.col(internal(i)).str.count_matches(self.layout.delimiter, literal=True).sum()
            for i in (*self.text, self.target)
            if self.count_quoted and not self.numeric[i]
        ]
        flags = batch.select(missing.alias("missing"), ((pl.col(SPLIT) == 0) & ~missing).alias("train"))
        sums = batch.select(
            pl.len().alias("rows"),
            missing.sum().alias("target_missing"),
            *[((pl.col(SPLIT) == k) & ~missing).sum().alias(f"split{k}") for k in range(3)],
            pl.sum_horizontal(quoted).alias("quoted") if quoted else pl.lit(0).alias("quoted"),
        ).row(0, named=True)
        for name, amount in sums.items():
            self.sums[name] += int(amount or 0)
        training = flags.get_column("train")
        for learner in self.text.values():
            learner.add(batch, training)
        self.target_learner.add(batch, ~flags.get_column("missing"))

    def result(self) -> Profile:
        return Profile(
            numeric=self.numeric,
            rows=self.sums["rows"],
            target_missing=self.sums["target_missing"],
            split_rows=(self.sums["split0"], self.sums["split1"], self.sums["split2"]),
            quoted_delimiters=self.sums["quoted"],
            text={i: learner.result() for i, learner in self.text.items()},
            target=self.target_learner.result(),
        )


def _as_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
