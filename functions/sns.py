"""What SNS accepts as an email subject, in one place (SNS refuses the whole publish otherwise)."""

from __future__ import annotations

SUBJECT_LIMIT = 99  # SNS: fewer than 100 characters


def subject(text: str) -> str:
    """``text`` as an SNS subject: ASCII only, one line, under 100 characters (cut with "...")."""
    line = " ".join(text.encode("ascii", "replace").decode().splitlines())
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 3] + "..."
