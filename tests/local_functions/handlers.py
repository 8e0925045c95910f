"""A tiny Lambda function package for local mode's tests (zipped as the package's root module)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import boto3


def echo(event, context):
    return {
        "event": event,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "aws_request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "greeting": os.environ.get("GREETING"),
        "module_file": __file__,
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
    }


class PaymentRequired(Exception):
    pass


def fail(event, context):
    print("about to fail")
    raise PaymentRequired(f"no credit for {event.get('who', 'nobody')}")


def sleep(event, context):
    time.sleep(float(event.get("seconds", 30)))
    return "woke up"


def spawn_background(event, context):
    """Start a child that sleeps for ten minutes, and return without waiting for it: its pid is the answer."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    return {"pid": child.pid}


def copy_upload(event, context):
    """S3 notification → copy the uploaded object under copied/ with the function's own boto3."""
    s3 = boto3.client("s3")
    record = event["Records"][0]["s3"]
    bucket, key = record["bucket"]["name"], record["object"]["key"]
    from urllib.parse import unquote_plus

    key = unquote_plus(key)
    time.sleep(float(os.environ.get("DELAY_S", "0")))
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=f"copied/{key}", Body=body)
    return {"copied": key}


def allocate(event, context):
    """Hold ``mb`` MiB of written (so resident) memory, optionally for ``then_sleep_s``, then answer."""
    held = b"x" * (int(event["mb"]) << 20)
    time.sleep(float(event.get("then_sleep_s", 0)))
    return {"held_mb": len(held) >> 20}


def fail_until(event, context):
    """Fail while fewer than ``succeed_on`` attempts have been made (counted in a file the test reads)."""
    tally = Path(event["tally"])
    attempts = len(tally.read_text().splitlines()) + 1 if tally.exists() else 1
    with tally.open("a") as sink:
        sink.write(f"{context.aws_request_id}\n")
    if attempts < int(event.get("succeed_on", 99)):
        raise RuntimeError(f"attempt {attempts} failed")
    return {"attempts": attempts}


def call_aws(event, context):
    """Make one API call with the function's own credentials; answer who made it and what AWS said."""
    from botocore.exceptions import ClientError

    identity = boto3.client("sts").get_caller_identity()["Arn"]
    client = boto3.client(event["service"])
    try:
        getattr(client, event["operation"])(**event.get("params", {}))
    except ClientError as error:
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        return {"identity": identity, "error": error.response["Error"], "status": status}
    return {"identity": identity, "error": None}
