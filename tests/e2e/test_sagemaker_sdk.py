"""The SageMaker Python SDK 3.x's XGBoost tutorial runs against local mode as it is written.

``examples/sagemaker_sdk_tutorial.py`` (the SDK's own classes: ``ModelTrainer`` on the built-in image
URI, ``HyperparameterTuner``, ``Model``/``EndpointConfig``/``Endpoint``, ``invoke``) runs in the SDK's
own environment (``.venv-sdk``, which ``make test`` installs) against a local stack, as a user's
script would, with a role of the user's own. What it prints is checked against what SageMaker gives.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from local import stack
from local.ports import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SDK_PYTHON = REPO / ".venv-sdk" / "bin" / "python"
TUTORIAL = REPO / "examples" / "sagemaker_sdk_tutorial.py"
SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# What a tutorial's role holds (a subset of AmazonSageMakerFullAccess): data, logs, metrics, and the EC2
# network-interface actions the SDK 3.x checks with SimulatePrincipalPolicy before it trains.
TUTORIAL_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["logs:*", "cloudwatch:PutMetricData", "ecr:*"], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": [
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            "Resource": "*",
        },
    ],
}


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.LocalStack]:
    home = tmp_path_factory.mktemp("dropml-home")
    port = free_port()
    running = stack.up(port, state_home=home)
    try:
        yield running
    finally:
        stack.down(port, state_home=home)


def test_the_sdks_xgboost_tutorial_trains_tunes_deploys_predicts_and_deletes(local: stack.LocalStack) -> None:
    # GIVEN a user's bucket and a role SageMaker may assume, made with boto3 as the printed credentials
    session = local.session()
    iam = session.client("iam", endpoint_url=local.endpoint_url)
    role = iam.create_role(RoleName="tutorial-sagemaker", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    iam.put_role_policy(
        RoleName="tutorial-sagemaker", PolicyName="tutorial", PolicyDocument=json.dumps(TUTORIAL_POLICY)
    )
    session.client("s3", endpoint_url=local.endpoint_url).create_bucket(Bucket="sdk-tutorial")

    # WHEN the tutorial runs with the SDK, pointed at local mode only by the environment
    done = subprocess.run(
        [str(SDK_PYTHON), str(TUTORIAL), "--bucket", "sdk-tutorial", "--role", role["Role"]["Arn"]],
        env={**local.environment(), "PATH": "/usr/bin:/bin", "HOME": str(local.state_dir)},
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )

    # THEN it trained, tuned on validation:auc, and read one score per test row back as numbers
    assert done.returncode == 0, done.stderr[-4000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert 0.9 < summary["final_metrics"]["validation:auc"] <= 1.0
    assert set(summary["final_metrics"]) == {"train:auc", "train:logloss", "validation:auc", "validation:logloss"}
    assert summary["curve_points"] >= 1  # TrainingJobAnalytics found the job's validation:auc in CloudWatch
    assert 0.9 < summary["best_validation_auc"] <= 1.0
    assert summary["answer_lines"] == len(summary["scores"]) == 20
    assert all(0.0 <= score <= 1.0 for score in summary["scores"])
    assert summary["accuracy"] >= 0.85
    # AND the tuning job's best trial is the one the SDK deployed, its trials as the SDK named them
    sagemaker = session.client("sagemaker", endpoint_url=local.endpoint_url)
    [tuning] = sagemaker.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    described = sagemaker.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=tuning["HyperParameterTuningJobName"]
    )
    assert described["BestTrainingJob"]["TrainingJobName"] == summary["best_training_job"]
    assert described["TrainingJobStatusCounters"]["Completed"] == 4
    # AND what it deleted is gone, as SageMaker answers for it
    with pytest.raises(ClientError, match="Could not find model"):
        sagemaker.describe_model(ModelName="xgboost-tutorial")
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sagemaker.describe_endpoint_config(EndpointConfigName="xgboost-tutorial")
