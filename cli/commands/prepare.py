"""``dropml prepare FILE --out DIR``: the ingest conversion on a local file, without any AWS.

Writes ``DIR/{train,validation,test}/`` and ``DIR/schema.json`` exactly as the ingest Lambda writes
them for a run, so a person can look at (or train on) what the pipeline would see. Refusals are the
same one-line reasons the Lambda sends by email; ``cli.main`` prints them and exits with status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.container import SCHEMA_FILE
from core.conversion import ConversionResult, convert
from core.errors import UserInputError
from core.settings import DatasetSettings, describe_validation_error, parse_settings
from functions.upload import layered_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="convert a CSV into target-first train/validation/test splits and a schema",
        description="Convert FILE into DIR/train, DIR/validation, DIR/test (label first, no header, "
        "numbers only) and DIR/schema.json, or refuse it with a one-line reason.",
    )
    parser.add_argument("file", help="the CSV to convert (a header row, then one row per example)")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder to write the splits into")
    parser.add_argument("--target", metavar="COLUMN", help="label column (default: target/label/y/class)")
    parser.add_argument("--problem-type", choices=["binary", "multiclass", "regression"])
    parser.add_argument("--settings", metavar="DROPML_JSON", help="dataset settings file (dropml.json)")
    parser.add_argument("--max-categories", type=int, metavar="N", help="vocabulary size per text column")
    parser.add_argument(
        "--split", metavar="TRAIN,VALIDATION,TEST", help="split fractions, e.g. 0.8,0.1,0.1 (the default)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    result = convert(args.file, args.out, settings)
    schema_path = Path(args.out) / SCHEMA_FILE
    schema_path.write_text(result.schema.to_json() + "\n", encoding="utf-8")
    print(summary(result, args.out, schema_path))
    return 0


def _settings(args: argparse.Namespace) -> DatasetSettings:
    """The settings file (if any) with the command-line options on top, validated together."""
    base = DatasetSettings()
    if args.settings:
        path = Path(args.settings)
        if not path.is_file():
            raise UserInputError(f"no such settings file: {path}")
        base = parse_settings(path.read_bytes(), source=path.name)
    overrides: dict[str, Any] = {}
    if args.target is not None:
        overrides["target"] = args.target
    if args.problem_type is not None:
        overrides["problem_type"] = args.problem_type
    if args.max_categories is not None:
        overrides["max_categories"] = args.max_categories
    if args.split is not None:
        overrides["split"] = _split(args.split)
    if not overrides:
        return base
    try:
        return DatasetSettings.model_validate(layered_settings(base.model_dump(), overrides))
    except ValidationError as exc:
        raise UserInputError(f"options: {describe_validation_error(exc)}") from None


def _split(text: str) -> dict[str, float]:
    parts = text.split(",")
    try:
        train, validation, test = (float(part) for part in parts)
    except ValueError:
        raise UserInputError(f"--split expects three fractions like 0.8,0.1,0.1, not {text!r}") from None
    return {"train": train, "validation": validation, "test": test}


def summary(result: ConversionResult, out: str, schema_path: Path) -> str:
    """What a person wants to know after a conversion: where, how many rows, which columns, which labels."""
    schema = result.schema
    rows = schema.rows
    lines = [
        f"wrote {out}: train {rows['train']} rows, validation {rows['validation']}, test {rows['test']}"
        f" ({rows['missing_target']} rows without a target left out)",
        f"target {schema.target!r}: {schema.problem_type}"
        + (
            f", {schema.num_class} classes: " + ", ".join(f"{i}={label}" for i, label in enumerate(schema.classes))
            if schema.classes
            else ""
        ),
        f"{schema.width} model columns from {len(schema.features)} input columns"
        + "".join(f"; left out {name!r} ({why})" for name, why in schema.left_out().items()),
        f"schema: {schema_path}",
    ]
    return "\n".join(lines)
