"""The SageMaker Python SDK's XGBoost tutorials, 3.x and 2.x, run against local mode as they are written.

``examples/sagemaker_sdk_tutorial.py`` (3.x: ``ModelTrainer`` on the built-in image URI,
``HyperparameterTuner``, ``Model``/``EndpointConfig``/``Endpoint``, ``invoke``) and
``examples/sagemaker_sdk2_tutorial.py`` (2.x: ``Estimator``, ``fit``, ``training_job_analytics``,
``Estimator.attach``, ``tuner.deploy`` with a ``CSVSerializer``, ``predict``) each run in their SDK's
own environment (``.venv-sdk``, ``.venv-sdk2``, which ``make test`` installs) against one local stack,
as a user's scripts would, with a role of the user's own. What they print is checked against what
SageMaker gives.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local import stack
from local.ports import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SDK_PYTHON = REPO / ".venv-sdk" / "bin" / "python"
TUTORIAL = REPO / "examples" / "sagemaker_sdk_tutorial.py"
SDK2_PYTHON = REPO / ".venv-sdk2" / "bin" / "python"
TUTORIAL2 = REPO / "examples" / "sagemaker_sdk2_tutorial.py"
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


@pytest.fixture(scope="module")
def role(local: stack.LocalStack) -> str:
    """A user's bucket (sdk-tutorial) and a role SageMaker may assume, made with boto3 as the printed credentials."""
    session = local.session()
    iam = session.client("iam", endpoint_url=local.endpoint_url)
    made = iam.create_role(RoleName="tutorial-sagemaker", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    iam.put_role_policy(
        RoleName="tutorial-sagemaker", PolicyName="tutorial", PolicyDocument=json.dumps(TUTORIAL_POLICY)
    )
    session.client("s3", endpoint_url=local.endpoint_url).create_bucket(Bucket="sdk-tutorial")
    return str(made["Role"]["Arn"])


def run_tutorial(local: stack.LocalStack, python: Path, script: Path, role: str) -> dict[str, Any]:
    """Run a tutorial as a user would, pointed at local mode only by the environment; its JSON summary."""
    done = subprocess.run(
        [str(python), str(script), "--bucket", "sdk-tutorial", "--role", role],
        env={**local.environment(), "PATH": "/usr/bin:/bin", "HOME": str(local.state_dir)},
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_sdks_xgboost_tutorial_trains_tunes_deploys_predicts_and_deletes(
    local: stack.LocalStack, role: str
) -> None:
    # WHEN the SDK 3.x tutorial runs
    summary = run_tutorial(local, SDK_PYTHON, TUTORIAL, role)

    # THEN it trained, tuned on validation:auc, and read one score per test row back as numbers
    assert 0.9 < summary["final_metrics"]["validation:auc"] <= 1.0
    assert set(summary["final_metrics"]) == {"train:auc", "train:logloss", "validation:auc", "validation:logloss"}
    assert summary["curve_points"] >= 1  # TrainingJobAnalytics found the job's validation:auc in CloudWatch
    assert 0.9 < summary["best_validation_auc"] <= 1.0
    assert summary["answer_lines"] == len(summary["scores"]) == 20
    assert all(0.0 <= score <= 1.0 for score in summary["scores"])
    assert summary["accuracy"] >= 0.85
    # AND the tuning job's best trial is the one the SDK deployed, its trials as the SDK named them
    sagemaker = local.session().client("sagemaker", endpoint_url=local.endpoint_url)
    trial = sagemaker.describe_training_job(TrainingJobName=summary["best_training_job"])
    described = sagemaker.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=trial["TuningJobArn"].rsplit("/", 1)[1]
    )
    assert described["BestTrainingJob"]["TrainingJobName"] == summary["best_training_job"]
    assert described["TrainingJobStatusCounters"]["Completed"] == 4
    # AND what it deleted is gone, as SageMaker answers for it
    with pytest.raises(ClientError, match="Could not find model"):
        sagemaker.describe_model(ModelName="xgboost-tutorial")
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sagemaker.describe_endpoint_config(EndpointConfigName="xgboost-tutorial")


def test_the_classic_sdk2_tutorial_fits_attaches_tunes_deploys_predicts_and_deletes(
    local: stack.LocalStack, role: str
) -> None:
    # WHEN the SDK 2.x tutorial runs
    summary = run_tutorial(local, SDK2_PYTHON, TUTORIAL2, role)

    # THEN it trained, read its training curve, attached to the job, tuned, and read a score per row back
    assert "validation:auc" in summary["curve_metrics"] and "train:auc" in summary["curve_metrics"]
    assert summary["attached_job"] == summary["training_job"]
    assert summary["attached_image"] == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert len(summary["scores"]) == 20 and all(0.0 <= score <= 1.0 for score in summary["scores"])
    assert summary["accuracy"] >= 0.85
    sagemaker = local.session().client("sagemaker", endpoint_url=local.endpoint_url)
    trial = sagemaker.describe_training_job(TrainingJobName=summary["best_training_job"])
    assert trial["TrainingJobStatus"] == "Completed" and "TuningJobArn" in trial
    # AND the endpoint it deleted is going or gone, as SageMaker answers for it
    try:
        status = sagemaker.describe_endpoint(EndpointName=summary["endpoint"])["EndpointStatus"]
    except ClientError as gone:
        assert "Could not find endpoint" in str(gone)
    else:
        assert status == "Deleting"
