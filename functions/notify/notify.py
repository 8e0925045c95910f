"""Publish a run's report to the stack's topic and keep it with the run: ``report.html``, the page the
email links, and ``report.json``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from core.names import RunPaths
from core.s3 import split_s3_uri
from functions.notify.execution_ended import ExecutionStatusChange, build_unreported_report, reported
from functions.notify.invocation_failure import InvocationRecord, build_invocation_failure_report
from functions.notify.report import FinalState, Report, build_report, with_report_page
from functions.report.evidence import gather
from functions.report.page import render

logger = Logger()


def notify_run(
    final: FinalState, *, failed: bool, finished_at: datetime, sns: Any, s3: Any, sagemaker: Any, topic_arn: str
) -> Report:
    """The report page first, so that the email's link opens; then the email (the user must hear of
    every run, so a page that could not be made is said in the email, never a reason to send none);
    then the JSON copy next to the run's data."""
    report = build_report(final, failed=failed, finished_at=finished_at)
    if final.run is None:
        _email(report, sns=sns, topic_arn=topic_arn)
        return report
    paths = RunPaths(split_s3_uri(final.run.source)[0], final.run.dataset, final.run.run_id)
    try:
        evidence = gather(final.run, paths, s3=s3, sagemaker=sagemaker)
        s3.put_object(
            Bucket=paths.bucket,
            Key=paths.report_page_key,
            Body=render(report, final.run, evidence).encode(),
            ContentType="text/html; charset=utf-8",
        )
        report = with_report_page(report, f"s3://{paths.bucket}/{paths.report_page_key}")
    except Exception as error:  # the email must go out whatever went wrong with the page
        logger.exception("the report page could not be written")
        report = with_report_page(report, None, problem=f"{type(error).__name__}: {error}")
    _email(report, sns=sns, topic_arn=topic_arn)
    s3.put_object(
        Bucket=paths.bucket,
        Key=paths.report_key,
        Body=json.dumps({**report.document, "email": report.body}, indent=2, ensure_ascii=False).encode(),
        ContentType="application/json",
    )
    return report


def notify_invocation_failure(record: InvocationRecord, *, sns: Any, topic_arn: str) -> Report:
    """Email an upload that ingest failed to process; there is no run, so nothing is kept in S3."""
    report = build_invocation_failure_report(record)
    _email(report, sns=sns, topic_arn=topic_arn)
    return report


def notify_unreported_end(
    event: ExecutionStatusChange, *, sns: Any, stepfunctions: Any, topic_arn: str
) -> Report | None:
    """Email an execution that ended without its report; None when its report was sent."""
    if event.detail.status == "SUCCEEDED" or reported(stepfunctions, event.detail.executionArn):
        return None
    report = build_unreported_report(event)
    _email(report, sns=sns, topic_arn=topic_arn)
    return report


def _email(report: Report, *, sns: Any, topic_arn: str) -> None:
    """Publish ``report`` to the topic; its status and dataset as message attributes, so a subscription
    can filter on them (only failures, one dataset)."""
    sns.publish(
        TopicArn=topic_arn,
        Subject=report.subject,
        Message=report.body,
        MessageAttributes={
            "status": {"DataType": "String", "StringValue": report.document["status"]},
            "dataset": {"DataType": "String", "StringValue": str(report.document["dataset"])},
        },
    )
