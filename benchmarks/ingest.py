"""CSV → target-first conversion speed and memory: ``core.conversion.convert`` vs naive pandas.

Generates a HIGGS-like CSV (28 float columns, two text columns of 10 levels each, a 0/1 label last;
about 555 MB at the default 2,000,000 rows) in a temporary folder, then converts it in this one run:
- ours: ``core.conversion.convert`` (byte tally, profile pass, write pass; three splits + schema);
- naive pandas: ``read_csv`` → ``get_dummies`` → ``concat`` (label first) → ``to_csv`` (one file).
Each method runs in its own subprocess, so peak RSS is measured per method (``VmHWM`` of the child's own
address space: ``ru_maxrss`` would carry over this parent's peak, which fork copies); the time is
the conversion alone (interpreter start and imports excluded), and MB/s is input bytes per second.
CPU seconds are reported too: on a shared, busy machine the wall-clock ratio mostly measures who got
the cores, the CPU-time ratio measures the work.
Targets on 2 cores: >= 100 MB/s, >= 8x naive pandas, peak RSS <= 512 MB.

Usage: ``.venv/bin/python benchmarks/ingest.py [--rows N]``. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
LEVELS = 10

OURS = """
import json, resource, sys, time
def PEAK():  # this process's own peak resident set (VmHWM starts afresh at exec), in MB
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
from core.conversion import convert
from core.settings import DatasetSettings
usage0 = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = usage0.ru_utime + usage0.ru_stime
start = time.perf_counter()
result = convert(sys.argv[1], sys.argv[2], DatasetSettings(target="label"))
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu0
print(json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_rss_mb": PEAK(),
                  "rows": dict(result.schema.rows), "width": result.schema.width}))
"""

PANDAS = """
import json, resource, sys, time
def PEAK():  # this process's own peak resident set (VmHWM starts afresh at exec), in MB
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
from pathlib import Path
import pandas as pd
usage0 = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = usage0.ru_utime + usage0.ru_stime
start = time.perf_counter()
frame = pd.read_csv(sys.argv[1])
text = frame.select_dtypes(include="object").columns
dummies = pd.get_dummies(frame[text]).astype("uint8")
numbers = frame.drop(columns=[*text, "label"])
Path(sys.argv[2]).mkdir(parents=True, exist_ok=True)
pd.concat([frame["label"], numbers, dummies], axis=1).to_csv(Path(sys.argv[2]) / "all.csv", header=False, index=False)
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu0
print(json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_rss_mb": PEAK(),
                  "width": 1 + numbers.shape[1] + dummies.shape[1]}))
"""


def generate(path: Path, rows: int) -> None:
    """HIGGS-like: 28 standard-normal floats (6 decimals), two 10-level text columns, label last."""
    rng = np.random.default_rng(0)
    columns = {f"f{i}": rng.standard_normal(rows).round(6) for i in range(28)}
    colors = np.array([f"color_{chr(97 + k)}" for k in range(LEVELS)])
    shapes = np.array([f"shape{k}" for k in range(LEVELS)])
    columns["color"] = colors[rng.integers(0, LEVELS, rows)]
    columns["shape"] = shapes[rng.integers(0, LEVELS, rows)]
    columns["label"] = (columns["f0"] + rng.standard_normal(rows) > 0).astype(np.int8)
    pl.DataFrame(columns).write_csv(path)


def measure(script: str, source: Path, out: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", script, str(source), str(out)], capture_output=True, text=True, cwd=REPO
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dropml-ingest-bench-") as folder:
        source = Path(folder) / "higgs_like.csv"
        generate(source, args.rows)
        mb = source.stat().st_size / 1e6
        print(f"input: {args.rows:,} rows, {mb:.0f} MB")
        ours = measure(OURS, source, Path(folder) / "ours")
        print(
            f"ours:   {ours['seconds']:.2f} s ({ours['cpu_s']:.1f} s CPU), {mb / ours['seconds']:.0f} MB/s, "
            f"peak RSS {ours['peak_rss_mb']:.0f} MB"
        )
        naive = measure(PANDAS, source, Path(folder) / "pandas")
        print(
            f"pandas: {naive['seconds']:.2f} s ({naive['cpu_s']:.1f} s CPU), {mb / naive['seconds']:.0f} MB/s, "
            f"peak RSS {naive['peak_rss_mb']:.0f} MB"
        )
    assert int(ours["width"]) + 1 == naive["width"], (ours["width"], naive["width"])  # same columns + label
    result = {
        "mb_per_s": round(mb / float(ours["seconds"]), 1),
        "speedup_vs_pandas": round(float(naive["seconds"]) / float(ours["seconds"]), 2),
        "peak_rss_mb": round(float(ours["peak_rss_mb"]), 1),
        # CPU seconds: a ratio that a busy shared machine distorts less than wall-clock time does.
        "cpu_speedup_vs_pandas": round(float(naive["cpu_s"]) / float(ours["cpu_s"]), 2),
        "pandas_mb_per_s": round(mb / float(naive["seconds"]), 1),
        "pandas_peak_rss_mb": round(float(naive["peak_rss_mb"]), 1),
        "input_mb": round(mb, 1),
        "rows": args.rows,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
