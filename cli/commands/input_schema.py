"""``dropml input-schema``: the JSON schema of the execution input, for editors and for review.

The README shows examples; this prints the exact contract the first state ("Prepare data") enforces.
"""

from __future__ import annotations

import argparse
from typing import Any

from functions.prepare.execution_input import execution_input_json_schema


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("input-schema", help="print the JSON schema of the state machine's input")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    print(execution_input_json_schema())
    return 0
