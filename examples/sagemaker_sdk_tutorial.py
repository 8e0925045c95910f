"""The SageMaker Python SDK 3.x XGBoost tutorial, against dropml's local mode (or AWS) as it is written.

The flow of the SDK's own breast-cancer example: target-first CSV splits in S3, a ``ModelTrainer`` on
the built-in XGBoost 1.7-1 image with the tutorial's hyperparameters, a ``HyperparameterTuner`` on
``validation:auc``, the model behind an endpoint, ``text/csv`` rows in and one score per line back,
then everything deleted. Against local mode the only change a tutorial needs is the first of its
lines below (the SDK builds its STS client for ``default_bucket()`` with AWS's public endpoint, which
no ``AWS_ENDPOINT_URL`` reaches) and an explicit role (``get_execution_role()`` works only inside
SageMaker).

Run it against ``dropml local up`` (or with AWS credentials), with the SDK installed
(``make .venv-sdk/.installed``)::

    eval "$(.venv/bin/dropml local up | grep ^export)"
    .venv-sdk/bin/python examples/sagemaker_sdk_tutorial.py --bucket my-tutorial-bucket --role ROLE_ARN

The role must be one SageMaker may assume with S3, CloudWatch Logs and metrics, and (the SDK checks
it before training) the EC2 network-interface permissions of AmazonSageMakerFullAccess. The last
line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import io
import json

import boto3
import numpy as np
from sagemaker.core import image_uris
from sagemaker.core.analytics import TrainingJobAnalytics
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.parameter import ContinuousParameter, IntegerParameter
from sagemaker.core.resources import Endpoint, EndpointConfig, Model
from sagemaker.core.shapes import ContainerDefinition, ProductionVariant
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData
from sagemaker.train.tuner import HyperparameterTuner
from tutorial_data import upload_splits

HYPERPARAMETERS = {
    "max_depth": 5, "eta": 0.2, "gamma": 4, "min_child_weight": 6, "subsample": 0.8,
    "objective": "binary:logistic", "num_round": 100,
}  # fmt: skip
INSTANCE_TYPE = "ml.m5.xlarge"
PREFIX = "xgboost-tutorial"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--bucket", required=True, help="a bucket of yours for the data and the model")
    parser.add_argument("--role", required=True, help="the IAM role SageMaker runs the jobs and endpoint as")
    parser.add_argument("--region", default=boto3.Session().region_name or "us-east-1")
    parser.add_argument("--name", default="xgboost-tutorial", help="the model, endpoint config and endpoint")
    args = parser.parse_args()

    boto_session = boto3.Session(region_name=args.region)
    session = Session(boto_session=boto_session, default_bucket=args.bucket)  # the one line local mode needs
    test_rows, test_labels = upload_splits(boto_session.client("s3"), args.bucket, PREFIX)
    image = image_uris.retrieve("xgboost", args.region, "1.7-1")
    inputs = [
        InputData(channel_name=channel, data_source=f"s3://{args.bucket}/{PREFIX}/{channel}/", content_type="text/csv")
        for channel in ("train", "validation")
    ]

    # Train once with the tutorial's hyperparameters
    trainer = ModelTrainer(
        training_image=image,
        role=args.role,
        sagemaker_session=session,
        base_job_name=PREFIX,
        compute=Compute(instance_type=INSTANCE_TYPE, instance_count=1),
        hyperparameters=HYPERPARAMETERS,
    )
    trainer.train(input_data_config=inputs, wait=True, logs=False)
    job = trainer._latest_training_job  # the SDK's own example reads it so
    job.refresh()
    final = {metric.metric_name: metric.value for metric in job.final_metric_data_list}
    # The training curve, from CloudWatch
    curve = TrainingJobAnalytics(job.training_job_name, ["validation:auc"], sagemaker_session=session).dataframe()

    # Tune eta and max_depth on validation:auc
    tuner = HyperparameterTuner(
        model_trainer=trainer,
        objective_metric_name="validation:auc",
        objective_type="Maximize",
        hyperparameter_ranges={"eta": ContinuousParameter(0.1, 0.5), "max_depth": IntegerParameter(2, 6)},
        max_jobs=4,
        max_parallel_jobs=2,
    )
    tuner.tune(inputs=inputs, wait=True)
    best = boto_session.client("sagemaker").describe_training_job(TrainingJobName=tuner.best_training_job())

    # Deploy the best model and predict as the tutorial does: CSV rows in, one score per line out
    model = Model.create(
        model_name=args.name,
        primary_container=ContainerDefinition(image=image, model_data_url=best["ModelArtifacts"]["S3ModelArtifacts"]),
        execution_role_arn=args.role,
        session=boto_session,
        region=args.region,
    )
    variant = ProductionVariant(
        variant_name="AllTraffic", model_name=args.name, initial_instance_count=1, instance_type=INSTANCE_TYPE
    )
    config = EndpointConfig.create(
        endpoint_config_name=args.name, production_variants=[variant], session=boto_session, region=args.region
    )
    endpoint = Endpoint.create(
        endpoint_name=args.name, endpoint_config_name=args.name, session=boto_session, region=args.region
    )
    endpoint.wait_for_status("InService")
    body = "\n".join(",".join(f"{value:g}" for value in row) for row in test_rows)
    answer = endpoint.invoke(body=body, content_type="text/csv").body.read().decode()
    scores = np.loadtxt(io.StringIO(answer), delimiter=",", ndmin=1)

    endpoint.delete()
    config.delete()
    model.delete()
    print(
        json.dumps(
            {
                "training_job": job.training_job_name,
                "final_metrics": final,
                "curve_points": len(curve),
                "best_training_job": best["TrainingJobName"],
                "best_validation_auc": next(
                    m["Value"] for m in best["FinalMetricDataList"] if m["MetricName"] == "validation:auc"
                ),
                "answer_lines": answer.count("\n"),
                "scores": scores.tolist(),
                "accuracy": float(np.mean((scores > 0.5) == test_labels)),
            }
        )
    )


if __name__ == "__main__":
    main()
