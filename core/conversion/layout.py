"""The head of an upload: encoding, delimiter, header names and a sample of the first records.

Read with Python's ``csv`` module from the first MiB only, so every later pass knows the column count
and names before polars touches the file, and header problems are refused with line 1 before any
expensive work. The sample feeds type guesses (see ``profile``); the whole file is checked later.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from core.errors import UserInputError

CANDIDATE_DELIMITERS = (",", ";", "\t")
SAMPLE_BYTES = 1 << 20
SNIFF_LINES = 50
BOM = b"\xef\xbb\xbf"
QUOTE = '"'


@dataclass(frozen=True)
class Layout:
    """What the first MiB says about the whole file."""

    delimiter: str
    columns: tuple[str, ...]
    header_delimiters: int  # delimiter characters in the raw header record (quoted ones included)
    sample: tuple[tuple[str, ...], ...]  # complete data records from the head, blank lines left out


def read_layout(chunks: Iterable[bytes]) -> Layout:
    head, at_end = _head_bytes(chunks)
    if head.startswith(BOM):
        head = head[len(BOM) :]
    if not at_end and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]  # whole lines only: no cut record, no cut UTF-8 sequence
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = head[: exc.start].count(b"\n") + 1
        raise UserInputError(
            f"line {line} is not UTF-8 text (byte 0x{head[exc.start]:02x}); save the file as UTF-8 CSV",
            line=line,
        ) from None
    if not text.strip():
        raise UserInputError("the file is empty: expected a header row and data rows", line=1)
    delimiter = sniff_delimiter(text)
    records = _records(text, delimiter)
    first = next(records, None)
    if first is None:
        raise UserInputError("the header (line 1) has a quote that is never closed", line=1)
    header_lines, columns = first
    check_header(columns)
    raw_header = "".join(text.split("\n")[i] + "\n" for i in range(header_lines))
    sample = tuple(tuple(record) for _, record in records if record)
    return Layout(delimiter, tuple(columns), raw_header.count(delimiter), sample)


def _head_bytes(chunks: Iterable[bytes]) -> tuple[bytes, bool]:
    iterator = iter(chunks)
    parts: list[bytes] = []
    size = 0
    for chunk in iterator:
        parts.append(chunk)
        size += len(chunk)
        if size >= SAMPLE_BYTES:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            return b"".join(parts)[:SAMPLE_BYTES], False
    return b"".join(parts), True


def lines_with_ends(text: str) -> Iterator[str]:
    """Lines split on ``\\n`` only (as polars splits records), each keeping its line ending."""
    lines = text.split("\n")
    for line in lines[:-1]:
        yield line + "\n"
    if lines[-1]:
        yield lines[-1]


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(lines consumed so far, record) for each record of ``text``; stops at broken quoting."""
    reader = csv.reader(lines_with_ends(text), delimiter=delimiter, quotechar=QUOTE, strict=True)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error:
            return  # broken quoting: the whole-file check reports it with its line
        yield reader.line_num, record


def sniff_delimiter(text: str) -> str:
    """The candidate that splits the first lines into the same number (> 1) of fields most often.

    Ties go to the header with more fields, then to the order of ``CANDIDATE_DELIMITERS`` (comma first).
    """
    sample = "".join(line for _, line in zip(range(SNIFF_LINES), lines_with_ends(text), strict=False))
    best, best_score = ",", (0, 0)
    for delimiter in CANDIDATE_DELIMITERS:
        if delimiter not in sample:
            continue
        widths = [len(record) for _, record in _records(sample, delimiter) if record]
        if not widths or widths[0] < 2:
            continue
        score = (sum(width == widths[0] for width in widths), widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def check_header(columns: list[str]) -> None:
    unnamed = [str(i + 1) for i, name in enumerate(columns) if not name.strip()]
    if unnamed:
        raise UserInputError(
            f"the header (line 1) has no name for column {', '.join(unnamed)}; give every column a name",
            line=1,
        )
    repeated = [name for name, count in Counter(columns).items() if count > 1]
    if repeated:
        names = ", ".join(repr(name) for name in repeated)
        raise UserInputError(
            f"the header (line 1) repeats column name {names}; column names must be unique",
            column=repeated[0],
            line=1,
        )
