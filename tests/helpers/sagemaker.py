"""Helpers for the local SageMaker engine's functional tests: requests as the AWS CLI or boto3 sends them,
models and rows from a small real data set (scikit-learn's bundled breast cancer table, 569 rows).

The ``engine`` and ``breast_cancer`` fixtures are in ``tests/fixtures/sagemaker.py``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import psutil
from sklearn.datasets import load_breast_cancer

REGION = "us-east-1"
BUCKET = "dropml-sagemaker"
ROLE = "arn:aws:iam::123456789012:role/dropml-sagemaker"
BUILTIN_XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
DROPML_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/dropml-xgboost:latest"


def target_first_csv(labels: np.ndarray, features: np.ndarray) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([labels, features]), delimiter=",", fmt="%.6g")
    return buffer.getvalue().encode()


def channel(name: str, uri: str, distribution: str = "FullyReplicated") -> dict[str, Any]:
    return {
        "ChannelName": name,
        "ContentType": "text/csv",
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": distribution}
        },
    }


def training_request(
    name: str,
    data: dict[str, str],
    *,
    hyperparameters: dict[str, str] | None = None,
    image: str = BUILTIN_XGBOOST,
    instance_count: int = 1,
    max_runtime_s: int = 600,
    **extra: Any,
) -> dict[str, Any]:
    """A CreateTrainingJob request as the AWS CLI or boto3 would send it."""
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": hyperparameters
        or {"objective": "binary:logistic", "num_round": "20", "max_depth": "3", "eval_metric": "auc"},
        "InputDataConfig": [channel("train", data["train"]), channel("validation", data["validation"])],
        "OutputDataConfig": {"S3OutputPath": data["output"]},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": instance_count, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime_s},
        **extra,
    }


def wait_until(predicate: Callable[[], bool], timeout: float = 90.0, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def upload_model(key: str, *, rounds: int, max_depth: int) -> str:
    """A model.tar.gz as a training job leaves it (XGBoost's UBJ at the archive's root), in S3."""
    import tarfile
    import tempfile

    import xgboost as xgb

    features, labels = load_breast_cancer(return_X_y=True)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": max_depth, "nthread": 1},
        xgb.DMatrix(features, label=labels),
        num_boost_round=rounds,
    )
    with tempfile.TemporaryDirectory() as folder:
        model = Path(folder) / "model.ubj"
        booster.save_model(str(model))
        archive = Path(folder) / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(model, arcname="model.ubj")
        boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=archive.read_bytes())
    return f"s3://{BUCKET}/{key}"


def sample_rows(count: int) -> bytes:
    """The first ``count`` rows of the data set's features as a headerless CSV body."""
    features, _ = load_breast_cancer(return_X_y=True)
    buffer = io.StringIO()
    np.savetxt(buffer, features[:count], delimiter=",", fmt="%.6g")
    return buffer.getvalue().encode()


def child_programs(module: str) -> list[psutil.Process]:
    """This process's children running ``python -m <module>`` (the train and serve executables exec it)."""
    found = []
    for child in psutil.Process().children():
        try:
            if module in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found
