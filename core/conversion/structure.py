"""Whole-file structural checks: a cheap byte tally on the fast path, an exact diagnosis when it fails.

polars refuses rows with too many fields, broken quoting and non-UTF-8 bytes, but pads a row with too
few fields silently. The tally closes that gap without parsing: every record polars produced must hold
``columns - 1`` unquoted delimiters, so the delimiters counted in the raw bytes must equal the header's,
plus ``(rows) * (columns - 1)``, plus those inside quoted values (summed by the profile pass). Any
mismatch, and any polars read error, sends the file through :func:`diagnose`, which re-reads it with
Python's ``csv`` module (slow, exact) only to find and describe the first problem with its line number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from core.conversion.layout import BOM, QUOTE
from core.errors import UserInputError

NEWLINE = b"\n"
LINE_ENDS = b"\r\n"


@dataclass(frozen=True)
class ByteTally:
    """Counts over the raw bytes of the whole file."""

    size: int
    delimiters: int
    quotes: int
    trailing_blank_lines: int  # empty lines at the very end (polars reads each as an all-empty row)


def tally(chunks: Iterable[bytes], delimiter: str) -> ByteTally:
    needle = ord(delimiter)
    size = delimiters = quotes = 0
    trailing_newlines = 0  # newlines in the run of line-end bytes that ends the file so far
    for chunk in chunks:
        size += len(chunk)
        delimiters += int(np.count_nonzero(np.frombuffer(chunk, dtype=np.uint8) == needle))
        if b'"' in chunk:
            quotes += chunk.count(b'"')
        stripped = chunk.rstrip(LINE_ENDS)
        if stripped:
            trailing_newlines = chunk[len(stripped) :].count(NEWLINE)
        else:
            trailing_newlines += chunk.count(NEWLINE)
    return ByteTally(size, delimiters, quotes, max(trailing_newlines - 1, 0))


class _NotUtf8(Exception):
    def __init__(self, line: int, byte: int) -> None:
        super().__init__(line)
        self.line = line
        self.byte = byte


def _decoded_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Lines of the file, split on ``\\n`` and decoded one by one so a bad byte has a line number."""
    pending = b""
    number = 0
    first = True
    for chunk in chunks:
        pending += chunk
        if first and len(pending) >= len(BOM):
            pending = pending.removeprefix(BOM)
            first = False
        *lines, pending = pending.split(NEWLINE)
        for raw in lines:
            number += 1
            yield _decode(raw + NEWLINE, number)
    if pending:
        yield _decode(pending.removeprefix(BOM) if first else pending, number + 1)


def _decode(raw: bytes, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _NotUtf8(number, raw[exc.start]) from None


@dataclass(frozen=True)
class Diagnosis:
    """The first structural problem (None if there is none), and the blank lines met before it."""

    problem: UserInputError | None
    blank_lines: int


def diagnose(chunks: Iterable[bytes], delimiter: str, width: int) -> Diagnosis:
    """Find the first structural problem in the file and describe it for a person.

    Blank lines are not problems (they are counted: polars reads each as an all-empty row); a record is
    a problem when its field count differs from the header's, when its quoting is broken, or when a
    quote sits inside an unquoted value.
    """
    blank = 0
    lines = _decoded_lines(chunks)
    raw_record: list[str] = []

    def remembered() -> Iterator[str]:
        for line in lines:
            raw_record.append(line)
            yield line

    reader = csv.reader(remembered(), delimiter=delimiter, quotechar=QUOTE, strict=True)
    shown = "tab" if delimiter == "\t" else repr(delimiter)
    try:
        while True:
            start = reader.line_num + 1
            raw_record.clear()
            try:
                record = next(reader)
            except StopIteration:
                return Diagnosis(None, blank)
            except csv.Error as exc:
                if "unexpected end of data" in str(exc) or "field larger than field limit" in str(exc):
                    problem = UserInputError(
                        f"line {start}: a quoted value starts here and its closing quote is missing", line=start
                    )
                else:
                    problem = UserInputError(f"line {reader.line_num}: broken quoting ({exc})", line=reader.line_num)
                return Diagnosis(problem, blank)
            if not record:
                blank += 1
                continue
            if start == 1:
                continue
            if len(record) != width:
                fewer = "fewer" if len(record) < width else "more"
                problem = UserInputError(
                    f"line {start} has {len(record)} fields but the header has {width} "
                    f"({fewer} {shown} separators than the header)",
                    line=start,
                )
                return Diagnosis(problem, blank)
            stray = _stray_quote(record, "".join(raw_record))
            if stray is not None:
                problem = UserInputError(
                    f"line {start}: a quote inside the unquoted value {stray!r}; put the whole value in "
                    'quotes and double the quote inside it ("")',
                    line=start,
                )
                return Diagnosis(problem, blank)
    except _NotUtf8 as exc:
        problem = UserInputError(
            f"line {exc.line} is not UTF-8 text (byte 0x{exc.byte:02x}); save the file as UTF-8 CSV",
            line=exc.line,
        )
        return Diagnosis(problem, blank)


def _stray_quote(record: list[str], raw: str) -> str | None:
    """A value holding a quote that was not written as a quoted value (polars cannot read those)."""
    for value in record:
        if QUOTE in value and f'"{value.replace(QUOTE, QUOTE * 2)}"' not in raw:
            return value
    return None
