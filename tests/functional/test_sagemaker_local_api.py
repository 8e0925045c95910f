"""The local SageMaker engine behind the embedded AWS (``local.moto.sagemaker``): the SageMaker and
SageMaker Runtime APIs, called with boto3 against ``python -m local.server``, run real jobs and
endpoints, and their errors arrive as the ClientErrors AWS sends."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from sklearn.datasets import load_breast_cancer

from core.names import OWNER_TAG
from functions.evaluate.champion import EndpointOfAnotherDataset, check_owner
from tests.helpers.local import RunningServer
from tests.helpers.sagemaker import BUILTIN_XGBOOST, ROLE, channel, sample_rows, target_first_csv

BUCKET = "dropml-sagemaker-api"
MODELS = f"s3://{BUCKET}/out/"  # where the module's training jobs put their models


def poll(describe: Callable[[], dict[str, Any]], key: str, *, until: tuple[str, ...], timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        description = describe()
        if description[key] in until:
            return description
        if time.monotonic() > deadline:
            raise AssertionError(f"{key} is still {description[key]} after {timeout_s} s")
        time.sleep(0.5)


def create_role(local_server: RunningServer, name: str, service: str) -> str:
    """A role ``service`` may assume, allowed everything: local mode checks calls against it, as AWS does."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam = local_server.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=json.dumps(allow_all))
    return str(arn)


@pytest.fixture(scope="module")
def data(local_server: RunningServer) -> dict[str, str]:
    assert create_role(local_server, ROLE.rsplit("/", 1)[1], "sagemaker.amazonaws.com") == ROLE
    create_role(local_server, "sfn", "states.amazonaws.com")
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
    with pytest.raises(ClientError) as not_utf8:  # the body reaches the container, which refuses it
        runtime.invoke_endpoint(EndpointName="api-serve", Body=b"\xff\xfe1,2\n", ContentType="text/csv")
    assert not_utf8.value.response["Error"]["Code"] == "ModelError"
    assert not_utf8.value.response["OriginalStatusCode"] == 400
    assert "UTF-8" in not_utf8.value.response["OriginalMessage"]
    with pytest.raises(ClientError) as unknown:
        runtime.invoke_endpoint(EndpointName="nope", Body=b"1", ContentType="text/csv")
    assert unknown.value.response["Error"]["Code"] == "ValidationError"


@pytest.fixture(scope="module")
def served(local_server: RunningServer, data: dict[str, str]) -> dict[str, Any]:
    """A trained job (tagged), its model and an endpoint configuration for it, all through boto3."""
    sagemaker = local_server.client("sagemaker")
    sagemaker.create_training_job(
        TrainingJobName="api-model",
        AlgorithmSpecification={"TrainingImage": BUILTIN_XGBOOST, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        HyperParameters={"objective": "binary:logistic", "num_round": "5"},
        InputDataConfig=[channel("train", data["train"]), channel("validation", data["validation"])],
        OutputDataConfig={"S3OutputPath": data["output"]},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
        Tags=[{"Key": "team", "Value": "dropml"}],
    )
    trained = poll(lambda: sagemaker.describe_training_job(TrainingJobName="api-model"), "TrainingJobStatus",
                   until=("Completed", "Failed", "Stopped"))  # fmt: skip
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    model_url = trained["ModelArtifacts"]["S3ModelArtifacts"]
    sagemaker.create_model(
        ModelName="api-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": BUILTIN_XGBOOST, "ModelDataUrl": model_url},
    )
    config_arn = sagemaker.create_endpoint_config(
        EndpointConfigName="api-model",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "api-model", "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large"}],
    )["EndpointConfigArn"]  # fmt: skip
    return {"job": trained, "config": "api-model", "config_arn": config_arn}


def test_a_deleted_endpoint_is_deleting_for_a_while_and_its_name_stays_taken(
    local_server: RunningServer, served: dict[str, Any]
) -> None:
    sagemaker = local_server.client("sagemaker")
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/api-deleting"
    sagemaker.create_endpoint(EndpointName="api-deleting", EndpointConfigName=served["config"])

    # WHEN it is updated while it is still being created THEN AWS's refusal comes back
    with pytest.raises(ClientError) as in_progress:
        sagemaker.update_endpoint(EndpointName="api-deleting", EndpointConfigName=served["config"])
    assert in_progress.value.response["Error"]["Code"] == "ValidationException"
    assert in_progress.value.response["Error"]["Message"] == f'Cannot update in-progress endpoint "{arn}".'
    described = poll(lambda: sagemaker.describe_endpoint(EndpointName="api-deleting"), "EndpointStatus",
                     until=("InService", "Failed"))  # fmt: skip
    assert described["EndpointStatus"] == "InService"
    assert "FailureReason" not in described and "PendingDeploymentSummary" not in described

    # WHEN it is deleted THEN it is Deleting, and a new endpoint of that name is refused meanwhile
    sagemaker.delete_endpoint(EndpointName="api-deleting")
    assert sagemaker.describe_endpoint(EndpointName="api-deleting")["EndpointStatus"] == "Deleting"
    with pytest.raises(ClientError) as taken:
        sagemaker.create_endpoint(EndpointName="api-deleting", EndpointConfigName=served["config"])
    assert taken.value.response["Error"]["Code"] == "ValidationException"
    assert taken.value.response["Error"]["Message"] == f'Cannot create already existing endpoint "{arn}".'

    # AND once it is gone, DescribeEndpoint says so and the name can be used again
    def gone() -> bool:
        try:
            sagemaker.describe_endpoint(EndpointName="api-deleting")
        except ClientError as error:
            assert error.response["Error"]["Message"] == f'Could not find endpoint "{arn}".'
            return True
        return False

    deadline = time.monotonic() + 60
    while not gone():
        assert time.monotonic() < deadline, "the endpoint is still there 60 s after DeleteEndpoint"
        time.sleep(0.5)
    assert (
        sagemaker.create_endpoint(EndpointName="api-deleting", EndpointConfigName=served["config"])["EndpointArn"]
        == arn
    )
    poll(
        lambda: sagemaker.describe_endpoint(EndpointName="api-deleting"),
        "EndpointStatus",
        until=("InService", "Failed"),
    )
    sagemaker.delete_endpoint(EndpointName="api-deleting")


def test_endpoint_configs_are_listed_and_resources_tagged_by_arn(
    local_server: RunningServer, served: dict[str, Any]
) -> None:
    sagemaker = local_server.client("sagemaker")
    configs = sagemaker.list_endpoint_configs(NameContains="api-model")["EndpointConfigs"]
    assert [(c["EndpointConfigName"], c["EndpointConfigArn"]) for c in configs] == [("api-model", served["config_arn"])]

    job_arn = served["job"]["TrainingJobArn"]
    assert sagemaker.list_tags(ResourceArn=job_arn)["Tags"] == [{"Key": "team", "Value": "dropml"}]
    sagemaker.add_tags(ResourceArn=served["config_arn"], Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    sagemaker.delete_tags(ResourceArn=served["config_arn"], TagKeys=["a"])
    assert sagemaker.list_tags(ResourceArn=served["config_arn"])["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as unknown:
        sagemaker.list_tags(ResourceArn="arn:aws:sagemaker:us-east-1:123456789012:training-job/nope")
    assert unknown.value.response["Error"]["Code"] == "ValidationException"


def test_endpoint_names_are_case_blind_bad_tags_are_refused_and_the_owner_tag_is_checked(
    local_server: RunningServer, served: dict[str, Any]
) -> None:
    sagemaker = local_server.client("sagemaker")
    owned = [{"Key": OWNER_TAG, "Value": "penguins"}]
    arn = sagemaker.create_endpoint(EndpointName="api-Owned", EndpointConfigName=served["config"], Tags=owned)[
        "EndpointArn"
    ]
    # WHEN another endpoint's name differs only in case THEN SageMaker refuses it ("case-insensitive in CreateEndpoint")
    with pytest.raises(ClientError) as taken:
        sagemaker.create_endpoint(EndpointName="api-owned", EndpointConfigName=served["config"])
    assert taken.value.response["Error"]["Message"] == f'Cannot create already existing endpoint "{arn}".'
    # AND a tag outside SageMaker's alphabet fails the whole request: nothing is made
    with pytest.raises(ClientError) as bad_tag:
        sagemaker.create_endpoint(
            EndpointName="api-bad-tag", EndpointConfigName=served["config"], Tags=[{"Key": OWNER_TAG, "Value": "🐧"}]
        )
    assert bad_tag.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'tags.1.member.value' failed to satisfy constraint" in bad_tag.value.response["Error"]["Message"]
    assert [e["EndpointName"] for e in sagemaker.list_endpoints(NameContains="api-bad")["Endpoints"]] == []

    live = poll(lambda: sagemaker.describe_endpoint(EndpointName="api-Owned"), "EndpointStatus",
                until=("InService", "Failed"))  # fmt: skip

    # THEN evaluate's owner check lets only the tagged dataset near the endpoint
    check_owner(sagemaker, live, dataset="penguins", owner="penguins", runs_uri=MODELS)
    with pytest.raises(EndpointOfAnotherDataset, match="serves dataset 'penguins', so this run of dataset 'my_data'"):
        check_owner(sagemaker, live, dataset="my_data", owner="my_data", runs_uri=MODELS)
    # AND an untagged endpoint is adopted only by the dataset whose runs made every model it serves
    sagemaker.delete_tags(ResourceArn=arn, TagKeys=[OWNER_TAG])
    with pytest.raises(EndpointOfAnotherDataset, match=f"has no {OWNER_TAG} tag") as untagged:
        check_owner(sagemaker, live, dataset="penguins", owner="penguins", runs_uri=f"s3://{BUCKET}/runs/penguins/")
    assert f"--tags Key={OWNER_TAG},Value=penguins" in str(untagged.value)  # how to let the dataset have it
    check_owner(sagemaker, live, dataset="penguins", owner="penguins", runs_uri=MODELS)  # its model is under out/
    assert {"Key": OWNER_TAG, "Value": "penguins"} in sagemaker.list_tags(ResourceArn=arn)["Tags"]
    sagemaker.delete_endpoint(EndpointName="api-Owned")


def test_describe_training_job_has_awss_defaults_and_lists_filter_by_time(
    local_server: RunningServer, served: dict[str, Any]
) -> None:
    sagemaker = local_server.client("sagemaker")
    job = sagemaker.describe_training_job(TrainingJobName="api-model")
    assert job["OutputDataConfig"]["KmsKeyId"] == ""
    assert job["ResourceConfig"]["VolumeSizeInGB"] == 5
    assert {(c["CompressionType"], c["RecordWrapperType"]) for c in job["InputDataConfig"]} == {("None", "None")}
    assert job["AlgorithmSpecification"]["EnableSageMakerMetricsTimeSeries"] is False

    created = job["CreationTime"]
    second = timedelta(seconds=1)

    def listed(**bounds: Any) -> list[str]:
        summaries = sagemaker.list_training_jobs(NameContains="api-model", **bounds)["TrainingJobSummaries"]
        return [s["TrainingJobName"] for s in summaries]

    assert listed(CreationTimeAfter=created - second) == ["api-model"]
    assert listed(CreationTimeAfter=created + second) == []
    assert listed(CreationTimeBefore=created + second, LastModifiedTimeAfter=created - second) == ["api-model"]
    assert listed(LastModifiedTimeBefore=created - second) == []
    endpoints = sagemaker.list_endpoints(CreationTimeAfter=datetime.now(UTC) + timedelta(hours=1))["Endpoints"]
    assert endpoints == []


def test_tuning_jobs_aws_refuses_are_refused(local_server: RunningServer, data: dict[str, str]) -> None:
    sagemaker = local_server.client("sagemaker")

    def tune(name: str, strategy: str, ranges: dict[str, Any], max_jobs: int, **config: Any) -> None:
        sagemaker.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name,
            HyperParameterTuningJobConfig={
                "Strategy": strategy,
                "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
                "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": 1},
                "ParameterRanges": ranges,
                **config,
            },
            TrainingJobDefinition={
                "StaticHyperParameters": {"objective": "binary:logistic", "num_round": "10"},
                "AlgorithmSpecification": {"TrainingImage": BUILTIN_XGBOOST, "TrainingInputMode": "File"},
                "RoleArn": ROLE,
                "InputDataConfig": [channel("train", data["train"]), channel("validation", data["validation"])],
                "OutputDataConfig": {"S3OutputPath": data["output"]},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
                "StoppingCondition": {"MaxRuntimeInSeconds": 300},
            },
        )

    depth = {"IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "4"}]}
    with pytest.raises(ClientError) as hyperband:
        tune("api-hb", "Hyperband", depth, 3)  # num_round is not a name Hyperband reads MaxResource from
    assert hyperband.value.response["Error"]["Code"] == "ValidationException"
    assert "MaxResource" in hyperband.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as budget:
        tune("api-budget", "Bayesian", depth, 4)
    assert budget.value.response["Error"]["Message"] == (
        "You don't have enough combinations of hyperparameter ranges. The total number of hyperparameter "
        "combinations for the provided ranges [3.0] must be equal or greater than the value of MaxNumberOfJobs, "
        "[4]. Provide additional ranges."
    )
    assert sagemaker.list_hyper_parameter_tuning_jobs(NameContains="api-")["HyperParameterTuningJobSummaries"] == []


def test_step_functions_names_sagemaker_errors_as_aws_does(local_server: RunningServer, data: dict[str, str]) -> None:
    catch_all = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]
    states = {
        "Describe": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
            "Parameters": {"EndpointName": "nope"},
            "Catch": [{"ErrorEquals": ["SageMaker.SageMakerException"], "ResultPath": "$.sdk", "Next": "Create"}],
            "End": True,
        },
        "Create": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createEndpoint",
            "Parameters": {"EndpointName": "nope", "EndpointConfigName": "nope"},
            "Catch": [
                {"ErrorEquals": ["SageMaker.AmazonSageMakerException"], "ResultPath": "$.optimized", "Next": "Missing"}
            ],
            "End": True,
        },
        # a path missing from the input is States.Runtime, which even States.ALL does not catch
        "Missing": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
            "Parameters": {"EndpointName.$": "$.no.such.path"},
            "Catch": catch_all,
            "End": True,
        },
        "Caught": {"Type": "Succeed"},
    }
    execution = run_execution(local_server, "sfn-errors", {"StartAt": "Describe", "States": states})

    assert execution["status"] == "FAILED", execution
    assert execution["error"] == "States.Runtime"
    assert "$.no.such.path" in execution["cause"]
    sfn = local_server.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [(f["error"], f["cause"].split(" (")[0]) for f in failed[:2]] == [
        (
            "SageMaker.SageMakerException",
            'Could not find endpoint "arn:aws:sagemaker:us-east-1:123456789012:endpoint/nope".',
        ),
        (
            "SageMaker.AmazonSageMakerException",
            'Could not find endpoint configuration "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/nope".',
        ),
    ]
