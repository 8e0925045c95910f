"""Moving a job's files between S3 and its private ``/opt/ml`` tree, the way SageMaker's File mode does.

A channel's objects land under ``input/data/<channel>/`` at their path relative to the S3 prefix's
folder; ``ShardedByS3Key`` gives host *i* of *n* every *n*-th object of the sorted key list, so each
host reads a disjoint part. Checkpoints sync both ways between ``CheckpointConfig.S3Uri`` and
``/opt/ml/checkpoints``; artifacts go up as ``model.tar.gz``/``output.tar.gz``.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.sagemaker.errors import ValidationError


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or not bucket:
            raise ValidationError(f"{uri!r} is not an S3 URI (s3://bucket/key)")
        return cls(bucket, key)

    def child(self, *parts: str) -> S3Location:
        key = "/".join([self.key.rstrip("/"), *parts]) if self.key.strip("/") else "/".join(parts)
        return S3Location(self.bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def list_keys(s3: Any, location: S3Location) -> list[str]:
    """Every object key under the prefix, sorted, folder markers left out."""
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.key):
        keys.extend(item["Key"] for item in page.get("Contents", []) if not item["Key"].endswith("/"))
    return sorted(keys)


def download_channel(
    s3: Any, uri: str, destination: Path, *, host_index: int, host_count: int, sharded: bool
) -> list[Path]:
    """Copy a channel's objects into ``destination``; returns the files written.

    Raises :class:`ValidationError` when the prefix holds no object (for this host), as a job with an
    empty channel fails on AWS too.
    """
    location = S3Location.parse(uri)
    keys = list_keys(s3, location)
    if sharded:
        keys = keys[host_index::host_count]
    if not keys:
        raise ValidationError(f"No S3 objects found under S3 URL {uri!r} for this host")
    folder = location.key.rpartition("/")[0]
    written = []
    for key in keys:
        relative = key[len(folder) :].lstrip("/") if folder else key
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(location.bucket, key, str(target))
        written.append(target)
    return written


def download_prefix(s3: Any, location: S3Location, destination: Path) -> int:
    """Mirror every object under a prefix (used for checkpoints); returns how many were copied."""
    prefix = location.key.rstrip("/") + "/" if location.key.strip("/") else ""
    count = 0
    for key in list_keys(s3, S3Location(location.bucket, prefix)):
        target = destination / key[len(prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(location.bucket, key, str(target))
        count += 1
    return count


def upload_folder(s3: Any, source: Path, location: S3Location, already: dict[str, tuple[int, int]]) -> None:
    """Upload files of ``source`` that are new or changed since ``already`` (path → size, mtime)."""
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        relative = path.relative_to(source).as_posix()
        stat = path.stat()
        fingerprint = (stat.st_size, stat.st_mtime_ns)
        if already.get(relative) == fingerprint:
            continue
        target = location.child(relative)
        s3.upload_file(str(path), target.bucket, target.key)
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
