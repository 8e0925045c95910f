"""How much an HTTP round trip through ``serve`` adds to a bare in-process XGBoost prediction.

Trains a 30-feature binary model (100 rounds, depth 6; its schema names the features f0…f29), starts
the real ``training_image/serve`` on a free port with its default settings (a worker per CPU), and
measures in this one run:
- single row: HTTP POST /invocations (CSV in, JSON out, keep-alive connection) vs ``inplace_predict``
  on the same row in process; target p50 <= 1.0 ms. Also the same row as a JSON record with column
  names, and as CSV over a new connection per request;
- 1,000-row CSV batch: HTTP (CSV out, and JSON out) vs parsing the same body in process with serve's
  own CSV decoder + ``inplace_predict``; target <= 2x. ``np.loadtxt`` + predict is printed for scale.

The baseline and the HTTP requests are timed in turns (ten of one, ten of the next, in shuffled
order, again and again), so a load swing on a shared machine hits both sides of a ratio alike.

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

from core.schema import Feature, Schema  # noqa: E402
from tests.helpers.serving import Endpoint, start_serve, stop_serve  # noqa: E402
from training_image.serving.decode import decode_csv  # noqa: E402
from training_image.serving.model import load_model  # noqa: E402

WIDTH = 30
BATCH_ROWS = 1_000
WARMUP = 20
BLOCK = 10
SCHEMA = Schema(
    target="y",
    problem_type="binary",
    features=tuple(Feature(f"f{i}", "numeric") for i in range(WIDTH)),
    classes=("no", "yes"),
)


def in_turns(actions: dict[str, Callable[[], object]], repeats: int) -> dict[str, np.ndarray]:
    """Milliseconds per call of each action, ``repeats`` calls each, taken in turns of ``BLOCK`` calls.

    Turns keep a load swing on a shared machine from landing on one side of a ratio; their order is
    shuffled each round, so no action always runs just after another one has evicted its caches.
    """
    for _ in range(WARMUP):
        for action in actions.values():
            action()
    samples: dict[str, list[float]] = {name: [] for name in actions}
    order = list(actions)
    shuffle = np.random.default_rng(0).shuffle
    for _ in range(0, repeats, BLOCK):
        shuffle(order)
        for name in order:
            action = actions[name]
            for _ in range(BLOCK):
                start = time.perf_counter()
                action()
                samples[name].append(time.perf_counter() - start)
    return {name: np.array(values) * 1e3 for name, values in samples.items()}


def summary(samples: np.ndarray) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(samples, 50)), 4),
        "p99_ms": round(float(np.percentile(samples, 99)), 4),
    }


def train_model(model_dir: Path) -> np.ndarray:
    """Write the benchmark's model to ``model_dir``; the rows to predict on."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(20_000, WIDTH)).astype(np.float32)
    labels = (features[:, :5].sum(axis=1) + rng.normal(size=len(features)) > 0).astype(np.float32)
    params = {"objective": "binary:logistic", "max_depth": 6, "eta": 0.1, "nthread": 2, "seed": 0}
    booster = xgb.train(params, xgb.DMatrix(features, label=labels), num_boost_round=100)
    model_dir.mkdir(parents=True)
    booster.save_model(model_dir / "model.ubj")
    (model_dir / "schema.json").write_text(SCHEMA.to_json())
    return rng.normal(size=(BATCH_ROWS, WIDTH)).astype(np.float32)


def csv_body(rows: np.ndarray) -> bytes:
    return ("\n".join(",".join(f"{v:.6g}" for v in row) for row in rows) + "\n").encode()


class Client:
    """One keep-alive connection, as SageMaker's front end keeps to a container."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.port = endpoint.port
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port)

    def post(self, body: bytes, accept: str = "application/json", content_type: str = "text/csv") -> bytes:
        headers = {"Content-Type": content_type, "Accept": accept}
        self.connection.request("POST", "/invocations", body=body, headers=headers)
        response = self.connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{response.status}: {payload!r}")
        return payload

    def post_on_new_connection(self, body: bytes) -> bytes:
        fresh = http.client.HTTPConnection("127.0.0.1", self.port)
        try:
            fresh.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
            return fresh.getresponse().read()
        finally:
            fresh.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2_000, help="single-row requests (batches: a tenth)")
    args = parser.parse_args()
    batch_repeats = max(args.repeats // 10, 20)

    with tempfile.TemporaryDirectory() as tmp:
        opt_ml = Path(tmp)
        rows = train_model(opt_ml / "model")
        batch, one_line = csv_body(rows), csv_body(rows[:1])
        model = load_model(opt_ml / "model")  # exactly what a worker loads, nthread=1 included
        one_row = decode_csv(one_line, model)
        one_record = json.dumps({f"f{i}": float(v) for i, v in enumerate(rows[0])}).encode()

        endpoint = start_serve(opt_ml, workers=None)
        try:
            client = Client(endpoint)
            assert len(client.post(batch, "text/csv").splitlines()) == BATCH_ROWS
            single = in_turns(
                {
                    "in-process predict": lambda: model.booster.inplace_predict(one_row),
                    "http csv->json": lambda: client.post(one_line),
                    "http csv->json, new connection": lambda: client.post_on_new_connection(one_line),
                    "http json record->json": lambda: client.post(one_record, content_type="application/json"),
                },
                args.repeats,
            )
            batches = in_turns(
                {
                    "in-process parse+predict": lambda: model.booster.inplace_predict(decode_csv(batch, model)),
                    "http csv->csv": lambda: client.post(batch, "text/csv"),
                    "http csv->json": lambda: client.post(batch),
                    "in-process np.loadtxt+predict": lambda: model.booster.inplace_predict(
                        np.loadtxt(io.BytesIO(batch), delimiter=",", dtype=np.float32, ndmin=2)
                    ),
                    "in-process predict only": lambda: model.booster.inplace_predict(rows),
                },
                batch_repeats,
            )
            client.connection.close()
        finally:
            stop_serve(endpoint)

    figures = {
        "single_row": {name: summary(values) for name, values in single.items()},
        f"batch_{BATCH_ROWS}_rows": {name: summary(values) for name, values in batches.items()},
    }
    for group, named in figures.items():
        for name, figure in named.items():
            print(f"{group:16s} {name:32s} p50 {figure['p50_ms']:8.3f} ms   p99 {figure['p99_ms']:8.3f} ms")

    def p50(samples: np.ndarray) -> float:
        return float(np.percentile(samples, 50))

    single_p50 = p50(single["http csv->json"])
    baseline = p50(batches["in-process parse+predict"])
    print(
        json.dumps(
            {
                "model": f"binary:logistic, {WIDTH} numeric features, 100 trees of depth 6",
                "figures": figures,
                "single_row_p50_ms": round(single_p50, 4),
                "single_row_p50_target_ms": 1.0,
                "single_row_ratio_vs_in_process": round(single_p50 / p50(single["in-process predict"]), 2),
                "batch_csv_out_ratio_vs_in_process": round(p50(batches["http csv->csv"]) / baseline, 2),
                "batch_json_out_ratio_vs_in_process": round(p50(batches["http csv->json"]) / baseline, 2),
                "batch_ratio_target": 2.0,
            }
        )
    )


if __name__ == "__main__":
    main()
