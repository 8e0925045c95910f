"""Steps shared by the S3 trigger and a console execution: read a dataset's settings, convert an
upload into a run's data, and describe the prepared run for the state machine.

Both entry points must produce the same run for the same object, so they share this code rather than
each calling the converter in its own way.

A run converts the version that was uploaded, not whatever the key holds when the conversion reads it
(a second upload to the same key may come a moment later). The converter reads through polars, which
can name a key but not a version, so the version is first copied, server-side, to a key of the run's
own (:attr:`RunPaths.upload_copy_key`); the copy is deleted once the conversion is done.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from core.conversion import ConversionResult, convert
from core.conversion.layout import SAMPLE_BYTES, read_layout
from core.conversion.target import find_target
from core.errors import UserInputError
from core.names import INCOMING_PREFIX, RunPaths
from core.schema import Schema
from core.settings import DatasetSettings, parse_settings
from functions.run_document import Conversion, Prepared

SETTINGS_FILE = "dropml.json"
# S3 copies up to 5 GiB in one CopyObject; larger objects are copied in parts (UploadPartCopy) of 1 GiB.
_COPY = TransferConfig(multipart_threshold=5 << 30, multipart_chunksize=1 << 30)
# S3's version id of an object written while the bucket's versioning was off or suspended.
NULL_VERSION = "null"


@dataclass(frozen=True)
class UploadVersion:
    """One version of an uploaded object. ``version_id`` is None where the bucket gives the object no
    version of its own (versioning off, or ``"null"``): then the ETag tells one upload from another."""

    bucket: str
    key: str
    version_id: str | None
    etag: str

    @classmethod
    def of(cls, bucket: str, key: str, version_id: str | None, etag: str) -> UploadVersion:
        return cls(bucket, key, None if version_id in (None, NULL_VERSION) else version_id, etag.strip('"'))

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def identity(self) -> str:
        """What tells this upload from another of the same key: its version, else its ETag."""
        return self.version_id or self.etag

    def described(self) -> str:
        """The upload as an email names it."""
        return f"{self.uri} (version {self.version_id})" if self.version_id else f"{self.uri} (ETag {self.etag})"


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


def pin(s3: Any, upload: UploadVersion, paths: RunPaths) -> str:
    """Copy exactly ``upload`` to the run's own key; its URI. Where the bucket has no versions, the copy
    is made only if the key still holds the upload's ETag. A version that is gone (deleted, or
    overwritten in an unversioned bucket) is the user's to know of."""
    source: dict[str, str] = {"Bucket": upload.bucket, "Key": upload.key}
    extra: dict[str, str] = {"TaggingDirective": "REPLACE"}  # the upload's tags are not the run's
    if upload.version_id:
        source["VersionId"] = upload.version_id
    else:
        extra["CopySourceIfMatch"] = f'"{upload.etag}"'
    try:
        s3.copy(source, paths.bucket, paths.upload_copy_key, ExtraArgs=extra, Config=_COPY)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code"))
        if code in ("PreconditionFailed", "412"):
            raise UserInputError(
                f"{upload.uri} was replaced by another upload before it could be read; that upload is run instead"
            ) from None
        if code in ("NoSuchKey", "NoSuchVersion", "404"):
            raise UserInputError(f"{upload.described()} was deleted before it could be read") from None
        raise
    return paths.uri(paths.upload_copy_key)


def unpin(s3: Any, paths: RunPaths) -> None:
    """Delete the run's copy of its upload (the upload itself is never touched)."""
    s3.delete_object(Bucket=paths.bucket, Key=paths.upload_copy_key)


@contextmanager
def pinned(s3: Any, upload: UploadVersion, paths: RunPaths) -> Iterator[str]:
    """The URI of a copy of exactly ``upload`` (:func:`pin`), for as long as the block runs."""
    copy = pin(s3, upload, paths)
    try:
        yield copy
    except BaseException:
        with suppress(ClientError):  # the conversion's own error is the one to report
            unpin(s3, paths)
        raise
    unpin(s3, paths)


def conversion_site(asked: str, size: int, lambda_max_bytes: int) -> Conversion:
    """Where an upload is converted: the dataset's ``conversion`` setting, or for "auto" its size
    against the stack's LambdaConversionMaxBytes (a Lambda has 15 minutes; a Processing job has hours)."""
    if asked != "auto":
        return Conversion(where="lambda" if asked == "lambda" else "processing", reason=f'conversion "{asked}"')
    over = size > lambda_max_bytes
    limit = f"LambdaConversionMaxBytes={lambda_max_bytes:,}"
    return Conversion(
        where="processing" if over else "lambda",
        reason=f"auto: the upload is {size:,} bytes, {'over' if over else 'within'} {limit}",
    )


def check_head(s3: Any, upload: UploadVersion, settings: DatasetSettings) -> None:
    """The conversion's first checks (a header, a delimiter, the target column) on the upload's first
    bytes only: an upload a Processing job will convert is still refused in seconds when they fail."""
    extra = {"VersionId": upload.version_id} if upload.version_id else {"IfMatch": f'"{upload.etag}"'}
    body = s3.get_object(Bucket=upload.bucket, Key=upload.key, Range=f"bytes=0-{SAMPLE_BYTES - 1}", **extra)["Body"]
    find_target(read_layout([body.read()]).columns, settings.target)


def convert_upload(
    *,
    upload: UploadVersion,
    paths: RunPaths,
    settings: DatasetSettings,
    s3: Any,
    storage_options: dict[str, str] | None,
) -> ConversionResult:
    """Write the run's target-first splits and its schema.json (nothing at all when the file is refused)."""
    with pinned(s3, upload, paths) as copy:
        result = convert(copy, paths.uri(paths.data_key), settings, storage_options=storage_options)
    s3.put_object(
        Bucket=paths.bucket,
        Key=paths.schema_key,
        Body=result.schema.to_json().encode(),
        ContentType="application/json",
    )
    return result


def prepared_document(paths: RunPaths, schema: Schema, upload: UploadVersion) -> Prepared:
    """What the state machine needs to know about prepared data (the ``prepared`` input field)."""
    return Prepared(
        dataset=paths.dataset,
        source_version=upload.version_id,
        run_id=paths.run,
        data=paths.uri(paths.data_key),
        schema_uri=paths.uri(paths.schema_key),
        problem_type=schema.problem_type,
        target=schema.target,
        classes=list(schema.classes),
        rows=dict(schema.rows),
        left_out=schema.left_out(),
    )
