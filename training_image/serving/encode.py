"""Predictions → response body, in the media type the client's ``Accept`` asks for.

What a client of SageMaker's built-in XGBoost (1.7-1) receives, it receives here too
(``sagemaker_xgboost_container/algorithm_mode/serve.py``, ``_parse_accept`` and ``invocations``):

- no ``Accept``, or ``*/*``: ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, else ``text/csv``;
- ``text/csv``: the booster's output as its ``encoders.encode`` writes it, one input row per line: one
  number (binary, regression, ``multi:softmax``'s class index), or one probability per class
  (``multi:softprob``), each as Python writes the float32's value as a float64
  (``0.43861907720565796``), so ``np.fromstring(body, sep=",")`` reads what the built-in's reads;
- ``application/json``: ``{"predictions": [{"score": …}]}``, ``score`` being the same output. dropml adds
  ``label`` (the user's class name) and ``probabilities`` (by class name) to each prediction, which
  a client reading ``score`` does not see.

dropml's own CSV, ``Accept: text/csv; labels=true`` (which the built-in reads as ``text/csv``): one
line per row with the user's class name, ``label,p(class 0),…,p(class k-1)`` for classifiers (the
label alone for ``multi:softmax``), the score for regression, so batch transform can join it to its
input line by line.

dropml's JSON and CSV write numbers in one Arrow cast for the whole answer, as the shortest text that
reads back to the same float32 (``0.93``, not ``0.9300000071525574``), and large answers are joined
column-wise by Arrow's string kernels: a 1,000-row answer costs ~0.4 ms instead of ~3 ms with
``json.dumps`` of dicts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from training_image.serving.predict import Predictions

JSON = "application/json"
CSV = "text/csv"
LABELLED_CSV = "text/csv; labels=true"  # dropml's own: the answer's Content-Type is still text/csv
DEFAULT_ACCEPT_ENV = "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"  # the built-in's, for no Accept or */*

Encoder = Callable[[Predictions, Sequence[str]], bytes]

# From this many rows on, rows are joined by Arrow rather than Python (see _rows); measured crossover.
ARROW_JOIN_MIN_ROWS = 256

# Media ranges a client may send in Accept, and what each gets ("*/*": the default, see above).
_ACCEPTED: dict[str, str] = {
    JSON: JSON,
    CSV: CSV,
    "application/*": JSON,
    "text/*": CSV,
}


def choose_media_type(accept: str | None, default: str | None = None) -> str | None:
    """The answer's encoding (a key of ``ENCODERS``), or ``None`` when ``Accept`` names nothing we write (406).

    The highest ``q`` wins, the earliest on a tie. No ``Accept`` and ``*/*`` get ``default`` (the app
    passes the endpoint's ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, or the request's own format), or
    ``text/csv`` where that names nothing we write, as in the built-in container.
    """
    fallback = _ACCEPTED.get((default or "").strip().lower(), CSV)
    if not accept or not accept.strip():
        return fallback
    best: str | None = None
    best_quality = 0.0
    for media_range in accept.split(","):
        media, *parameters = (part.strip().lower() for part in media_range.split(";"))
        chosen = fallback if media == "*/*" else _ACCEPTED.get(media)
        if chosen == CSV and "labels=true" in (parameter.replace(" ", "") for parameter in parameters):
            chosen = LABELLED_CSV
        quality = _quality(parameters)
        if chosen is not None and quality > best_quality:
            best, best_quality = chosen, quality
    return best


def _quality(parameters: Sequence[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def encode_json(predictions: Predictions, classes: Sequence[str]) -> bytes:
    scores, probabilities = _number_columns(predictions, "null")
    if predictions.scores.ndim == 2:  # multi:softprob, a multi-output regression: one list of scores per row
        parts: list[pa.Array | str] = ['{"score": [', *_between(scores, ", "), "]"]
    else:
        parts = ['{"score": ', *scores]
    if predictions.labels is not None:
        parts += [', "label": ', _texts(classes, _json_string, predictions.labels)]
    if probabilities:
        keys = [f"{_json_string(name)}: " for name in classes]
        pairs = [piece for key, column in zip(keys, probabilities, strict=True) for piece in (key, column)]
        parts += [', "probabilities": {', *_between(pairs, ", ", step=2), "}"]
    rows = _rows([*parts, "}"], len(predictions.scores))
    return ('{"predictions": [' + ", ".join(rows) + "]}").encode()


def encode_csv(predictions: Predictions, classes: Sequence[str]) -> bytes:
    """The built-in container's ``text/csv``: ``csv.writer`` rows of the booster's output as float64s."""
    del classes  # the built-in answers numbers only
    rows = predictions.scores.astype(np.float64).reshape(len(predictions.scores), -1).tolist()
    return "".join(",".join(map(repr, row)) + "\n" for row in rows).encode()


def encode_labelled_csv(predictions: Predictions, classes: Sequence[str]) -> bytes:
    scores, probabilities = _number_columns(predictions, "")
    if predictions.labels is None:  # regression: its score(s)
        columns = scores
    else:
        columns = [_texts(classes, _csv_field, predictions.labels), *probabilities]
    rows = _rows(_between(columns, ","), len(predictions.scores))
    return ("\n".join(rows) + "\n").encode()


def _rows(pieces: Sequence[pa.Array | str], n: int) -> list[str]:
    """Row ``i`` of the answer: each piece in turn, a fixed text or the ``i``-th text of a column.

    Arrow joins the columns in one call, which pays off from a few hundred rows; below that Python's
    own join skips Arrow's per-call overhead, which would dominate a one-row answer. Both read the
    same pieces, so they write the same bytes.
    """
    if n >= ARROW_JOIN_MIN_ROWS:
        return pc.binary_join_element_wise(*pieces, "").to_pylist()
    columns = [[piece] * n if isinstance(piece, str) else piece.to_pylist() for piece in pieces]
    return ["".join(row) for row in zip(*columns, strict=True)]


def _number_columns(predictions: Predictions, missing: str) -> tuple[list[pa.Array], list[pa.Array]]:
    """Score columns and probability columns as text, in one cast (each Arrow call costs ~10 µs).

    NaN and infinities, which JSON cannot hold, become ``missing``.
    """
    n = len(predictions.scores)
    blocks = [predictions.scores.reshape(n, -1)]
    if predictions.probabilities is not None:
        blocks.append(predictions.probabilities)
    numbers = np.concatenate(blocks, axis=1).T.ravel()  # column after column
    text = pc.cast(pa.array(numbers), pa.string())
    if not np.isfinite(numbers).all():
        text = pc.if_else(pa.array(np.isfinite(numbers)), text, missing)
    columns = [text.slice(start, n) for start in range(0, len(numbers), n)]
    width = blocks[0].shape[1]
    return columns[:width], columns[width:]


def _between(pieces: Sequence[pa.Array | str], separator: str, step: int = 1) -> list[pa.Array | str]:
    """``pieces`` with ``separator`` after every ``step`` of them but the last, for one join call."""
    out: list[pa.Array | str] = []
    for index, piece in enumerate(pieces):
        if index and index % step == 0:
            out.append(separator)
        out.append(piece)
    return out


def _texts(classes: Sequence[str], quote: Callable[[str], str], labels: np.ndarray) -> pa.Array:
    """The class name of each encoded label, quoted for the output format."""
    return _quoted(tuple(classes), quote).take(pa.array(labels))


@lru_cache(maxsize=8)
def _quoted(classes: tuple[str, ...], quote: Callable[[str], str]) -> pa.Array:
    return pa.array([quote(name) for name in classes])


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _csv_field(text: str) -> str:
    """``text`` as one CSV field, quoted only when it holds a comma, a quote or a line break."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([text])
    return buffer.getvalue()


ENCODERS: dict[str, Encoder] = {JSON: encode_json, CSV: encode_csv, LABELLED_CSV: encode_labelled_csv}
