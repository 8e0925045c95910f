"""Fixtures of the SDK tutorial tests: each test module gets a local stack of its own (so the 3.x and 2.x
tutorials run on the two workers at once), a user's bucket and a role SageMaker may assume."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local import stack
from local.ports import free_port

REPO = Path(__file__).resolve().parents[2]
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
def sdk_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[stack.LocalStack]:
    home = tmp_path_factory.mktemp("dropml-home")
    port = free_port()
    running = stack.up(port, state_home=home)
    try:
        yield running
    finally:
        stack.down(port, state_home=home)


@pytest.fixture(scope="module")
def tutorial_role(sdk_stack: stack.LocalStack) -> str:
    """A user's bucket (sdk-tutorial) and a role SageMaker may assume, made with boto3 as the printed credentials."""
    session = sdk_stack.session()
    iam = session.client("iam", endpoint_url=sdk_stack.endpoint_url)
    made = iam.create_role(RoleName="tutorial-sagemaker", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    iam.put_role_policy(
        RoleName="tutorial-sagemaker", PolicyName="tutorial", PolicyDocument=json.dumps(TUTORIAL_POLICY)
    )
    session.client("s3", endpoint_url=sdk_stack.endpoint_url).create_bucket(Bucket="sdk-tutorial")
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
