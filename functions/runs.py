"""Steps shared by the S3 trigger and a console execution: read a dataset's settings, convert an
upload into a run's data, and describe the prepared run for the state machine.

Both entry points must produce the same run for the same object, so they share this code rather than
each calling the converter in its own way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.conversion import ConversionResult, convert
from core.errors import UserInputError
from core.names import run_prefix
from core.settings import DatasetSettings, parse_settings

SETTINGS_FILE = "dropml.json"
INCOMING_PREFIX = "incoming/"


def settings_key(dataset: str) -> str:
    return f"{INCOMING_PREFIX}{dataset}/{SETTINGS_FILE}"


def read_settings(
    s3: Any,
    bucket: str,
    dataset: str,
    overrides: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> DatasetSettings:
    """The dataset's ``dropml.json`` (if any) with execution-input overrides applied on top, validated.

    ``defaults`` (the stack's parameters, e.g. the tuning budget) sit under both.
    """
    key = settings_key(dataset)
    try:
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        text = b"{}"
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserInputError(f"{key} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise UserInputError(f'{key} must hold a JSON object like {{"target": "species"}}')
    source = f"{key} with the execution's overrides" if overrides else key
    layered = _merged(_merged(defaults or {}, document), overrides or {})
    return parse_settings(json.dumps(layered), source=source)


def head_or_none(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """HeadObject's answer, or None when no object has that key (404; needs s3:ListBucket, else 403)."""
    try:
        head: dict[str, Any] = s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return head


def _merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for name, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(name), Mapping):
            merged[name] = _merged(merged[name], value)
        else:
            merged[name] = value
    return merged


def convert_upload(
    *,
    source_uri: str,
    bucket: str,
    dataset: str,
    run: str,
    settings: DatasetSettings,
    s3: Any,
    storage_options: dict[str, str] | None,
) -> ConversionResult:
    """Write the run's target-first splits and its schema.json (nothing at all when the file is refused)."""
    prefix = run_prefix(dataset, run)
    result = convert(source_uri, f"s3://{bucket}/{prefix}data", settings, storage_options=storage_options)
    s3.put_object(
        Bucket=bucket,
        Key=f"{prefix}schema.json",
        Body=result.schema.to_json().encode(),
        ContentType="application/json",
    )
    return result


def prepared_document(*, bucket: str, dataset: str, run: str, result_schema: Any) -> dict[str, Any]:
    """What the state machine needs to know about prepared data (the ``prepared`` input field)."""
    prefix = f"s3://{bucket}/{run_prefix(dataset, run)}"
    return {
        "dataset": dataset,
        "run_id": run,
        "data": f"{prefix}data/",
        "schema": f"{prefix}schema.json",
        "problem_type": result_schema.problem_type,
        "target": result_schema.target,
        "classes": list(result_schema.classes),
        "rows": dict(result_schema.rows),
    }
