"""One uploaded object → target-first data under ``runs/`` and one state machine execution, or a refusal.

Plain code over injected boto3 clients, so it is tested with moto and the handler stays an adapter.
S3 delivers events at least once: the run id and execution name are pure functions of the object's
identity, and every side effect is skipped when an earlier delivery already made it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from core.errors import UserInputError
from core.names import INCOMING_PREFIX, RunPaths, execution_name, run_id, upload_location
from core.s3 import head_or_none
from functions import sns
from functions.config import IngestConfig
from functions.upload import (
    SETTINGS_FILE,
    UploadVersion,
    check_head,
    conversion_site,
    convert_upload,
    prepared_document,
    read_settings,
)


@dataclass(frozen=True)
class Upload:
    """The identity of one uploaded object, as the S3 event names it (key already URL-decoded)."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str = ""
    size: int | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def version(self) -> UploadVersion:
        """The version the event is about: the one the run converts, whatever the key holds by then."""
        return UploadVersion.of(self.bucket, self.key, self.version_id, self.etag)


@dataclass(frozen=True)
class AwsClients:
    s3: Any
    stepfunctions: Any
    sns: Any


@dataclass(frozen=True)
class IngestOutcome:
    """What happened to one upload; the handler turns it into logs and metrics."""

    status: Literal["started", "refused", "duplicate", "ignored"]
    key: str
    run_id: str | None = None
    execution_arn: str | None = None
    reason: str | None = None
    rows: int = 0
    bytes_read: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def ingest_upload(
    upload: Upload,
    *,
    clients: AwsClients,
    config: IngestConfig,
    storage_options: dict[str, str] | None = None,
    now: datetime | None = None,
) -> IngestOutcome:
    """Convert one upload and start its execution; refuse it with a reason the user can act on."""
    placed = placement(upload.key)
    if placed is None:
        return IngestOutcome(status="ignored", key=upload.key, reason="a folder or a dataset's settings file")
    if isinstance(placed, UserInputError):
        _tell_misplaced(upload, placed, clients=clients, config=config)
        return IngestOutcome(status="refused", key=upload.key, reason=placed.reason)
    dataset, file_name = placed
    paths = RunPaths(upload.bucket, dataset, run_id(upload.bucket, upload.key, upload.version.identity))
    run = paths.run
    name = execution_name(dataset, run)
    execution_arn = _execution_arn(config.state_machine_arn, name)

    # An error here is our bug or an AWS fault, not the user's: it propagates so Lambda records it and
    # retries the event twice; if every attempt fails, the function's OnFailure destination (Notify)
    # emails the user once, which an email from here would repeat on every attempt.
    refused_before = head_or_none(clients.s3, upload.bucket, paths.rejected_key) is not None
    if refused_before or _execution_exists(clients.stepfunctions, execution_arn):
        return IngestOutcome(status="duplicate", key=upload.key, run_id=run, execution_arn=execution_arn)
    return _convert_and_start(
        upload,
        paths,
        file_name,
        name,
        clients=clients,
        config=config,
        storage_options=storage_options,
        now=now,
    )


def placement(key: str) -> tuple[str, str] | UserInputError | None:
    """Where an object under ``incoming/`` belongs: (dataset, file) for a CSV in a dataset's folder; None
    for what is not an upload (a folder, ``dropml.json``); else why it cannot be run. The S3 trigger
    sends every object under ``incoming/`` (its suffix filter would be case-sensitive), so that a file
    in the wrong place is refused with a reason rather than ignored in silence."""
    if not key.startswith(INCOMING_PREFIX) or key.endswith("/") or key.rsplit("/", 1)[-1] == SETTINGS_FILE:
        return None
    try:
        return upload_location(key)
    except UserInputError as refusal:
        return refusal


def _convert_and_start(
    upload: Upload,
    paths: RunPaths,
    file_name: str,
    name: str,
    *,
    clients: AwsClients,
    config: IngestConfig,
    storage_options: dict[str, str] | None,
    now: datetime | None,
) -> IngestOutcome:
    try:
        settings = read_settings(clients.s3, upload.bucket, paths.dataset)
        site = conversion_site(settings.conversion, upload.size or 0, config.lambda_conversion_max_bytes)
        if site.where == "processing":
            check_head(clients.s3, upload.version, settings)
            result = None
        else:
            result = convert_upload(
                upload=upload.version, paths=paths, settings=settings, s3=clients.s3, storage_options=storage_options
            )
    except UserInputError as refusal:
        _reject(upload, paths, file_name, refusal, clients=clients, config=config, now=now)
        return IngestOutcome(status="refused", key=upload.key, run_id=paths.run, reason=refusal.reason)

    # Without "prepared", Prepare converts: here, by handing the execution a Processing job.
    execution_input: dict[str, Any] = {
        "source": upload.uri,
        "settings": settings.model_dump(mode="json", exclude_defaults=True),
    }
    if result is not None:
        prepared = prepared_document(paths, result.schema, upload.version)
        execution_input["prepared"] = prepared.model_dump(mode="json", by_alias=True)
    started = clients.stepfunctions.start_execution(
        stateMachineArn=config.state_machine_arn, name=name, input=json.dumps(execution_input)
    )
    return IngestOutcome(
        status="started",
        key=upload.key,
        run_id=paths.run,
        execution_arn=started["executionArn"],
        rows=sum(v for k, v in result.schema.rows.items() if k != "missing_target") if result else 0,
        bytes_read=result.bytes_read if result else 0,
    )


def _reject(
    upload: Upload,
    paths: RunPaths,
    file_name: str,
    refusal: UserInputError,
    *,
    clients: AwsClients,
    config: IngestConfig,
    now: datetime | None,
) -> None:
    """Record why an upload was refused next to where its run would have been, and tell the user."""
    record = {
        "source": upload.uri,
        "dataset": paths.dataset,
        "file": file_name,
        "run_id": paths.run,
        "refused_at": (now or datetime.now(UTC)).isoformat(),
        **refusal.as_dict(),
    }
    clients.s3.put_object(
        Bucket=upload.bucket,
        Key=paths.rejected_key,
        Body=json.dumps(record, indent=2, ensure_ascii=False).encode(),
        ContentType="application/json",
    )
    clients.sns.publish(
        TopicArn=config.topic_arn,
        Subject=sns.subject(f"dropml: upload refused: {file_name}"),
        Message=refusal_message(record, paths),
        MessageAttributes={
            "event": {"DataType": "String", "StringValue": "upload_refused"},
            "dataset": {"DataType": "String", "StringValue": paths.dataset},
            "run_id": {"DataType": "String", "StringValue": paths.run},
        },
    )


def _tell_misplaced(upload: Upload, refusal: UserInputError, *, clients: AwsClients, config: IngestConfig) -> None:
    """Email why an object outside any dataset's folder, or not a CSV, was not run (no run folder to record it in)."""
    file_name = upload.key.rsplit("/", 1)[-1]
    clients.sns.publish(
        TopicArn=config.topic_arn,
        Subject=sns.subject(f"dropml: upload refused: {file_name}"),
        Message="\n".join(
            [
                f"Your upload {upload.uri} was refused; no training was started.",
                "",
                f"Reason: {refusal.reason}",
                "",
                "The uploaded file was not changed.",
            ]
        ),
        MessageAttributes={"event": {"DataType": "String", "StringValue": "upload_refused"}},
    )


def refusal_message(record: dict[str, Any], paths: RunPaths) -> str:
    """The email body a person reads: what was refused, where, why, and what to do next."""
    where = []
    if record.get("line"):
        where.append(f"line {record['line']}")
    if record.get("column"):
        where.append(f"column {record['column']!r}")
    location = f" ({', '.join(where)})" if where else ""
    return "\n".join(
        [
            f"Your upload {record['source']} was refused; no training was started.",
            "",
            f"Reason{location}: {record['reason']}",
            "",
            "The uploaded file was not changed. Fix the file (or the dataset's dropml.json) and upload it again;",
            f"details are in {paths.rejected_key} in the same bucket.",
            "",
            json.dumps(record, ensure_ascii=False),
        ]
    )


def _execution_arn(state_machine_arn: str, name: str) -> str:
    # arn:<partition>:states:<region>:<account>:stateMachine:<machine> → …:execution:<machine>:<name>
    head, machine = state_machine_arn.split(":stateMachine:", 1)
    return f"{head}:execution:{machine}:{name}"


def _execution_exists(stepfunctions: Any, arn: str) -> bool:
    try:
        stepfunctions.describe_execution(executionArn=arn)
    except stepfunctions.exceptions.ExecutionDoesNotExist:
        return False
    return True
