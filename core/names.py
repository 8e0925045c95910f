"""Names derived from an upload's identity, within AWS's length and character limits.

S3 delivers events at least once, so the run id is a pure function of (bucket, key, version or ETag):
a duplicate event maps to the same run and the same execution name, and Step Functions refuses to
start it twice. SageMaker limits names (training job 63, tuning job 32, endpoint 63 characters).
"""

from __future__ import annotations

import hashlib
import re

EXECUTION_NAME_MAX = 80
TRAINING_JOB_NAME_MAX = 63
TUNING_JOB_NAME_MAX = 32
ENDPOINT_NAME_MAX = 63
RUN_ID_LENGTH = 12

_NOT_NAME_CHARS = re.compile(r"[^a-zA-Z0-9]+")


def run_id(bucket: str, key: str, version: str | None) -> str:
    """A short, stable id for one uploaded object (version id where versioning is on, else the ETag)."""
    identity = f"{bucket}\n{key}\n{version or ''}".encode()
    return hashlib.sha256(identity).hexdigest()[:RUN_ID_LENGTH]


def slug(text: str, limit: int) -> str:
    """``text`` reduced to ASCII letters, digits and single hyphens, at most ``limit`` long."""
    cleaned = _NOT_NAME_CHARS.sub("-", text).strip("-")[:limit].strip("-")
    return cleaned or "dataset"


def execution_name(dataset: str, run: str) -> str:
    """Step Functions execution name: readable in the console, unique per upload."""
    return f"{slug(dataset, EXECUTION_NAME_MAX - len(run) - 1)}-{run}"


def dataset_and_file(key: str, prefix: str = "incoming/") -> tuple[str, str] | None:
    """``incoming/<dataset>/<file>`` → (dataset, file); None for keys outside that shape."""
    if not key.startswith(prefix):
        return None
    parts = key[len(prefix) :].split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` → (bucket, key); the key raw, as S3 stores it."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def run_prefix(dataset: str, run: str) -> str:
    """Where everything a run writes lives in the bucket."""
    return f"runs/{dataset}/{run}/"
