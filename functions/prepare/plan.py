"""The run plan: everything the state machine's later states need, decided once, in plain code.

Step Functions is good at waiting and branching, poor at arithmetic and string building; so names
within SageMaker's limits, the objective metric, static hyperparameters, ranges and metric regexes are
computed here and the definition only reads fields of the plan.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from core.names import TRAINING_JOB_NAME_MAX, TUNING_JOB_NAME_MAX, slug
from core.schema import ProblemType, Schema
from core.settings import DatasetSettings

# Objective per problem type: the metric the tuner optimises and the champion/challenger compares.
OBJECTIVES: dict[ProblemType, tuple[str, str, str]] = {
    "binary": ("binary:logistic", "auc", "Maximize"),
    "multiclass": ("multi:softprob", "mlogloss", "Minimize"),
    "regression": ("reg:squarederror", "rmse", "Minimize"),
}
ATTEMPT_ID_LENGTH = 10
DEFAULT_STATIC = {"num_round": "200", "early_stopping_rounds": "20"}
# Search space in SageMaker's ParameterRanges shape; the built-in algorithm's recommended ranges.
DEFAULT_RANGES: dict[str, list[dict[str, str]]] = {
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0.02", "MaxValue": "0.4", "ScalingType": "Logarithmic"},
        {"Name": "subsample", "MinValue": "0.5", "MaxValue": "1", "ScalingType": "Linear"},
        {"Name": "colsample_bytree", "MinValue": "0.5", "MaxValue": "1", "ScalingType": "Linear"},
        {"Name": "min_child_weight", "MinValue": "1", "MaxValue": "10", "ScalingType": "Logarithmic"},
    ],
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "9", "ScalingType": "Linear"}],
    "CategoricalParameterRanges": [],
}
# Grid search needs categorical ranges only: a small grid over the two most influential parameters.
GRID_RANGES: dict[str, list[dict[str, Any]]] = {
    "ContinuousParameterRanges": [],
    "IntegerParameterRanges": [],
    "CategoricalParameterRanges": [
        {"Name": "eta", "Values": ["0.05", "0.1", "0.3"]},
        {"Name": "max_depth", "Values": ["3", "6", "9"]},
    ],
}
# The capture is a number, not \S+: CloudWatch shows tabs as "#011", which \S+ would run on through.
METRIC_REGEX = r".*\[[0-9]+\].*#011{channel}-{metric}:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


@dataclass(frozen=True)
class JobNames:
    """SageMaker names for this run; GPU and CPU attempts need distinct names (names are never reused)."""

    training_gpu: str
    training_cpu: str
    tuning_gpu: str
    tuning_cpu: str
    model: str
    endpoint_config: str
    endpoint: str


def attempt_id(execution_name: str) -> str:
    """A short id per execution: a rerun of the same upload needs new job names (SageMaker never
    reuses one), while a retried state of the same execution keeps its names."""
    return hashlib.sha256(execution_name.encode()).hexdigest()[:ATTEMPT_ID_LENGTH]


def job_names(prefix: str, dataset: str, attempt: str, endpoint: str | None) -> JobNames:
    """Names start with the stack's prefix, so IAM can scope SageMaker permissions to this stack
    (a user's own endpoint name from the settings is prefixed too)."""

    def within(limit: int, suffix: str) -> str:
        room = limit - len(prefix) - len(attempt) - len(suffix) - 3
        return f"{prefix}-{slug(dataset, room)}-{attempt}-{suffix}" if room > 0 else f"{prefix}-{attempt}-{suffix}"

    return JobNames(
        training_gpu=within(TRAINING_JOB_NAME_MAX, "gpu"),
        training_cpu=within(TRAINING_JOB_NAME_MAX, "cpu"),
        tuning_gpu=within(TUNING_JOB_NAME_MAX, "g"),
        tuning_cpu=within(TUNING_JOB_NAME_MAX, "c"),
        model=within(63, "model"),
        endpoint_config=within(63, "config"),
        endpoint=f"{prefix}-{slug(endpoint or dataset, 63 - len(prefix) - 1)}",
    )


def metric_definitions(metric: str) -> list[dict[str, str]]:
    """The built-in XGBoost algorithm's regexes for one metric on both channels (tab shown as #011)."""
    return [
        {"Name": f"{channel}:{metric}", "Regex": METRIC_REGEX.format(channel=channel, metric=metric)}
        for channel in ("train", "validation")
    ]


def tuning_ranges(fixed: set[str], strategy: str) -> dict[str, list[dict[str, Any]]]:
    """The search space for the strategy, without the hyperparameters the user fixed."""
    space = GRID_RANGES if strategy == "Grid" else DEFAULT_RANGES
    return {kind: [r for r in ranges if r["Name"] not in fixed] for kind, ranges in space.items()}


def plan_run(
    *,
    prefix: str,
    dataset: str,
    execution_name: str,
    schema: Schema,
    settings: DatasetSettings,
    use_gpu: bool,
    data_uri: str,
    schema_uri: str,
    max_runtime_seconds: int,
    endpoint_poll_seconds: int,
    endpoint_instance_type: str,
) -> dict[str, Any]:
    """The plan document the definition reads (JSON-ready, every hyperparameter a string)."""
    objective, metric, direction = OBJECTIVES[schema.problem_type]
    static = {**DEFAULT_STATIC, "objective": objective, "eval_metric": metric}
    if schema.problem_type == "multiclass":
        static["num_class"] = str(schema.num_class)
    static.update({name: str(value) for name, value in settings.hyperparameters.items()})
    data = data_uri.rstrip("/")
    tuning = settings.tuning.model_dump()
    # SageMaker refuses automatic early stopping with Hyperband, which stops trials itself
    tuning["early_stopping"] = "Off" if settings.tuning.strategy == "Hyperband" else "Auto"
    return {
        "mode": settings.mode,
        "use_gpu": use_gpu,
        "names": asdict(job_names(prefix, dataset, attempt_id(execution_name), settings.endpoint_name)),
        "channels": {
            "train": f"{data}/train/",
            "validation": f"{data}/validation/",
            "test": f"{data}/test/",
            "schema": schema_uri,
        },
        "output_path": f"{data.rsplit('/', 1)[0]}/jobs/",
        "objective": {"metric": f"validation:{metric}", "type": direction},
        "static_hyperparameters": static,
        # a single training job uses the algorithm's defaults for whatever tuning would have searched
        "train_hyperparameters": static,
        "max_runtime_seconds": max_runtime_seconds,
        "endpoint_poll_seconds": endpoint_poll_seconds,
        "endpoint_instance_type": settings.endpoint_instance_type or endpoint_instance_type,
        "ranges": tuning_ranges(set(settings.hyperparameters), settings.tuning.strategy),
        "metric_definitions": metric_definitions(metric),
        "tuning": tuning,
        "deploy_margin": settings.deploy_margin,
    }
