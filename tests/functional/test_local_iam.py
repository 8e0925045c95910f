"""IAM in local mode, from the deployed template: each principal gets what its policies allow, no more.

The stack is deployed once (``dropml local up``'s deploy) and driven through boto3 and the AWS CLI as a
user would: the printed credentials are an administrator; a function runs as its own role and is
refused, in AWS's words, what that role does not allow; SageMaker jobs read their data as the role they
are given; SimulatePrincipalPolicy answers from the same evaluator; a state machine's tasks run as its
role.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from sklearn.datasets import load_breast_cancer

from local import stack
from local.deploy import LOCAL_PARAMETERS
from local.ports import free_port
from tests.helpers.local import ACCOUNT, function_zip, wait_for
from tests.helpers.sagemaker import BUILTIN_XGBOOST, target_first_csv, training_request

pytestmark = pytest.mark.slow

AWS_CLI = Path(sys.executable).with_name("aws")
SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@dataclass
class Deployed:
    local: stack.LocalStack
    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        return self.local.session().client(service, endpoint_url=self.local.endpoint_url)

    @property
    def bucket(self) -> str:
        return self.outputs["BucketName"]

    def function_role(self, output: str) -> str:
        """The role ARN of a deployed function, named by its stack output (``IngestFunctionName``)."""
        return str(self.client("lambda").get_function(FunctionName=self.outputs[output])["Configuration"]["Role"])


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    home = tmp_path_factory.mktemp("dropml-home")
    port = free_port()
    local = stack.up(port, state_home=home)
    try:
        yield Deployed(local=local, outputs=(local.deployment() or {})["outputs"])
    finally:
        stack.down(port, state_home=home)


def _probe(deployed: Deployed, role_arn: str, name: str) -> Any:
    """A function that runs the handler ``call_aws`` as ``role_arn``: it makes the call its event names."""
    lambda_client = deployed.client("lambda")
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="handlers.call_aws",
        Code={"ZipFile": function_zip()},
        Timeout=60,
    )

    def call(service: str, operation: str, **params: Any) -> dict[str, Any]:
        event = {"service": service, "operation": operation, "params": params}
        response = lambda_client.invoke(FunctionName=name, Payload=json.dumps(event))
        payload = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, payload
        return dict(payload)

    return call


def _role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


# The deploying principal --------------------------------------------------------------------------


def test_the_printed_credentials_are_an_administrator(deployed: Deployed) -> None:
    env = {**deployed.local.environment(), "PATH": str(AWS_CLI.parent), "HOME": str(deployed.local.state_dir)}
    completed = subprocess.run(
        [str(AWS_CLI), "sts", "get-caller-identity", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/dropml-local-admin/local"

    # anything at all: IAM, objects anywhere in the bucket, every service's calls
    iam = deployed.client("iam")
    iam.create_user(UserName="someone")
    iam.delete_user(UserName="someone")
    s3 = deployed.client("s3")
    s3.put_object(Bucket=deployed.bucket, Key="elsewhere/admin.txt", Body=b"x")
    s3.delete_object(Bucket=deployed.bucket, Key="elsewhere/admin.txt")
    assert deployed.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
    assert deployed.outputs["IngestFunctionName"] in [
        f["FunctionName"] for f in deployed.client("lambda").list_functions()["Functions"]
    ]


# A function's role ----------------------------------------------------------------------------------


def test_a_function_runs_as_its_role_and_is_refused_what_the_role_does_not_allow(deployed: Deployed) -> None:
    # GIVEN a function that runs as the deployed ingest function's role, and an object under incoming/ it
    # may read (not a .csv, so the upload trigger refuses it and starts no run of its own)
    role_arn = deployed.function_role("IngestFunctionName")
    call = _probe(deployed, role_arn, "ingest-role-probe")
    deployed.client("s3").put_object(Bucket=deployed.bucket, Key="incoming/probe/a.txt", Body=b"a,b\n1,2\n")
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{_role_name(role_arn)}/ingest-role-probe"

    # WHEN it reads the upload, THEN it does so as a session of its role
    read = call("s3", "get_object", Bucket=deployed.bucket, Key="incoming/probe/a.txt")
    assert read == {"identity": session, "error": None}

    # WHEN it copies a version of the upload into runs/ (as a conversion does), THEN S3 allows it: the role
    # may read versions under incoming/ and write under runs/
    version = deployed.client("s3").head_object(Bucket=deployed.bucket, Key="incoming/probe/a.txt")["VersionId"]
    source = {"Bucket": deployed.bucket, "Key": "incoming/probe/a.txt", "VersionId": version}
    copied = call("s3", "copy_object", Bucket=deployed.bucket, Key="runs/probe/copy.csv", CopySource=source)
    assert copied["error"] is None
    # AND a copy from where it may not read is refused for the read, though it may write the target
    deployed.client("s3").put_object(Bucket=deployed.bucket, Key="elsewhere/secret.csv", Body=b"a\n1\n")
    stolen = call("s3", "copy_object", Bucket=deployed.bucket, Key="runs/probe/stolen.csv",
                  CopySource={"Bucket": deployed.bucket, "Key": "elsewhere/secret.csv"})  # fmt: skip
    assert stolen["status"] == 403
    assert stolen["error"]["Message"] == (
        f'User: {session} is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::'
        f'{deployed.bucket}/elsewhere/secret.csv" because no identity-based policy allows the s3:GetObject action'
    )

    # WHEN it deletes the upload, THEN S3 refuses as AWS does, naming the action and the object
    deleted = call("s3", "delete_object", Bucket=deployed.bucket, Key="incoming/probe/a.txt")
    assert deleted["status"] == 403
    assert deleted["error"]["Code"] == "AccessDenied"
    assert deleted["error"]["Message"] == (
        f'User: {session} is not authorized to perform: s3:DeleteObject on resource: "arn:aws:s3:::'
        f'{deployed.bucket}/incoming/probe/a.txt" because no identity-based policy allows the s3:DeleteObject action'
    )
    assert deployed.client("s3").head_object(Bucket=deployed.bucket, Key="incoming/probe/a.txt")

    # WHEN it starts a training job, THEN SageMaker refuses with AccessDeniedException
    started = call("sagemaker", "create_training_job", **training_request("dropml-probe", _channels(deployed, "p")))
    assert started["error"]["Code"] == "AccessDeniedException"
    assert started["error"]["Message"] == (
        f"User: {session} is not authorized to perform: sagemaker:CreateTrainingJob on resource: "
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/dropml-probe because no identity-based policy "
        "allows the sagemaker:CreateTrainingJob action"
    )


def test_metrics_are_published_only_into_the_namespaces_a_policy_names(deployed: Deployed) -> None:
    # GIVEN a function whose role may put metrics only under /aws/sagemaker/ (the template's JobMetrics)
    iam = deployed.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}  # fmt: skip
    role_arn = iam.create_role(RoleName="metrics-probe", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
        "Condition": {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}}]}  # fmt: skip
    iam.put_role_policy(RoleName="metrics-probe", PolicyName="metrics", PolicyDocument=json.dumps(policy))
    call = _probe(deployed, role_arn, "metrics-probe")
    datum = [{"MetricName": "validation:auc", "Value": 0.9}]

    # WHEN it puts a metric under /aws/sagemaker/, THEN CloudWatch takes it
    assert (
        call("cloudwatch", "put_metric_data", Namespace="/aws/sagemaker/TrainingJobs", MetricData=datum)["error"]
        is None
    )
    # AND under another namespace it is refused, in AWS's words, with the action's IAM name
    refused = call("cloudwatch", "put_metric_data", Namespace="Custom/Anything", MetricData=datum)
    assert refused["error"]["Code"] == "AccessDeniedException"
    assert "is not authorized to perform: cloudwatch:PutMetricData" in refused["error"]["Message"]
    listed = deployed.client("cloudwatch").list_metrics()["Metrics"]
    assert {m["Namespace"] for m in listed if m["MetricName"] == "validation:auc"} == {"/aws/sagemaker/TrainingJobs"}


# SimulatePrincipalPolicy -----------------------------------------------------------------------------


def test_simulate_principal_policy_evaluates_the_roles_policies(deployed: Deployed) -> None:
    iam = deployed.client("iam")
    ingest = deployed.function_role("IngestFunctionName")
    bucket = f"arn:aws:s3:::{deployed.bucket}"

    answer = iam.simulate_principal_policy(
        PolicySourceArn=ingest,
        ActionNames=["s3:GetObject", "s3:DeleteObject"],
        ResourceArns=[f"{bucket}/incoming/penguins/a.csv", f"{bucket}/runs/penguins/r1/train/part-0.csv"],
    )

    decisions = {(r["EvalActionName"], r["EvalResourceName"]): r["EvalDecision"] for r in answer["EvaluationResults"]}
    assert decisions == {
        ("s3:GetObject", f"{bucket}/incoming/penguins/a.csv"): "allowed",
        ("s3:GetObject", f"{bucket}/runs/penguins/r1/train/part-0.csv"): "allowed",
        ("s3:DeleteObject", f"{bucket}/incoming/penguins/a.csv"): "implicitDeny",
        ("s3:DeleteObject", f"{bucket}/runs/penguins/r1/train/part-0.csv"): "allowed",
    }
    allowed = answer["EvaluationResults"][0]
    assert allowed["MatchedStatements"] and allowed["MatchedStatements"][0]["SourcePolicyType"] == "role"
    assert answer["IsTruncated"] is False


def test_simulate_principal_policy_reads_conditions_from_the_context(deployed: Deployed) -> None:
    # the template's SageMaker role may list the bucket only under runs/ (a StringLike on s3:prefix)
    iam = deployed.client("iam")
    role = deployed.outputs["SageMakerRoleArn"]
    bucket = f"arn:aws:s3:::{deployed.bucket}"

    def listing(prefix: str | None) -> dict[str, Any]:
        entries = [{"ContextKeyName": "s3:prefix", "ContextKeyValues": [prefix], "ContextKeyType": "string"}]
        result = iam.simulate_principal_policy(
            PolicySourceArn=role,
            ActionNames=["s3:ListBucket"],
            ResourceArns=[bucket],
            **({"ContextEntries": entries} if prefix is not None else {}),
        )
        return dict(result["EvaluationResults"][0])

    assert listing("runs/penguins/")["EvalDecision"] == "allowed"
    assert listing("incoming/")["EvalDecision"] == "implicitDeny"
    unknown = listing(None)
    assert unknown["EvalDecision"] == "implicitDeny"
    assert unknown["MissingContextValues"] == ["s3:prefix"]


def test_endpoints_run_as_a_role_that_reads_model_artifacts_and_no_run_data(deployed: Deployed) -> None:
    # the serving container parses anyone's request bodies: it may read models, not any dataset's data
    iam = deployed.client("iam")
    bucket = f"arn:aws:s3:::{deployed.bucket}"
    model = f"{bucket}/runs/penguins/r1/jobs/dropml-penguins-abc-cpu/output/model.tar.gz"
    data = f"{bucket}/runs/penguins/r1/data/train/part-00000.csv"
    image = LOCAL_PARAMETERS["TrainingImageUri"]  # 123456789012.dkr.ecr.us-east-1.amazonaws.com/dropml-xgboost:latest
    account, region, repository = image.split(".")[0], image.split(".")[3], image.split("/", 1)[1].split(":")[0]
    own_repository = f"arn:aws:ecr:{region}:{account}:repository/{repository}"

    def decisions(role: str) -> dict[tuple[str, str], str]:
        answer = iam.simulate_principal_policy(
            PolicySourceArn=role,
            ActionNames=["s3:GetObject", "ecr:BatchGetImage"],
            ResourceArns=[model, data, own_repository, f"arn:aws:ecr:{region}:{account}:repository/someone-else"],
        )
        return {(r["EvalActionName"], r["EvalResourceName"]): r["EvalDecision"] for r in answer["EvaluationResults"]}

    serving = decisions(deployed.outputs["SageMakerServingRoleArn"])
    assert serving[("s3:GetObject", model)] == "allowed"
    assert serving[("s3:GetObject", data)] == "implicitDeny"
    training = decisions(deployed.outputs["SageMakerRoleArn"])
    assert training[("s3:GetObject", data)] == "allowed"
    for role in (serving, training):  # ECR pulls only the training image's repository
        assert role[("ecr:BatchGetImage", own_repository)] == "allowed"
        assert role[("ecr:BatchGetImage", f"arn:aws:ecr:{region}:{account}:repository/someone-else")] == "implicitDeny"


# SageMaker's execution role --------------------------------------------------------------------------


def _channels(deployed: Deployed, run: str) -> dict[str, str]:
    """Train and validation splits of a small real data set under ``runs/iam/<run>/``; output under its jobs/."""
    features, labels = load_breast_cancer(return_X_y=True)
    s3 = deployed.client("s3")
    prefix = f"runs/iam/{run}"
    s3.put_object(
        Bucket=deployed.bucket, Key=f"{prefix}/train/part.csv", Body=target_first_csv(labels[:400], features[:400])
    )
    validation = target_first_csv(labels[400:], features[400:])
    s3.put_object(Bucket=deployed.bucket, Key=f"{prefix}/validation/part.csv", Body=validation)
    base = f"s3://{deployed.bucket}/{prefix}"
    return {"train": f"{base}/train/", "validation": f"{base}/validation/", "output": f"{base}/jobs"}


def _finished(deployed: Deployed, name: str) -> dict[str, Any]:
    sagemaker = deployed.client("sagemaker")

    def ended() -> dict[str, Any] | None:
        described = sagemaker.describe_training_job(TrainingJobName=name)
        return dict(described) if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped") else None

    return dict(wait_for(ended, timeout_s=240, what=f"training job {name} to end"))


def test_a_training_job_reads_its_data_as_its_role(deployed: Deployed) -> None:
    # GIVEN a role SageMaker may assume that may write logs but not read the run's data
    iam = deployed.client("iam")
    cannot_read = iam.create_role(RoleName="cannot-read", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    logs_only = {
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": "*",
    }
    iam.put_role_policy(
        RoleName="cannot-read",
        PolicyName="logs",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [logs_only]}),
    )
    sagemaker = deployed.client("sagemaker")
    data = _channels(deployed, "r1")

    # WHEN a job runs as that role, THEN it fails as AWS fails it: a ClientError naming the refusal
    request = training_request("dropml-cannot-read", data, image=BUILTIN_XGBOOST)
    sagemaker.create_training_job(**{**request, "RoleArn": cannot_read["Role"]["Arn"]})
    failed = _finished(deployed, "dropml-cannot-read")
    assert failed["TrainingJobStatus"] == "Failed"
    assert failed["FailureReason"].startswith("ClientError: Data download failed:")
    assert "AccessDenied (403)" in failed["FailureReason"]
    assert "assumed-role/cannot-read/SageMaker is not authorized to perform: s3:ListBucket" in failed["FailureReason"]

    # WHEN the same job runs as the template's SageMaker role, THEN it trains and writes its model
    request = training_request("dropml-template-role", data, image=BUILTIN_XGBOOST)
    sagemaker.create_training_job(**{**request, "RoleArn": deployed.outputs["SageMakerRoleArn"]})
    completed = _finished(deployed, "dropml-template-role")
    assert completed["TrainingJobStatus"] == "Completed", completed.get("FailureReason")
    assert completed["ModelArtifacts"]["S3ModelArtifacts"].startswith(data["output"])


def test_a_role_sagemaker_cannot_assume_is_refused_at_create_time(deployed: Deployed) -> None:
    sagemaker = deployed.client("sagemaker")
    missing = f"arn:aws:iam::{ACCOUNT}:role/no-such-role"
    request = training_request("dropml-no-role", _channels(deployed, "r2"), image=BUILTIN_XGBOOST)

    with pytest.raises(ClientError) as refused:
        sagemaker.create_training_job(**{**request, "RoleArn": missing})

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["Error"]["Message"] == (
        f"Could not assume role {missing}. Please ensure that the role exists and allows principal "
        "'sagemaker.amazonaws.com' to assume the role."
    )
    with pytest.raises(ClientError):
        sagemaker.describe_training_job(TrainingJobName="dropml-no-role")


# The template's own roles, end to end -----------------------------------------------------------------


def test_text_after_the_first_mebibyte_of_a_numeric_column_converts_through_the_deployed_ingest(
    deployed: Deployed,
) -> None:
    """The conversion deletes its partial parts and starts over: the ingest role needs s3:DeleteObject."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=(60_000, 3)).round(4)  # about 2 MB: text well past the 1 MiB head
    lines = ["a,b,c,label"] + [f"{x[0]},{x[1]},{x[2]},{int(x[0] > 0)}" for x in values]
    lines[-5] = lines[-5].replace(lines[-5].split(",")[1], "unknown", 1)
    settings = {"target": "label", "mode": "train", "hyperparameters": {"num_round": 1}}
    s3 = deployed.client("s3")
    s3.put_object(Bucket=deployed.bucket, Key="incoming/late-text/dropml.json", Body=json.dumps(settings).encode())

    s3.put_object(Bucket=deployed.bucket, Key="incoming/late-text/data.csv", Body=("\n".join(lines) + "\n").encode())

    states = deployed.client("stepfunctions")

    def started() -> str | None:
        for execution in states.list_executions(stateMachineArn=deployed.outputs["StateMachineArn"])["executions"]:
            described = states.describe_execution(executionArn=execution["executionArn"])
            if "late-text" in described.get("input", ""):
                return str(execution["executionArn"])
        return None

    arn = wait_for(started, timeout_s=120, what="the ingest function to start a run")
    listed = s3.list_objects_v2(Bucket=deployed.bucket, Prefix="runs/late-text/")
    keys = [item["Key"] for item in listed.get("Contents", [])]
    assert any(key.endswith("schema.json") for key in keys), keys

    # AND the run it started goes through, so nothing is left running for the tests after this one
    def finished() -> str | None:
        status = str(states.describe_execution(executionArn=arn)["status"])
        return None if status == "RUNNING" else status

    assert wait_for(finished, timeout_s=300, what="the late-text run to finish") == "SUCCEEDED"


# The state machine's role -------------------------------------------------------------------------------


def test_a_state_machine_task_runs_as_the_state_machines_role(deployed: Deployed) -> None:
    # GIVEN a state machine whose role may not invoke the function its one task invokes
    iam = deployed.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="cannot-invoke", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    function = deployed.client("lambda").get_function(FunctionName=deployed.outputs["IngestFunctionName"])
    definition = {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function["Configuration"]["FunctionArn"], "Payload": {}},
                "End": True,
            }
        },
    }
    states = deployed.client("stepfunctions")
    machine = states.create_state_machine(name="cannot-invoke", definition=json.dumps(definition), roleArn=role)

    # WHEN it runs
    execution = states.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")

    # THEN the task fails with Lambda's refusal of the state machine's role
    def ended() -> dict[str, Any] | None:
        described = states.describe_execution(executionArn=execution["executionArn"])
        return dict(described) if described["status"] != "RUNNING" else None

    assert wait_for(ended, timeout_s=60, what="the execution to end")["status"] == "FAILED"
    events = states.get_execution_history(executionArn=execution["executionArn"])["events"]
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert failed, events
    assert "assumed-role/cannot-invoke/" in failed[0]["cause"]
    assert "is not authorized to perform: lambda:InvokeFunction" in failed[0]["cause"]
