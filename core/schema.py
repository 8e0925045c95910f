"""The dataset schema: what ingest learned from an upload, and the one encoding of raw rows.

Ingest writes ``schema.json`` next to the target-first splits; the training image packs it into the
model; ``serve`` uses :meth:`Schema.encode_records` to turn raw records (original column names) into
the feature vector the model was trained on. One implementation of the encoding, or predictions drift:
the conversion's vectorised encoder is tested against :meth:`Schema.encode_records` row for row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np

from core.errors import UserInputError

SCHEMA_VERSION = 1

ProblemType = Literal["binary", "multiclass", "regression"]
FeatureKind = Literal["numeric", "boolean", "categorical"]

# Spellings of "no value" in exported spreadsheets and databases, compared after strip() and lower().
MISSING_TOKENS: frozenset[str] = frozenset({"", "na", "n/a", "nan", "?", "-", "null", "none"})
TRUE_TOKENS: frozenset[str] = frozenset({"true"})
FALSE_TOKENS: frozenset[str] = frozenset({"false"})
OTHER_CATEGORY = "__other__"


def is_missing(value: object) -> bool:
    """Whether a raw cell means "no value" (XGBoost must see it as missing, never as 0)."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return value.strip().lower() in MISSING_TOKENS
    return False


def category_text(value: object) -> str:
    """The text a categorical value is compared by: JSON 3, 3.0 and "3" are the same category."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass(frozen=True)
class Feature:
    """One input column and how it becomes model columns.

    ``categories`` is the vocabulary learned on the training split, most frequent first. ``capped`` says
    the column had more distinct values than the vocabulary holds: out-of-vocabulary values then go to
    one extra ``__other__`` column (they were trained that way); without a cap, a value never seen in
    training is missing.
    """

    name: str
    kind: FeatureKind
    categories: tuple[str, ...] = ()
    capped: bool = False

    @property
    def width(self) -> int:
        if self.kind != "categorical":
            return 1
        return len(self.categories) + (1 if self.capped else 0)

    @cached_property
    def _category_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.categories)}

    def output_names(self) -> list[str]:
        if self.kind != "categorical":
            return [self.name]
        names = [f"{self.name}={c}" for c in self.categories]
        if self.capped:
            names.append(f"{self.name}={OTHER_CATEGORY}")
        return names

    def encode(self, value: object, out: np.ndarray) -> None:
        """Write this feature's encoding of one raw value into ``out`` (a slice of ``width`` floats)."""
        out[:] = np.nan
        if is_missing(value):
            return
        if self.kind == "numeric":
            out[0] = _to_float(value, self.name)
        elif self.kind == "boolean":
            out[0] = _to_bool(value, self.name)
        else:
            index = self._category_index.get(category_text(value))
            if index is not None:
                out[:] = 0.0
                out[index] = 1.0
            elif self.capped:
                out[:] = 0.0
                out[-1] = 1.0


def _to_float(value: object, column: str) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise UserInputError(f"column {column!r} expects a number, got {value!r}", column=column) from None


def _to_bool(value: object, column: str) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and value in (0, 1):
        return float(value)
    text = str(value).strip().lower()
    if text in TRUE_TOKENS:
        return 1.0
    if text in FALSE_TOKENS:
        return 0.0
    raise UserInputError(f"column {column!r} expects true or false, got {value!r}", column=column)


@dataclass(frozen=True)
class Schema:
    """Everything needed to encode raw rows and to explain a model's output in the user's terms.

    ``classes[i]`` is the user's own label text for encoded class ``i`` (empty for regression).
    ``rows`` counts rows per split plus ``missing_target`` (rows left out because the label was empty).
    ``dropped_columns`` had no values; ``identifier_columns`` were text with almost every value distinct
    (an order or user id): left out of the features, since a model can only memorise them.
    """

    target: str
    problem_type: ProblemType
    features: tuple[Feature, ...]
    classes: tuple[str, ...] = ()
    dropped_columns: tuple[str, ...] = ()
    identifier_columns: tuple[str, ...] = ()
    rows: Mapping[str, int] = field(default_factory=dict)
    delimiter: str = ","
    version: int = SCHEMA_VERSION

    @property
    def width(self) -> int:
        return sum(f.width for f in self.features)

    def left_out(self) -> dict[str, str]:
        """Each input column that is no feature (the target aside), with the reason, as a person reads it."""
        reasons = dict.fromkeys(self.dropped_columns, "no values")
        reasons.update(dict.fromkeys(self.identifier_columns, "an identifier: almost every value is distinct"))
        return reasons

    def output_names(self) -> list[str]:
        """Model column names in order (after the label): the order of the target-first CSV."""
        return [name for f in self.features for name in f.output_names()]

    def source_columns(self) -> list[str]:
        """The input column of each model column: a categorical's one-hot columns all name their column,
        so per-column figures (feature importance) fold back into what the user uploaded."""
        return [f.name for f in self.features for _ in range(f.width)]

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode raw records keyed by original column names into a float32 matrix (NaN = missing).

        Unknown keys are ignored (a record may carry the label or an ID); absent keys are missing.
        """
        matrix = np.empty((len(records), self.width), dtype=np.float32)
        for row, record in enumerate(records):
            if not isinstance(record, Mapping):
                raise UserInputError(f"record {row} is not an object with column names")
            start = 0
            for feature in self.features:
                feature.encode(record.get(feature.name), matrix[row, start : start + feature.width])
                start += feature.width
        return matrix

    def decode_rows(self, matrix: np.ndarray) -> list[dict[str, Any]]:
        """Raw records (original column names) back from encoded rows: the inverse of encode_records.

        The evaluate step sends this run's test rows to the live model in this form, because the live
        model may have been trained with another vocabulary and only raw records mean the same to both.
        A value that went to ``__other__`` comes back as that token (unseen by any vocabulary).
        """
        records: list[dict[str, Any]] = [{} for _ in range(len(matrix))]
        start = 0
        for feature in self.features:
            block = matrix[:, start : start + feature.width]
            start += feature.width
            if feature.kind == "categorical":
                names = [*feature.categories, OTHER_CATEGORY] if feature.capped else list(feature.categories)
                hot = np.nan_to_num(block, nan=0.0).argmax(axis=1) if feature.width else []
                present = ~np.isnan(block).all(axis=1) if feature.width else np.zeros(len(matrix), bool)
                for row, record in enumerate(records):
                    record[feature.name] = names[hot[row]] if present[row] else None
            else:
                column = block[:, 0]
                for row, record in enumerate(records):
                    value = float(column[row])
                    if math.isnan(value):
                        record[feature.name] = None
                    elif feature.kind == "boolean":
                        record[feature.name] = value == 1.0
                    else:
                        record[feature.name] = value
        return records

    def label_of(self, encoded: int) -> str:
        """The user's own class name for an encoded class index."""
        return self.classes[encoded]

    @property
    def num_class(self) -> int:
        return len(self.classes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows"] = dict(self.rows)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        if data.get("version") != SCHEMA_VERSION:
            raise UserInputError(f"schema version {data.get('version')!r} is not {SCHEMA_VERSION}")
        return cls(
            target=data["target"],
            problem_type=data["problem_type"],
            features=tuple(
                Feature(
                    name=f["name"],
                    kind=f["kind"],
                    categories=tuple(f.get("categories", ())),
                    capped=bool(f.get("capped", False)),
                )
                for f in data["features"]
            ),
            classes=tuple(data.get("classes", ())),
            dropped_columns=tuple(data.get("dropped_columns", ())),
            identifier_columns=tuple(data.get("identifier_columns", ())),
            rows=dict(data.get("rows", {})),
            delimiter=data.get("delimiter", ","),
            version=data["version"],
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Schema:
        return cls.from_dict(json.loads(text))
