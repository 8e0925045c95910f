"""Moving a job's files between S3 and its private ``/opt/ml`` tree, the way SageMaker's File mode does.

A channel's objects land under ``input/data/<channel>/`` at their path relative to the S3 prefix's
folder; ``ShardedByS3Key`` gives host *i* of *n* every *n*-th object of the sorted key list, so each
host reads a disjoint part. Each object version (bucket, key, ETag) is downloaded once per engine into a
cache and hard-linked into every job and host that reads it: a tuning job's twenty children cost one
copy of the data on disk and one transfer, and an object that changes gets a new ETag, so a new copy.
Checkpoints sync both ways between ``CheckpointConfig.S3Uri`` and ``/opt/ml/checkpoints``; artifacts go
up as ``model.tar.gz``/``output.tar.gz``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from core.s3 import split_s3_uri
from local.sagemaker.errors import ValidationError


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        bucket, key = split_s3_uri(uri)
        if not uri.startswith("s3://") or not bucket:
            raise ValidationError(f"{uri!r} is not an S3 URI (s3://bucket/key)")
        return cls(bucket, key)

    def child(self, *parts: str) -> S3Location:
        key = "/".join([self.key.rstrip("/"), *parts]) if self.key.strip("/") else "/".join(parts)
        return S3Location(self.bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def list_objects(s3: Any, location: S3Location) -> list[tuple[str, str]]:
    """Every object under the prefix as (key, ETag), sorted by key, folder markers left out."""
    found: list[tuple[str, str]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.key):
        found.extend((item["Key"], item["ETag"]) for item in page.get("Contents", []) if not item["Key"].endswith("/"))
    return sorted(found)


def download_channel(
    s3: Any, uri: str, destination: Path, *, host_index: int, host_count: int, sharded: bool, cache: Path
) -> list[Path]:
    """Put a channel's objects into ``destination`` (links into ``cache``); returns the files written.

    Raises :class:`ValidationError` when the prefix holds no object (for this host), as a job with an
    empty channel fails on AWS too.
    """
    location = S3Location.parse(uri)
    try:
        return _download_channel(s3, location, destination, host_index, host_count, sharded, cache)
    except ClientError as error:  # e.g. the job's role may not read the channel: a ClientError job failure
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        raise ValidationError(
            f"Data download failed:Failed to download data. {details.get('Code')} ({status}): {details.get('Message')}"
        ) from None


def _download_channel(
    s3: Any,
    location: S3Location,
    destination: Path,
    host_index: int,
    host_count: int,
    sharded: bool,
    cache: Path,
) -> list[Path]:
    uri = str(location)
    objects = list_objects(s3, location)
    if sharded:
        objects = objects[host_index::host_count]
    if not objects:
        raise ValidationError(f"No S3 objects found under S3 URL {uri!r} for this host")
    folder = location.key.rpartition("/")[0]
    written = []
    for key, etag in objects:
        relative = key[len(folder) :].lstrip("/") if folder else key
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        cached = _cached_copy(s3, location.bucket, key, etag, cache)
        try:
            os.link(cached, target)
        except OSError:  # another file system, or links not allowed: a plain copy
            shutil.copyfile(cached, target)
        written.append(target)
    return written


def _cached_copy(s3: Any, bucket: str, key: str, etag: str, cache: Path) -> Path:
    """The cache's file for this object version, downloaded first when missing (atomically)."""
    path = cache / hashlib.sha256(f"{bucket}\n{key}\n{etag}".encode()).hexdigest()
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        s3.download_file(bucket, key, str(partial))
        os.replace(partial, path)
    return path


def download_prefix(s3: Any, location: S3Location, destination: Path) -> None:
    """Mirror every object under a prefix (checkpoints: a job writes to them, so no shared cache)."""
    prefix = location.key.rstrip("/") + "/" if location.key.strip("/") else ""
    for key, _etag in list_objects(s3, S3Location(location.bucket, prefix)):
        target = destination / key[len(prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(location.bucket, key, str(target))


def upload_folder(s3: Any, source: Path, location: S3Location, already: dict[str, tuple[int, int]]) -> None:
    """Upload files of ``source`` that are new or changed since ``already`` (path → size, mtime).

    The program writes the folder while it is synced: a file listed may be gone before it is read (a
    checkpoint renamed from its temporary name, or pruned). It is skipped; the next sync sees the folder
    as it is then.
    """
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        target = location.child(relative)
        try:
            stat = path.stat()
            fingerprint = (stat.st_size, stat.st_mtime_ns)
            if already.get(relative) == fingerprint:
                continue
            s3.upload_file(str(path), target.bucket, target.key)
        except FileNotFoundError:
            continue
        already[relative] = fingerprint


def upload_tarball(s3: Any, source: Path, location: S3Location) -> bool:
    """``source``'s files at the root of a gzipped tar uploaded to ``location``; False when it is empty."""
    files = sorted(p for p in source.rglob("*") if p.is_file()) if source.is_dir() else []
    if not files:
        return False
    archive = source.parent / f".{source.name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in files:
            tar.add(path, arcname=path.relative_to(source).as_posix())
    s3.upload_file(str(archive), location.bucket, location.key)
    archive.unlink()
    return True


def download_and_unpack(s3: Any, uri: str, destination: Path) -> None:
    """Fetch a ``model.tar.gz`` and unpack it; members that would escape ``destination`` are refused."""
    location = S3Location.parse(uri)
    destination.mkdir(parents=True, exist_ok=True)
    archive = destination.parent / f".{destination.name}.tar.gz"
    s3.download_file(location.bucket, location.key, str(archive))
    with tarfile.open(archive, "r:*") as tar:
        tar.extractall(destination, filter="data")
    archive.unlink()
