"""Local SageMaker training jobs: the training image really trains, and what a user reads back (status,
metrics, logs, artifacts in S3) is shaped and worded like AWS's."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import timedelta

import boto3
import pytest
import xgboost as xgb

from local.sagemaker.api import SageMakerEngine
from local.sagemaker.errors import ResourceInUse, ValidationError
from tests.helpers.sagemaker import BUCKET, DROPML_IMAGE, REGION, channel, training_request, wait_until


def s3_object(key: str) -> bytes:
    return boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read()


def members(tarball: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def validation_auc(description: dict, dimension: dict[str, str]) -> list[dict]:
    """CloudWatch's datapoints of the job's validation:auc under ``dimension``, over its training time."""
    return list(
        boto3.client("cloudwatch", region_name=REGION).get_metric_statistics(
            Namespace="/aws/sagemaker/TrainingJobs",
            MetricName="validation:auc",
            Dimensions=[dimension],
            StartTime=description["TrainingStartTime"] - timedelta(minutes=1),
            EndTime=description["TrainingEndTime"] + timedelta(minutes=1),
            Period=60,
            Statistics=["Maximum", "SampleCount"],
        )["Datapoints"]
    )


def test_builtin_image_job_trains_and_uploads_a_loadable_model(engine: SageMakerEngine, breast_cancer: dict) -> None:
    # GIVEN a job written for SageMaker's built-in XGBoost, with a test channel to evaluate on
    request = training_request("bc-builtin", breast_cancer)
    request["InputDataConfig"].append(channel("test", breast_cancer["validation"]))
    job = engine.training_jobs.create(request)

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
    # AND the output data (the test channel's evaluation) is in output.tar.gz beside it
    evaluation = json.loads(members(s3_object("jobs/bc-builtin/output/output.tar.gz"))["evaluation.json"])
    assert evaluation["rows"] == 169
    # AND its log stream has every round, tabs shown as #011 as SageMaker's log shipping shows them
    logs = boto3.client("logs", region_name=REGION)
    [stream] = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")["logStreams"]
    assert stream["logStreamName"].startswith("bc-builtin/algo-1-")
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream["logStreamName"])
    last_round = [e["message"] for e in events["events"] if e["message"].startswith("[19]")]
    assert last_round and "#011validation-auc:" in last_round[0]
    # AND every round's metrics are in CloudWatch where SageMaker puts them, per host and under the job's
    # name (what the SDK's TrainingJobAnalytics asks for)
    by_host = validation_auc(description, {"Name": "Host", "Value": "bc-builtin/algo-1"})
    assert sum(point["SampleCount"] for point in by_host) == 20
    assert max(point["Maximum"] for point in by_host) >= metrics["validation:auc"]
    by_job = validation_auc(description, {"Name": "TrainingJobName", "Value": "bc-builtin"})
    assert sum(point["SampleCount"] for point in by_job) == 20


def test_the_dropml_image_applies_the_users_metric_definitions(engine: SageMakerEngine, breast_cancer: dict) -> None:
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
    # AND names are unique, and the job is listed
    with pytest.raises(ResourceInUse):
        engine.training_jobs.create(training_request("bc-metrics", breast_cancer))
    with pytest.raises(ValidationError, match="Requested resource not found"):
        engine.training_jobs.describe("bc-missing")
    listed = engine.training_jobs.list({"StatusEquals": "Completed", "NameContains": "metrics"})
    assert [s["TrainingJobName"] for s in listed["TrainingJobSummaries"]] == ["bc-metrics"]


def long_running(name: str, data: dict, **extra: object) -> dict:
    """A job that would boost for minutes: stopping it is the only way it ends soon."""
    hyperparameters = {"objective": "binary:logistic", "num_round": "1000000", "max_depth": "6", "eta": "0.01"}
    return training_request(name, data, hyperparameters=hyperparameters, **extra)


def test_two_instances_train_one_distributed_model_on_sharded_data(
    engine: SageMakerEngine, breast_cancer: dict, tmp_path
) -> None:
    # GIVEN two instances, the train channel sharded by S3 key (two objects: one each)
    request = training_request("bc-distributed", breast_cancer, instance_count=2)
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] = "ShardedByS3Key"

    job = engine.training_jobs.create(request)
    assert job.wait(timeout=180)

    description = engine.training_jobs.describe("bc-distributed")
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    # THEN each host saw its own shard and a full copy of the replicated channel
    hosts = tmp_path / "sagemaker" / "training-jobs" / "bc-distributed"
    assert sorted(p.name for p in (hosts / "algo-1/input/data/train").iterdir()) == ["part-0.csv"]
    assert sorted(p.name for p in (hosts / "algo-2/input/data/train").iterdir()) == ["part-1.csv"]
    assert (hosts / "algo-2/input/data/validation/part-0.csv").is_file()
    assert json.loads((hosts / "algo-2/input/config/resourceconfig.json").read_text())["current_host"] == "algo-2"
    # AND the model says two hosts trained it, and each host has its log stream
    summary = json.loads(members(s3_object("jobs/bc-distributed/output/model.tar.gz"))["summary.json"])
    assert summary["hosts"] == 2
    streams = boto3.client("logs", region_name=REGION).describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs")[
        "logStreams"
    ]
    assert sorted(s["logStreamName"].rsplit("-", 1)[0] for s in streams) == [
        "bc-distributed/algo-1",
        "bc-distributed/algo-2",
    ]
    # AND the metrics in CloudWatch are the host's that logged them: the first, where XGBoost's distributed
    # training prints each round's evaluation (rank 0)
    listed = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace="/aws/sagemaker/TrainingJobs")
    hosts_reporting = {d["Value"] for m in listed["Metrics"] for d in m["Dimensions"] if d["Name"] == "Host"}
    assert hosts_reporting == {"bc-distributed/algo-1"}


def test_a_bad_hyperparameter_fails_with_the_images_reason(engine: SageMakerEngine, breast_cancer: dict) -> None:
    request = training_request(
        "bc-bad", breast_cancer, hyperparameters={"objective": "binary:logistic", "max_depth": "-1"}
    )
    job = engine.training_jobs.create(request)
    assert job.wait(timeout=120)

    description = engine.training_jobs.describe("bc-bad")
    assert description["TrainingJobStatus"] == "Failed"
    assert description["SecondaryStatus"] == "Failed"
    assert description["FailureReason"].startswith("AlgorithmError: hyperparameter max_depth='-1' is invalid")
    assert "ModelArtifacts" not in description


def test_an_image_local_mode_cannot_run_fails_the_job_and_names_it(
    engine: SageMakerEngine, breast_cancer: dict
) -> None:
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
    job = engine.training_jobs.create(training_request("bc-pytorch", breast_cancer, image=image))
    assert job.wait(timeout=30)

    description = engine.training_jobs.describe("bc-pytorch")
    assert description["TrainingJobStatus"] == "Failed"
    assert "pytorch-training" in description["FailureReason"]
    assert "dropml-xgboost" in description["FailureReason"]


def test_stop_training_job_stops_the_process(engine: SageMakerEngine, breast_cancer: dict) -> None:
    job = engine.training_jobs.create(long_running("bc-stop", breast_cancer))
    wait_until(lambda: any(m["MetricName"] == "validation:auc" for m in job.final_metrics))

    engine.training_jobs.stop("bc-stop")
    assert engine.training_jobs.describe("bc-stop")["TrainingJobStatus"] in ("Stopping", "Stopped")
    assert job.wait(timeout=30)

    description = engine.training_jobs.describe("bc-stop")
    assert description["TrainingJobStatus"] == "Stopped"
    assert [t["Status"] for t in description["SecondaryStatusTransitions"]][-2:] == ["Stopping", "Stopped"]


def test_max_runtime_stops_the_job_as_max_runtime_exceeded(engine: SageMakerEngine, breast_cancer: dict) -> None:
    job = engine.training_jobs.create(long_running("bc-timeout", breast_cancer, max_runtime_s=3))
    assert job.wait(timeout=60)

    description = engine.training_jobs.describe("bc-timeout")
    assert description["TrainingJobStatus"] == "Stopped"
    assert description["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert description["SecondaryStatusTransitions"][-1]["StatusMessage"] == (
        "Training job exceeded MaxRuntimeInSeconds provided"
    )


def test_checkpoints_sync_to_s3_and_a_new_job_resumes_from_them(engine: SageMakerEngine, breast_cancer: dict) -> None:
    checkpoints = {"S3Uri": f"s3://{BUCKET}/checkpoints/bc"}
    hyperparameters = {"objective": "binary:logistic", "num_round": "20", "checkpoint_frequency": "5"}
    first = engine.training_jobs.create(
        training_request("bc-ckpt-1", breast_cancer, hyperparameters=hyperparameters, CheckpointConfig=checkpoints)
    )
    assert first.wait(timeout=120)
    assert engine.training_jobs.describe("bc-ckpt-1")["TrainingJobStatus"] == "Completed"
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET, Prefix="checkpoints/bc/")
    assert "checkpoints/bc/checkpoint-0000020.ubj" in [o["Key"] for o in listing["Contents"]]

    resumed = {**hyperparameters, "num_round": "30"}
    second = engine.training_jobs.create(
        training_request("bc-ckpt-2", breast_cancer, hyperparameters=resumed, CheckpointConfig=checkpoints)
    )
    assert second.wait(timeout=120)
    summary = json.loads(members(s3_object("jobs/bc-ckpt-2/output/model.tar.gz"))["summary.json"])
    assert summary["resumed_from_round"] == 20
    assert summary["rounds_trained"] == 30


def test_pipe_mode_is_refused_with_a_reason(engine: SageMakerEngine, breast_cancer: dict) -> None:
    request = training_request("bc-pipe", breast_cancer)
    request["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    job = engine.training_jobs.create(request)
    assert job.wait(timeout=30)

    description = engine.training_jobs.describe("bc-pipe")
    assert description["TrainingJobStatus"] == "Failed"
    assert (
        description["FailureReason"] == "ClientError: Pipe input mode is not supported locally: use File (or FastFile)"
    )


def test_jobs_share_one_copy_of_unchanged_data_and_see_changed_data(
    engine: SageMakerEngine, breast_cancer: dict, tmp_path
) -> None:
    # GIVEN a job that has read the data set
    hyperparameters = {"objective": "binary:logistic", "num_round": "2"}
    first = engine.training_jobs.create(training_request("bc-first", breast_cancer, hyperparameters=hyperparameters))
    assert first.wait(timeout=120)
    # AND the validation object is then replaced with its first 100 rows
    s3 = boto3.client("s3", region_name=REGION)
    rows = s3_object("data/validation/part-0.csv").splitlines(keepends=True)[:100]
    s3.put_object(Bucket=BUCKET, Key="data/validation/part-0.csv", Body=b"".join(rows))

    # WHEN a second job reads the same channels
    second = engine.training_jobs.create(training_request("bc-second", breast_cancer, hyperparameters=hyperparameters))
    assert second.wait(timeout=120)

    # THEN the unchanged object is one file on disk for both jobs, and the changed one is the new version
    jobs = tmp_path / "sagemaker" / "training-jobs"
    train_files = [jobs / name / "algo-1/input/data/train/part-0.csv" for name in ("bc-first", "bc-second")]
    assert train_files[0].stat().st_ino == train_files[1].stat().st_ino
    validation_files = [jobs / name / "algo-1/input/data/validation/part-0.csv" for name in ("bc-first", "bc-second")]
    assert len(validation_files[0].read_bytes().splitlines()) == 169
    assert len(validation_files[1].read_bytes().splitlines()) == 100
