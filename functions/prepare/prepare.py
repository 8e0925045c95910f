"""Validate an execution's input, make sure its data is prepared, and plan the run.

A console execution from a raw CSV and an S3-triggered one end up with the same run (same run id,
same data), so a person can re-run any upload by pasting its ``source``.
"""

from __future__ import annotations

import json
from typing import Any

from core.errors import UserInputError
from core.names import run_id, run_prefix, split_s3_uri
from core.schema import Schema
from functions.prepare.execution_input import parse_execution_input
from functions.prepare.plan import plan_run
from functions.runs import convert_upload, head_or_none, prepared_document, read_settings


def prepare_execution(
    document: Any,
    *,
    execution_name: str,
    s3: Any,
    storage_options: dict[str, str] | None,
    gpu_configured: bool,
    name_prefix: str,
    max_runtime_seconds: int,
    endpoint_poll_seconds: int,
    endpoint_instance_type: str,
    default_settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run document every later state reads: input, settings, prepared data and the plan."""
    request = parse_execution_input(document)
    bucket, key, dataset = request.bucket, request.key, request.dataset
    settings = read_settings(s3, bucket, dataset, request.settings, default_settings)

    if request.prepared is not None:
        prepared = request.prepared.model_dump(by_alias=True)
        schema = _read_schema(s3, request.prepared.schema_uri)
        run = request.prepared.run_id
    else:
        run = run_id(bucket, key, _object_identity(s3, bucket, key))
        prefix = run_prefix(dataset, run)
        rejected = _read_json(s3, bucket, f"{prefix}rejected.json")
        if rejected is not None:
            raise UserInputError(f"this upload was refused earlier: {rejected['reason']}")
        existing = _read_json(s3, bucket, f"{prefix}schema.json")
        if existing is not None:
            schema = Schema.from_dict(existing)
        else:
            schema = convert_upload(
                source_uri=request.source,
                bucket=bucket,
                dataset=dataset,
                run=run,
                settings=settings,
                s3=s3,
                storage_options=storage_options,
            ).schema
        prepared = prepared_document(bucket=bucket, dataset=dataset, run=run, result_schema=schema)

    use_gpu = settings.instance == "gpu" or (settings.instance == "auto" and gpu_configured)
    return {
        "source": request.source,
        "dataset": dataset,
        "file": key.rsplit("/", 1)[1],
        "run_id": run,
        "settings": settings.model_dump(mode="json"),
        "prepared": prepared,
        "plan": plan_run(
            prefix=name_prefix,
            dataset=dataset,
            execution_name=execution_name,
            schema=schema,
            settings=settings,
            use_gpu=use_gpu,
            data_uri=prepared["data"],
            schema_uri=prepared["schema"],
            max_runtime_seconds=max_runtime_seconds,
            endpoint_poll_seconds=endpoint_poll_seconds,
            endpoint_instance_type=endpoint_instance_type,
        ),
    }


def _object_identity(s3: Any, bucket: str, key: str) -> str:
    head = head_or_none(s3, bucket, key)
    if head is None:
        raise UserInputError(f"no object at s3://{bucket}/{key}: upload the CSV there first")
    return str(head.get("VersionId") or head["ETag"].strip('"'))


def _read_schema(s3: Any, uri: str) -> Schema:
    document = _read_json(s3, *split_s3_uri(uri))
    if document is None:
        raise UserInputError(f"prepared.schema {uri} does not exist")
    return Schema.from_dict(document)


def _read_json(s3: Any, bucket: str, key: str) -> Any:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None
