"""A tiny Lambda function package for local mode's tests (zipped as the package's root module)."""

from __future__ import annotations

import os
import time

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
