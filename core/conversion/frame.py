"""The lazy polars view of an upload shared by the profile and the write pass.

Columns get positional internal names (``c0``, ``c1``…): header names can be anything a spreadsheet
exports, and the header row is parsed once, by :mod:`core.conversion.layout`. Each column is read
either as Float64 (polars' own fast parser) or as String; missing-value spellings that appear as whole
fields become nulls while reading, the rest are recognised by :func:`is_missing` after strip/lowercase.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import polars as pl

from core.container import DATA_CHANNELS
from core.conversion.layout import QUOTE, Layout
from core.schema import FALSE_TOKENS, MISSING_TOKENS, TRUE_TOKENS
from core.settings import SplitFractions

SPLIT = "__split"
ROW = "__row"  # the write pass's row number among rows that have a target
SPLITS = DATA_CHANNELS  # each split is the training channel of its name
# The n-th row that has a target goes to a split by the fractional part of n * (golden ratio - 1): a
# low-discrepancy sequence, so every stretch of the file is spread over the splits in proportion (a
# file sorted by label still gets every label in every split), split sizes are as exact as they can
# be, and the same file always gets the same split, with no random state to carry.
GOLDEN = 0.6180339887498949
BOOLEAN_TOKENS = sorted(TRUE_TOKENS | FALSE_TOKENS)


def internal(index: int) -> str:
    return f"c{index}"


def _read(
    source: str,
    layout: Layout,
    numeric: Sequence[bool],
    storage_options: Mapping[str, str] | None,
    columns: Sequence[int],
) -> pl.LazyFrame:
    """Return ``columns`` of the data rows (header skipped), each read as a number or as text."""
    schema = {internal(i): pl.Float64 if number else pl.String for i, number in enumerate(numeric)}
    rows = pl.scan_csv(
        source,
        has_header=False,
        skip_rows=1,
        separator=layout.delimiter,
        quote_char=QUOTE,
        schema=schema,
        null_values=reader_null_values(layout),
        encoding="utf8",
        raise_if_empty=False,
        glob=False,  # a key is a name, not a pattern: "v*.csv" is one file, not every v….csv
        storage_options=dict(storage_options) if storage_options else None,
    )
    return rows.select([internal(i) for i in columns])


def batches(
    source: str,
    layout: Layout,
    numeric: Sequence[bool],
    storage_options: Mapping[str, str] | None,
    *,
    columns: Sequence[int],
    target: int,
    fractions: SplitFractions,
    batch_bytes: int,
) -> Iterator[pl.DataFrame]:
    """The data rows' ``columns`` batch by batch, in file order, each row with its split (``SPLIT``).

    Each column is read as a number or as text (``numeric``); a batch holds about ``batch_bytes`` of
    the columns' raw text (:func:`batch_rows`).

    The profile reads this way because it folds each batch into summaries in Python, and it counts the
    rows without a target too, so the split is a running count of the rows that have one: polars'
    streaming engine reads ahead without bound into such a running sum whenever what follows it is
    slower than the CSV reader (a 960 MB upload with seven text columns peaked at 1 GB). Read in
    order, a batch at a time, memory is what one batch holds, and each batch's split continues the
    count of the batches before it, so every row gets the split :func:`rows_to_write` gives it.
    """
    missing = is_missing(target, numeric[target])
    before = 0
    selected = _read(source, layout, numeric, storage_options, columns)
    for batch in selected.collect_batches(chunk_size=batch_rows(layout, columns, batch_bytes)):
        yield batch.with_columns(split(target, numeric[target], fractions, before))
        before += batch.height - int(batch.select(missing.sum()).item())


def rows_to_write(
    source: str,
    layout: Layout,
    numeric: Sequence[bool],
    storage_options: Mapping[str, str] | None,
    *,
    columns: Sequence[int],
    target: int,
    fractions: SplitFractions,
    any_missing_target: bool,
) -> pl.LazyFrame:
    """The write pass's rows: ``columns`` of every row that has a target, in file order, with its split.

    ``any_missing_target`` (what the profile found) skips the filter where it would keep every row.

    One streaming query, not :func:`batches`: once the rows without a target are filtered out, a row's
    place among those with one is its row index, which polars' streaming engine numbers as rows pass
    (bounded memory, measured in ``docs/scale.md``), where the running sum that :func:`batches` avoids
    made it read ahead without bound. Each row gets the split :func:`split` gives it in the profile.
    """
    selected = _read(source, layout, numeric, storage_options, columns)
    if any_missing_target:
        selected = selected.filter(~is_missing(target, numeric[target]))
    return selected.with_row_index(ROW, offset=1).with_columns(split_of(pl.col(ROW), fractions)).drop(ROW)


def batch_rows(layout: Layout, columns: Sequence[int], batch_bytes: int) -> int:
    """Rows per batch such that ``columns``' raw text in one batch is about ``batch_bytes``."""
    records = [record for record in layout.sample if len(record) == len(layout.columns)]
    if not records:
        return 100_000
    per_row = sum(len(record[i]) + 16 for record in records for i in columns) / len(records)
    return max(1_000, min(1_000_000, int(batch_bytes / per_row)))


def split(target: int, numeric: bool, fractions: SplitFractions, before: int = 0) -> pl.Expr:
    """Each row's split (see ``GOLDEN``), where ``before`` rows with a target came before these rows."""
    return split_of((~is_missing(target, numeric)).cast(pl.UInt32).cum_sum() + before, fractions)


def split_of(nth: pl.Expr, fractions: SplitFractions) -> pl.Expr:
    """The split of the ``nth`` row that has a target (counted from 1), as :data:`GOLDEN` spreads them."""
    position = (nth.cast(pl.Float64) * GOLDEN) % 1.0
    return (
        pl.when(position < fractions.train)
        .then(pl.lit(0, pl.UInt8))
        .when(position < fractions.train + fractions.validation)
        .then(pl.lit(1, pl.UInt8))
        .otherwise(pl.lit(2, pl.UInt8))
        .alias(SPLIT)
    )


def text(index: int) -> pl.Expr:
    """A String column's values as compared everywhere: surrounding whitespace removed."""
    return pl.col(internal(index)).str.strip_chars()


def is_missing(index: int, numeric: bool) -> pl.Expr:
    """Vectorised :func:`core.schema.is_missing` for one column as read."""
    column = pl.col(internal(index))
    if numeric:
        return column.is_null() | column.is_nan()
    return column.is_null() | text(index).str.to_lowercase().is_in(sorted(MISSING_TOKENS))


def as_number(index: int, numeric: bool, *, has_nan: bool = True) -> pl.Expr:
    """Return the column as Float64 with every missing value (NaN included) null, as XGBoost must see it.

    ``has_nan=False`` skips the NaN check where none can arrive: the label, whose NaN rows (missing
    targets) are filtered out before it is computed.
    """
    column = pl.col(internal(index))
    if numeric and not has_nan:
        return column
    number = column if numeric else text(index).cast(pl.Float64, strict=False)
    return number.fill_nan(None)


def as_boolean(index: int) -> pl.Expr:
    lowered = text(index).str.to_lowercase()
    return (
        pl.when(lowered.is_in(sorted(TRUE_TOKENS)))
        .then(pl.lit(1.0))
        .when(lowered.is_in(sorted(FALSE_TOKENS)))
        .then(pl.lit(0.0))
        .otherwise(pl.lit(None, pl.Float64))
    )


def guess_numeric(layout: Layout) -> list[bool]:
    """Per column, whether to read it as Float64 (see :func:`sample_is_numeric`)."""
    return [
        sample_is_numeric([record[i] for record in layout.sample if len(record) > i])
        for i in range(len(layout.columns))
    ]


def sample_is_numeric(values: Sequence[str]) -> bool:
    """Whether polars' reader will parse every present value of a sampled column as Float64.

    Only a guess from the head of the file: a pass that meets a later value that fails to parse retypes
    the column to String. A column with no value in the sample is read as text, so a column read as a
    number always has a value (it is never one to drop).
    """
    present = [value for value in values if value.strip().lower() not in MISSING_TOKENS]
    if not present:
        return False
    parsed = pl.Series(present, dtype=pl.String).cast(pl.Float64, strict=False)
    return parsed.null_count() == 0


def reader_null_values(layout: Layout) -> list[str]:
    """Missing-value spellings for the reader to turn into nulls: the empty field and those in the sample.

    Each spelling costs the reader a comparison per field, so only those seen are listed; a numeric
    column that meets another spelling further down is re-read as text, where :func:`is_missing`
    recognises every spelling.
    """
    seen = {value for record in layout.sample for value in record if value.strip().lower() in MISSING_TOKENS}
    return sorted(seen | {""})
