"""The email for an upload the ingest function could not process, from Lambda's invocation record.

S3 invokes ingest asynchronously, so when ingest fails (out of memory, timed out, a bug) nobody is
waiting for the answer: Lambda retries it, then sends its OnFailure destination, Notify, an invocation
record (the "Capturing records of Lambda asynchronous invocations" page of the Lambda guide). Without
this email the user's upload would vanish silently; with it they learn which file, why, and what to do.
"""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict

from core.names import dataset_of_source
from functions import sns
from functions.notify.report import Report

# What a person can do about each way Lambda ends a failed invocation; keyed by the errorType.
ADVICE: dict[str, str] = {
    "Runtime.OutOfMemory": "Upload a smaller file, or raise the ingest function's MemorySize (template.yaml, "
    "IngestFunction) and deploy again.",
    "Sandbox.Timedout": "Upload a smaller file, or raise the ingest function's Timeout (template.yaml, "
    "IngestFunction) and deploy again.",
}
GENERIC_ADVICE = "Read the ingest function's log in CloudWatch Logs for the request id below, then upload again."
# How the report names each errorType; others are named by their errorMessage.
PLAIN_REASONS: dict[str, str] = {
    "Runtime.OutOfMemory": "the ingest function ran out of memory",
    "Sandbox.Timedout": "the ingest function ran past its timeout",
}
CONDITIONS: dict[str, str] = {
    "RetriesExhausted": "all attempts failed",
    "EventAgeExceeded": "the event grew too old to retry",
}


class RequestContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    requestId: str
    functionArn: str
    condition: str
    approximateInvokeCount: int


class ResponseContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    statusCode: int
    executedVersion: str
    functionError: str | None = None


class InvocationRecord(BaseModel):
    """Lambda's invocation record (version 1.0) as a destination receives it."""

    model_config = ConfigDict(extra="forbid")

    version: Literal["1.0"]
    timestamp: str
    requestContext: RequestContext
    requestPayload: Any
    responseContext: ResponseContext
    responsePayload: Any = None

    @property
    def function_name(self) -> str:
        """``arn:…:function:NAME[:QUALIFIER]`` → NAME."""
        return self.requestContext.functionArn.split(":")[6]

    @property
    def sources(self) -> list[str]:
        """The ``s3://bucket/key`` of each S3 record in the event that failed (empty for other events)."""
        payload = self.requestPayload if isinstance(self.requestPayload, dict) else {}
        found = []
        for record in payload.get("Records") or []:
            s3 = record.get("s3") if isinstance(record, dict) else None
            if isinstance(s3, dict):
                key = unquote_plus(s3.get("object", {}).get("key", ""))
                found.append(f"s3://{s3.get('bucket', {}).get('name')}/{key}")
        return found

    @property
    def error(self) -> tuple[str, str]:
        """(errorType, errorMessage) of the last attempt, as its response payload says."""
        payload = self.responsePayload if isinstance(self.responsePayload, dict) else {}
        error_type = str(payload.get("errorType") or self.responseContext.functionError or "Unknown")
        message = payload.get("errorMessage")
        return error_type, str(message) if message else json.dumps(self.responsePayload)


def build_invocation_failure_report(record: InvocationRecord) -> Report:
    """The email and summary for an event the function failed to process for good."""
    error_type, message = record.error
    sources = record.sources
    what = ", ".join(sources) if sources else f"An event for {record.function_name}"
    reason = PLAIN_REASONS.get(error_type, message)
    attempts = record.requestContext.approximateInvokeCount
    condition = CONDITIONS.get(record.requestContext.condition, record.requestContext.condition)
    dataset = _dataset(sources)
    lines = [
        f"{what} could not be processed: {reason} ({error_type}).",
        f"Attempts: {attempts} ({condition}).",
        "",
        f"Function: {record.function_name}",
        f"Request id: {record.requestContext.requestId}",
        f"Error: {message}",
        f"What to do: {ADVICE.get(error_type, GENERIC_ADVICE)}",
    ]
    document = {
        "status": "failed",
        "outcome": "upload not processed",
        "dataset": dataset,
        "run_id": None,
        "source": sources[0] if sources else None,
        "failed_step": "ingest",
        "reason": f"{reason} ({error_type})",
        "error_type": error_type,
        "attempts": attempts,
        "request_id": record.requestContext.requestId,
    }
    lines += ["", "Machine-readable summary:", json.dumps(document, ensure_ascii=False)]
    subject = sns.subject(f"dropml {dataset}: upload not processed ({error_type})")
    return Report(subject=subject, body="\n".join(lines), document=document)


def _dataset(sources: list[str]) -> str:
    return next((dataset for dataset in map(dataset_of_source, sources) if dataset), "(unknown)")
