"""Validate an execution's input, make sure its data is prepared, and plan the run.

A console execution from a raw CSV and an S3-triggered one end up with the same run (same run id,
same data), so a person can re-run any upload by pasting its ``source``.
"""

from __future__ import annotations

import json
from typing import Any

from core.container import TRAIN_CHANNEL
from core.errors import UserInputError
from core.names import RunPaths, run_id
from core.s3 import head_or_none, split_s3_uri
from core.schema import Schema
from core.settings import DatasetSettings
from functions.config import PrepareConfig
from functions.prepare.execution_input import ExecutionInput, parse_execution_input
from functions.prepare.plan import DataSize, plan_run, processing_plan
from functions.run_document import Conversion, Converted, PendingConversion, RunDocument, UploadIdentity
from functions.upload import (
    UploadVersion,
    conversion_site,
    convert_upload,
    pin,
    prepared_document,
    read_settings,
    unpin,
)


def prepare_execution(
    document: Any,
    *,
    execution_name: str,
    s3: Any,
    storage_options: dict[str, str] | None,
    config: PrepareConfig,
    converted: Converted | None = None,
) -> RunDocument | PendingConversion:
    """The run document every later state reads: input, settings, prepared data and the plan; or, for
    an upload to be converted by a Processing job, that job (the definition runs it, then calls this
    again with ``converted``)."""
    request = parse_execution_input(document)
    bucket, key, dataset = request.bucket, request.key, request.dataset
    defaults = {"tuning": {"max_jobs": config.max_tuning_jobs, "max_parallel_jobs": config.max_parallel_tuning_jobs}}
    settings = read_settings(s3, bucket, dataset, request.settings, defaults)
    if settings.instance == "gpu" and not config.gpu_instance_type:
        raise UserInputError('settings: instance is "gpu" but this stack has no GpuInstanceType; use "auto" or "cpu"')
    within_caps(settings, config)

    if request.prepared is not None:
        prepared = request.prepared
        schema = _read_schema(s3, prepared.schema_uri)
        paths = RunPaths(bucket, dataset, prepared.run_id)
        conversion = Conversion(where="lambda", reason="converted by the ingest Lambda when the file arrived")
    else:
        if converted is not None:
            upload = UploadVersion.of(bucket, key, converted.upload.version_id, converted.upload.etag)
            size = 0
        else:
            upload, size = _latest_version(s3, bucket, key)
        paths = RunPaths(bucket, dataset, run_id(bucket, key, upload.identity))
        rejected = _read_json(s3, bucket, paths.rejected_key)
        if rejected is not None:
            raise UserInputError(f"this upload was refused earlier: {rejected['reason']}")
        existing = _read_json(s3, bucket, paths.schema_key)
        if converted is not None:
            unpin(s3, paths)
            if existing is None:
                raise UserInputError(
                    f"the Processing job {converted.conversion.job} wrote no {paths.uri(paths.schema_key)}"
                )
            schema, conversion = Schema.from_dict(existing), converted.conversion
        elif existing is not None:
            schema = Schema.from_dict(existing)
            conversion = Conversion(where="earlier run", reason="converted by an earlier run of the same upload")
        else:
            conversion = conversion_site(settings.conversion, size, config.lambda_conversion_max_bytes)
            if conversion.where == "processing":
                return _pending_conversion(
                    request, settings, upload, size, paths, execution_name, conversion, s3, config
                )
            schema = convert_upload(
                upload=upload, paths=paths, settings=settings, s3=s3, storage_options=storage_options
            ).schema
        prepared = prepared_document(paths, schema, upload)

    plan, attempt = plan_run(
        prefix=config.name_prefix,
        dataset=dataset,
        execution_name=execution_name,
        schema=schema,
        settings=settings,
        gpu_instance_type=config.gpu_instance_type if settings.instance != "cpu" else None,
        cpu_instance_type=config.cpu_instance_type,
        data_uri=prepared.data,
        data_size=data_size(s3, prepared.data),
        max_instances=config.max_training_instances,
        schema_uri=prepared.schema_uri,
        output_path=paths.uri(paths.jobs_key),
        checkpoint_uri=paths.uri(paths.checkpoints_key),
        max_runtime_seconds=config.max_runtime_seconds,
        endpoint_poll_seconds=config.endpoint_poll_seconds,
        endpoint_instance_type=config.endpoint_instance_type,
    )
    return RunDocument(
        source=request.source,
        dataset=dataset,
        file=key.rsplit("/", 1)[1],
        run_id=paths.run,
        settings=settings,
        prepared=prepared,
        conversion=conversion,
        plan=plan,
        attempt=attempt,
    )


def _pending_conversion(
    request: ExecutionInput,
    settings: DatasetSettings,
    upload: UploadVersion,
    size: int,
    paths: RunPaths,
    execution_name: str,
    conversion: Conversion,
    s3: Any,
    config: PrepareConfig,
) -> PendingConversion:
    """Pin the upload and write the settings where the Processing job reads them; the job to run."""
    copy = pin(s3, upload, paths)
    s3.put_object(
        Bucket=paths.bucket,
        Key=paths.conversion_settings_key,
        Body=settings.model_dump_json().encode(),
        ContentType="application/json",
    )
    processing = processing_plan(
        prefix=config.name_prefix,
        dataset=paths.dataset,
        execution_name=execution_name,
        run_id=paths.run,
        upload_uri=copy,
        upload_bytes=size,
        settings_uri=paths.uri(paths.conversion_settings_key),
        data_uri=paths.uri(paths.data_key),
        run_uri=paths.uri(paths.prefix),
        instance_type=config.processing_instance_type,
        max_runtime_seconds=config.max_runtime_seconds,
    )
    return PendingConversion(
        source=request.source,
        input=request.model_dump(mode="json", exclude_none=True, by_alias=True),
        conversion=conversion.model_copy(
            update={"job": processing.job_name, "instance_type": processing.instance_type}
        ),
        upload=UploadIdentity(version_id=upload.version_id, etag=upload.etag),
        processing=processing,
    )


def within_caps(settings: DatasetSettings, config: PrepareConfig) -> None:
    """Refuse settings that ask for more than the stack allows, naming each cap and how to raise it."""
    over = []
    for asked, cap, parameter, what in (
        (settings.tuning.max_jobs, config.max_tuning_jobs, "MaxTuningJobs", "tuning.max_jobs"),
        (settings.tuning.max_parallel_jobs, config.max_parallel_tuning_jobs, "MaxParallelTuningJobs",
         "tuning.max_parallel_jobs"),
        (0 if settings.instance_count == "auto" else settings.instance_count, config.max_training_instances,
         "MaxTrainingInstances", "instance_count"),
    ):  # fmt: skip
        if asked > cap:
            over.append(
                f"{what} {asked} is over this stack's {parameter}={cap} (ask for at most {cap}, or raise {parameter})"
            )
    allowed = config.endpoint_instance_types
    if settings.endpoint_instance_type and settings.endpoint_instance_type not in allowed:
        over.append(
            f"endpoint_instance_type {settings.endpoint_instance_type} is not one this stack allows "
            f"({', '.join(allowed)}; add it to AllowedEndpointInstanceTypes)"
        )
    if over:
        raise UserInputError("settings: " + "; ".join(over) + ". A stack parameter is changed with sam deploy "
                             "--parameter-overrides NAME=VALUE")  # fmt: skip


def data_size(s3: Any, data_uri: str) -> DataSize:
    """The converted splits as S3 holds them, whichever conversion wrote them (a Lambda, a Processing
    job, an earlier run of the same upload)."""
    bucket, prefix = split_s3_uri(data_uri.rstrip("/") + "/")
    train_parts = train_bytes = total_bytes = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            total_bytes += item["Size"]
            if item["Key"].startswith(f"{prefix}{TRAIN_CHANNEL}/") and item["Key"].endswith(".csv"):
                train_parts += 1
                train_bytes += item["Size"]
    if train_parts == 0:
        raise UserInputError(
            f"{data_uri} holds no training data ({TRAIN_CHANNEL}/part-*.csv): convert the upload again"
        )
    return DataSize(train_parts=train_parts, train_bytes=train_bytes, total_bytes=total_bytes)


def _latest_version(s3: Any, bucket: str, key: str) -> tuple[UploadVersion, int]:
    """The object as it is now, and its size: a console run converts the version the key holds when it starts."""
    head = head_or_none(s3, bucket, key)
    if head is None:
        raise UserInputError(f"no object at s3://{bucket}/{key}: upload the CSV there first")
    return UploadVersion.of(bucket, key, head.get("VersionId"), head["ETag"]), int(head["ContentLength"])


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
