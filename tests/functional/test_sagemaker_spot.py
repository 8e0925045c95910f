"""Managed spot training in the local SageMaker: AWS's checks of the request, and an interrupted job
that restarts and resumes from its checkpoint, as SageMaker restarts a spot job."""

from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local.sagemaker.api import SageMakerEngine
from local.sagemaker.errors import ValidationError
from tests.helpers.sagemaker import BUCKET, DROPML_IMAGE, REGION, training_request

SPOT = {"MaxRuntimeInSeconds": 300, "MaxWaitTimeInSeconds": 600}


@pytest.mark.parametrize(
    ("spot", "stopping", "message"),
    [
        (False, SPOT, "Invalid MaxWaitTimeInSeconds. It is only supported when EnableManagedSpotTraining is set"),
        (True, {"MaxRuntimeInSeconds": 300}, "It must be present and be greater than or equal to MaxRuntimeInSeconds"),
        (True, {"MaxRuntimeInSeconds": 300, "MaxWaitTimeInSeconds": 299}, "greater than or equal to MaxRuntime"),
    ],
)  # fmt: skip
def test_a_spot_request_aws_refuses_is_refused_for_training_and_tuning(
    engine: SageMakerEngine, breast_cancer: dict, spot: bool, stopping: dict, message: str
) -> None:
    request = training_request("bad-spot", breast_cancer, EnableManagedSpotTraining=spot, StoppingCondition=stopping)
    with pytest.raises(ValidationError, match=message):
        engine.training_jobs.create(request)
    definition = {k: v for k, v in request.items() if k not in ("TrainingJobName", "HyperParameters")}
    with pytest.raises(ValidationError, match=message):
        engine.tuning_jobs.create({"HyperParameterTuningJobName": "bad-spot", "TrainingJobDefinition": definition})
    assert not engine.training_jobs.values() and not engine.tuning_jobs.values()


@pytest.fixture
def interrupting(engine: SageMakerEngine) -> Iterator[SageMakerEngine]:
    """An engine whose spot jobs are each interrupted once (the opt-in fault)."""
    context = dataclasses.replace(engine.context, spot_interruptions=1, spot_restart_s=0.5)
    faulty = SageMakerEngine(context)
    yield faulty
    faulty.shutdown()


def _model_rounds(key: str) -> int:
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        member = tar.extractfile("summary.json")
        assert member is not None
        summary: dict[str, Any] = json.load(member)
    return int(summary["rounds_trained"])


def _log(name: str) -> list[str]:
    logs = boto3.client("logs", region_name=REGION)
    group = "/aws/sagemaker/TrainingJobs"
    streams = sorted(s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"])
    return [
        event["message"]
        for stream in streams
        if stream.startswith(f"{name}/")
        for event in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    ]


def test_an_interrupted_spot_job_restarts_and_resumes_from_its_checkpoint(
    interrupting: SageMakerEngine, breast_cancer: dict
) -> None:
    # GIVEN a spot job that checkpoints every 5 rounds, on an engine that interrupts it once
    hyperparameters = {
        "objective": "binary:logistic", "num_round": "60", "max_depth": "3", "eval_metric": "auc",
        "checkpoint_frequency": "5",
    }  # fmt: skip
    request = training_request(
        "bc-spot",
        breast_cancer,
        image=DROPML_IMAGE,
        hyperparameters=hyperparameters,
        EnableManagedSpotTraining=True,
        StoppingCondition=SPOT,
        CheckpointConfig={"S3Uri": f"s3://{BUCKET}/checkpoints/"},
    )
    job = interrupting.training_jobs.create(request)

    # WHEN it runs to the end
    assert job.wait(timeout=180)
    description = interrupting.training_jobs.describe("bc-spot")

    # THEN it completed after an interruption and a restart, as SageMaker reports one
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert [t["Status"] for t in description["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Interrupted", "Restarting", "Downloading", "Training", "Uploading",
        "Completed",
    ]  # fmt: skip
    assert description["EnableManagedSpotTraining"] is True
    assert description["CheckpointConfig"] == {"S3Uri": f"s3://{BUCKET}/checkpoints/"}
    # AND the second run started from the checkpoint the first one left in S3
    resumed = [line for line in _log("bc-spot") if "resuming from the checkpoint after round" in line]
    assert len(resumed) == 1
    saved = int(resumed[0].rsplit(" ", 1)[1])
    assert saved >= 5 and saved % 5 == 0
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET, Prefix="checkpoints/")
    assert f"checkpoints/checkpoint-{saved:07d}.ubj" in [item["Key"] for item in listed["Contents"]]
    # AND the model has every round, and the time between the runs is not billed
    assert _model_rounds("jobs/bc-spot/output/model.tar.gz") == 60
    assert 1 <= description["BillableTimeInSeconds"] <= description["TrainingTimeInSeconds"]


def test_an_on_demand_job_on_the_same_engine_is_never_interrupted(
    interrupting: SageMakerEngine, breast_cancer: dict
) -> None:
    job = interrupting.training_jobs.create(training_request("bc-on-demand", breast_cancer, image=DROPML_IMAGE))
    assert job.wait(timeout=120)
    description = interrupting.training_jobs.describe("bc-on-demand")
    assert description["TrainingJobStatus"] == "Completed"
    assert "Interrupted" not in [t["Status"] for t in description["SecondaryStatusTransitions"]]
    assert description["BillableTimeInSeconds"] == description["TrainingTimeInSeconds"]


def test_a_spot_job_without_capacity_for_longer_than_its_wait_ends_stopped(
    engine: SageMakerEngine, breast_cancer: dict
) -> None:
    # GIVEN an engine whose spot capacity, once taken back, returns only after the job's wait is over
    context = dataclasses.replace(engine.context, spot_interruptions=1, spot_restart_s=60)
    starved = SageMakerEngine(context)
    try:
        request = training_request(
            "bc-no-spot",
            breast_cancer,
            EnableManagedSpotTraining=True,
            StoppingCondition={"MaxRuntimeInSeconds": 10, "MaxWaitTimeInSeconds": 10},
        )
        job = starved.training_jobs.create(request)
        # WHEN the wait runs out while the job waits for new instances
        assert job.wait(timeout=60)
        description = starved.training_jobs.describe("bc-no-spot")
    finally:
        starved.shutdown()
    # THEN it ends as SageMaker ends it: Stopped, MaxWaitTimeExceeded (what the pipeline falls back on)
    assert (description["TrainingJobStatus"], description["SecondaryStatus"]) == ("Stopped", "MaxWaitTimeExceeded")
    assert [t["Status"] for t in description["SecondaryStatusTransitions"]][-3:] == [
        "Interrupted", "Stopping", "MaxWaitTimeExceeded",
    ]  # fmt: skip


def test_a_checkpoint_renamed_while_the_folder_syncs_is_skipped_not_a_job_failure(aws: str, tmp_path) -> None:
    from local.sagemaker import s3

    # GIVEN a checkpoint folder the program is writing: a temporary file it renames while the sync runs
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / ".partial-1.ubj").write_bytes(b"half")
    (folder / "checkpoint-0000005.ubj").write_bytes(b"five")

    class Renaming:
        """S3 as the job's role reaches it, while the program renames its temporary file meanwhile."""

        def upload_file(self, path: str, bucket: str, key: str) -> None:
            if (folder / ".partial-1.ubj").exists():
                (folder / ".partial-1.ubj").rename(folder / "checkpoint-0000010.ubj")
            client.upload_file(path, bucket, key)

    # WHEN the folder syncs, then syncs again
    synced: dict[str, tuple[int, int]] = {}
    s3.upload_folder(Renaming(), folder, s3.S3Location(BUCKET, "ckpt"), synced)
    s3.upload_folder(Renaming(), folder, s3.S3Location(BUCKET, "ckpt"), synced)

    # THEN the vanished file was skipped, and the next sync uploaded what the folder then held
    keys = sorted(item["Key"] for item in client.list_objects_v2(Bucket=BUCKET, Prefix="ckpt/")["Contents"])
    assert keys == ["ckpt/checkpoint-0000005.ubj", "ckpt/checkpoint-0000010.ubj"]
