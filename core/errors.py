"""The one exception type for input a user can fix.

Ingest, the CLI and the training image turn it into a one-line reason (a rejected.json, a failure file,
an exit message) instead of a traceback; anything else is our bug and is allowed to surface as one.
"""

from __future__ import annotations


class UserInputError(ValueError):
    """Input the user can fix: a bad file, a bad setting, a bad hyperparameter.

    ``column`` and ``line`` locate the problem when known (1-based line numbers of the uploaded file,
    the header being line 1), so a refusal can say exactly where to look.
    """

    def __init__(self, reason: str, *, column: str | None = None, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.column = column
        self.line = line

    def as_dict(self) -> dict[str, object]:
        return {"reason": self.reason, "column": self.column, "line": self.line}
