"""Which container images local mode can run, and the metric definitions that come with them.

Local mode has no Docker: it runs the training image's own code. Two image URIs mean that code: our
repository ``dropml-xgboost`` and SageMaker's built-in XGBoost (``…/sagemaker-xgboost:<version>``),
whose hyperparameters, channels and CSV format ``train`` accepts unchanged — any registry, any tag.
Any other image fails the job or endpoint with a reason that says so, as a missing image does on AWS.
"""

from __future__ import annotations

from core.container import METRIC_CHANNELS, metric_definition

RUNNABLE_REPOSITORIES = ("dropml-xgboost", "sagemaker-xgboost")

# The built-in algorithm's metrics, as SageMaker defines them for its XGBoost image: one per channel and
# eval metric (core.container's regex). Users of the built-in image pass no MetricDefinitions; SageMaker
# fills these in, and so do we.
_EVAL_METRICS = (
    "accuracy", "auc", "aucpr", "error", "f1", "gamma-deviance", "gamma-nloglik", "logloss", "mae",
    "map", "merror", "mlogloss", "mse", "ndcg", "poisson-nloglik", "r2", "rmse", "tweedie-nloglik",
)  # fmt: skip


def repository_of(image_uri: str) -> str:
    """``123.dkr.ecr.r.amazonaws.com/team/dropml-xgboost:1.0`` → ``dropml-xgboost`` (no registry, tag, digest)."""
    without_digest = image_uri.split("@", 1)[0]
    last = without_digest.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def unrunnable_reason(image_uri: str | None) -> str | None:
    """None when local mode runs ``image_uri``; else the FailureReason a user reads."""
    if image_uri and repository_of(image_uri) in RUNNABLE_REPOSITORIES:
        return None
    return (
        f"ClientError: local mode cannot run image {image_uri!r}: it runs only the dropml training image "
        "(repository dropml-xgboost) and SageMaker's built-in XGBoost (…/sagemaker-xgboost:<version>)"
    )


def builtin_metric_definitions() -> list[dict[str, str]]:
    return [metric_definition(channel, metric) for channel in METRIC_CHANNELS for metric in _EVAL_METRICS]
