"""``convert``: an uploaded CSV in, target-first splits and their schema out, or one clear refusal.

The order of work is the contract "refuse before writing": the head (encoding, delimiter, header), a
byte tally of the whole file, one profile pass (types, target, vocabularies, split sizes) and every
check run before the first byte is written; only then does the single write pass run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.conversion import frame
from core.conversion import source as locations
from core.conversion.encode import Column, part_path, write_splits
from core.conversion.frame import SPLITS
from core.conversion.layout import SAMPLE_BYTES, Layout, read_layout
from core.conversion.profile import ColumnStats, Profile, ReadFailed, profile, target_counts
from core.conversion.structure import ByteTally, diagnose, tally
from core.conversion.target import find_target, plan_target
from core.errors import UserInputError
from core.schema import Feature, Schema
from core.settings import DatasetSettings


@dataclass(frozen=True)
class ConversionResult:
    """What was written and learned; ``files`` maps each split to its CSV part."""

    schema: Schema
    bytes_read: int  # size of the uploaded file (each pass streams it; this counts it once)
    delimiter: str  # the upload's delimiter (the written parts always use a comma)
    files: Mapping[str, str]


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
    name = layout.columns[target]
    counts = tally(locations.iter_bytes(source, storage_options), layout.delimiter)

    def check_structure() -> None:
        problem = _diagnose(source, layout, storage_options)
        if problem is not None:
            raise problem

    try:
        learned = profile(
            source,
            layout,
            target,
            settings.split,
            storage_options,
            count_quoted=counts.quotes > 0,
            check_structure=check_structure,
        )
    except ReadFailed as exc:
        problem = _diagnose(source, layout, storage_options)
        raise problem or UserInputError(f"the file could not be read as CSV: {exc.detail}") from None
    if not _tally_agrees(layout, counts, learned):
        check_structure()
    if learned.rows_with_values == 0:
        raise UserInputError("the file has a header (line 1) but no data rows", line=1)
    if sum(learned.split_rows) == 0:
        raise UserInputError(
            f"target column {name!r} has no values: all {learned.rows_with_values} rows leave it empty",
            column=name,
        )
    _check_split_sizes(learned, settings)
    plan = plan_target(
        name,
        learned.target,
        settings.problem_type,
        lambda: target_counts(source, layout, target, learned.numeric, settings.split, storage_options),
    )
    features, dropped = _features(layout, learned, target, settings.max_categories)
    schema = Schema(
        target=name,
        problem_type=plan.problem_type,
        features=tuple(column.feature for column in features),
        classes=plan.classes,
        dropped_columns=tuple(dropped),
        rows={**dict(zip(SPLITS, learned.split_rows, strict=True)), "missing_target": learned.missing_target},
    )
    outputs = {split: part_path(out, split) for split in SPLITS}
    lazy = frame.scan(
        source, layout, target, learned.numeric, frame.reader_null_values(layout), settings.split, storage_options
    )
    write_splits(
        lazy,
        target,
        learned.numeric[target],
        plan,
        features,
        outputs,
        storage_options,
        drop_missing_target=sum(learned.split_rows) < learned.rows,
    )
    return ConversionResult(schema, counts.size, layout.delimiter, outputs)


def _diagnose(source: str, layout: Layout, storage_options: Mapping[str, str] | None) -> UserInputError | None:
    chunks = locations.iter_bytes(source, storage_options)
    return diagnose(chunks, layout.delimiter, len(layout.columns))


def _tally_agrees(layout: Layout, counts: ByteTally, learned: Profile) -> bool:
    """Whether the raw delimiter count proves that no row has fewer fields than the header."""
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


def _features(layout: Layout, learned: Profile, target: int, max_categories: int) -> tuple[list[Column], list[str]]:
    """Each input column's feature (numeric, boolean or categorical), and the columns with no values."""
    features: list[Column] = []
    dropped: list[str] = []
    for index, name in enumerate(layout.columns):
        if index == target:
            continue
        stats = learned.columns[index]
        if stats.values == 0:
            dropped.append(name)
        else:
            feature = _feature(name, stats, max_categories)
            features.append(Column(index, stats.numeric_read, stats.has_nan, stats.padded, feature))
    if not features:
        raise UserInputError(
            "no feature column has values (empty: "
            f"{', '.join(repr(name) for name in dropped) or 'none'}); there is nothing to learn from"
        )
    return features, dropped


def _feature(name: str, stats: ColumnStats, max_categories: int) -> Feature:
    if stats.numeric_read or stats.not_number == 0:
        return Feature(name, "numeric")
    if stats.not_boolean == 0:
        return Feature(name, "boolean")
    ranked = sorted(stats.train_counts, key=lambda pair: (-pair[1], pair[0]))
    return Feature(
        name,
        "categorical",
        categories=tuple(value for value, _ in ranked[:max_categories]),
        capped=len(ranked) > max_categories,
    )
