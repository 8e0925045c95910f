"""Names derived from an upload's identity, within AWS's length and character limits.

S3 delivers events at least once, so the run id is a pure function of (bucket, key, version or ETag):
a duplicate event maps to the same run and the same execution name, and Step Functions refuses to
start it twice. SageMaker limits names (training job 63, tuning job 32, endpoint, model and endpoint
configuration 63 characters).

A dataset is a folder name, which may hold any character S3 allows; its endpoint's name may hold only
ASCII letters, digits and hyphens, and SageMaker compares endpoint names without case. So a dataset
keeps its own name as its endpoint's only when that name is already a lower-case endpoint name, and
otherwise gets a slug plus a digest of its exact name: ``my data``, ``my_data`` and ``my-data`` are
three endpoints, and so are two long names that share their first 56 characters. The endpoint also
carries its dataset as a tag, which a run checks before it deploys over anything.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from core.container import SCHEMA_FILE
from core.errors import UserInputError
from core.s3 import split_s3_uri

EXECUTION_NAME_MAX = 80
TRAINING_JOB_NAME_MAX = 63
TUNING_JOB_NAME_MAX = 32
PROCESSING_JOB_NAME_MAX = 63
ENDPOINT_NAME_MAX = 63
MODEL_NAME_MAX = 63  # models and endpoint configurations alike
RUN_ID_LENGTH = 12
INCOMING_PREFIX = "incoming/"
RUNS_PREFIX = "runs/"

_NOT_NAME_CHARS = re.compile(r"[^a-zA-Z0-9]+")
_UPLOAD_EXECUTION = re.compile(rf"(.+)-[0-9a-f]{{{RUN_ID_LENGTH}}}")
_LOWER_CASE_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
DIGEST_LENGTH = 10

OWNER_TAG = "dropml:dataset"
"""The tag on every endpoint a run creates: which dataset it serves (:func:`owner_tag_value`)."""
# SageMaker's TagValue: at most 256 characters of \p{L}, \p{Z}, \p{N} and ``_.:/=+-@``.
TAG_VALUE_MAX = 256
_TAG_VALUE_SYMBOLS = frozenset("_.:/=+-@")
_TAG_VALUE_DIGEST = "sha256:"


def run_id(bucket: str, key: str, version: str | None) -> str:
    """A short, stable id for one uploaded object (version id where versioning is on, else the ETag)."""
    identity = f"{bucket}\n{key}\n{version or ''}".encode()
    return hashlib.sha256(identity).hexdigest()[:RUN_ID_LENGTH]


def slug(text: str, limit: int) -> str:
    """``text`` reduced to ASCII letters, digits and single hyphens, at most ``limit`` long."""
    cleaned = _NOT_NAME_CHARS.sub("-", text).strip("-")[:limit].strip("-")
    return cleaned or "dataset"


def digest(text: str, length: int = DIGEST_LENGTH) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def endpoint_name(prefix: str, dataset: str) -> str:
    """The dataset's endpoint, distinct for distinct datasets under SageMaker's case-blind comparison
    (but for a dataset named exactly like another's slug and digest; the endpoint's tag tells those apart)."""
    room = ENDPOINT_NAME_MAX - len(prefix) - 1
    if _LOWER_CASE_NAME.fullmatch(dataset) and len(dataset) <= room:
        return f"{prefix}-{dataset}"
    readable = slug(dataset.lower(), room - DIGEST_LENGTH - 1)
    return f"{prefix}-{readable}-{digest(dataset)}"


def owner_tag_value(dataset: str) -> str:
    """The dataset as a tag value: its name where SageMaker's tag alphabet holds it, else its digest."""
    fits = len(dataset) <= TAG_VALUE_MAX and all(
        unicodedata.category(c)[0] in "LZN" or c in _TAG_VALUE_SYMBOLS for c in dataset
    )
    if fits and not dataset.startswith(_TAG_VALUE_DIGEST):
        return dataset
    return _TAG_VALUE_DIGEST + digest(dataset, 64)


def execution_name(dataset: str, run: str) -> str:
    """Step Functions execution name: readable in the console, unique per upload."""
    return f"{execution_slug(dataset)}-{run}"


def execution_slug(dataset: str) -> str:
    """The dataset's part of the names of the executions its uploads start."""
    return slug(dataset, EXECUTION_NAME_MAX - RUN_ID_LENGTH - 1)


def slug_of_upload_execution(name: str) -> str | None:
    """The dataset slug in an execution name of :func:`execution_name`'s form, else None (a console run's)."""
    matched = _UPLOAD_EXECUTION.fullmatch(name)
    return matched.group(1) if matched else None


def dataset_and_file(key: str, prefix: str = INCOMING_PREFIX) -> tuple[str, str] | None:
    """``incoming/<dataset>/<file>`` → (dataset, file); None for keys outside that shape."""
    if not key.startswith(prefix):
        return None
    parts = key[len(prefix) :].split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1]


def upload_location(key: str) -> tuple[str, str]:
    """``incoming/<dataset>/<file>.csv`` → (dataset, file), or a :class:`UserInputError` saying why the
    key cannot be an upload. The S3 trigger and a console execution judge a key by this one rule."""
    file_name = key.rsplit("/", 1)[-1]
    located = dataset_and_file(key)
    if located is None:
        raise UserInputError(
            f"{file_name} is not directly in a dataset's folder: upload it as incoming/<dataset>/{file_name}, "
            "where <dataset> names the dataset (and its endpoint)"
        )
    dataset, file_name = located
    if dataset in (".", ".."):
        raise UserInputError(f"{dataset!r} cannot name a dataset: choose a folder name with a letter or digit")
    if not file_name.lower().endswith(".csv") or len(file_name) == len(".csv"):
        raise UserInputError(f"{file_name} is not a .csv file: only CSV files are trained; save it as name.csv")
    return dataset, file_name


def dataset_of_source(source: object) -> str | None:
    """The dataset an upload's URI (``s3://bucket/incoming/<dataset>/<file>``) names, or None."""
    if not isinstance(source, str):
        return None
    located = dataset_and_file(split_s3_uri(source)[1])
    return located[0] if located else None


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
    def upload_copy_key(self) -> str:
        """The upload's version, copied for the conversion to read, and deleted after it."""
        return f"{self.prefix}upload.csv"

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
    def report_page_key(self) -> str:
        """The page a person opens (functions/report), linked from the email."""
        return f"{self.prefix}report.html"

    @property
    def jobs_key(self) -> str:
        """SageMaker's OutputDataConfig: one folder per training job below it."""
        return f"{self.prefix}jobs/"

    @property
    def conversion_settings_key(self) -> str:
        """The settings a Processing job converts the upload with (the Lambda has them in memory)."""
        return f"{self.prefix}settings.json"

    @property
    def checkpoints_key(self) -> str:
        """SageMaker's CheckpointConfig: where a spot job's checkpoints survive an interruption."""
        return f"{self.prefix}checkpoints/"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"
