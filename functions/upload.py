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
from core.names import INCOMING_PREFIX, RunPaths
from core.schema import Schema
from core.settings import DatasetSettings, parse_settings
from functions.run_document import Prepared

SETTINGS_FILE = "dropml.json"


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
    layered = layered_settings(layered_settings(defaults or {}, document), overrides or {})
    return parse_settings(json.dumps(layered), source=source)


def layered_settings(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Settings with ``overrides`` on top, object by object: ``{"tuning": {"max_jobs": 2}}`` keeps the
    rest of ``tuning``."""
    merged = dict(base)
    for name, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(name), Mapping):
            merged[name] = layered_settings(merged[name], value)
        else:
            merged[name] = value
    return merged


def convert_upload(
    *,
    source_uri: str,
    paths: RunPaths,
    settings: DatasetSettings,
    s3: Any,
    storage_options: dict[str, str] | None,
) -> ConversionResult:
    """Write the run's target-first splits and its schema.json (nothing at all when the file is refused)."""
    result = convert(source_uri, paths.uri(paths.data_key), settings, storage_options=storage_options)
    s3.put_object(
        Bucket=paths.bucket,
        Key=paths.schema_key,
        Body=result.schema.to_json().encode(),
        ContentType="application/json",
    )
    return result


def prepared_document(paths: RunPaths, schema: Schema) -> Prepared:
    """What the state machine needs to know about prepared data (the ``prepared`` input field)."""
    return Prepared(
        dataset=paths.dataset,
        run_id=paths.run,
        data=paths.uri(paths.data_key),
        schema_uri=paths.uri(paths.schema_key),
        problem_type=schema.problem_type,
        target=schema.target,
        classes=list(schema.classes),
        rows=dict(schema.rows),
    )
