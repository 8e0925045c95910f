"""The ``dropml`` command: one entry point, one module per command group.

The product's commands live in ``cli.commands``; ``dropml local`` is the emulator's own group, from
``local.cli``. Every command turns :class:`core.errors.UserInputError` into a one-line message and exit
status 2, so a user never sees a traceback for a problem they can fix.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli.commands import demo, input_schema, prepare
from core.errors import UserInputError
from local import cli as local_commands

# In the order ``dropml --help`` lists them.
COMMAND_GROUPS = (prepare, local_commands, demo, input_schema)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dropml", description="Drop a CSV, get a tuned XGBoost model on an endpoint.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except UserInputError as exc:
        print(f"dropml: {exc.reason}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
