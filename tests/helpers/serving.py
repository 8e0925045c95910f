"""Real models for the serving tests: XGBoost trained for a few rounds on the penguins dataset.

The schema is written out by hand (what ingest would learn from penguins.csv) and the rows are encoded
with ``Schema.encode_records``, so these tests depend on neither ingest's nor train's code.
``start_serve`` (and ``serving``, the body of a test module's fixture) runs the real executable as a
subprocess on a free port.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from core.schema import Feature, ProblemType, Schema
from local.ports import free_port

REPO = Path(__file__).resolve().parents[2]
PENGUINS_CSV = REPO / "datasets" / "penguins" / "penguins.csv"
SERVE = REPO / "training_image" / "serve"

FEATURES = (
    Feature("island", "categorical", ("Biscoe", "Dream", "Torgersen")),
    Feature("bill_length_mm", "numeric"),
    Feature("bill_depth_mm", "numeric"),
    Feature("flipper_length_mm", "numeric"),
    Feature("body_mass_g", "numeric"),
    Feature("sex", "categorical", ("male", "female")),
    Feature("year", "numeric"),
)
SPECIES = ("Adelie", "Gentoo", "Chinstrap")


def penguin_records() -> list[dict[str, object]]:
    """penguins.csv as raw records, "NA" cells as None (what a client would send for a blank)."""
    frame = pd.read_csv(PENGUINS_CSV, keep_default_na=False)
    return [{k: (None if v == "NA" else v) for k, v in row.items()} for row in frame.to_dict("records")]


def penguin_schema(problem_type: ProblemType) -> Schema:
    """The schema for predicting species (multiclass), "is it Adelie" (binary) or body mass (regression)."""
    if problem_type == "regression":
        features = tuple(f for f in FEATURES if f.name != "body_mass_g")
        return Schema(target="body_mass_g", problem_type="regression", features=features)
    classes = SPECIES if problem_type == "multiclass" else ("other", "Adelie")
    return Schema(target="species", problem_type=problem_type, features=FEATURES, classes=classes)


def _labels(schema: Schema, records: list[dict[str, object]]) -> np.ndarray:
    if schema.problem_type == "regression":
        return np.array([np.nan if r["body_mass_g"] is None else r["body_mass_g"] for r in records], float)
    if schema.problem_type == "binary":
        return np.array([r["species"] == "Adelie" for r in records], float)
    return np.array([schema.classes.index(str(r["species"])) for r in records], float)


_OBJECTIVES: dict[str, dict[str, object]] = {
    "multiclass": {"objective": "multi:softprob", "num_class": len(SPECIES)},
    "binary": {"objective": "binary:logistic"},
    "regression": {"objective": "reg:squarederror"},
}


def train_penguin_model(
    model_dir: Path, problem_type: ProblemType = "multiclass", *, with_schema: bool = True, rounds: int = 10
) -> xgb.Booster:
    """Train on penguins and write ``model.ubj`` (and ``schema.json``) like ``train`` does."""
    schema = penguin_schema(problem_type)
    records = [r for r in penguin_records() if problem_type != "regression" or r["body_mass_g"] is not None]
    matrix = schema.encode_records(records)
    params = {"max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0, **_OBJECTIVES[problem_type]}
    booster = xgb.train(params, xgb.DMatrix(matrix, label=_labels(schema, records)), num_boost_round=rounds)
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(model_dir / "model.ubj")
    if with_schema:
        (model_dir / "schema.json").write_text(schema.to_json())
    return booster


@dataclass
class Endpoint:
    """A running ``serve`` process and a way to talk to it."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def output(self) -> str:
        """What serve wrote to stdout and stderr so far."""
        return self.log.read_text(errors="replace")

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def invoke(
        self, body: bytes, content_type: str = "text/csv", accept: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": content_type}
        if accept is not None:
            headers["Accept"] = accept
        return self.request("POST", "/invocations", body, headers)


def start_serve(opt_ml: Path, *, workers: int | None = 1, timeout_s: float = 30.0) -> Endpoint:
    """Start ``training_image/serve`` against ``opt_ml`` and wait until ``/ping`` answers 200.

    ``workers=None`` leaves serve's default (a worker per CPU). A free port can be taken by another
    process before serve binds it: serve then says so, and it is started again on another port.
    """
    for _ in range(3):
        endpoint = _launch(opt_ml, workers)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            output = endpoint.output()
            if "Connection in use" in output:
                stop_serve(endpoint)
                break
            if endpoint.process.poll() is not None:
                raise RuntimeError(f"serve exited with {endpoint.process.returncode}:\n{output}")
            # Only once serve itself listens: another process might answer on a port it lost.
            if "Listening at" in output and _pings(endpoint):
                return endpoint
            time.sleep(0.05)
        else:
            stop_serve(endpoint)
            raise RuntimeError(f"serve did not answer /ping in time:\n{endpoint.output()}")
    raise RuntimeError("serve found no free port in three tries")


def _launch(opt_ml: Path, workers: int | None) -> Endpoint:
    port = free_port()
    env = {**os.environ, "DROPML_OPT_ML": str(opt_ml), "SAGEMAKER_BIND_TO_PORT": str(port)}
    env.pop("SAGEMAKER_MODEL_SERVER_WORKERS", None)
    if workers is not None:
        env["SAGEMAKER_MODEL_SERVER_WORKERS"] = str(workers)
    log = opt_ml / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([str(SERVE)], env=env, stdout=sink, stderr=subprocess.STDOUT)
    return Endpoint(process, port, log)


def _pings(endpoint: Endpoint) -> bool:
    try:
        return endpoint.request("GET", "/ping")[0] == 200
    except OSError:
        return False


def stop_serve(endpoint: Endpoint, timeout_s: float = 20.0) -> int:
    """SIGTERM, as SageMaker and local mode stop an endpoint; the exit status."""
    if endpoint.process.poll() is None:
        endpoint.process.send_signal(signal.SIGTERM)
        try:
            endpoint.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            endpoint.process.kill()
            endpoint.process.wait()
    return endpoint.process.returncode


def serving(opt_ml: Path, *, workers: int = 1) -> Iterator[Endpoint]:
    """Body of a pytest fixture: a running endpoint, stopped afterwards whatever the test did."""
    endpoint = start_serve(opt_ml, workers=workers)
    try:
        yield endpoint
    finally:
        stop_serve(endpoint)
