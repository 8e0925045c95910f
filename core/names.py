"""Names derived from an upload's identity, within AWS's length and character limits.

S3 delivers events at least once, so the run id is a pure function of (bucket, key, version or ETag):
a duplicate event maps to the same run and the same execution name, and Step Functions refuses to
start it twice. SageMaker limits names (training job 63, tuning job 32, endpoint, model and endpoint
configuration 63 characters).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from core.container import SCHEMA_FILE

EXECUTION_NAME_MAX = 80
TRAINING_JOB_NAME_MAX = 63
TUNING_JOB_NAME_MAX = 32
ENDPOINT_NAME_MAX = 63
MODEL_NAME_MAX = 63  # models and endpoint configurations alike
RUN_ID_LENGTH = 12
INCOMING_PREFIX = "incoming/"
RUNS_PREFIX = "runs/"

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


def dataset_and_file(key: str, prefix: str = INCOMING_PREFIX) -> tuple[str, str] | None:
    """``incoming/<dataset>/<file>`` → (dataset, file); None for keys outside that shape."""
    if not key.startswith(prefix):
        return None
    parts = key[len(prefix) :].split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


@dataclass(frozen=True)
class RunPaths:
    """Every object a run writes, all under ``runs/<dataset>/<run_id>/`` in the upload's bucket.

    Ingest, prepare, the plan, notify and the IAM policies in the template all name these objects; one
    helper keeps them from drifting apart (a report written where nobody looks is lost).
    """

    bucket: str
    dataset: str
    run: str

    @property
    def prefix(self) -> str:
        return f"{RUNS_PREFIX}{self.dataset}/{self.run}/"

    @property
    def data_key(self) -> str:
        """The target-first splits: ``data/{train,validation,test}/part-*.csv``."""
        return f"{self.prefix}data/"

    @property
    def schema_key(self) -> str:
        return f"{self.prefix}{SCHEMA_FILE}"

    @property
    def rejected_key(self) -> str:
        """Written instead of everything else when the upload is refused."""
        return f"{self.prefix}rejected.json"

    @property
    def report_key(self) -> str:
        return f"{self.prefix}report.json"

    @property
    def jobs_key(self) -> str:
        """SageMaker's OutputDataConfig: one folder per training job below it."""
        return f"{self.prefix}jobs/"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"
