"""The image's ``train`` end to end against bare ``xgboost.train`` on the same data, measured in one run.

Goal: ``train`` (a subprocess on an /opt/ml tree: reading every part file, validating, training with
per-round metric lines and checkpoints, writing model, schema and summary) costs at most 10% more wall
time than the simplest fast hand-written script: pandas' pyarrow CSV engine → DMatrix → xgboost.train
with the same parameters and the same train/validation evaluation. Both run as fresh processes, so
both pay interpreter start and imports. Data: generated target-first CSV (binary label, ~1% missing).

    python benchmarks/training.py [--rows 2000000] [--features 48] [--rounds 50] [--repeats 1]

The last line printed is JSON with the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TRAIN = REPO / "training_image" / "train"
TARGET_RATIO = 1.10
TRAIN_PARTS = 4
PARAMS = {"objective": "binary:logistic", "max_depth": 6, "eta": 0.3, "tree_method": "hist"}
EVAL_METRIC = ["logloss", "auc"]  # what train uses by default for a binary problem


def generate(folder: Path, rows: int, features: int, seed: int = 0) -> None:
    """Write target-first CSV parts: ``rows`` for train (in parts) and a tenth of that for validation."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    weights = rng.normal(size=features)
    for channel, count, parts in (("train", rows, TRAIN_PARTS), ("validation", max(rows // 10, 1), 1)):
        target = folder / channel
        target.mkdir(parents=True)
        for index, size in enumerate(np.diff(np.linspace(0, count, parts + 1).astype(int))):
            x = rng.normal(size=(size, features)).astype(np.float32)
            signal = x @ weights + 0.5 * x[:, 0] * x[:, 1] + rng.normal(scale=2.0, size=size)
            x[rng.random(x.shape) < 0.01] = np.nan
            columns = {"label": (signal > 0).astype(np.float32)} | {f"f{j}": x[:, j] for j in range(features)}
            pacsv.write_csv(
                pa.table(columns),
                target / f"part-{index:05d}.csv",
                write_options=pacsv.WriteOptions(include_header=False),
            )


def baseline(folder: Path, rounds: int) -> None:
    """The hand-written script: read with pandas' pyarrow engine, DMatrix, xgboost.train."""
    import pandas as pd
    import xgboost as xgb

    started = time.perf_counter()

    def load(channel: str) -> xgb.DMatrix:
        frames = [
            pd.read_csv(p, header=None, engine="pyarrow", dtype=np.float32)
            for p in sorted((folder / channel).iterdir())
        ]
        table = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return xgb.DMatrix(table.iloc[:, 1:], label=table.iloc[:, 0])

    dtrain, dvalidation = load("train"), load("validation")
    loaded = time.perf_counter()
    booster = xgb.train(
        {**PARAMS, "eval_metric": EVAL_METRIC},
        dtrain,
        num_boost_round=rounds,
        evals=[(dtrain, "train"), (dvalidation, "validation")],
        verbose_eval=False,
    )
    booster.save_model(str(folder / "baseline-model.ubj"))
    print(json.dumps({"load_s": loaded - started, "train_s": time.perf_counter() - loaded}))


def opt_ml_tree(root: Path, data: Path, rounds: int) -> None:
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (root / "input" / "data").mkdir(parents=True)
    for channel in ("train", "validation"):
        (root / "input" / "data" / channel).symlink_to(data / channel, target_is_directory=True)
    hyperparameters = {**{k: str(v) for k, v in PARAMS.items()}, "num_round": str(rounds)}
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    channels = {
        c: {"ContentType": "text/csv", "S3DistributionType": "FullyReplicated"} for c in ("train", "validation")
    }
    (config / "inputdataconfig.json").write_text(json.dumps(channels))


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float  # user + system: steadier than wall time on a shared machine
    peak_mb: float | None  # the child's peak RSS, where GNU time is there to tell
    stdout: str


def timed(command: list[str], env: dict[str, str]) -> Measured:
    gnu_time = shutil.which("time")  # GNU time reports the peak RSS of the process it runs
    wrapped = [gnu_time, "-f", "peak_rss_kb=%M", *command] if gnu_time else command
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(wrapped, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{command[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    peak = re.search(r"peak_rss_kb=(\d+)", done.stderr)
    return Measured(
        wall_s=elapsed,
        cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        peak_mb=int(peak.group(1)) / 1024 if peak else None,
        stdout=done.stdout,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--features", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each side; the fastest counts")
    parser.add_argument("--baseline-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_only:
        baseline(args.baseline_only, args.rounds)
        return

    with tempfile.TemporaryDirectory(prefix="dropml-bench-training-") as temp:
        work = Path(temp)
        started = time.perf_counter()
        generate(work / "data", args.rows, args.features)
        size_mb = sum(p.stat().st_size for p in (work / "data").rglob("*.csv")) / 1e6
        print(f"generated {args.rows:,} train rows x {args.features} features ({size_mb:,.0f} MB of CSV) "
              f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
        bare_runs: list[Measured] = []
        train_runs: list[Measured] = []
        for attempt in range(args.repeats):
            bare = timed(
                [sys.executable, __file__, "--rounds", str(args.rounds), "--baseline-only", str(work / "data")], env
            )
            root = work / f"opt-ml-{attempt}"
            opt_ml_tree(root, work / "data", args.rounds)
            ours = timed([str(TRAIN)], {**env, "DROPML_OPT_ML": str(root)})
            phases = json.loads(bare.stdout.strip().splitlines()[-1])
            lines = sum(1 for line in ours.stdout.splitlines() if line.startswith("["))
            print(f"run {attempt + 1}: bare xgboost.train {bare.wall_s:.2f} s wall, {bare.cpu_s:.2f} s CPU, "
                  f"peak {bare.peak_mb or 0:,.0f} MB (load {phases['load_s']:.2f} s, train {phases['train_s']:.2f} s); "
                  f"train {ours.wall_s:.2f} s wall, {ours.cpu_s:.2f} s CPU, peak {ours.peak_mb or 0:,.0f} MB "
                  f"({lines} metric lines)")  # fmt: skip
            bare_runs.append(bare)
            train_runs.append(ours)
        bare_s, train_s = min(r.wall_s for r in bare_runs), min(r.wall_s for r in train_runs)
        bare_cpu, train_cpu = min(r.cpu_s for r in bare_runs), min(r.cpu_s for r in train_runs)
        ratio, cpu_ratio = train_s / bare_s, train_cpu / bare_cpu
        print(f"ratio train / bare: {ratio:.3f} wall, {cpu_ratio:.3f} CPU (target <= {TARGET_RATIO})")
        print(
            json.dumps(
                {
                    "benchmark": "training",
                    "rows": args.rows,
                    "features": args.features,
                    "rounds": args.rounds,
                    "csv_mb": round(size_mb, 1),
                    "bare_xgboost_s": round(bare_s, 3),
                    "train_s": round(train_s, 3),
                    "bare_xgboost_cpu_s": round(bare_cpu, 3),
                    "train_cpu_s": round(train_cpu, 3),
                    "bare_xgboost_peak_mb": bare_runs[0].peak_mb and round(bare_runs[0].peak_mb),
                    "train_peak_mb": train_runs[0].peak_mb and round(train_runs[0].peak_mb),
                    "ratio": round(ratio, 3),
                    "cpu_ratio": round(cpu_ratio, 3),
                    "target": TARGET_RATIO,
                    "met": ratio <= TARGET_RATIO,
                }
            )
        )


if __name__ == "__main__":
    main()
