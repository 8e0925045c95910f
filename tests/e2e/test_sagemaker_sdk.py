"""The SageMaker Python SDK 3.x's XGBoost tutorial runs against local mode as it is written.

``examples/sagemaker_sdk_tutorial.py`` (``ModelTrainer`` on the built-in image URI, ``HyperparameterTuner``,
``Model``/``EndpointConfig``/``Endpoint``, ``invoke``) runs in the SDK's own environment (``.venv-sdk``,
which ``make test`` installs) against a local stack, as a user's script would, with a role of the
user's own. What it prints is checked against what SageMaker gives.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from local import stack
from tests.e2e.conftest import REPO, run_tutorial

pytestmark = pytest.mark.slow

SDK_PYTHON = REPO / ".venv-sdk" / "bin" / "python"
TUTORIAL = REPO / "examples" / "sagemaker_sdk_tutorial.py"


def test_the_sdks_xgboost_tutorial_trains_tunes_deploys_predicts_and_deletes(
    sdk_stack: stack.LocalStack, tutorial_role: str
) -> None:
    # WHEN the SDK 3.x tutorial runs
    summary = run_tutorial(sdk_stack, SDK_PYTHON, TUTORIAL, tutorial_role)

    # THEN it trained, tuned on validation:auc, and read one score per test row back as numbers
    assert 0.9 < summary["final_metrics"]["validation:auc"] <= 1.0
    assert set(summary["final_metrics"]) == {"train:auc", "train:logloss", "validation:auc", "validation:logloss"}
    assert summary["curve_points"] >= 1  # TrainingJobAnalytics found the job's validation:auc in CloudWatch
    assert 0.9 < summary["best_validation_auc"] <= 1.0
    assert summary["answer_lines"] == len(summary["scores"]) == 20
    assert all(0.0 <= score <= 1.0 for score in summary["scores"])
    assert summary["accuracy"] >= 0.85
    # AND the tuning job's best trial is the one the SDK deployed, its trials as the SDK named them
    sagemaker = sdk_stack.session().client("sagemaker", endpoint_url=sdk_stack.endpoint_url)
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
