"""Two facts about S3 that the Lambdas, the conversion and local mode all need, written once.

Keys are kept raw, as S3 stores them (never percent-decoded or re-encoded: polars double-encodes an
encoded key and gets a 404). A missing object answers HEAD with a bare 404, or 403 without
``s3:ListBucket``; the template grants ListBucket wherever a function asks whether an object exists.
"""

from __future__ import annotations

from typing import Any

MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` → (bucket, key); the key raw, as S3 stores it."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def head_or_none(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """HeadObject's answer, or None when no object has that key."""
    from botocore.exceptions import ClientError  # here: core is imported where no AWS SDK is needed

    try:
        head: dict[str, Any] = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in MISSING_CODES:
            return None
        raise
    return head
