"""The Step Functions patches (``local.moto.stepfunctions``) and Lambda tasks: definitions execute for real,
unnamed executions get UUIDs, SageMaker `.sync` included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto.sagemaker.models import sagemaker_backends

from local.moto import JobKind, describe_job_in_moto, use_sagemaker_job_source
from tests.helpers.local import ACCOUNT, REGION, PatchedAws, create_function, create_role, wait_for

TRAINING_ROLE = f"arn:aws:iam::{ACCOUNT}:role/dropml-training"
"""The role the state machines hand their SageMaker jobs (moto's records run nothing as it)."""


def _sagemaker(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


def _creates(kind: str, name: str) -> list[dict[str, Any]]:
    """What a state machine needs to create one SageMaker job that runs as :data:`TRAINING_ROLE`."""
    action = {
        "training-job": "sagemaker:CreateTrainingJob",
        "hyper-parameter-tuning-job": "sagemaker:CreateHyperParameterTuningJob",
    }
    return [
        {"Effect": "Allow", "Action": action[kind], "Resource": _sagemaker(kind, name)},
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": TRAINING_ROLE,
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
    ]


def _state_machine(
    aws: PatchedAws, definition: dict[str, Any], allowed: list[dict[str, Any]] | None = None, name: str = "test"
) -> str:
    """A state machine whose role is allowed exactly ``allowed`` (nothing when None), as its tasks run as it."""
    iam = aws.client("iam")
    role = create_role(iam, f"dropml-states-{name}", "states.amazonaws.com", allowed or [])
    if TRAINING_ROLE in json.dumps(definition):  # the role its SageMaker jobs are handed
        create_role(iam, TRAINING_ROLE.rsplit("/", 1)[1], "sagemaker.amazonaws.com", [])
    sfn = aws.client("stepfunctions")
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)["stateMachineArn"]
    return str(arn)


def _finished(aws: PatchedAws, execution_arn: str, timeout_s: float = 30) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")

    def done() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=execution_arn)
        return None if described["status"] == "RUNNING" else described

    return dict(wait_for(done, timeout_s=timeout_s, what=f"execution {execution_arn}"))


def test_executions_started_without_a_name_get_distinct_uuid_names(patched_aws: PatchedAws) -> None:
    arn = _state_machine(patched_aws, {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    sfn = patched_aws.client("stepfunctions")

    first = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]

    names = [first.rsplit(":", 1)[1], second.rsplit(":", 1)[1]]
    assert names[0] != names[1]
    assert all(len(name) == 36 and name.count("-") == 4 for name in names)


def test_a_lambda_task_retries_and_catches_the_functions_error_type(patched_aws: PatchedAws) -> None:
    # GIVEN a definition that retries PaymentRequired once, then catches it
    function_arn = create_function(patched_aws.client("lambda"), patched_aws.client("iam"), "fail", "handlers.fail")
    definition = {
        "StartAt": "Charge",
        "States": {
            "Charge": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function_arn, "Payload": {"who": "bob"}},
                "Retry": [{"ErrorEquals": ["PaymentRequired"], "MaxAttempts": 1, "IntervalSeconds": 1}],
                "Catch": [{"ErrorEquals": ["PaymentRequired"], "ResultPath": "$.error", "Next": "Refused"}],
                "End": True,
            },
            "Refused": {"Type": "Pass", "End": True},
        },
    }
    arn = _state_machine(
        patched_aws, definition, [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function_arn}]
    )

    # WHEN it runs
    execution = patched_aws.client("stepfunctions").start_execution(stateMachineArn=arn, input="{}")
    described = _finished(patched_aws, execution["executionArn"])

    # THEN the function's exception type drove Retry (two attempts) and Catch
    assert described["status"] == "SUCCEEDED"
    error = json.loads(described["output"])["error"]
    assert error["Error"] == "PaymentRequired"
    assert json.loads(error["Cause"])["errorMessage"] == "no credit for bob"
    history = patched_aws.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])
    failures = [event for event in history["events"] if event["type"] == "TaskFailed"]
    assert len(failures) == 2


TRAINING_JOB = {
    "TrainingJobName.$": "States.Format('{}-train', $$.Execution.Name)",
    "AlgorithmSpecification": {"TrainingImage": "dropml-xgboost:latest", "TrainingInputMode": "File"},
    "RoleArn": TRAINING_ROLE,
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/runs/models/"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
    "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    "InputDataConfig": [
        {
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/train/"}},
        }
    ],
}


def _training_definition() -> dict[str, Any]:
    return {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": TRAINING_JOB,
                "ResultPath": "$.training",
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Failed"}],
                "End": True,
            },
            "Failed": {"Type": "Pass", "End": True},
        },
    }


class MovableStatus:
    """A job status source over moto's records whose status the test moves (part 2 plugs in real jobs)."""

    def __init__(self) -> None:
        self.status = "InProgress"
        self.failure_reason: str | None = None
        self.polled: list[str] = []

    def __call__(self, kind: JobKind, name: str, account: str, region: str) -> dict[str, Any]:
        description = describe_job_in_moto(kind, name, account, region)
        self.polled.append(name)
        description["TrainingJobStatus"] = self.status
        if self.failure_reason:
            description["FailureReason"] = self.failure_reason
        return description


@pytest.fixture
def movable_status(patched_aws: PatchedAws) -> Iterator[MovableStatus]:
    source = MovableStatus()
    previous = use_sagemaker_job_source(source)
    yield source
    use_sagemaker_job_source(previous)


def test_training_sync_waits_for_the_job_then_returns_describe_training_job(
    patched_aws: PatchedAws, movable_status: MovableStatus
) -> None:
    # GIVEN a running execution whose training job is in progress
    arn = _state_machine(patched_aws, _training_definition(), _creates("training-job", "run-1-train"))
    sfn = patched_aws.client("stepfunctions")
    execution_arn = sfn.start_execution(stateMachineArn=arn, name="run-1", input="{}")["executionArn"]
    wait_for(lambda: len(movable_status.polled) >= 2, what="the job to be polled twice")
    assert sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"

    # WHEN the job completes
    movable_status.status = "Completed"

    # THEN the execution succeeds with DescribeTrainingJob's output, timestamps as epoch milliseconds
    described = _finished(patched_aws, execution_arn)
    assert described["status"] == "SUCCEEDED"
    training = json.loads(described["output"])["training"]
    assert training["TrainingJobName"] == "run-1-train"
    assert training["TrainingJobStatus"] == "Completed"
    assert training["ModelArtifacts"]["S3ModelArtifacts"] == "s3://bucket/runs/models/run-1-train/output/model.tar.gz"
    assert isinstance(training["CreationTime"], int)
    assert "run-1-train" in sagemaker_backends[ACCOUNT][REGION].training_jobs


def test_a_failed_training_job_is_a_catchable_task_failure_with_its_reason(
    patched_aws: PatchedAws, movable_status: MovableStatus
) -> None:
    arn = _state_machine(patched_aws, _training_definition(), _creates("training-job", "run-2-train"))
    sfn = patched_aws.client("stepfunctions")
    execution_arn = sfn.start_execution(stateMachineArn=arn, name="run-2", input="{}")["executionArn"]
    wait_for(lambda: movable_status.polled, what="the job to be polled")

    movable_status.failure_reason = "AlgorithmError: max_depth must be positive"
    movable_status.status = "Failed"

    described = _finished(patched_aws, execution_arn)
    assert described["status"] == "SUCCEEDED"  # the Catch took it
    error = json.loads(described["output"])["error"]
    assert error["Error"] == "States.TaskFailed"
    cause = json.loads(error["Cause"])
    assert cause["FailureReason"] == "AlgorithmError: max_depth must be positive"
    assert cause["TrainingJobName"] == "run-2-train"


def test_tuning_sync_with_moto_records_returns_describe_tuning_job(patched_aws: PatchedAws) -> None:
    # moto's own records complete at once: the default source until local SageMaker replaces it
    definition = {
        "StartAt": "Tune",
        "States": {
            "Tune": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync",
                "Parameters": {
                    "HyperParameterTuningJobName": "tune-1",
                    "HyperParameterTuningJobConfig": {
                        "Strategy": "Bayesian",
                        "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
                    },
                    "TrainingJobDefinition": {k: v for k, v in TRAINING_JOB.items() if k != "TrainingJobName.$"},
                },
                "End": True,
            }
        },
    }
    arn = _state_machine(patched_aws, definition, _creates("hyper-parameter-tuning-job", "tune-1"))

    execution_arn = patched_aws.client("stepfunctions").start_execution(stateMachineArn=arn, input="{}")["executionArn"]

    described = _finished(patched_aws, execution_arn)
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["HyperParameterTuningJobName"] == "tune-1"
    assert output["HyperParameterTuningJobStatus"] == "Completed"
    assert "TrainingJobName" in output["BestTrainingJob"]
    assert isinstance(output["BestTrainingJob"]["CreationTime"], int)


def _single_task(resource: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {
        "StartAt": "Call",
        "States": {"Call": {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}},
    }


def test_request_response_returns_the_create_answer_without_waiting(patched_aws: PatchedAws) -> None:
    parameters = {**{k: v for k, v in TRAINING_JOB.items() if k != "TrainingJobName.$"}, "TrainingJobName": "rr-1"}
    resource = "arn:aws:states:::sagemaker:createTrainingJob"
    arn = _state_machine(patched_aws, _single_task(resource, parameters), _creates("training-job", "rr-1"))

    execution = patched_aws.client("stepfunctions").start_execution(stateMachineArn=arn, input="{}")

    described = _finished(patched_aws, execution["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {
        "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/rr-1"
    }


def test_wait_for_task_token_resumes_when_the_token_is_returned(patched_aws: PatchedAws) -> None:
    # GIVEN a training job started with the task token in its hyperparameters
    parameters = {
        **{k: v for k, v in TRAINING_JOB.items() if k != "TrainingJobName.$"},
        "TrainingJobName": "token-1",
        "HyperParameters": {"task_token.$": "$$.Task.Token"},
    }
    resource = "arn:aws:states:::sagemaker:createTrainingJob.waitForTaskToken"
    arn = _state_machine(patched_aws, _single_task(resource, parameters), _creates("training-job", "token-1"))
    sfn = patched_aws.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn, input="{}")
    jobs = sagemaker_backends[ACCOUNT][REGION].training_jobs
    wait_for(lambda: "token-1" in jobs, what="the training job")

    # WHEN whoever holds the token reports success
    token = jobs["token-1"].hyper_parameters["task_token"]
    sfn.send_task_success(taskToken=token, output=json.dumps({"accuracy": 0.97}))

    # THEN the execution goes on with that output
    described = _finished(patched_aws, execution["executionArn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"accuracy": 0.97}


def _failed_tasks(aws: PatchedAws, execution_arn: str) -> list[dict[str, Any]]:
    events = aws.client("stepfunctions").get_execution_history(executionArn=execution_arn)["events"]
    return [event["taskFailedEventDetails"] for event in events if event["type"] == "TaskFailed"]


def test_sagemaker_errors_carry_the_names_step_functions_gives_them(patched_aws: PatchedAws) -> None:
    # GIVEN tasks that each meet a SageMaker error, each caught only under the name AWS gives it
    def caught_as(name: str, next_state: str) -> list[dict[str, Any]]:
        return [{"ErrorEquals": [name], "ResultPath": f"$.{next_state}", "Next": next_state}]

    states = {
        # aws-sdk, an error the service model does not declare (ValidationException)
        "Sdk": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
            "Parameters": {"EndpointName": "nope"},
            "Catch": caught_as("SageMaker.SageMakerException", "SdkModelled"),
            "End": True,
        },
        # aws-sdk, a declared one (ResourceNotFound): the name always ends in Exception
        "SdkModelled": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeHyperParameterTuningJob",
            "Parameters": {"HyperParameterTuningJobName": "nope"},
            "Catch": caught_as("SageMaker.ResourceNotFoundException", "Optimized"),
            "End": True,
        },
        # the optimized integration keeps the Java SDK's name for undeclared errors
        "Optimized": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createEndpoint",
            "Parameters": {"EndpointName": "e", "EndpointConfigName": "nope"},
            "Catch": caught_as("SageMaker.AmazonSageMakerException", "Done"),
            "End": True,
        },
        "Done": {"Type": "Succeed"},
    }
    # each call is allowed, so that what each task meets is SageMaker's error, not IAM's
    allowed: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "sagemaker:DescribeEndpoint", "Resource": _sagemaker("endpoint", "nope")},
        {
            "Effect": "Allow",
            "Action": "sagemaker:DescribeHyperParameterTuningJob",
            "Resource": _sagemaker("hyper-parameter-tuning-job", "nope"),
        },
        {
            "Effect": "Allow",
            "Action": "sagemaker:CreateEndpoint",
            "Resource": [_sagemaker("endpoint", "e"), _sagemaker("endpoint-config", "nope")],
        },
    ]
    arn = _state_machine(patched_aws, {"StartAt": "Sdk", "States": states}, allowed)

    # WHEN it runs
    execution = patched_aws.client("stepfunctions").start_execution(stateMachineArn=arn, input="{}")
    described = _finished(patched_aws, execution["executionArn"])

    # THEN each Catch took its error, and the history shows AWS's names and causes
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert [output[key]["Error"] for key in ("SdkModelled", "Optimized", "Done")] == [
        "SageMaker.SageMakerException",
        "SageMaker.ResourceNotFoundException",
        "SageMaker.AmazonSageMakerException",
    ]
    assert output["SdkModelled"]["Cause"].endswith(")")
    assert "(Service: SageMaker, Status Code: 400, Request ID: " in output["SdkModelled"]["Cause"]
    assert "(Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException; " in (output["Done"]["Cause"])
    assert [f["error"] for f in _failed_tasks(patched_aws, execution["executionArn"])] == [
        "SageMaker.SageMakerException",
        "SageMaker.ResourceNotFoundException",
        "SageMaker.AmazonSageMakerException",
    ]


@pytest.mark.parametrize(
    ("state", "allowed"),
    [
        (  # fails before the call: the role may make none
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
                "Parameters": {"EndpointName.$": "$.endpoint.name"},
            },
            [],
        ),
        (  # fails on the answer: the call is allowed (ListEndpoints has no resource-level permissions)
            {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:listEndpoints",
                "Parameters": {},
                "ResultSelector": {"first.$": "$.Endpoints[0].EndpointName.Missing"},
            },
            [{"Effect": "Allow", "Action": "sagemaker:ListEndpoints", "Resource": "*"}],
        ),
        ({"Type": "Pass", "Parameters": {"name.$": "$.endpoint.name"}}, []),
    ],
    ids=["parameters", "result-selector", "pass"],
)
def test_a_missing_path_is_states_runtime_which_states_all_does_not_catch(
    patched_aws: PatchedAws, state: dict[str, Any], allowed: list[dict[str, Any]]
) -> None:
    handlers = {
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
    }
    definition = {
        "StartAt": "Read",
        "States": {"Read": {**state, **handlers, "End": True}, "Caught": {"Type": "Succeed"}},
    }
    arn = _state_machine(patched_aws, definition, allowed)

    execution = patched_aws.client("stepfunctions").start_execution(stateMachineArn=arn, input='{"run": 1}')
    described = _finished(patched_aws, execution["executionArn"])

    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert "could not be found in the input" in described["cause"]
    events = patched_aws.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])
    assert sum(event["type"] == "TaskFailed" for event in events["events"]) <= 1  # never retried


def test_a_choice_on_a_missing_variable_fails_the_execution(patched_aws: PatchedAws) -> None:
    definition = {
        "StartAt": "Decide",
        "States": {
            "Decide": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.maybe", "IsPresent": False, "Next": "Absent"},
                    {"Variable": "$.status", "StringEquals": "Failed", "Next": "Absent"},
                ],
                "Default": "Absent",
            },
            "Absent": {"Type": "Succeed"},
        },
    }
    arn = _state_machine(patched_aws, definition)
    sfn = patched_aws.client("stepfunctions")

    # IsPresent may test a missing path
    tested = _finished(patched_aws, sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"])
    assert tested["status"] == "SUCCEEDED"
    # any other comparison of one fails the execution, as on AWS
    compared = _finished(patched_aws, sfn.start_execution(stateMachineArn=arn, input='{"maybe": 1}')["executionArn"])
    assert compared["status"] == "FAILED"
    assert compared["error"] == "States.Runtime"
    assert "Invalid path '$.status'" in compared["cause"]
