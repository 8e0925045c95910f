"""Where an upload is read from and the splits are written to: a local path or ``s3://bucket/key``.

polars reads and writes both kinds itself (given ``storage_options``); this module covers what polars
does not: reading the raw bytes for the structural checks (streamed in bounded chunks, never the whole
object) and building the per-split output paths. Keys are used raw, never percent-encoded: polars
double-encodes an encoded key and gets a 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from core.s3 import head_or_none, split_s3_uri

CHUNK_BYTES = 8 << 20

# object_store (polars) spells the same S3 option several ways; boto3 wants one spelling per option.
_BOTO3_OPTIONS: dict[str, tuple[str, ...]] = {
    "endpoint_url": ("aws_endpoint_url", "endpoint_url", "aws_endpoint", "endpoint"),
    "aws_access_key_id": ("aws_access_key_id", "access_key_id"),
    "aws_secret_access_key": ("aws_secret_access_key", "secret_access_key"),
    "aws_session_token": ("aws_session_token", "session_token", "token"),
    "region_name": ("aws_region", "region", "aws_default_region"),
}


def is_s3(location: str) -> bool:
    return location.startswith("s3://")


def child(location: str, *parts: str) -> str:
    """A path under ``location`` (a local folder or an S3 prefix)."""
    if is_s3(location):
        return "/".join([location.rstrip("/"), *parts])
    return str(Path(location).joinpath(*parts))


def _s3_client(storage_options: Mapping[str, str] | None) -> Any:
    import boto3  # imported here: local files need no AWS SDK

    options = {key.lower(): value for key, value in (storage_options or {}).items()}
    kwargs = {}
    for boto_name, spellings in _BOTO3_OPTIONS.items():
        for spelling in spellings:
            if spelling in options:
                kwargs[boto_name] = options[spelling]
                break
    return boto3.client("s3", **kwargs)


def iter_bytes(
    location: str, storage_options: Mapping[str, str] | None = None, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[bytes]:
    """The raw bytes of ``location`` in chunks of at most ``chunk_bytes``; stop early by closing it."""
    if is_s3(location):
        bucket, key = split_s3_uri(location)
        body = _s3_client(storage_options).get_object(Bucket=bucket, Key=key)["Body"]
        try:
            while chunk := body.read(chunk_bytes):
                yield chunk
        finally:
            body.close()
    else:
        with open(location, "rb") as handle:
            while chunk := handle.read(chunk_bytes):
                yield chunk


def exists(location: str, storage_options: Mapping[str, str] | None = None) -> bool:
    if not is_s3(location):
        return Path(location).is_file()
    return head_or_none(_s3_client(storage_options), *split_s3_uri(location)) is not None


def remove(locations: Iterable[str], storage_options: Mapping[str, str] | None = None) -> None:
    """Delete written files (local paths or S3 URLs) that may or may not exist."""
    for location in locations:
        if is_s3(location):
            bucket, key = split_s3_uri(location)
            _s3_client(storage_options).delete_object(Bucket=bucket, Key=key)
        else:
            path = Path(location)
            path.unlink(missing_ok=True)
            if path.parent.is_dir() and not any(path.parent.iterdir()):
                path.parent.rmdir()
