"""The write pass: target-first, headerless, numbers-only CSV parts, one per split, in one scan.

The encoding is :meth:`core.schema.Feature.encode` vectorised: a missing value is an empty field
(never 0), booleans are 0/1, a categorical column becomes one 0/1 column per vocabulary entry (plus
``__other__`` when capped); a value outside an uncapped vocabulary, like a missing one, leaves the
whole group empty. The three splits are three sinks over one shared scan, run together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from core.conversion import frame
from core.conversion.frame import SPLIT, SPLITS
from core.conversion.source import child
from core.conversion.target import TargetPlan
from core.schema import Feature

PART_NAME = "part-00000.csv"


@dataclass(frozen=True)
class Column:
    """One input column to encode: where it is, how it was read, what it becomes."""

    index: int
    numeric_read: bool
    padded: bool
    feature: Feature


def part_path(out: str, split: str) -> str:
    return child(out, split, PART_NAME)


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


def feature_expressions(column: Column) -> list[pl.Expr]:
    feature = column.feature
    if feature.kind == "numeric":
        return [frame.as_number(column.index, column.numeric_read)]
    if feature.kind == "boolean":
        return [frame.as_boolean(column.index)]
    value = frame.text(column.index) if column.padded else pl.col(frame.internal(column.index))
    known = value.is_in(list(feature.categories))
    if not feature.capped:
        # Missing values are never in a vocabulary: "not in it" (missing or unseen) empties the group.
        return [pl.when(known).then((value == category).cast(pl.UInt8)) for category in feature.categories]
    missing = frame.is_missing(column.index, column.numeric_read)
    hot = [(value == category).cast(pl.UInt8) for category in feature.categories]
    hot.append((~known).cast(pl.UInt8))
    return [pl.when(missing).then(pl.lit(None, pl.UInt8)).otherwise(expression) for expression in hot]


def write_splits(
    lazy: pl.LazyFrame,
    target: int,
    target_numeric_read: bool,
    plan: TargetPlan,
    columns: Sequence[Column],
    outputs: Mapping[str, str],
    storage_options: Mapping[str, str] | None,
    *,
    drop_missing_target: bool,
) -> None:
    """Write each split's rows that have a target to ``outputs[split]`` (a file path or S3 URL)."""
    expressions = [label_expression(target, target_numeric_read, plan)]
    for column in columns:
        expressions += feature_expressions(column)
    named = [expression.alias(f"o{i}") for i, expression in enumerate(expressions)]
    if drop_missing_target:
        lazy = lazy.filter(~frame.is_missing(target, target_numeric_read))
    sinks = [
        lazy.filter(pl.col(SPLIT) == k)
        .select(named)
        .sink_csv(
            outputs[name],
            include_header=False,
            storage_options=dict(storage_options) if storage_options else None,
            mkdir=True,
            lazy=True,
        )
        for k, name in enumerate(SPLITS)
    ]
    pl.collect_all(sinks, engine="streaming")
