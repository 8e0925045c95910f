"""Reading a channel's part files into float32 arrays, fast and in full.

Ingest (or a user following the built-in algorithm's conventions) writes target-first CSV: the label,
then the features, no header, an empty field for a missing value. A channel may hold many part files,
in subfolders, gzip-compressed or not. pyarrow's CSV reader is multithreaded and reads straight into
float32 (empty → null → NaN, which XGBoost treats as missing), unlike XGBoost's deprecated text loader.
JSON files in a channel are metadata (the ingest's ``schema.json``, manifests), never data.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from core.errors import UserInputError
from training_image.environment import Channel

CSV_TYPES = frozenset({"text/csv", "csv", "text/x-csv"})
PARQUET_TYPES = frozenset({"application/x-parquet", "application/parquet", "parquet"})


@dataclass(frozen=True)
class Dataset:
    """One channel's rows: features (C-ordered float32, NaN = missing), labels and optional weights."""

    features: np.ndarray
    labels: np.ndarray
    weights: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return int(self.labels.shape[0])

    def rows_slice(self, start: int, stop: int) -> Dataset:
        weights = None if self.weights is None else self.weights[start:stop]
        return Dataset(self.features[start:stop], self.labels[start:stop], weights)


def part_files(folder: Path) -> list[Path]:
    """Every data file under ``folder`` (subfolders included) in a stable order; hidden and empty skipped."""
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not path.name.startswith((".", "_"))
        and path.suffix != ".json"
        and path.stat().st_size > 0
    )


def read_channel(channel: Channel, *, with_weights: bool = False) -> Dataset:
    """Read every part file of ``channel`` as one dataset.

    ``with_weights`` is the built-in algorithm's ``csv_weights=1``: the column after the label holds
    each row's instance weight.
    """
    reader = _reader_for(channel)
    paths = part_files(channel.path)
    if not paths:
        raise UserInputError(f"channel {channel.name!r} has no data files in {channel.path.name}/")
    tables = [table for path in paths if (table := _read_part(reader, path, channel)).num_rows]
    if not tables:
        raise UserInputError(f"channel {channel.name!r} has no rows in its {len(paths)} data file(s)")
    widths = {t.num_columns for t in tables}
    if len(widths) > 1:
        raise UserInputError(
            f"channel {channel.name!r}: part files have different column counts {sorted(widths)}; "
            "every part must have the label and the same features"
        )
    first_feature = 2 if with_weights else 1
    width = widths.pop()
    if width <= first_feature:
        raise UserInputError(f"channel {channel.name!r}: rows need a label and at least one feature column")
    return _to_dataset(tables, channel, first_feature)


def _reader_for(channel: Channel) -> str:
    base, *options = [part.strip().lower() for part in channel.content_type.split(";")]
    if base in CSV_TYPES and all(option in ("label_size=1", "") for option in options):
        return "csv"
    if base in PARQUET_TYPES:
        return "parquet"
    raise UserInputError(
        f"channel {channel.name!r}: content type {channel.content_type!r} is not supported; "
        "give target-first CSV as text/csv (or application/x-parquet)"
    )


def _read_part(reader: str, path: Path, channel: Channel) -> pa.Table:
    where = f"channel {channel.name!r}, file {path.relative_to(channel.path)}"
    try:
        if reader == "parquet":
            return pq.read_table(path)
        return _read_csv(path)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise UserInputError(f"{where}: {reason}") from None


def _read_csv(path: Path) -> pa.Table:
    fields = _field_count(path)
    if fields == 0:
        return pa.table({})  # an empty part (e.g. a compressed empty file): no rows to add
    names = [f"c{i}" for i in range(fields)]
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=names),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.float32())),
    )


def _field_count(path: Path) -> int:
    """Fields on the first line: the column names pyarrow needs to read every column as float32."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        first = handle.readline()
    return first.count(",") + 1 if first.strip() else 0


def _to_dataset(tables: list[pa.Table], channel: Channel, first_feature: int) -> Dataset:
    rows = sum(t.num_rows for t in tables)
    width = tables[0].num_columns
    features = np.empty((rows, width - first_feature), dtype=np.float32)
    labels = np.empty(rows, dtype=np.float32)
    weights = np.empty(rows, dtype=np.float32) if first_feature == 2 else None
    offset = 0
    for table in tables:
        stop = offset + table.num_rows
        labels[offset:stop] = _column(table, 0)
        if weights is not None:
            weights[offset:stop] = _column(table, 1)
        for j in range(first_feature, width):
            features[offset:stop, j - first_feature] = _column(table, j)
        offset = stop
    missing = np.flatnonzero(np.isnan(labels))
    if missing.size:
        raise UserInputError(f"channel {channel.name!r}: row {int(missing[0]) + 1} has no label (first column)")
    if weights is not None and np.isnan(weights).any():
        raise UserInputError(f"channel {channel.name!r}: csv_weights=1 but a row has no weight (second column)")
    return Dataset(features, labels, weights)


def _column(table: pa.Table, index: int) -> np.ndarray:
    column = table.column(index)
    if not pa.types.is_floating(column.type) and not pa.types.is_integer(column.type):
        column = column.cast(pa.float32())  # parquet columns may be typed otherwise; CSV ones are float32
    return column.to_numpy()
