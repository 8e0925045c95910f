"""``convert``: an uploaded CSV in, target-first splits and their schema out, or one clear refusal.

The order of work is the contract "refuse before writing": the head (encoding, delimiter, header), a
byte tally of the whole file, one profile pass (target, text columns, vocabularies, split sizes) and
every check run before the first byte is written; only then does the single write pass run. Numeric
columns are parsed by the write pass alone: if one holds text after all, the write pass fails before
finishing, its partial parts are removed, and the column is profiled as text in a new round.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from core.conversion import frame
from core.conversion import source as locations
from core.conversion.encode import Column, Parts, write_splits
from core.conversion.frame import SPLITS
from core.conversion.layout import SAMPLE_BYTES, Layout, read_layout
from core.conversion.profile import (
    RETYPES_BEFORE_CHECK,
    Profile,
    ReadFailed,
    TextStats,
    profile,
    retyped_column,
)
from core.conversion.structure import ByteTally, Diagnosis, diagnose, tally
from core.conversion.target import TargetPlan, find_target, plan_target
from core.errors import UserInputError
from core.schema import Feature, Schema
from core.settings import DatasetSettings


@dataclass(frozen=True)
class ConversionResult:
    """What was written and learned; ``files`` maps each split to its CSV parts, in order."""

    schema: Schema
    bytes_read: int  # size of the uploaded file (each pass streams it; this counts it once)
    delimiter: str  # the upload's delimiter (the written parts always use a comma)
    files: Mapping[str, Sequence[str]]


def convert(
    source: str,
    out: str,
    settings: DatasetSettings,
    storage_options: dict[str, str] | None = None,
) -> ConversionResult:
    """Convert ``source`` (a path or ``s3://bucket/key``) into ``{out}/{train,validation,test}/``.

    Raises :class:`UserInputError` for anything the user must fix, having written nothing under ``out``.
    """
    if not locations.exists(source, storage_options):
        raise UserInputError(f"no such file: {source}")
    layout = read_layout(locations.iter_bytes(source, storage_options, chunk_bytes=SAMPLE_BYTES))
    target = find_target(layout.columns, settings.target)
    counts = tally(locations.iter_bytes(source, storage_options), layout.delimiter)
    numeric = frame.guess_numeric(layout)
    checked: list[Diagnosis] = []
    retypes = 0

    def check_structure() -> Diagnosis:
        """The exact (slow) structural check, run at most once; raises the problem it finds."""
        if not checked:
            checked.append(
                diagnose(locations.iter_bytes(source, storage_options), layout.delimiter, len(layout.columns))
            )
        if checked[0].problem is not None:
            raise checked[0].problem
        return checked[0]

    while True:
        try:
            learned = profile(
                source,
                layout,
                target,
                settings.split,
                storage_options,
                numeric=numeric,
                count_quoted=counts.quotes > 0,
                max_categories=settings.max_categories,
                check_structure=check_structure,
            )
        except ReadFailed as exc:
            check_structure()
            raise UserInputError(f"the file could not be read as CSV: {exc.detail}") from None
        blank = counts.trailing_blank_lines if _tally_agrees(layout, counts, learned) else check_structure().blank_lines
        schema, plan, features = _plan(layout, target, learned, blank, settings)
        rows = frame.rows_to_write(
            source,
            layout,
            learned.numeric,
            storage_options,
            columns=sorted({target, *(column.index for column in features)}),
            target=target,
            fractions=settings.split,
            any_missing_target=learned.target_missing > 0,
        )
        parts = Parts(out, storage_options, max_rows=_rows_per_part(learned, settings))
        try:
            write_splits(rows, target, learned.numeric[target], plan, features, parts)
        except pl.exceptions.PolarsError as exc:
            # A column read as numbers (never parsed by the profile) holds text further down: remove
            # what was written, read it as text and start over (it may now be categorical). Anything
            # else, or text in column after column, is a structural problem to find and describe.
            locations.remove(parts.files(), storage_options)
            column = retyped_column(exc, learned.numeric)
            retypes += 1
            if column is None or retypes >= RETYPES_BEFORE_CHECK:
                check_structure()
            if column is None:
                raise UserInputError(f"the file could not be read as CSV: {str(exc).splitlines()[0]}") from None
            numeric = list(learned.numeric)
            numeric[column] = False
            continue
        return ConversionResult(schema, counts.size, layout.delimiter, parts.written)


def _rows_per_part(learned: Profile, settings: DatasetSettings) -> int | None:
    """A training split asked for N instances is written as at least N parts (see :class:`Parts`)."""
    wanted = settings.instance_count if isinstance(settings.instance_count, int) else 1
    return max(1, math.ceil(learned.split_rows[0] / wanted)) if wanted > 1 else None


def _plan(
    layout: Layout, target: int, learned: Profile, blank: int, settings: DatasetSettings
) -> tuple[Schema, TargetPlan, list[Column]]:
    """Every check that can refuse the file, then the schema, label plan and columns to write."""
    name = layout.columns[target]
    if learned.rows - blank == 0:
        raise UserInputError("the file has a header (line 1) but no data rows", line=1)
    if sum(learned.split_rows) == 0:
        raise UserInputError(
            f"target column {name!r} has no values: all {learned.rows - blank} rows leave it empty", column=name
        )
    _check_split_sizes(learned, settings)
    plan = plan_target(name, learned.target, settings.problem_type)
    features, dropped, identifiers = _features(layout, learned, target, settings.max_categories)
    schema = Schema(
        target=name,
        problem_type=plan.problem_type,
        features=tuple(column.feature for column in features),
        classes=plan.classes,
        dropped_columns=tuple(dropped),
        identifier_columns=tuple(identifiers),
        rows={**dict(zip(SPLITS, learned.split_rows, strict=True)), "missing_target": learned.target_missing - blank},
    )
    return schema, plan, features


def _tally_agrees(layout: Layout, counts: ByteTally, learned: Profile) -> bool:
    """Whether the raw delimiter count proves that no row has fewer fields than the header.

    Every record polars produced holds ``columns - 1`` unquoted delimiters (too many make polars fail),
    so the raw count must be the header's plus that per record plus those inside quoted values. A blank
    line holds none, so any blank line but the trailing ones also sends the file to the exact check.
    """
    records = learned.rows - counts.trailing_blank_lines
    expected = layout.header_delimiters + records * (len(layout.columns) - 1) + learned.quoted_delimiters
    return counts.delimiters == expected


def _check_split_sizes(learned: Profile, settings: DatasetSettings) -> None:
    if min(learned.split_rows) > 0:
        return
    sizes = ", ".join(f"{split} {rows}" for split, rows in zip(SPLITS, learned.split_rows, strict=True))
    raise UserInputError(
        f"too few rows: {sum(learned.split_rows)} rows with a target give {sizes}; every split needs at "
        f"least one row (fractions {settings.split.train:g}/{settings.split.validation:g}/"
        f"{settings.split.test:g}), so add rows"
    )


def _features(
    layout: Layout, learned: Profile, target: int, max_categories: int
) -> tuple[list[Column], list[str], list[str]]:
    """Each input column's feature (numeric, boolean or categorical); the empty columns; the identifiers."""
    features: list[Column] = []
    dropped: list[str] = []
    identifiers: list[str] = []
    for index, name in enumerate(layout.columns):
        if index == target:
            continue
        if learned.numeric[index]:  # read as numbers: it had a value in the sample at least
            features.append(Column(index, True, False, Feature(name, "numeric")))
            continue
        stats = learned.text[index]
        if stats.values == 0:
            dropped.append(name)
        elif stats.not_number and stats.not_boolean and stats.identifier:
            identifiers.append(name)
        else:
            features.append(Column(index, False, stats.padded, _feature(name, stats, max_categories)))
    if not features:
        empty = ", ".join(repr(name) for name in dropped) or "none"
        ids = f"; identifiers: {', '.join(repr(name) for name in identifiers)}" if identifiers else ""
        raise UserInputError(f"no feature column has values (empty: {empty}{ids}); there is nothing to learn from")
    return features, dropped, identifiers


def _feature(name: str, stats: TextStats, max_categories: int) -> Feature:
    if stats.not_number == 0:
        return Feature(name, "numeric")
    if stats.not_boolean == 0:
        return Feature(name, "boolean")
    return Feature(
        name,
        "categorical",
        categories=tuple(value for value, _ in stats.train_counts[:max_categories]),
        capped=not stats.every_value or len(stats.train_counts) > max_categories,
    )
