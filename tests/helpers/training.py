"""A temporary ``/opt/ml`` tree with small real data, and a way to run the image's ``train`` on it.

Data are real and bundled: scikit-learn's breast cancer CSV (binary), its iris CSV (multiclass) and the
repository's diabetes CSV (regression), turned target-first here by hand (not by the ingest's
converter, which is tested on its own).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sklearn

from core.schema import Feature, Schema

REPO = Path(__file__).resolve().parents[2]
TRAIN = REPO / "training_image" / "train"
SKLEARN_DATA = Path(sklearn.__file__).parent / "datasets" / "data"


def _sklearn_csv(name: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled CSVs: a count line, then features with the class index last."""
    table = np.loadtxt(SKLEARN_DATA / name, delimiter=",", skiprows=1)
    return table[:, :-1], table[:, -1]


def breast_cancer() -> np.ndarray:
    """569 rows, target-first: 1 = benign, 0 = malignant, then 30 measurements."""
    features, labels = _sklearn_csv("breast_cancer.csv")
    return np.column_stack([labels, features])


def iris() -> np.ndarray:
    features, labels = _sklearn_csv("iris.csv")
    return np.column_stack([labels, features])


def diabetes() -> np.ndarray:
    """442 rows, target-first: disease progression, then age, sex, bmi, bp and six blood serum values."""
    table = np.loadtxt(REPO / "datasets" / "diabetes" / "diabetes.csv", delimiter=",", skiprows=1)
    return np.column_stack([table[:, -1], table[:, :-1]])


def schema_for(rows: np.ndarray, problem_type: str, classes: Sequence[str] = ()) -> Schema:
    width = rows.shape[1] - 1
    return Schema(
        target="label",
        problem_type=problem_type,  # type: ignore[arg-type]
        features=tuple(Feature(name=f"x{i}", kind="numeric") for i in range(width)),
        classes=tuple(classes),
        rows={"train": len(rows)},
    )


def split(rows: np.ndarray, seed: int = 7) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and cut 70 / 15 / 15 into train, validation, test."""
    shuffled = np.random.default_rng(seed).permutation(rows)
    a, b = int(len(rows) * 0.7), int(len(rows) * 0.85)
    return shuffled[:a], shuffled[a:b], shuffled[b:]


def csv_text(rows: np.ndarray) -> str:
    """Target-first CSV as ingest writes it: ``%g`` numbers, an empty field for NaN."""
    return "".join(",".join("" if np.isnan(v) else f"{v:.10g}" for v in row) + "\n" for row in rows)


@dataclass
class OptMl:
    """A ``/opt/ml`` tree under a temporary folder."""

    root: Path

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def failure(self) -> Path:
        return self.root / "output" / "failure"

    @property
    def evaluation(self) -> Path:
        return self.root / "output" / "data" / "evaluation.json"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def channel(
        self,
        name: str,
        rows: np.ndarray,
        *,
        parts: int = 1,
        compress: bool = False,
        nested: bool = False,
        content_type: str | None = "text/csv",
        distribution: str = "FullyReplicated",
    ) -> Path:
        folder = self.root / "input" / "data" / name
        folder.mkdir(parents=True, exist_ok=True)
        for index, chunk in enumerate(np.array_split(rows, parts)):
            where = folder / f"run-{index % 2}" if nested else folder
            where.mkdir(exist_ok=True)
            text = csv_text(chunk)
            if compress:
                (where / f"part-{index:05d}.csv.gz").write_bytes(gzip.compress(text.encode()))
            else:
                (where / f"part-{index:05d}.csv").write_text(text)
        config = self._config("inputdataconfig.json")
        config[name] = {"TrainingInputMode": "File", "S3DistributionType": distribution}
        if content_type is not None:
            config[name]["ContentType"] = content_type
        self._write_config("inputdataconfig.json", config)
        return folder

    def schema(self, schema: Schema, *, channel: str = "train") -> Path:
        folder = self.root / "input" / "data" / channel
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "schema.json").write_text(schema.to_json())
        return folder / "schema.json"

    def hyperparameters(self, values: Mapping[str, object]) -> None:
        self._write_config("hyperparameters.json", {k: str(v) for k, v in values.items()})

    def resources(self, hosts: Sequence[str], current: str) -> None:
        self._write_config(
            "resourceconfig.json", {"current_host": current, "hosts": list(hosts), "network_interface_name": "lo"}
        )

    def summary(self) -> dict:
        return json.loads((self.model_dir / "summary.json").read_text())

    def _config(self, name: str) -> dict:
        path = self.root / "input" / "config" / name
        return json.loads(path.read_text()) if path.exists() else {}

    def _write_config(self, name: str, document: Mapping[str, object]) -> None:
        path = self.root / "input" / "config" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document))


def train_environment(root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "DROPML_OPT_ML": str(root), "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    return {**env, **(extra or {})}


def run_train(
    root: Path, extra_env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run ``training_image/train`` as SageMaker would run the container's ``train``."""
    return subprocess.run(
        [str(TRAIN)], env=train_environment(root, extra_env), capture_output=True, text=True, timeout=timeout
    )


def start_train(root: Path, extra_env: Mapping[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [str(TRAIN)], env=train_environment(root, extra_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
