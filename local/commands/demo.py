"""``dropml demo``: what ``make demo`` runs on a fresh clone, on the bundled real datasets.

Until the pipeline runs end to end locally, the demo shows its first half for real: each bundled
dataset (with its own ``dropml.json``) goes through the same conversion the ingest Lambda runs, and
the demo says what it wrote.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from core.conversion import convert
from core.settings import parse_settings
from local.commands.prepare import SCHEMA_FILE, summary

DATASETS = Path(__file__).resolve().parents[2] / "datasets"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run dropml on the bundled real datasets")
    parser.add_argument("--out", metavar="DIR", help="where to write (default: a new temporary folder)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out or tempfile.mkdtemp(prefix="dropml-demo-"))
    for folder in sorted(p for p in DATASETS.iterdir() if p.is_dir()):
        [csv] = sorted(folder.glob("*.csv"))
        settings = parse_settings((folder / "dropml.json").read_bytes(), source=f"{folder.name}/dropml.json")
        target = out / folder.name
        result = convert(str(csv), str(target), settings)
        schema_path = target / SCHEMA_FILE
        schema_path.write_text(result.schema.to_json() + "\n", encoding="utf-8")
        print(f"== {folder.name}: {csv.name}")
        print(summary(result, str(target), schema_path))
        print()
    return 0
