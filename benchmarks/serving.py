"""How much an HTTP round trip through ``serve`` adds to a bare in-process XGBoost prediction.

Trains a 30-feature binary model (100 rounds, depth 6), starts the real ``training_image/serve`` on a
free port, and measures in this one run:
- single row: HTTP POST /invocations (CSV in, JSON out, keep-alive connection) vs ``inplace_predict``
  on the same row in process; target p50 <= 1.0 ms;
- 1,000-row CSV batch: HTTP (CSV out and JSON out) vs parsing the same body in process with serve's
  own CSV decoder + ``inplace_predict``; target <= 2x. ``np.loadtxt`` + predict is printed for scale.

Usage: ``.venv/bin/python benchmarks/serving.py [--repeats N]``. The last line is JSON.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xgboost as xgb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.serving_fixtures import start_serve, stop_serve  # noqa: E402
from training_image.serving.decode import decode_csv  # noqa: E402
from training_image.serving.model import load_model  # noqa: E402

WIDTH = 30
BATCH_ROWS = 1_000


def timings_ms(action: Callable[[], object], repeats: int, warmup: int = 20) -> np.ndarray:
    for _ in range(warmup):
        action()
    samples = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        action()
        samples[i] = time.perf_counter() - start
    return samples * 1e3


def summary(samples: np.ndarray) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(samples, 50)), 4),
        "p99_ms": round(float(np.percentile(samples, 99)), 4),
    }


def train_model(model_dir: Path) -> np.ndarray:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(20_000, WIDTH)).astype(np.float32)
    labels = (features[:, :5].sum(axis=1) + rng.normal(size=len(features)) > 0).astype(np.float32)
    params = {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "nthread": 2, "seed": 0}
    booster = xgb.train(params, xgb.DMatrix(features, label=labels), num_boost_round=100)
    model_dir.mkdir(parents=True)
    booster.save_model(model_dir / "model.ubj")
    return rng.normal(size=(BATCH_ROWS, WIDTH)).astype(np.float32)


def csv_body(rows: np.ndarray) -> bytes:
    return ("\n".join(",".join(f"{v:.6g}" for v in row) for row in rows) + "\n").encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2_000, help="single-row requests (batches: a tenth)")
    args = parser.parse_args()
    batch_repeats = max(args.repeats // 10, 20)

    with tempfile.TemporaryDirectory() as tmp:
        opt_ml = Path(tmp)
        rows = train_model(opt_ml / "model")
        batch = csv_body(rows)
        one_line = csv_body(rows[:1])
        model = load_model(opt_ml / "model")  # exactly what a worker loads, nthread=1 included
        one_row = np.ascontiguousarray(rows[:1])

        in_process = {
            "single_row_predict": summary(timings_ms(lambda: model.booster.inplace_predict(one_row), args.repeats)),
            "batch_parse_predict": summary(
                timings_ms(lambda: model.booster.inplace_predict(decode_csv(batch, model)), batch_repeats)
            ),
            "batch_loadtxt_predict": summary(
                timings_ms(
                    lambda: model.booster.inplace_predict(
                        np.loadtxt(io.BytesIO(batch), delimiter=",", dtype=np.float32, ndmin=2)
                    ),
                    batch_repeats,
                )
            ),
            "batch_predict_only": summary(timings_ms(lambda: model.booster.inplace_predict(rows), batch_repeats)),
        }

        endpoint = start_serve(opt_ml, workers=None)
        try:
            connection = http.client.HTTPConnection("127.0.0.1", endpoint.port)

            def post(body: bytes, accept: str) -> bytes:
                connection.request(
                    "POST", "/invocations", body=body, headers={"Content-Type": "text/csv", "Accept": accept}
                )
                response = connection.getresponse()
                payload = response.read()
                if response.status != 200:
                    raise RuntimeError(f"{response.status}: {payload!r}")
                return payload

            def post_new_connection() -> None:
                fresh = http.client.HTTPConnection("127.0.0.1", endpoint.port)
                fresh.request("POST", "/invocations", body=one_line, headers={"Content-Type": "text/csv"})
                fresh.getresponse().read()
                fresh.close()

            assert len(post(batch, "text/csv").splitlines()) == BATCH_ROWS
            http_figures = {
                "single_row_csv_to_json": summary(timings_ms(lambda: post(one_line, "application/json"), args.repeats)),
                "single_row_new_connection": summary(timings_ms(post_new_connection, args.repeats // 4)),
                "batch_csv_to_csv": summary(timings_ms(lambda: post(batch, "text/csv"), batch_repeats)),
                "batch_csv_to_json": summary(timings_ms(lambda: post(batch, "application/json"), batch_repeats)),
            }
            connection.close()
        finally:
            stop_serve(endpoint)

    single_p50 = http_figures["single_row_csv_to_json"]["p50_ms"]
    baseline_batch = in_process["batch_parse_predict"]["p50_ms"]
    result = {
        "model": f"binary:logistic, {WIDTH} features, 100 trees of depth 6",
        "in_process": in_process,
        "http": http_figures,
        "single_row_p50_ms": single_p50,
        "single_row_p50_target_ms": 1.0,
        "single_row_ratio_vs_in_process": round(single_p50 / in_process["single_row_predict"]["p50_ms"], 2),
        "batch_csv_ratio_vs_in_process": round(http_figures["batch_csv_to_csv"]["p50_ms"] / baseline_batch, 2),
        "batch_json_ratio_vs_in_process": round(http_figures["batch_csv_to_json"]["p50_ms"] / baseline_batch, 2),
        "batch_ratio_target": 2.0,
    }
    for name, figures in {
        **{f"in-process {k}": v for k, v in in_process.items()},
        **{f"http {k}": v for k, v in http_figures.items()},
    }.items():
        print(f"{name:40s} p50 {figures['p50_ms']:8.3f} ms   p99 {figures['p99_ms']:8.3f} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
