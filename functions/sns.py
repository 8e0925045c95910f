"""What SNS accepts as an email subject, in one place (SNS refuses the whole publish otherwise)."""

from __future__ import annotations

SUBJECT_LIMIT = 99  # SNS: fewer than 100 characters


def subject(text: str) -> str:
    """``text`` as an SNS subject: ASCII only, one line, no control characters (SNS refuses a subject
    with any: a dataset name from an S3 key may hold a tab or an escape sequence), under 100 characters
    (cut with "...")."""
    printable = "".join(c if c.isascii() and c.isprintable() else ("?" if not c.isspace() else " ") for c in text)
    line = " ".join(printable.split())
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 3] + "..."
