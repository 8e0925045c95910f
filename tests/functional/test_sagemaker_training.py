"""Local SageMaker training jobs: the training image really trains, and what a user reads back (status,
metrics, logs, artifacts in S3) is shaped and worded like AWS's."""

from __future__ import annotations

import io
import json
import tarfile

import boto3
import xgboost as xgb

from local.sagemaker.engine import SageMakerEngine
from tests import sagemaker_fixtures
from tests.sagemaker_fixtures import BUCKET, DROPML_IMAGE, REGION, training_request

engine = sagemaker_fixtures.engine
breast_cancer = sagemaker_fixtures.breast_cancer


def s3_object(key: str) -> bytes:
    return boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read()


def members(tarball: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_builtin_image_job_trains_and_uploads_a_loadable_model(engine: SageMakerEngine, breast_cancer: dict) -> None:
    # GIVEN a job written for SageMaker's built-in XGBoost
    job = engine.training_jobs.create(training_request("bc-builtin", breast_cancer))

    # WHEN it runs to the end
    assert job.wait(timeout=120)
    description = engine.training_jobs.describe("bc-builtin")

    # THEN it completed, went through AWS's secondary statuses and reports the validation AUC it logged
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert [t["Status"] for t in description["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed",
    ]  # fmt: skip
    assert description["TrainingJobArn"] == "arn:aws:sagemaker:us-east-1:123456789012:training-job/bc-builtin"
    metrics = {m["MetricName"]: m["Value"] for m in description["FinalMetricDataList"]}
    assert 0.9 < metrics["validation:auc"] <= 1.0
    assert 0.9 < metrics["train:auc"] <= 1.0
    assert description["TrainingTimeInSeconds"] >= 1
    # AND the model artifact is where AWS puts it, and XGBoost loads it
    artifact = description["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{BUCKET}/jobs/bc-builtin/output/model.tar.gz"
    files = members(s3_object("jobs/bc-builtin/output/model.tar.gz"))
    booster = xgb.Booster()
    booster.load_model(bytearray(files["model.ubj"]))
    assert booster.num_features() == 30
    assert json.loads(files["summary.json"])["rounds_trained"] == 20


def test_log_stream_has_the_rounds_with_tabs_shown_as_011(engine: SageMakerEngine, breast_cancer: dict) -> None:
    job = engine.training_jobs.create(training_request("bc-logs", breast_cancer))
    assert job.wait(timeout=120)

    logs = boto3.client("logs", region_name=REGION)
    [stream] = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")["logStreams"]
    assert stream["logStreamName"].startswith("bc-logs/algo-1-")
    messages = [
        e["message"]
        for e in logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"])[
            "events"
        ]
    ]
    round_lines = [m for m in messages if m.startswith("[19]")]
    assert round_lines and "#011validation-auc:" in round_lines[0]


def test_user_metric_definitions_are_applied_to_the_log(engine: SageMakerEngine, breast_cancer: dict) -> None:
    request = training_request("bc-metrics", breast_cancer, image=DROPML_IMAGE)
    request["AlgorithmSpecification"]["MetricDefinitions"] = [
        {"Name": "val-auc", "Regex": r"#011validation-auc:(\S+)"},
        {"Name": "round", "Regex": r"^\[([0-9]+)\]"},
    ]
    job = engine.training_jobs.create(request)
    assert job.wait(timeout=120)

    final = engine.training_jobs.describe("bc-metrics")["FinalMetricDataList"]
    assert [m["MetricName"] for m in final] == ["val-auc", "round"]
    assert final[1]["Value"] == 19.0
    assert 0.9 < final[0]["Value"] <= 1.0
