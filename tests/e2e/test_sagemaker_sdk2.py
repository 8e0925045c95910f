"""The classic SageMaker Python SDK 2.x XGBoost tutorial runs against local mode as it is written.

``examples/sagemaker_sdk2_tutorial.py`` (``Estimator``, ``fit``, ``training_job_analytics``,
``Estimator.attach``, ``tuner.deploy`` with a ``CSVSerializer``, ``predict``) runs in the SDK's own
environment (``.venv-sdk2``, which ``make test`` installs) against a local stack, as a user's script
would, with a role of the user's own.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from local import stack
from tests.e2e.conftest import REPO, run_tutorial

pytestmark = pytest.mark.slow

SDK2_PYTHON = REPO / ".venv-sdk2" / "bin" / "python"
TUTORIAL2 = REPO / "examples" / "sagemaker_sdk2_tutorial.py"


def test_the_classic_sdk2_tutorial_fits_attaches_tunes_deploys_predicts_and_deletes(
    sdk_stack: stack.LocalStack, tutorial_role: str
) -> None:
    # WHEN the SDK 2.x tutorial runs
    summary = run_tutorial(sdk_stack, SDK2_PYTHON, TUTORIAL2, tutorial_role)

    # THEN it trained, read its training curve, attached to the job, tuned, and read a score per row back
    assert "validation:auc" in summary["curve_metrics"] and "train:auc" in summary["curve_metrics"]
    assert summary["attached_job"] == summary["training_job"]
    assert summary["attached_image"] == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    assert len(summary["scores"]) == 20 and all(0.0 <= score <= 1.0 for score in summary["scores"])
    assert summary["accuracy"] >= 0.85
    sagemaker = sdk_stack.session().client("sagemaker", endpoint_url=sdk_stack.endpoint_url)
    trial = sagemaker.describe_training_job(TrainingJobName=summary["best_training_job"])
    assert trial["TrainingJobStatus"] == "Completed" and "TuningJobArn" in trial
    # AND the endpoint it deleted is going or gone, as SageMaker answers for it
    try:
        status = sagemaker.describe_endpoint(EndpointName=summary["endpoint"])["EndpointStatus"]
    except ClientError as gone:
        assert "Could not find endpoint" in str(gone)
    else:
        assert status == "Deleting"
