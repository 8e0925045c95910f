"""The classic SageMaker Python SDK 2.x XGBoost tutorial, against dropml's local mode (or AWS) as it is written.

What most published tutorials do: target-first CSV splits in S3, an ``Estimator`` on the built-in
XGBoost 1.7-1 image with the tutorial's hyperparameters, ``fit``, the training curve from
``training_job_analytics``, ``Estimator.attach``, a ``HyperparameterTuner`` on ``validation:auc``,
``tuner.deploy`` with a ``CSVSerializer``, ``predict``, then ``delete_model`` and ``delete_endpoint``.
Against local mode the only change is ``sagemaker.Session(default_bucket=…)`` and an explicit role,
as for the 3.x tutorial (``examples/sagemaker_sdk_tutorial.py``, whose docstring says why and how to
run it). Install the SDK with ``make .venv-sdk2/.installed`` and run it with ``.venv-sdk2/bin/python``.
The last line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import json

import boto3
import numpy as np
import sagemaker
from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.serializers import CSVSerializer
from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter
from tutorial_data import upload_splits

PREFIX = "xgboost-tutorial-v2"
INSTANCE_TYPE = "ml.m4.xlarge"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--bucket", required=True, help="a bucket of yours for the data and the model")
    parser.add_argument("--role", required=True, help="the IAM role SageMaker runs the jobs and endpoint as")
    parser.add_argument("--region", default=boto3.Session().region_name or "us-east-1")
    args = parser.parse_args()

    boto_session = boto3.Session(region_name=args.region)
    session = sagemaker.Session(boto_session=boto_session, default_bucket=args.bucket)  # the line local mode needs
    test_rows, test_labels = upload_splits(boto_session.client("s3"), args.bucket, PREFIX)
    container = image_uris.retrieve("xgboost", args.region, "1.7-1")
    xgb = Estimator(
        container,
        args.role,
        instance_count=1,
        instance_type=INSTANCE_TYPE,
        output_path=f"s3://{args.bucket}/{PREFIX}/output",
        sagemaker_session=session,
    )
    xgb.set_hyperparameters(
        max_depth=5, eta=0.2, gamma=4, min_child_weight=6, subsample=0.8, objective="binary:logistic", num_round=100
    )
    inputs = {
        channel: TrainingInput(s3_data=f"s3://{args.bucket}/{PREFIX}/{channel}/", content_type="csv")
        for channel in ("train", "validation")
    }
    xgb.fit(inputs, logs=False)
    job = xgb.latest_training_job.name
    curve = xgb.training_job_analytics.dataframe()
    attached = Estimator.attach(job, sagemaker_session=session)

    tuner = HyperparameterTuner(
        xgb,
        "validation:auc",
        {"eta": ContinuousParameter(0.1, 0.5), "max_depth": IntegerParameter(2, 6)},
        max_jobs=4,
        max_parallel_jobs=2,
    )
    tuner.fit(inputs, logs=False)
    tuner.wait()
    predictor = tuner.deploy(initial_instance_count=1, instance_type=INSTANCE_TYPE, serializer=CSVSerializer())
    answer = predictor.predict(test_rows).decode("utf-8")
    scores = np.array(answer.strip().split("\n"), dtype=float)  # the built-in 1.7-1 answers a score per line
    endpoint = predictor.endpoint_name
    predictor.delete_model()
    predictor.delete_endpoint()
    print()  # the SDK's progress dots ("-----!") end without a line break
    print(
        json.dumps(
            {
                "training_job": job,
                "attached_job": attached.latest_training_job.name,
                "attached_image": attached.image_uri,
                "curve_metrics": sorted(set(curve["metric_name"])) if len(curve) else [],
                "best_training_job": tuner.best_training_job(),
                "endpoint": endpoint,
                "scores": scores.tolist(),
                "accuracy": float(np.mean((scores > 0.5) == test_labels)),
            }
        )
    )


if __name__ == "__main__":
    main()
