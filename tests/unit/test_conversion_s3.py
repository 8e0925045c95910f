"""The S3 path: stream from moto's S3 (server mode) and write the splits back, or write nothing at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from core.conversion import convert
from core.errors import UserInputError
from core.settings import DatasetSettings
from tests.helpers.corpus import CORPUS

BUCKET = "uploads"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    return client


def options(endpoint: str) -> dict[str, str]:
    """The storage options the ingest Lambda passes (functions.aws.polars_storage_options)."""
    return {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_region": REGION,
        "aws_endpoint_url": endpoint,
        "aws_allow_http": "true",
    }


def keys(s3: object, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)  # type: ignore[attr-defined]
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_s3_to_s3_matches_the_local_conversion(
    s3: object, s3_endpoint: str, penguins_raw_csv: Path, tmp_path: Path
) -> None:
    key = "incoming/penguins/raw data+v1=ä.csv"  # spaces, plus, equals, unicode: used raw
    s3.upload_file(str(penguins_raw_csv), BUCKET, key)  # type: ignore[attr-defined]
    settings = DatasetSettings(target="Species")
    remote = convert(f"s3://{BUCKET}/{key}", f"s3://{BUCKET}/runs/p/1/data", settings, options(s3_endpoint))
    local = convert(str(penguins_raw_csv), str(tmp_path), settings)
    assert remote.schema == local.schema
    assert remote.bytes_read == penguins_raw_csv.stat().st_size
    assert keys(s3, "runs/p/1/") == [f"runs/p/1/data/{s}/part-00000.csv" for s in ("test", "train", "validation")]
    for split in ("train", "validation", "test"):
        body = s3.get_object(Bucket=BUCKET, Key=f"runs/p/1/data/{split}/part-00000.csv")["Body"].read()  # type: ignore[attr-defined]
        assert body == (tmp_path / split / "part-00000.csv").read_bytes()


@pytest.mark.parametrize("name", ["ragged_too_few.csv", "latin1_bytes.csv", "binary_with_three_classes.csv"])
def test_refusal_from_s3_writes_nothing(s3: object, s3_endpoint: str, name: str) -> None:
    case_settings = {"problem_type": "binary"} if name == "binary_with_three_classes.csv" else {}
    s3.upload_file(str(CORPUS / name), BUCKET, f"incoming/bad/{name}")  # type: ignore[attr-defined]
    with pytest.raises(UserInputError) as refusal:
        convert(
            f"s3://{BUCKET}/incoming/bad/{name}",
            f"s3://{BUCKET}/runs/bad/{name}/data",
            DatasetSettings(**case_settings),
            options(s3_endpoint),
        )
    with pytest.raises(UserInputError) as local:
        convert(str(CORPUS / name), "/nonexistent/out", DatasetSettings(**case_settings))
    assert refusal.value.reason == local.value.reason
    assert keys(s3, f"runs/bad/{name}/") == []


def test_missing_object_is_refused(s3: object, s3_endpoint: str) -> None:
    with pytest.raises(UserInputError, match="no such file"):
        convert(
            f"s3://{BUCKET}/incoming/none/gone.csv", f"s3://{BUCKET}/runs/none", DatasetSettings(), options(s3_endpoint)
        )
