"""The write pass: target-first, headerless, numbers-only CSV parts for each split, in one read.

The encoding is :meth:`core.schema.Feature.encode` vectorised: a missing value is an empty field
(never 0), booleans are 0/1, a categorical column becomes one 0/1 column per vocabulary entry (plus
``__other__`` when capped); a value outside an uncapped vocabulary, like a missing one, leaves the
whole group empty. Rows are encoded batch by batch (:func:`core.conversion.frame.batches`, for bounded
memory) and each split is written as numbered parts of about ``PART_BYTES``, so that a large training
split reaches SageMaker as many objects (``ShardedByS3Key`` spreads whole objects over instances).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from core.conversion import frame
from core.conversion.frame import SPLIT, SPLITS
from core.conversion.source import child
from core.conversion.target import TargetPlan
from core.schema import Feature

PART_BYTES = 32 << 20  # encoded rows per part, in memory (each split holds at most this much unwritten)
WRITE_BATCH_BYTES = 16 << 20  # raw text of the columns read per batch


@dataclass(frozen=True)
class Column:
    """One input column to encode: where it is, how it was read, what it becomes."""

    index: int
    numeric_read: bool
    padded: bool
    feature: Feature


def part_path(out: str, split: str, number: int) -> str:
    return child(out, split, f"part-{number:05d}.csv")


@dataclass
class Parts:
    """The parts written so far under ``out`` (each split's in order), and the rows waiting for the next.

    A part ends at ``PART_BYTES`` of encoded rows, or sooner at ``max_rows`` rows of its split: a small
    training split asked to train on N instances still needs N parts, since ``ShardedByS3Key`` gives
    each instance whole objects and an instance with none fails.
    """

    out: str
    storage_options: Mapping[str, str] | None
    max_rows: Mapping[str, int] = field(default_factory=dict)
    written: dict[str, list[str]] = field(default_factory=lambda: {split: [] for split in SPLITS})
    _pending: dict[str, list[pl.DataFrame]] = field(default_factory=lambda: {split: [] for split in SPLITS})
    _pending_bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    _pending_rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))

    def add(self, split: str, rows: pl.DataFrame) -> None:
        limit = self.max_rows.get(split)
        while not rows.is_empty():
            room = rows.height if limit is None else limit - self._pending_rows[split]
            taken, rows = rows.head(room), rows.slice(room)
            self._pending[split].append(taken)
            self._pending_rows[split] += taken.height
            self._pending_bytes[split] += int(taken.estimated_size())
            if self._pending_bytes[split] >= PART_BYTES or self._pending_rows[split] == limit:
                self._flush(split)

    def close(self) -> None:
        for split in SPLITS:
            self._flush(split)

    def files(self) -> list[str]:
        return [path for split in SPLITS for path in self.written[split]]

    def _flush(self, split: str) -> None:
        if not self._pending[split]:
            return
        path = part_path(self.out, split, len(self.written[split]))
        rows = pl.concat(self._pending[split], rechunk=False)
        self._pending[split], self._pending_bytes[split], self._pending_rows[split] = [], 0, 0
        self.written[split].append(path)  # before writing: a failed write may leave part of it behind
        options = dict(self.storage_options) if self.storage_options else None
        rows.lazy().sink_csv(path, include_header=False, storage_options=options, mkdir=True)


def label_expression(index: int, numeric_read: bool, plan: TargetPlan) -> pl.Expr:
    """The encoded label of rows that have one (regression: the number; classification: 0..k-1)."""
    number = frame.as_number(index, numeric_read, has_nan=False)
    if plan.problem_type == "regression":
        return number
    keys = plan.numeric_keys
    if keys is None:
        return frame.text(index).replace_strict(
            list(plan.classes), list(range(len(plan.classes))), return_dtype=pl.Int32
        )
    if all(key == keys[0] + i for i, key in enumerate(keys)):  # consecutive integers: a subtraction
        return (number - keys[0]).cast(pl.Int32)
    return number.replace_strict(list(keys), list(range(len(keys))), return_dtype=pl.Int32)


def feature_expressions(column: Column) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """The column's output expressions, and the per-row values they share, computed first and once.

    A categorical column's 100 one-hot outputs all compare the same (stripped) value and test the same
    "missing" and "in the vocabulary": written inline, polars evaluated each of those per output,
    which made the write pass of text-heavy files 7× slower than the reading (measured by
    ``benchmarks/ingest.py``); as named columns they are computed once per batch.
    """
    feature = column.feature
    if feature.kind == "numeric":
        return [], [frame.as_number(column.index, column.numeric_read)]
    if feature.kind == "boolean":
        return [], [frame.as_boolean(column.index)]
    names = [f"_value{column.index}", f"_known{column.index}", f"_missing{column.index}"]
    value, known, missing = (pl.col(name) for name in names)
    text = frame.text(column.index) if column.padded else pl.col(frame.internal(column.index))
    shared = [text.alias(names[0]), text.is_in(list(feature.categories)).alias(names[1])]
    if not feature.capped:
        # Missing values are never in a vocabulary: "not in it" (missing or unseen) empties the group.
        return shared, [pl.when(known).then((value == category).cast(pl.UInt8)) for category in feature.categories]
    shared.append(frame.is_missing(column.index, column.numeric_read).alias(names[2]))
    hot = [(value == category).cast(pl.UInt8) for category in feature.categories]
    hot.append((~known).cast(pl.UInt8))
    return shared, [pl.when(missing).then(pl.lit(None, pl.UInt8)).otherwise(expression) for expression in hot]


def write_splits(
    batches: Iterable[pl.DataFrame],
    target: int,
    target_numeric_read: bool,
    plan: TargetPlan,
    columns: Sequence[Column],
    parts: Parts,
    *,
    drop_missing_target: bool,
) -> None:
    """Write each split's rows that have a target to ``parts``; raises polars' error if a value fails to parse."""
    shared: list[pl.Expr] = []
    expressions = [label_expression(target, target_numeric_read, plan)]
    for column in columns:
        values, outputs = feature_expressions(column)
        shared += values
        expressions += outputs
    named = [expression.alias(f"o{i}") for i, expression in enumerate(expressions)]
    for batch in batches:
        rows = batch.filter(~frame.is_missing(target, target_numeric_read)) if drop_missing_target else batch
        encoded = rows.with_columns(shared).select(*named, SPLIT)
        for k, split in enumerate(SPLITS):
            parts.add(split, encoded.filter(pl.col(SPLIT) == k).drop(SPLIT))
    parts.close()
