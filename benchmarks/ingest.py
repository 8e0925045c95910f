"""CSV → target-first conversion, per shape and size: ``core.conversion.convert`` vs two baselines.

Why: the conversion reads an upload three times (a byte tally, a profile pass, the write pass) so that
it can refuse a bad file before writing anything and keep its memory bounded whatever the file holds.
This measures what that costs against the fastest conversion that skips it (bare polars) and against
what a data scientist would write by hand (naive pandas), and whether its memory stays flat as the
file grows. Every shape of ``tests/helpers/shapes.py`` (higgs, quoted_text, unique_id, wide,
free_text) is generated at two sizes, ``--megabytes`` and ``--factor`` times that, once each, in a
temporary folder that is removed at the end; three methods convert the same file:

- ours: ``core.conversion.convert(source, out, DatasetSettings(target=<the shape's target>))``: head,
  byte tally, profile pass, every check, then the write pass (three splits of parts, label first).
  Its phases are timed too (``tally``, ``profile``, ``write_splits``…, by wrapping the functions that
  ``core/conversion/convert.py`` calls), to show where its time goes.
- bare polars: one ``pl.scan_csv(source, separator=…)`` (polars' default reader settings and schema
  inference, text columns that ours keeps read as String) → a ``select`` of plain expressions → one
  streaming ``sink_csv`` of a single headerless file. It is *given* what ours' profile pass learned
  (written by the ours child to ``plan.json``): which columns to keep and each categorical column's
  vocabulary, so both write the same columns: the label as read, numbers as Float64, booleans as 0/1,
  each categorical as one UInt8 column per vocabulary value plus ``__other__`` where ours capped it,
  the columns ours drops (empty, identifiers) left out. It does not: tally or profile the file,
  detect the delimiter/header/encoding, check anything (a ragged row or a text value in a number
  column is polars' error or a null), strip whitespace or recognise missing-value spellings, encode
  the label as classes, drop rows without a target, split into train/validation/test, or write parts.
- naive pandas: ``pd.read_csv`` → ``get_dummies`` of the categorical columns ours keeps (restricted
  to ours' vocabulary, other values as ``__other__`` where ours capped: a full ``get_dummies`` of an
  identifier or free-text column would make a column per row) → ``concat`` (label first) → ``to_csv``
  of one file. It holds the whole file in memory several times over, so it is skipped (reported as
  null) above ``--pandas-max-megabytes``.

Each method runs in its own fresh subprocess (this script with ``--child``), so its peak RSS is its
own (``VmHWM`` from ``/proc/self/status``: ``ru_maxrss`` would carry over this parent's peak, which
fork copies) and polars is imported the way it would be in production: after
``core.conversion`` sets its allocator and reader settings for ours, with polars' defaults for bare.
Times are the conversion alone (interpreter start and imports excluded); MB/s is input bytes per
second. CPU seconds are reported too: on a shared, busy machine the wall-clock ratio mostly measures
who got the cores, the CPU-time ratio measures the work.

Targets (ratios against baselines measured in this same run; printed, never asserted: a missed
target does not change the exit status): ours_vs_bare (bare seconds / ours seconds) >= 0.8,
ours_vs_pandas (pandas seconds / ours seconds) >= 10, ours' memory growth from the small to the large
size (large peak / small peak) <= 1.10, ours' peak RSS <= 400 MB, each on every shape.

Usage: ``.venv/bin/python benchmarks/ingest.py [--megabytes 100] [--factor 4] [--shapes higgs,wide]
[--pandas-max-megabytes 400]``. A table is printed, then the last line is one JSON object. The exit
status is non-zero only when a method failed to run (its error is printed and recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Each shape's label column (``tests/helpers/shapes.py``); the baselines use the delimiter ours detected (in the plan).
TARGETS = {"higgs": "label", "quoted_text": "target", "unique_id": "label", "wide": "label", "free_text": "label"}
METHODS = ("ours", "bare", "pandas")
OTHER = "__other__"  # core.schema's out-of-vocabulary column, as ours names it
MIN_VS_BARE = 0.8
MIN_VS_PANDAS = 10.0
MAX_GROWTH = 1.10
MAX_PEAK_MB = 400.0
VERDICTS = {True: "met", False: "MISSED", None: "not measured"}

Result = dict[str, Any]


# --- the children: each runs in a fresh interpreter and prints one JSON line -----------------------


def peak_rss_mb() -> float:
    """This process's own peak resident set (``VmHWM`` starts afresh at exec), in MB."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


@contextmanager
def measured(result: Result) -> Iterator[None]:
    """Put the wall seconds, CPU seconds and peak RSS of the ``with`` body into ``result``."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    yield
    result["seconds"] = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = usage.ru_utime + usage.ru_stime - cpu
    result["peak_rss_mb"] = peak_rss_mb()


def time_phases(module: object, names: tuple[str, ...], phases: dict[str, float]) -> None:
    """Wrap each function ``names`` of ``module`` that exists so that its seconds add up in ``phases``."""
    for name in names:
        original = getattr(module, name, None)
        if not callable(original):
            continue

        def timed(*args: Any, _original: Callable[..., Any] = original, _name: str = name, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                phases[_name] = phases.get(_name, 0.0) + time.perf_counter() - start

        setattr(module, name, timed)


def child_ours(source: str, out: str, plan_path: str, target: str) -> Result:
    """Convert with ``core.conversion.convert``; write the features it kept to ``plan_path`` for the baselines."""
    import importlib

    from core.conversion import convert  # first: it sets polars' allocator and reader settings
    from core.settings import DatasetSettings

    phases: dict[str, float] = {}
    names = ("read_layout", "tally", "diagnose", "profile", "write_splits")
    time_phases(importlib.import_module("core.conversion.convert"), names, phases)
    result: Result = {}
    with measured(result):
        converted = convert(source, out, DatasetSettings(target=target))
    schema = converted.schema
    features = [
        {"name": f.name, "kind": f.kind, "categories": list(f.categories), "capped": f.capped} for f in schema.features
    ]
    plan = {"target": schema.target, "delimiter": converted.delimiter, "features": features}
    Path(plan_path).write_text(json.dumps(plan))
    phases["other"] = max(0.0, result["seconds"] - sum(phases.values()))
    return result | {
        "width": 1 + schema.width,  # with the label
        "rows": dict(schema.rows),
        "dropped": [*schema.dropped_columns, *schema.identifier_columns],
        "phases": {name: round(seconds, 3) for name, seconds in phases.items()},
    }


def child_bare(source: str, out: str, plan_path: str) -> Result:
    """One ``scan_csv`` → plain expressions → one streaming ``sink_csv``, given ours' plan (see the docstring)."""
    import polars as pl

    plan = json.loads(Path(plan_path).read_text())
    text = {f["name"]: pl.String for f in plan["features"] if f["kind"] != "numeric"}
    result: Result = {}
    with measured(result):
        expressions = [pl.col(plan["target"])]
        for feature in plan["features"]:
            column = pl.col(feature["name"])
            if feature["kind"] == "numeric":
                expressions.append(column.cast(pl.Float64))
            elif feature["kind"] == "boolean":
                truthy = column.str.to_lowercase().is_in(["1", "true", "yes", "t", "y"])
                expressions.append(truthy.cast(pl.UInt8).alias(feature["name"]))
            else:
                vocabulary = feature["categories"]
                hot = [(column == value).cast(pl.UInt8).alias(f"{feature['name']}={value}") for value in vocabulary]
                if feature["capped"]:
                    hot.append((~column.is_in(vocabulary)).cast(pl.UInt8).alias(f"{feature['name']}={OTHER}"))
                expressions += hot
        path = Path(out) / "all.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = pl.scan_csv(source, separator=plan["delimiter"], schema_overrides=text)
        rows.select(expressions).sink_csv(path, include_header=False)
    return result | {"width": len(expressions)}


def child_pandas(source: str, out: str, plan_path: str) -> Result:
    """``read_csv`` → ``get_dummies`` (ours' categorical columns and vocabularies) → ``concat`` → ``to_csv``."""
    import pandas as pd

    plan = json.loads(Path(plan_path).read_text())
    result: Result = {}
    with measured(result):
        frame = pd.read_csv(source, sep=plan["delimiter"])
        numbers = [f["name"] for f in plan["features"] if f["kind"] != "categorical"]
        categories = {}
        for feature in (f for f in plan["features"] if f["kind"] == "categorical"):
            values, vocabulary = frame[feature["name"]], feature["categories"]
            if feature["capped"]:
                values, vocabulary = values.where(values.isin(vocabulary) | values.isna(), OTHER), [*vocabulary, OTHER]
            categories[feature["name"]] = pd.Categorical(values, categories=vocabulary)
        dummies = [pd.get_dummies(pd.DataFrame(categories), dtype="uint8")] if categories else []
        Path(out).mkdir(parents=True, exist_ok=True)
        table = pd.concat([frame[plan["target"]], frame[numbers], *dummies], axis=1)
        table.to_csv(Path(out) / "all.csv", header=False, index=False)
    return result | {"width": table.shape[1]}


def run_child(argv: list[str]) -> None:
    method, source, out, plan_path, target = argv
    if method == "ours":
        result = child_ours(source, out, plan_path, target)
    elif method == "bare":
        result = child_bare(source, out, plan_path)
    else:
        result = child_pandas(source, out, plan_path)
    print(json.dumps(result))


# --- the parent: generate, run the children, compare -------------------------------------------------


def measure(method: str, source: Path, out: Path, plan: Path, target: str) -> Result:
    """Run one method in a fresh interpreter; its JSON, or ``{"error": …}`` if it failed."""
    command = [sys.executable, __file__, "--child", method, str(source), str(out), str(plan), target]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=dict(os.environ))
    shutil.rmtree(out, ignore_errors=True)
    if done.returncode != 0:
        lines = (done.stderr.strip() or f"exit status {done.returncode}").splitlines()
        return {"error": lines[-1][:300]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def ratio(numerator: Result | None, denominator: Result | None, key: str = "seconds") -> float | None:
    """``numerator[key] / denominator[key]``, or None where either is missing (skipped or failed)."""
    if not numerator or not denominator or key not in numerator or key not in denominator:
        return None
    return round(float(numerator[key]) / float(denominator[key]), 2)


def one_size(shape: str, megabytes: float, folder: Path, pandas_max_mb: float) -> Result:
    """Generate ``shape`` at ``megabytes`` once and convert it with each method."""
    from tests.helpers import shapes

    source = folder / f"{shape}-{megabytes:g}MB.csv"
    rows = shapes.write(source, shape, megabytes)
    size = source.stat().st_size / 1e6
    plan = folder / "plan.json"
    figures: Result = {"input_mb": round(size, 1), "rows": rows}
    for method in METHODS:
        if method == "pandas" and size > pandas_max_mb:
            figures[method] = None  # skipped: over --pandas-max-megabytes
            continue
        if method != "ours" and not plan.exists():
            figures[method] = {"error": "not run: ours failed, and it writes the plan the baselines follow"}
            continue
        result = measure(method, source, folder / method, plan, TARGETS[shape])
        if "seconds" in result:
            result["mb_per_s"] = size / float(result["seconds"])
        figures[method] = rounded(result)
    source.unlink()
    plan.unlink(missing_ok=True)
    ours, bare, naive = figures["ours"], figures["bare"], figures["pandas"]
    figures["ours_vs_bare"] = ratio(bare, ours)
    figures["ours_vs_pandas"] = ratio(naive, ours)
    figures["ours_vs_bare_cpu"] = ratio(bare, ours, "cpu_s")
    figures["ours_vs_pandas_cpu"] = ratio(naive, ours, "cpu_s")
    widths = {m: figures[m]["width"] for m in METHODS if figures[m] and "width" in figures[m]}
    figures["same_width"] = len(set(widths.values())) <= 1
    return figures


def rounded(result: Result) -> Result:
    return {
        key: round(value, 3 if key == "seconds" else 2 if key == "cpu_s" else 1) if isinstance(value, float) else value
        for key, value in result.items()
    }


def target(value: float | None, limit: float, at_least: bool) -> Result:
    """One target's figure and whether it is met (None: not measured)."""
    met = None if value is None else (value >= limit if at_least else value <= limit)
    return {"value": value, "target": f"{'>=' if at_least else '<='} {limit:g}", "met": met}


def worst(values: list[float | None], at_least: bool) -> float | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return min(present) if at_least else max(present)


def shape_targets(small: Result, large: Result) -> Result:
    """The four targets of one shape, each judged on its worst size."""
    sizes = (small, large)
    peaks = [s["ours"].get("peak_rss_mb") for s in sizes]
    growth = round(peaks[1] / peaks[0], 3) if None not in peaks else None
    return {
        "ours_vs_bare": target(worst([s["ours_vs_bare"] for s in sizes], True), MIN_VS_BARE, True),
        "ours_vs_pandas": target(worst([s["ours_vs_pandas"] for s in sizes], True), MIN_VS_PANDAS, True),
        "memory_growth": target(growth, MAX_GROWTH, False),
        "peak_rss_mb": target(worst(peaks, False), MAX_PEAK_MB, False),
    }


def overall(shapes: dict[str, Result]) -> Result:
    """Each target over every shape: met only if met on all of them; the shapes that miss it."""
    summary: Result = {}
    for name in ("ours_vs_bare", "ours_vs_pandas", "memory_growth", "peak_rss_mb"):
        verdicts = {shape: figures["targets"][name] for shape, figures in shapes.items()}
        measured_ = [v["met"] for v in verdicts.values() if v["met"] is not None]
        summary[name] = {
            "target": next(iter(verdicts.values()))["target"] if verdicts else None,
            "met": all(measured_) if measured_ else None,
            "missed_on": [shape for shape, v in verdicts.items() if v["met"] is False],
        }
    return summary


def cell(result: Result | None, key: str, digits: int = 1) -> str:
    if result is None:
        return "skipped"
    if "error" in result:
        return "FAILED"
    return f"{result[key]:.{digits}f}"


def print_size(shape: str, figures: Result) -> None:
    """One table row per method, then the ratios."""
    for method in METHODS:
        result = figures[method]
        print(
            f"{shape:<12} {figures['input_mb']:>7.1f} {method:<7} {cell(result, 'seconds', 2):>8} "
            f"{cell(result, 'cpu_s', 2):>8} {cell(result, 'mb_per_s'):>7} {cell(result, 'peak_rss_mb', 0):>8} "
            f"{result.get('width', '') if result else '':>6}"
        )
        if result and "error" in result:
            print(f"  {method} failed: {result['error']}")
    phases = figures["ours"].get("phases", {})
    print(
        f"{'':<12} {'':>7} ratios  vs bare {figures['ours_vs_bare']} (CPU {figures['ours_vs_bare_cpu']}), "
        f"vs pandas {figures['ours_vs_pandas']} (CPU {figures['ours_vs_pandas_cpu']})"
        + ("" if figures["same_width"] else "  WIDTHS DIFFER")
    )
    if phases:
        print(f"{'':<12} {'':>7} ours' phases (s): " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))


def print_targets(shapes: dict[str, Result]) -> None:
    print("\ntargets (worst size per shape):")
    for shape, figures in shapes.items():
        verdicts = ", ".join(
            f"{name} {v['value']} ({v['target']}: {VERDICTS[v['met']]})" for name, v in figures["targets"].items()
        )
        print(f"  {shape:<12} (sizes x{figures['size_ratio']}) {verdicts}")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        run_child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--megabytes", type=float, default=100, help="the small size (MB); default 100")
    parser.add_argument("--factor", type=float, default=4, help="the large size is this times the small one")
    parser.add_argument("--shapes", default=",".join(TARGETS), help="comma-separated; default: every shape")
    parser.add_argument(
        "--pandas-max-megabytes", type=float, default=400, help="skip naive pandas above this input size (MB)"
    )
    args = parser.parse_args()
    chosen = [name.strip() for name in args.shapes.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(TARGETS))
    if unknown:
        parser.error(f"unknown shapes {unknown}; choose from {sorted(TARGETS)}")
    print(f"{'shape':<12} {'MB':>7} {'method':<7} {'seconds':>8} {'CPU s':>8} {'MB/s':>7} {'peak MB':>8} {'width':>6}")
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="dropml-ingest-bench-") as folder:
        for shape in chosen:
            sizes = []
            for megabytes in (args.megabytes, args.megabytes * args.factor):
                sizes.append(one_size(shape, megabytes, Path(folder), args.pandas_max_megabytes))
                print_size(shape, sizes[-1])
            results[shape] = {
                "small": sizes[0],
                "large": sizes[1],
                # whole blocks of rows: at small sizes the large file is not exactly --factor times the small
                "size_ratio": round(sizes[1]["input_mb"] / sizes[0]["input_mb"], 2),
                "targets": shape_targets(*sizes),
            }
    print_targets(results)
    failed = [
        f"{shape}/{size}/{method}"
        for shape, figures in results.items()
        for size in ("small", "large")
        for method in METHODS
        if figures[size][method] and "error" in figures[size][method]
    ]
    summary = {
        "megabytes": args.megabytes,
        "factor": args.factor,
        "pandas_max_megabytes": args.pandas_max_megabytes,
        "shapes": results,
        "targets": overall(results),
        "failed": failed,
    }
    print(json.dumps(summary))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
