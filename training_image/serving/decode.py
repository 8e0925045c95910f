"""Request body → float32 feature matrix (NaN = missing), one decoder per accepted content type.

CSV rows are the model's columns without the label, like SageMaker's built-in XGBoost. JSON takes
numeric rows, or raw records keyed by the original column names, which only
:meth:`core.schema.Schema.encode_records` encodes: the same code as ingest, so an endpoint never drifts
from the data the model was trained on.

Every problem a client can fix is a :class:`core.errors.UserInputError` whose reason says what to send
instead; the app answers it with a 400.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from core.errors import UserInputError
from core.schema import MISSING_TOKENS, is_missing
from training_image.serving.model import ServedModel

# Below this size Python's own float() on split lines is faster than starting pyarrow's reader, which
# costs ~0.3 ms even for one row; above it pyarrow is ~4x faster (measured here: 1,000 rows of 30 values,
# ~300 KB, in 1.7 ms against 7.5 ms). The two meet at roughly 50 such rows.
ARROW_MIN_BYTES = 16 * 1024

Decoder = Callable[[bytes, ServedModel], np.ndarray]

# Spreadsheet exports on Windows start files with a UTF-8 byte order mark; it is not part of the data.
UTF8_BOM = b"\xef\xbb\xbf"


def decode_csv(body: bytes, model: ServedModel) -> np.ndarray:
    """CSV rows of ``model.width`` numbers; empty cells and the usual "NA" spellings are missing."""
    body = body.removeprefix(UTF8_BOM)
    if len(body) >= ARROW_MIN_BYTES:
        matrix = _csv_with_arrow(body, model.width)
        if matrix is not None:
            return matrix
    # The reference parser: exact semantics, and an error message naming the line for anything else.
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserInputError(f"the CSV body is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    rows: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = next(csv.reader([line])) if '"' in line else line.split(",")
        if len(cells) != model.width:
            raise UserInputError(
                f"line {number} has {len(cells)} values; this model expects {model.width} per row "
                "(the features only, without the label)",
                line=number,
            )
        try:
            rows.append([float(cell) for cell in cells])
        except ValueError:
            rows.append([_csv_number(cell, number, column) for column, cell in enumerate(cells, start=1)])
    if not rows:
        raise UserInputError("the CSV body holds no rows")
    return np.array(rows, dtype=np.float32)


def _csv_number(cell: str, line: int, column: int) -> float:
    if is_missing(cell):
        return math.nan
    try:
        return float(cell)
    except ValueError:
        raise UserInputError(f"line {line}, value {column}: expected a number, got {cell!r}", line=line) from None


def _csv_with_arrow(body: bytes, width: int) -> np.ndarray | None:
    """Parse with pyarrow; ``None`` when it refuses the body, so the reference parser explains why."""
    read_options, parse_options, convert_options = _arrow_options(width)
    try:
        table = pa_csv.read_csv(
            pa.py_buffer(body),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
    except pa.ArrowInvalid:
        return None
    if table.num_rows == 0:
        return None
    matrix = np.empty((table.num_rows, width), dtype=np.float32)
    for index, column in enumerate(table.columns):
        matrix[:, index] = column.to_numpy()
    return matrix


@lru_cache(maxsize=4)
def _arrow_options(
    width: int,
) -> tuple[pa_csv.ReadOptions, pa_csv.ParseOptions, pa_csv.ConvertOptions]:
    names = [f"c{i}" for i in range(width)]
    return (
        # One thread: serve already runs a worker per CPU.
        pa_csv.ReadOptions(column_names=names, use_threads=False),
        pa_csv.ParseOptions(ignore_empty_lines=True),
        pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.float32()),
            null_values=sorted(_spellings(MISSING_TOKENS)),
            quoted_strings_can_be_null=True,
        ),
    )


def _spellings(tokens: frozenset[str]) -> set[str]:
    """Every upper/lower-case spelling of ``tokens``: pyarrow compares null values exactly."""
    return {
        "".join(letters) for token in tokens for letters in itertools.product(*({c.lower(), c.upper()} for c in token))
    }


def decode_json(body: bytes, model: ServedModel) -> np.ndarray:
    """Numeric rows, one numeric row, records with column names, one record, or ``{"instances": …}``."""
    try:
        data = json.loads(body.removeprefix(UTF8_BOM))
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        raise UserInputError(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise UserInputError("the JSON body is nested too deeply to be rows of features") from None
    if isinstance(data, Mapping):
        data = _unwrap_instances(data, model)
    if isinstance(data, Mapping):
        return _encode_records([data], model)
    if not isinstance(data, list) or not data:
        raise UserInputError("send a JSON list of rows (lists of numbers) or records (objects keyed by column name)")
    if all(isinstance(item, Mapping) for item in data):
        return _encode_records(data, model)
    if all(isinstance(item, list) for item in data):
        return _numeric_rows(data, model.width)
    if not any(isinstance(item, list | Mapping) for item in data):
        return _numeric_rows([data], model.width)
    raise UserInputError("a JSON body mixes rows of different kinds; send all lists or all objects")


def _unwrap_instances(data: Mapping[str, Any], model: ServedModel) -> Any:
    """``{"instances": [...]}`` (TensorFlow Serving's and SageMaker's JSON shape) holds the rows.

    A model with a feature called ``instances`` takes such an object as one record instead.
    """
    has_feature = model.schema is not None and any(f.name == "instances" for f in model.schema.features)
    if "instances" in data and not has_feature:
        return data["instances"]
    return data


def _encode_records(records: Sequence[Mapping[str, Any]], model: ServedModel) -> np.ndarray:
    if model.schema is None:
        raise UserInputError(
            f"this model has no schema.json, so it cannot read column names; send rows of {model.width} numbers instead"
        )
    for number, record in enumerate(records):
        if model.column_names.isdisjoint(record):
            # Absent columns are missing, but a record with none of them is a mistake (often a name's
            # case): predicting from nothing would hide it.
            expected = ", ".join(repr(f.name) for f in model.schema.features[:5])
            more = ", …" if len(model.schema.features) > 5 else ""
            raise UserInputError(
                f"record {number} has none of this model's columns ({expected}{more}); names are case-sensitive"
            )
    return model.schema.encode_records(records)


def _numeric_rows(rows: list[Any], width: int) -> np.ndarray:
    for number, row in enumerate(rows):
        if len(row) != width:
            raise UserInputError(
                f"row {number} has {len(row)} values; this model expects {width} per row "
                "(the features only, without the label)"
            )
    try:
        return np.array(rows, dtype=np.float32)
    except (TypeError, ValueError):
        # Slow path for strings such as "NA" (missing) and for the message naming the bad value.
        return np.array(
            [
                [_json_number(value, number, column) for column, value in enumerate(row)]
                for number, row in enumerate(rows)
            ],
            dtype=np.float32,
        )


def _json_number(value: object, row: int, column: int) -> float:
    if is_missing(value):
        return math.nan
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise UserInputError(f"row {row}, value {column}: expected a number, got {value!r}")


FLOAT32_MAX = float(np.finfo(np.float32).max)


def finite(decoder: Decoder) -> Decoder:
    """``decoder``, refusing a value that is not a finite float32 (``Infinity``, ``1e400``, ``1e39``).

    XGBoost would take an infinity as a value larger than any split point, which is not what a client
    sending ``1e400`` means; the answer names the row and the column instead, as for any bad value.
    """

    def decode(body: bytes, model: ServedModel) -> np.ndarray:
        matrix = decoder(body, model)
        bad = np.argwhere(np.isinf(matrix))
        if len(bad):
            row, column = (int(i) for i in bad[0])
            names = model.schema.output_names() if model.schema is not None else []
            where = f"column {names[column]!r}" if column < len(names) else f"value {column + 1}"
            raise UserInputError(
                f"row {row}, {where}: the number is not finite or is beyond ±{FLOAT32_MAX:.4g}; send a finite "
                "number, or leave the value out (null, empty) for a missing one"
            )
        return matrix

    return decode


DECODERS: dict[str, Decoder] = {
    "text/csv": finite(decode_csv),
    "application/json": finite(decode_json),
}
