"""The local SageMaker engine behind the embedded AWS (``local.moto.sagemaker``): the SageMaker and
SageMaker Runtime APIs, called with boto3 against ``python -m local.server``, run real jobs and
endpoints, and their errors arrive as the ClientErrors AWS sends."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from sklearn.datasets import load_breast_cancer

from tests.helpers.local import RunningServer
from tests.helpers.sagemaker import BUILTIN_XGBOOST, ROLE, channel, sample_rows, target_first_csv

BUCKET = "dropml-sagemaker-api"


def poll(describe: Callable[[], dict[str, Any]], key: str, *, until: tuple[str, ...], timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        description = describe()
        if description[key] in until:
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"{key} is still {description[key]} after {timeout_s} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def data(local_server: RunningServer) -> dict[str, str]:
    features, labels = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(3).permutation(len(labels))
    features, labels = features[order], labels[order]
    s3 = local_server.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="train/part-0.csv", Body=target_first_csv(labels[:400], features[:400]))
    s3.put_object(Bucket=BUCKET, Key="validation/part-0.csv", Body=target_first_csv(labels[400:], features[400:]))
    return {
        "train": f"s3://{BUCKET}/train/",
        "validation": f"s3://{BUCKET}/validation/",
        "output": f"s3://{BUCKET}/out",
    }


def create_training_job(sagemaker: Any, name: str, data: dict[str, str], hyperparameters: dict[str, str]) -> None:
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": BUILTIN_XGBOOST, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters=hyperparameters,
        InputDataConfig=[channel("train", data["train"]), channel("validation", data["validation"])],
        OutputDataConfig={"S3OutputPath": data["output"]},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )


def test_training_jobs_run_and_stop_through_the_api(local_server: RunningServer, data: dict[str, str]) -> None:
    sagemaker = local_server.client("sagemaker")
    create_training_job(sagemaker, "api-train", data, {"objective": "binary:logistic", "num_round": "15"})
    create_training_job(sagemaker, "api-stop", data, {"objective": "binary:logistic", "num_round": "1000000"})

    done = poll(lambda: sagemaker.describe_training_job(TrainingJobName="api-train"), "TrainingJobStatus",
                until=("Completed", "Failed", "Stopped"))  # fmt: skip
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert done["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/out/api-train/output/model.tar.gz"
    auc = {m["MetricName"]: m["Value"] for m in done["FinalMetricDataList"]}["validation:auc"]
    assert 0.9 < auc <= 1.0
    assert done["CreationTime"] <= done["TrainingStartTime"] <= done["TrainingEndTime"]

    sagemaker.stop_training_job(TrainingJobName="api-stop")
    stopped = poll(lambda: sagemaker.describe_training_job(TrainingJobName="api-stop"), "TrainingJobStatus",
                   until=("Stopped", "Failed", "Completed"))  # fmt: skip
    assert stopped["TrainingJobStatus"] == "Stopped"
    names = [j["TrainingJobName"] for j in sagemaker.list_training_jobs(SortBy="Name")["TrainingJobSummaries"]]
    assert names == ["api-stop", "api-train"]
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_training_job(TrainingJobName="nope")
    assert missing.value.response["Error"]["Code"] == "ValidationException"


def run_execution(local_server: RunningServer, name: str, definition: dict[str, Any]) -> dict[str, Any]:
    sfn = local_server.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name=f"{name}-run", input="{}")["executionArn"]
    return poll(lambda: sfn.describe_execution(executionArn=execution), "status",
                until=("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"), timeout_s=180)  # fmt: skip


def test_a_tuning_sync_task_waits_for_the_real_tuning_job(local_server: RunningServer, data: dict[str, str]) -> None:
    # GIVEN a state machine whose task is createHyperParameterTuningJob.sync, as the pipeline's Tune state
    tuning = {
        "HyperParameterTuningJobName": "sfn-tune",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {"IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "4"}]},
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"objective": "binary:logistic", "num_round": "10"},
            "AlgorithmSpecification": {"TrainingImage": BUILTIN_XGBOOST, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "InputDataConfig": [channel("train", data["train"]), channel("validation", data["validation"])],
            "OutputDataConfig": {"S3OutputPath": data["output"]},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    }
    definition = {
        "StartAt": "Tune",
        "States": {
            "Tune": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync",
                "Parameters": tuning,
                "ResultSelector": {"best.$": "$.BestTrainingJob.TrainingJobName"},
                "End": True,
            }
        },
    }

    # WHEN it runs
    execution = run_execution(local_server, "sfn-tune", definition)

    # THEN it ended with the tuning job, and names its best job: a real, completed child
    assert execution["status"] == "SUCCEEDED", execution
    best = json.loads(execution["output"])["best"]
    sagemaker = local_server.client("sagemaker")
    listed = sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="sfn-tune", SortBy="FinalObjectiveMetricValue", SortOrder="Descending"
    )["TrainingJobSummaries"]
    assert [s["TrainingJobStatus"] for s in listed] == ["Completed", "Completed"]
    assert listed[0]["TrainingJobName"] == best
    assert sagemaker.describe_training_job(TrainingJobName=best)["TuningJobArn"].endswith(
        "hyper-parameter-tuning-job/sfn-tune"
    )


def test_a_failing_training_sync_task_is_caught_with_the_jobs_reason(
    local_server: RunningServer, data: dict[str, str]
) -> None:
    definition = {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": {
                    "TrainingJobName": "sfn-bad",
                    "AlgorithmSpecification": {"TrainingImage": BUILTIN_XGBOOST, "TrainingInputMode": "File"},
                    "RoleArn": ROLE,
                    "HyperParameters": {"objective": "binary:logistic", "eta": "7"},
                    "InputDataConfig": [channel("train", data["train"])],
                    "OutputDataConfig": {"S3OutputPath": data["output"]},
                    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
                    "StoppingCondition": {"MaxRuntimeInSeconds": 300},
                },
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }

    execution = run_execution(local_server, "sfn-bad", definition)

    assert execution["status"] == "SUCCEEDED", execution
    cause = json.loads(json.loads(execution["output"])["error"]["Cause"])
    assert cause["TrainingJobStatus"] == "Failed"
    assert cause["FailureReason"].startswith("AlgorithmError: hyperparameter eta='7' is invalid")


def test_invoke_endpoint_answers_and_passes_container_errors_as_model_errors(
    local_server: RunningServer, data: dict[str, str]
) -> None:
    sagemaker, runtime = local_server.client("sagemaker"), local_server.client("sagemaker-runtime")
    create_training_job(sagemaker, "api-serve", data, {"objective": "binary:logistic", "num_round": "5"})
    trained = poll(lambda: sagemaker.describe_training_job(TrainingJobName="api-serve"), "TrainingJobStatus",
                   until=("Completed", "Failed", "Stopped"))  # fmt: skip
    sagemaker.create_model(
        ModelName="api-serve",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": BUILTIN_XGBOOST, "ModelDataUrl": trained["ModelArtifacts"]["S3ModelArtifacts"]},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="api-serve",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "api-serve", "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large"}],
    )  # fmt: skip
    sagemaker.create_endpoint(EndpointName="api-serve", EndpointConfigName="api-serve")
    poll(lambda: sagemaker.describe_endpoint(EndpointName="api-serve"), "EndpointStatus", until=("InService", "Failed"))

    answer = runtime.invoke_endpoint(
        EndpointName="api-serve", Body=sample_rows(2), ContentType="text/csv", Accept="text/csv"
    )
    assert answer["ContentType"].startswith("text/csv")
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert len(answer["Body"].read().decode().splitlines()) == 2
    with pytest.raises(ClientError) as refused:
        runtime.invoke_endpoint(EndpointName="api-serve", Body=b"<x/>", ContentType="application/xml")
    error = refused.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 415
    assert "/aws/sagemaker/Endpoints/api-serve" in error["LogStreamArn"]
    with pytest.raises(ClientError) as unknown:
        runtime.invoke_endpoint(EndpointName="nope", Body=b"1", ContentType="text/csv")
    assert unknown.value.response["Error"]["Code"] == "ValidationError"
