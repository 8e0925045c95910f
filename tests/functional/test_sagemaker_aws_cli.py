"""The issue's scenario with the AWS CLI against local mode's embedded AWS: a training job with the
built-in XGBoost image URI and the hyperparameters of AWS's XGBoost tutorial, a 4-job tuning job with 2
in parallel, a model, an endpoint, invoke-endpoint, and an update of that endpoint while requests keep
flowing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from local.stack import FAKE_CREDENTIALS
from tests.helpers.local import RunningServer, clean_env
from tests.helpers.sagemaker import BUILTIN_XGBOOST, ROLE, sample_rows, target_first_csv

pytestmark = pytest.mark.slow  # the local stack's server and about thirty AWS CLI runs

AWS_CLI = Path(sys.executable).with_name("aws")
BUCKET = "dropml-cli"
TUTORIAL_HYPERPARAMETERS = {
    "max_depth": "5", "eta": "0.2", "gamma": "4", "min_child_weight": "6", "subsample": "0.8",
    "objective": "binary:logistic", "num_round": "100",
}  # fmt: skip


class Cli:
    """The AWS CLI as a person runs it, pointed at the local stack, with local mode's (administrator's)
    credentials."""

    def __init__(self, endpoint_url: str, folder: Path) -> None:
        self.folder = folder
        self.env = clean_env(AWS_ENDPOINT_URL=endpoint_url, AWS_DEFAULT_REGION="us-east-1", **FAKE_CREDENTIALS)

    def __call__(self, *args: str) -> Any:
        completed = subprocess.run(
            [str(AWS_CLI), *args, "--output", "json"], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout) if completed.stdout.startswith("{") else None

    def file(self, name: str, content: Any) -> str:
        path = self.folder / name
        path.write_text(json.dumps(content)) if not isinstance(content, bytes) else path.write_bytes(content)
        return str(path)

    def wait(self, what: list[str], key: str, until: tuple[str, ...], timeout_s: float = 180) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            description = self(*what)
            if description[key] in until:
                return dict(description)
            assert time.monotonic() < deadline, f"{key} still {description[key]}"
            time.sleep(1)


def channels(train: str, validation: str) -> list[dict]:
    def channel(name: str, uri: str) -> dict:
        source = {"S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}
        return {"ChannelName": name, "ContentType": "text/csv", "DataSource": {"S3DataSource": source}}

    return [channel("train", train), channel("validation", validation)]


def test_tutorial_training_tuning_endpoint_and_live_update_with_the_aws_cli(
    local_server: RunningServer, tmp_path: Path
) -> None:
    aws = Cli(local_server.stack.endpoint_url, tmp_path)
    features, labels = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(11).permutation(len(labels))
    features, labels = features[order], labels[order]
    # The role the jobs and endpoints run as: local mode checks their calls against it, as AWS does
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    role = ROLE.rsplit("/", 1)[1]
    aws(
        "iam",
        "create-role",
        "--role-name",
        role,
        "--assume-role-policy-document",
        "file://" + aws.file("trust.json", trust),
    )
    aws("iam", "put-role-policy", "--role-name", role, "--policy-name", "all",
        "--policy-document", "file://" + aws.file("policy.json", allow_all))  # fmt: skip
    aws("s3", "mb", f"s3://{BUCKET}")
    aws("s3", "cp", aws.file("train.csv", target_first_csv(labels[:400], features[:400])), f"s3://{BUCKET}/train/")
    aws("s3", "cp", aws.file("validation.csv", target_first_csv(labels[400:], features[400:])),
        f"s3://{BUCKET}/validation/")  # fmt: skip
    data = channels(f"s3://{BUCKET}/train/", f"s3://{BUCKET}/validation/")

    # A training job as AWS's XGBoost tutorial writes it, with the built-in algorithm's image URI
    aws("sagemaker", "create-training-job", "--cli-input-json", "file://" + aws.file("job.json", {
        "TrainingJobName": "tutorial",
        "AlgorithmSpecification": {"TrainingImage": BUILTIN_XGBOOST, "TrainingInputMode": "File"},
        "RoleArn": ROLE,
        "HyperParameters": TUTORIAL_HYPERPARAMETERS,
        "InputDataConfig": data,
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": "ml.m4.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }))  # fmt: skip
    tutorial = aws.wait(["sagemaker", "describe-training-job", "--training-job-name", "tutorial"],
                        "TrainingJobStatus", ("Completed", "Failed", "Stopped"))  # fmt: skip
    assert tutorial["TrainingJobStatus"] == "Completed", tutorial.get("FailureReason")
    assert tutorial["HyperParameters"] == TUTORIAL_HYPERPARAMETERS
    assert any(m["MetricName"].startswith("validation:") for m in tutorial["FinalMetricDataList"])
    assert tutorial["OutputDataConfig"]["KmsKeyId"] == ""
    # the list calls' time filters, as the CLI sends them (epoch seconds)
    listed = aws("sagemaker", "list-training-jobs", "--creation-time-after", str(tutorial["CreationTime"] - 60))
    assert [j["TrainingJobName"] for j in listed["TrainingJobSummaries"]] == ["tutorial"]
    later = aws("sagemaker", "list-training-jobs", "--creation-time-after", str(tutorial["CreationTime"] + 60))
    assert later["TrainingJobSummaries"] == []

    # A 4-job tuning job, 2 in parallel
    aws("sagemaker", "create-hyper-parameter-tuning-job", "--hyper-parameter-tuning-job-name", "tutorial-hpo",
        "--hyper-parameter-tuning-job-config", "file://" + aws.file("hpo.json", {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "eta", "MinValue": "0", "MaxValue": "1", "ScalingType": "Auto"},
                    {"Name": "min_child_weight", "MinValue": "1", "MaxValue": "10", "ScalingType": "Auto"},
                    {"Name": "alpha", "MinValue": "0", "MaxValue": "2", "ScalingType": "Auto"},
                ],
                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "10"}],
            },
        }),
        "--training-job-definition", "file://" + aws.file("definition.json", {
            "StaticHyperParameters": {"objective": "binary:logistic", "num_round": "10"},
            "AlgorithmSpecification": {"TrainingImage": BUILTIN_XGBOOST, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "InputDataConfig": data,
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/hpo"},
            "ResourceConfig": {"InstanceType": "ml.m4.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        }))  # fmt: skip
    describe_tuning = ["sagemaker", "describe-hyper-parameter-tuning-job", "--hyper-parameter-tuning-job-name"]
    tuning = aws.wait([*describe_tuning, "tutorial-hpo"], "HyperParameterTuningJobStatus",
                      ("Completed", "Failed", "Stopped"))  # fmt: skip
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 4
    children = aws("sagemaker", "list-training-jobs-for-hyper-parameter-tuning-job",
                   "--hyper-parameter-tuning-job-name", "tutorial-hpo")["TrainingJobSummaries"]  # fmt: skip
    assert len(children) == 4
    best = tuning["BestTrainingJob"]["TrainingJobName"]
    best_model = aws("sagemaker", "describe-training-job", "--training-job-name", best)["ModelArtifacts"]

    # A model, an endpoint, invoke-endpoint
    def deploy(name: str, model_data: str) -> None:
        aws("sagemaker", "create-model", "--model-name", name, "--execution-role-arn", ROLE,
            "--primary-container", f"Image={BUILTIN_XGBOOST},ModelDataUrl={model_data}")  # fmt: skip
        aws("sagemaker", "create-endpoint-config", "--endpoint-config-name", name, "--production-variants",
            f"VariantName=AllTraffic,ModelName={name},InitialInstanceCount=1,InstanceType=ml.t2.medium")  # fmt: skip

    deploy("tutorial-best", best_model["S3ModelArtifacts"])
    aws("sagemaker", "create-endpoint", "--endpoint-name", "tutorial", "--endpoint-config-name", "tutorial-best")
    endpoint = aws.wait(["sagemaker", "describe-endpoint", "--endpoint-name", "tutorial"], "EndpointStatus",
                        ("InService", "Failed"))  # fmt: skip
    assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
    rows = aws.file("rows.csv", sample_rows(5))

    def invoke_with_cli() -> list[float]:
        out = tmp_path / "out.csv"
        answer = aws("sagemaker-runtime", "invoke-endpoint", "--endpoint-name", "tutorial", "--content-type",
                     "text/csv", "--accept", "text/csv", "--body", f"fileb://{rows}", str(out))  # fmt: skip
        assert answer["ContentType"].startswith("text/csv")
        return [float(line.split(",")[0]) for line in out.read_text().splitlines()]

    from_best = invoke_with_cli()
    assert len(from_best) == 5 and all(0 <= score <= 1 for score in from_best)

    # An update of that endpoint to the tutorial job's model while requests keep flowing
    deploy("tutorial-model", tutorial["ModelArtifacts"]["S3ModelArtifacts"])
    runtime = local_server.client("sagemaker-runtime")
    failures: list[Exception] = []
    answered = [0]
    stop = threading.Event()

    def keep_invoking() -> None:
        while not stop.is_set():
            try:
                runtime.invoke_endpoint(EndpointName="tutorial", Body=sample_rows(1), ContentType="text/csv")
                answered[0] += 1
            except Exception as exc:
                failures.append(exc)

    client = threading.Thread(target=keep_invoking)
    client.start()
    try:
        aws("sagemaker", "update-endpoint", "--endpoint-name", "tutorial", "--endpoint-config-name", "tutorial-model")
        updated = aws.wait(["sagemaker", "describe-endpoint", "--endpoint-name", "tutorial"], "EndpointStatus",
                           ("InService", "Failed"))  # fmt: skip
        during_update = answered[0]
        time.sleep(1)
    finally:
        stop.set()
        client.join()
    assert failures == []
    assert during_update > 0 and answered[0] > during_update
    assert updated["EndpointConfigName"] == "tutorial-model"
    assert "FailureReason" not in updated
    assert invoke_with_cli() != from_best
