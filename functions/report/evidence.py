"""What a run's report shows beyond its run document, fetched from S3 and SageMaker.

Each piece is optional: a run that failed at "Prepare data" has no schema, one that failed in training
has no test-split figures, a single training job has no trials. What could not be read is named on the
page (``missing``) instead of failing the report: the email still goes out and still links it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from core.names import RunPaths
from core.schema import Schema
from functions.job_output import read_evaluation
from functions.report.figures import Trial
from functions.run_document import RunDocument

LIST_PAGE = 100  # ListTrainingJobsForHyperParameterTuningJob's MaxResults


@dataclass(frozen=True)
class Evidence:
    schema: Schema | None = None
    diagnostics: dict[str, Any] | None = None
    trials: list[Trial] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def gather(run: RunDocument, paths: RunPaths, *, s3: Any, sagemaker: Any) -> Evidence:
    missing: list[str] = []
    schema = _schema(s3, paths, missing)
    diagnostics = None
    if run.training is not None:
        try:
            job = sagemaker.describe_training_job(TrainingJobName=run.training.job)
            diagnostics = read_evaluation(s3, job).get("diagnostics")
        except (ClientError, RuntimeError, KeyError) as error:
            missing.append(f"the test-split figures of {run.training.job}: {error}")
    trials: list[Trial] = []
    if run.training is not None and run.training.tuning_job:
        try:
            trials = tuning_trials(sagemaker, run.training.tuning_job)
        except ClientError as error:
            missing.append(f"the trials of {run.training.tuning_job}: {error}")
    return Evidence(schema=schema, diagnostics=diagnostics, trials=trials, missing=missing)


def _schema(s3: Any, paths: RunPaths, missing: list[str]) -> Schema | None:
    try:
        body = s3.get_object(Bucket=paths.bucket, Key=paths.schema_key)["Body"].read()
    except ClientError as error:
        missing.append(f"the run's schema (s3://{paths.bucket}/{paths.schema_key}): {error}")
        return None
    return Schema.from_json(body)


def tuning_trials(sagemaker: Any, tuning_job: str) -> list[Trial]:
    """Every trial of the tuning job, in the order SageMaker created them."""
    summaries: list[dict[str, Any]] = []
    request: dict[str, Any] = {"HyperParameterTuningJobName": tuning_job, "MaxResults": LIST_PAGE}
    while True:
        page = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(**request)
        summaries += page["TrainingJobSummaries"]
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    summaries.sort(key=lambda summary: (summary["CreationTime"], summary["TrainingJobName"]))
    return [
        Trial(
            name=summary["TrainingJobName"],
            objective=summary.get("FinalHyperParameterTuningJobObjectiveMetric", {}).get("Value"),
            status=summary["TrainingJobStatus"],
        )
        for summary in summaries
    ]
