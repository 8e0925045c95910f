"""The write pass: target-first, headerless, numbers-only CSV parts for each split, in one streaming query.

The encoding is :meth:`core.schema.Feature.encode` vectorised: a missing value is an empty field
(never 0), booleans are 0/1, a categorical column becomes one 0/1 column per vocabulary entry (plus
``__other__`` when capped); a value outside an uncapped vocabulary, like a missing one, leaves the
whole group empty. The rows (:func:`core.conversion.frame.rows_to_write`) are encoded once and each
split is sunk as numbered parts of about ``PART_BYTES``, so that a large training split reaches
SageMaker as many objects (``ShardedByS3Key`` spreads whole objects over instances). One streaming
query reads the file once and sinks every split, partitioned by split: memory is polars' pipeline,
not the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from core.conversion import frame
from core.conversion.frame import SPLIT, SPLITS
from core.conversion.source import child
from core.conversion.target import TargetPlan
from core.schema import Feature

PART_BYTES = 32 << 20  # encoded rows per part, as polars estimates them in memory


@dataclass(frozen=True)
class Column:
    """One input column to encode: where it is, how it was read, what it becomes."""

    index: int
    numeric_read: bool
    padded: bool
    feature: Feature


def part_name(number: int) -> str:
    return f"part-{number:05d}.csv"


@dataclass
class Parts:
    """Where each split's parts go (``out``/split/), and every part polars has begun to write (in order
    once the sink is done).

    A part ends at ``PART_BYTES`` of encoded rows, or sooner at ``max_rows`` rows: a small training
    split asked to train on N instances still needs N parts, since ``ShardedByS3Key`` gives each
    instance whole objects and an instance with none fails (the other splits, which polars
    partitions by the same limit, may get more parts than they need, which costs nothing). A part
    is recorded when polars asks for its name, before it writes it, so a failed write can remove
    what it left behind.
    """

    out: str
    storage_options: Mapping[str, str] | None
    max_rows: int | None = None
    written: dict[str, list[str]] = field(default_factory=lambda: {split: [] for split in SPLITS})

    def sink(self, rows: pl.LazyFrame) -> None:
        """Write ``rows`` as the parts of the split each is in (``SPLIT``, dropped from the output)."""

        def name(args: pl.io.partition.FileProviderArgs) -> str:
            split = SPLITS[args.partition_keys.item(0, 0)]
            self.written[split].append(child(self.out, split, part_name(args.index_in_partition)))
            return f"{split}/{part_name(args.index_in_partition)}"

        parts = pl.PartitionBy(
            self.out,
            key=SPLIT,
            include_key=False,
            file_path_provider=name,
            max_rows_per_file=self.max_rows,
            approximate_bytes_per_file=PART_BYTES,
        )
        options = dict(self.storage_options) if self.storage_options else None
        rows.sink_csv(parts, include_header=False, storage_options=options, mkdir=True, engine="streaming")
        for paths in self.written.values():  # polars names parts as it opens them, not always in order
            paths.sort()  # zero-padded numbers: in order

    def files(self) -> list[str]:
        return [path for split in SPLITS for path in self.written[split]]


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

    A categorical column's value is turned once into its place in the vocabulary (a cast to an
    ``Enum`` of it: null when missing or outside it; past the end for ``__other__``), so each of its
    one-hot outputs is one integer comparison. Written as a string comparison per output, with the
    "missing" and "known" tests inline, polars evaluated all of it per output, which made the write
    pass of text-heavy files several times slower than the reading (measured by ``benchmarks/ingest.py``).
    """
    feature = column.feature
    if feature.kind == "numeric":
        return [], [frame.as_number(column.index, column.numeric_read)]
    if feature.kind == "boolean":
        return [], [frame.as_boolean(column.index)]
    name = f"_place{column.index}"
    text = frame.text(column.index) if column.padded else pl.col(frame.internal(column.index))
    place = text.cast(pl.Enum(feature.categories), strict=False).to_physical().cast(pl.UInt32)
    outputs = len(feature.categories)
    if feature.capped:  # outside the vocabulary is __other__ (the last output); missing empties the group
        missing = frame.is_missing(column.index, column.numeric_read)
        place = pl.when(~missing).then(place.fill_null(outputs))
        outputs += 1
    return [place.alias(name)], [(pl.col(name) == k).cast(pl.UInt8) for k in range(outputs)]


def write_splits(
    rows: pl.LazyFrame,
    target: int,
    target_numeric_read: bool,
    plan: TargetPlan,
    columns: Sequence[Column],
    parts: Parts,
) -> None:
    """Write ``rows`` (with their ``SPLIT``) to ``parts``; raises polars' error if a value fails to parse."""
    shared: list[pl.Expr] = []
    expressions = [label_expression(target, target_numeric_read, plan)]
    for column in columns:
        values, outputs = feature_expressions(column)
        shared += values
        expressions += outputs
    named = [expression.alias(f"o{i}") for i, expression in enumerate(expressions)]
    parts.sink(rows.with_columns(shared).select(*named, SPLIT))
