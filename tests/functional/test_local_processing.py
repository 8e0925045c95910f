"""Local SageMaker Processing jobs: CreateProcessingJob, DescribeProcessingJob, ListProcessingJobs and
StopProcessingJob through a boto3 client, a test program as the image's ``process`` (its behaviour set
by the job's Environment, ``tests/fixtures/sagemaker.py``), and the ``.sync`` task that waits for one."""

from __future__ import annotations

import contextlib
import json
import pickle
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.moto import JobKind, describe_job_in_moto, use_sagemaker_job_source
from local.sagemaker import persistence
from local.sagemaker.api import LocalSageMaker
from local.sagemaker.processing_jobs import ALGORITHM_ERROR, MAX_RUNTIME_EXCEEDED
from tests.helpers.local import ACCOUNT, PatchedAws, create_role, wait_for
from tests.helpers.sagemaker import BUCKET, DROPML_IMAGE, REGION, ROLE

TERMINAL = ("Completed", "Failed", "Stopped")
INPUT = "/opt/ml/processing/input/data"
OUTPUT = "/opt/ml/processing/output/data"
PROCESSING_LOGS = "/aws/sagemaker/ProcessingJobs"


def s3() -> Any:
    return boto3.client("s3", region_name=REGION)


def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def put(key: str, body: bytes) -> None:
    s3().put_object(Bucket=BUCKET, Key=key, Body=body)


def stored(prefix: str) -> dict[str, bytes]:
    """Every object under ``prefix``, by key relative to it."""
    client = s3()
    contents = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {
        item["Key"][len(prefix) :]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        for item in contents
    }


@pytest.fixture
def bucket(local_sagemaker: LocalSageMaker) -> str:
    s3().create_bucket(Bucket=BUCKET)
    put("in/data.csv", b"a,b\n1,2\n")
    return BUCKET


def job_input(uri: str, local_path: str = INPUT, **extra: Any) -> dict[str, Any]:
    return {
        "InputName": "data",
        "S3Input": {"S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix", "S3InputMode": "File", **extra},
    }


def request(name: str, environment: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """A CreateProcessingJob request as boto3 sends it: the input prefix ``in/`` to ``input/data``, the
    ``output/data`` folder to ``out/``, and the image's ``process`` program."""
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {"ImageUri": DROPML_IMAGE, "ContainerEntrypoint": ["process"]},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}
        },
        "ProcessingInputs": [job_input(f"s3://{BUCKET}/in/")],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "data",
                    "S3Output": {"S3Uri": f"s3://{BUCKET}/out", "LocalPath": OUTPUT, "S3UploadMode": "EndOfJob"},
                }
            ]
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "Environment": {"TEST_COPY": "input/data:output/data", **(environment or {})},
        **extra,
    }


def ended(name: str, timeout_s: float = 60) -> dict[str, Any]:
    def description() -> dict[str, Any] | None:
        described = sagemaker().describe_processing_job(ProcessingJobName=name)
        return dict(described) if described["ProcessingJobStatus"] in TERMINAL else None

    return dict(wait_for(description, timeout_s=timeout_s, what=f"processing job {name} to end"))


def logged(name: str, text: str) -> bool:
    """Whether a log stream of the job has a line containing ``text``."""
    logs = boto3.client("logs", region_name=REGION)
    try:
        streams = logs.describe_log_streams(logGroupName=PROCESSING_LOGS, logStreamNamePrefix=f"{name}/")
    except logs.exceptions.ResourceNotFoundException:
        return False
    return any(
        text in event["message"]
        for stream in streams["logStreams"]
        for event in logs.get_log_events(logGroupName=PROCESSING_LOGS, logStreamName=stream["logStreamName"])["events"]
    )


def error_of(call: Any, **parameters: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as raised:
        call(**parameters)
    return dict(raised.value.response["Error"])


def test_a_job_downloads_runs_and_uploads_asynchronously(local_sagemaker: LocalSageMaker, bucket: str) -> None:
    # GIVEN a job whose program copies its input to its output, with arguments, and takes a second
    job = request("copy", {"TEST_SLEEP_S": "1"}, Tags=[{"Key": "dropml:run", "Value": "r1"}])
    job["AppSpecification"]["ContainerEntrypoint"] = ["process", "--mode"]
    job["AppSpecification"]["ContainerArguments"] = ["fast"]

    # WHEN it is created, THEN the answer comes before the job has run, as on AWS
    arn = sagemaker().create_processing_job(**job)["ProcessingJobArn"]
    assert arn == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/copy"
    assert sagemaker().describe_processing_job(ProcessingJobName="copy")["ProcessingJobStatus"] == "InProgress"

    # AND it completes, with its times in order and the request echoed
    described = ended("copy")
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert "FailureReason" not in described and "ExitMessage" not in described
    assert described["CreationTime"] <= described["ProcessingStartTime"] <= described["ProcessingEndTime"]
    assert described["ProcessingEndTime"] <= described["LastModifiedTime"]
    assert described["ProcessingInputs"] == job["ProcessingInputs"]
    assert described["AppSpecification"] == job["AppSpecification"]
    assert described["ProcessingOutputConfig"] == job["ProcessingOutputConfig"]
    # AND the program got the input at its LocalPath and its arguments, and its output is in S3
    assert stored("out/") == {"algo-1/data.csv": b"a,b\n1,2\n", "algo-1/argv.json": b'["--mode", "fast"]'}
    # AND its log is where SageMaker puts a processing job's, and the job carries its tags
    assert logged("copy", "algo-1 started with ['--mode', 'fast']")
    assert sagemaker().list_tags(ResourceArn=arn)["Tags"] == [{"Key": "dropml:run", "Value": "r1"}]
    # AND a Step Functions .sync task polls the same description
    assert local_sagemaker.describe_job("ProcessingJob", "copy", ACCOUNT, REGION)["ProcessingJobArn"] == arn


def test_the_container_finds_the_config_files_sagemaker_writes(
    local_sagemaker: LocalSageMaker, bucket: str, tmp_path: Any
) -> None:
    sagemaker().create_processing_job(**request("config"))
    assert ended("config")["ProcessingJobStatus"] == "Completed"

    host = tmp_path / "sagemaker" / ACCOUNT / REGION / "processing-jobs" / "config" / "algo-1"
    config = json.loads((host / "config" / "processingjobconfig.json").read_text())
    assert config["ProcessingJobArn"].endswith(":processing-job/config")
    assert config["AppSpecification"] == {
        "ImageUri": DROPML_IMAGE,
        "ContainerEntrypoint": ["process"],
        "ContainerArguments": None,
    }
    # the container's paths, and the defaults SageMaker fills in
    assert config["ProcessingInputs"][0]["S3Input"] == {
        "S3Uri": f"s3://{BUCKET}/in/", "LocalPath": INPUT, "S3DataType": "S3Prefix", "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None", "S3DownloadMode": "StartOfJob",
    }  # fmt: skip
    assert config["StoppingCondition"] == {"MaxRuntimeInSeconds": 300}
    assert json.loads((host / "config" / "resourceconfig.json").read_text()) == {
        "current_host": "algo-1",
        "hosts": ["algo-1"],
    }


def test_a_failing_program_fails_the_job_with_its_exit_message(local_sagemaker: LocalSageMaker, bucket: str) -> None:
    sagemaker().create_processing_job(**request("refused", {"TEST_MESSAGE": "row 3 is ragged", "TEST_EXIT": "1"}))

    described = ended("refused")

    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"] == ALGORITHM_ERROR == "AlgorithmError: See job logs for more information"
    assert described["ExitMessage"] == "row 3 is ragged"
    assert "ProcessingEndTime" in described


def test_an_exit_message_that_is_not_utf8_fails_the_job(local_sagemaker: LocalSageMaker, bucket: str) -> None:
    sagemaker().create_processing_job(**request("latin", {"TEST_MESSAGE_HEX": "e9"}))

    described = ended("latin")

    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: algo-1: /opt/ml/output/message")


def test_local_mode_fails_what_it_cannot_run_with_the_reason(local_sagemaker: LocalSageMaker, bucket: str) -> None:
    # GIVEN an entrypoint other than the image's process program, and an image local mode cannot run
    other = request("other-program")
    other["AppSpecification"]["ContainerEntrypoint"] = ["python3", "/code/preprocess.py"]
    image = request("other-image")
    image["AppSpecification"]["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sklearn:1"
    for job in (other, image):
        sagemaker().create_processing_job(**job)

    # THEN both are created and then fail, with a ClientError that says why
    program = ended("other-program")
    assert program["ProcessingJobStatus"] == "Failed"
    assert program["FailureReason"].startswith("ClientError: local mode runs only the image's process program")
    assert "ProcessingStartTime" not in program
    assert ended("other-image")["FailureReason"].startswith("ClientError: local mode cannot run image")


def test_names_are_unique_and_unknown_names_are_refused(local_sagemaker: LocalSageMaker, bucket: str) -> None:
    sagemaker().create_processing_job(**request("once"))

    taken = error_of(sagemaker().create_processing_job, **request("once"))
    assert taken["Code"] == "ResourceInUse"
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/once"
    assert taken["Message"].endswith(f"a job with this name already exists ({arn})")
    for call in (sagemaker().describe_processing_job, sagemaker().stop_processing_job):
        missing = error_of(call, ProcessingJobName="never")
        assert missing == {"Code": "ValidationException", "Message": "Could not find requested job with name never"}
    ended("once")


def test_requests_aws_refuses_are_refused_and_make_nothing(local_sagemaker: LocalSageMaker, bucket: str) -> None:
    client = sagemaker()
    # a name outside the model's pattern
    refused = error_of(client.create_processing_job, **request("bad_name"))
    assert refused == {
        "Code": "ValidationException",
        "Message": "1 validation error detected: Value 'bad_name' at 'processingJobName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
    }
    # maximums botocore does not check before sending: instances, inputs, runtime
    job = request("too-much")
    job["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 101
    job["ProcessingInputs"] = [
        {**job_input(f"s3://{BUCKET}/in/", f"{INPUT}{n}"), "InputName": f"i{n}"} for n in range(11)
    ]
    job["StoppingCondition"]["MaxRuntimeInSeconds"] = 777_601
    message = error_of(client.create_processing_job, **job)["Message"]
    assert message.startswith("3 validation errors detected: ")
    assert (
        "at 'processingInputs' failed to satisfy constraint: Member must have length less than or equal to 10"
        in message
    )
    assert (
        "Value '101' at 'processingResources.clusterConfig.instanceCount' failed to satisfy constraint: "
        "Member must have value less than or equal to 100" in message
    )
    assert (
        "Value '777601' at 'stoppingCondition.maxRuntimeInSeconds' failed to satisfy constraint: "
        "Member must have value less than or equal to 777600" in message
    )
    # LocalPaths: outside /opt/ml/processing/, climbing out of it, two inputs on one path
    outside = request("outside", ProcessingInputs=[job_input(f"s3://{BUCKET}/in/", "/tmp/data")])
    assert (
        "must be an absolute path that begins with /opt/ml/processing/, not '/tmp/data'"
        in error_of(client.create_processing_job, **outside)["Message"]
    )
    climbing = request("climbing", ProcessingInputs=[job_input(f"s3://{BUCKET}/in/", "/opt/ml/processing/../x")])
    assert error_of(client.create_processing_job, **climbing)["Code"] == "ValidationException"
    shared = request("shared")
    shared["ProcessingInputs"].append({**job_input(f"s3://{BUCKET}/in/"), "InputName": "again"})
    assert "have the same LocalPath" in error_of(client.create_processing_job, **shared)["Message"]
    # List* filters are checked too
    assert error_of(client.list_processing_jobs, StatusEquals="Done")["Message"].endswith(
        "Member must satisfy enum value set: [InProgress, Completed, Failed, Stopping, Stopped]"
    )
    # AND none of them was made
    assert client.list_processing_jobs()["ProcessingJobSummaries"] == []


def test_stop_is_stopping_then_stopped_with_the_saved_outputs(local_sagemaker: LocalSageMaker, bucket: str) -> None:
    client = sagemaker()
    client.create_processing_job(**request("long", {"TEST_SLEEP_S": "120"}))
    wait_for(lambda: logged("long", "algo-1 started"), timeout_s=60, what="the program to start")

    client.stop_processing_job(ProcessingJobName="long")

    # THEN it is Stopping while the program saves its work (it got SIGINT), then Stopped
    assert client.describe_processing_job(ProcessingJobName="long")["ProcessingJobStatus"] == "Stopping"
    described = ended("long")
    assert described["ProcessingJobStatus"] == "Stopped"
    assert "FailureReason" not in described
    assert stored("out/algo-1/")["interrupted"] == b"SIGINT"
    # AND an ended job cannot be stopped again
    assert error_of(client.stop_processing_job, ProcessingJobName="long") == {
        "Code": "ValidationException",
        "Message": "The request was rejected because the processing job is in status Stopped.",
    }


def test_a_job_past_its_max_runtime_is_stopped(local_sagemaker: LocalSageMaker, bucket: str) -> None:
    job = request("slow", {"TEST_SLEEP_S": "120"})
    job["StoppingCondition"]["MaxRuntimeInSeconds"] = 1
    sagemaker().create_processing_job(**job)

    described = ended("slow")

    assert described["ProcessingJobStatus"] == "Stopped"
    assert described["FailureReason"] == MAX_RUNTIME_EXCEEDED
    assert (described["ProcessingEndTime"] - described["ProcessingStartTime"]).total_seconds() < 30


def test_list_filters_by_status_and_name_and_pages(local_sagemaker: LocalSageMaker, bucket: str) -> None:
    client = sagemaker()
    for name, exit_status in (("convert-a", "0"), ("convert-b", "1"), ("other-a", "0")):
        client.create_processing_job(**request(name, {"TEST_EXIT": exit_status}))
    for name in ("convert-a", "convert-b", "other-a"):
        ended(name)

    completed = client.list_processing_jobs(StatusEquals="Completed", NameContains="convert")
    assert [s["ProcessingJobName"] for s in completed["ProcessingJobSummaries"]] == ["convert-a"]
    [failed] = client.list_processing_jobs(StatusEquals="Failed")["ProcessingJobSummaries"]
    assert failed["ProcessingJobName"] == "convert-b"
    assert failed["FailureReason"] == ALGORITHM_ERROR
    assert "ProcessingEndTime" in failed
    first = client.list_processing_jobs(SortBy="Name", SortOrder="Descending", MaxResults=2)
    assert [s["ProcessingJobName"] for s in first["ProcessingJobSummaries"]] == ["other-a", "convert-b"]
    rest = client.list_processing_jobs(
        SortBy="Name", SortOrder="Descending", MaxResults=2, NextToken=first["NextToken"]
    )
    assert [s["ProcessingJobName"] for s in rest["ProcessingJobSummaries"]] == ["convert-a"]


def test_two_instances_each_process_their_own_shard(local_sagemaker: LocalSageMaker, bucket: str) -> None:
    # GIVEN two objects under the prefix, sharded by S3 key across two instances
    put("in/part-1.csv", b"3,4\n")
    job = request(
        "sharded", ProcessingInputs=[job_input(f"s3://{BUCKET}/in/", S3DataDistributionType="ShardedByS3Key")]
    )
    job["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 2
    sagemaker().create_processing_job(**job)

    assert ended("sharded")["ProcessingJobStatus"] == "Completed"

    # THEN each host got one object, and both uploaded to the one S3Uri, each host logging on its own stream
    outputs = {key: body for key, body in stored("out/").items() if not key.endswith("argv.json")}
    assert outputs == {"algo-1/data.csv": b"a,b\n1,2\n", "algo-2/part-1.csv": b"3,4\n"}
    assert logged("sharded", "algo-1 started") and logged("sharded", "algo-2 started")


def test_processing_jobs_outlive_a_restart_of_local_mode(
    local_sagemaker: LocalSageMaker, bucket: str, aws: str, tmp_path: Any
) -> None:
    # GIVEN a completed job and a running one, saved as a server killed mid-run saves them
    client = sagemaker()
    client.create_processing_job(**request("done"))
    ended("done")
    completed = local_sagemaker.call("DescribeProcessingJob", ACCOUNT, REGION, {"ProcessingJobName": "done"})
    client.create_processing_job(**request("running", {"TEST_SLEEP_S": "120"}))
    saved = pickle.loads(pickle.dumps(persistence.snapshot(local_sagemaker)))
    assert persistence.running_jobs(local_sagemaker) == 1

    # WHEN a new local mode restores them
    restarted = LocalSageMaker(endpoint_url=aws, work_dir=tmp_path / "restarted")
    persistence.restore(restarted, saved)

    # THEN the completed job reads as it did, and the running one failed as AWS ends a job it lost
    def describe(name: str) -> dict[str, Any]:
        return restarted.call("DescribeProcessingJob", ACCOUNT, REGION, {"ProcessingJobName": name})

    assert describe("done") == completed
    lost = describe("running")
    assert lost["ProcessingJobStatus"] == "Failed"
    assert lost["FailureReason"] == persistence.INTERRUPTED_JOB
    listed = restarted.call("ListProcessingJobs", ACCOUNT, REGION, {"StatusEquals": "Failed"})
    assert [s["FailureReason"] for s in listed["ProcessingJobSummaries"]] == [persistence.INTERRUPTED_JOB]
    # AND a graceful stop of the old one stops its running job, as `dropml local down` does
    persistence.stop_running_jobs(local_sagemaker)
    assert ended("running")["ProcessingJobStatus"] == "Stopped"
    assert persistence.running_jobs(local_sagemaker) == 0


# -- Step Functions' createProcessingJob.sync, over moto's records (they complete at once) ---------------

PROCESSING_ROLE = f"arn:aws:iam::{ACCOUNT}:role/dropml-processing"


def _sync_definition(name: str) -> dict[str, Any]:
    parameters = request(name)
    parameters["RoleArn"] = PROCESSING_ROLE
    del parameters["Environment"]
    return {
        "StartAt": "Convert",
        "States": {
            "Convert": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": parameters,
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Failed"}],
                "End": True,
            },
            "Failed": {"Type": "Pass", "End": True},
        },
    }


def _run(aws: PatchedAws, name: str, allowed: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the .sync definition for job ``name`` as a state machine role allowed exactly ``allowed``."""
    iam = aws.client("iam")
    role = create_role(iam, f"states-{name}", "states.amazonaws.com", allowed)
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        create_role(iam, PROCESSING_ROLE.rsplit("/", 1)[1], "sagemaker.amazonaws.com", [])
    sfn = aws.client("stepfunctions")
    machine = sfn.create_state_machine(name=name, definition=json.dumps(_sync_definition(name)), roleArn=role)
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")["executionArn"]

    def done() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=execution)
        return None if described["status"] == "RUNNING" else dict(described)

    return dict(wait_for(done, timeout_s=30, what=f"execution of {name}"))


def _may_create(name: str) -> list[dict[str, Any]]:
    return [
        {
            "Effect": "Allow",
            "Action": "sagemaker:CreateProcessingJob",
            "Resource": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/{name}",
        },
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": PROCESSING_ROLE,
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
    ]


def test_a_sync_task_returns_describe_processing_job(patched_aws: PatchedAws) -> None:
    execution = _run(patched_aws, "convert-1", _may_create("convert-1"))

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["ProcessingJobName"] == "convert-1"
    assert output["ProcessingJobStatus"] == "Completed"
    assert isinstance(output["CreationTime"], int)  # Step Functions' epoch milliseconds


def test_a_failed_processing_job_is_a_catchable_task_failure(patched_aws: PatchedAws) -> None:
    def failed(kind: JobKind, name: str, account: str, region: str) -> dict[str, Any]:
        described = describe_job_in_moto(kind, name, account, region)
        return {**described, "ProcessingJobStatus": "Failed", "FailureReason": ALGORITHM_ERROR}

    previous = use_sagemaker_job_source(failed)
    try:
        execution = _run(patched_aws, "convert-2", _may_create("convert-2"))
    finally:
        use_sagemaker_job_source(previous)

    assert execution["status"] == "SUCCEEDED", execution  # the Catch took it
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "States.TaskFailed"
    assert json.loads(error["Cause"])["FailureReason"] == ALGORITHM_ERROR


def test_creating_a_processing_job_is_authorized_on_its_arn(patched_aws: PatchedAws) -> None:
    # GIVEN a state machine whose role may create another processing job only
    execution = _run(patched_aws, "convert-3", _may_create("convert-other"))

    # THEN the task fails with the denial, which States.TaskFailed (any error but a timeout) catches
    error = json.loads(execution["output"])["error"]
    assert error["Error"] == "SageMaker.AmazonSageMakerException"
    assert (
        "is not authorized to perform: sagemaker:CreateProcessingJob on resource: "
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/convert-3" in error["Cause"]
    )
    # AND handing the job its role needs iam:PassRole
    create_only = _may_create("convert-4")[:1]
    error = json.loads(_run(patched_aws, "convert-4", create_only)["output"])["error"]
    assert f"is not authorized to perform: iam:PassRole on resource: {PROCESSING_ROLE}" in error["Cause"]
