"""The tutorials' data: scikit-learn's breast-cancer set, split as SageMaker's XGBoost reads CSV.

Both SDK tutorials (``sagemaker_sdk_tutorial.py``, ``sagemaker_sdk2_tutorial.py``) train on the same
rows, so one function writes them; a script run from this folder imports it.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer


def upload_splits(s3: Any, bucket: str, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation splits under ``prefix`` (label first, no header); the 20 test rows and labels."""
    features, labels = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(labels))
    features, labels = features[order], labels[order]
    for split, rows in (("train", slice(0, 400)), ("validation", slice(400, 500))):
        text = io.StringIO()
        np.savetxt(text, np.column_stack([labels[rows], features[rows]]), delimiter=",", fmt="%g")
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{split}/{split}.csv", Body=text.getvalue().encode())
    return features[500:520], labels[500:520]
