"""The run plan: everything the state machine's later states need, decided once, in plain code.

Step Functions is good at waiting and branching, poor at arithmetic and string building; so names
within SageMaker's limits, the objective metric, static hyperparameters, ranges and metric regexes are
computed here and the definition only reads fields of the plan.
"""

from __future__ import annotations

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
METRIC_REGEX = r".*\[[0-9]+\].*#011{channel}-{metric}:(\S+)"


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


def job_names(dataset: str, run: str, endpoint: str | None) -> JobNames:
    def within(limit: int, suffix: str) -> str:
        return f"{slug(dataset, limit - len(run) - len(suffix) - 2)}-{run}-{suffix}"

    return JobNames(
        training_gpu=within(TRAINING_JOB_NAME_MAX, "gpu"),
        training_cpu=within(TRAINING_JOB_NAME_MAX, "cpu"),
        tuning_gpu=within(TUNING_JOB_NAME_MAX, "g"),
        tuning_cpu=within(TUNING_JOB_NAME_MAX, "c"),
        model=within(63, "model"),
        endpoint_config=within(63, "config"),
        endpoint=endpoint or f"dropml-{slug(dataset, 63 - 7)}",
    )


def metric_definitions(metric: str) -> list[dict[str, str]]:
    """The built-in XGBoost algorithm's regexes for one metric on both channels (tab shown as #011)."""
    return [
        {"Name": f"{channel}:{metric}", "Regex": METRIC_REGEX.format(channel=channel, metric=metric)}
        for channel in ("train", "validation")
    ]


def tuning_ranges(fixed: set[str]) -> dict[str, list[dict[str, str]]]:
    """The default search space without the hyperparameters the user fixed."""
    return {kind: [r for r in ranges if r["Name"] not in fixed] for kind, ranges in DEFAULT_RANGES.items()}


def plan_run(
    *, dataset: str, run: str, schema: Schema, settings: DatasetSettings, use_gpu: bool
) -> dict[str, Any]:
    """The plan document the definition reads (JSON-ready, every hyperparameter a string)."""
    objective, metric, direction = OBJECTIVES[schema.problem_type]
    static = {**DEFAULT_STATIC, "objective": objective, "eval_metric": metric}
    if schema.problem_type == "multiclass":
        static["num_class"] = str(schema.num_class)
    static.update({name: str(value) for name, value in settings.hyperparameters.items()})
    return {
        "mode": settings.mode,
        "use_gpu": use_gpu,
        "names": asdict(job_names(dataset, run, settings.endpoint_name)),
        "objective": {"metric": f"validation:{metric}", "type": direction},
        "static_hyperparameters": static,
        "ranges": tuning_ranges(set(settings.hyperparameters)),
        "metric_definitions": metric_definitions(metric),
        "tuning": settings.tuning.model_dump(),
        "deploy_margin": settings.deploy_margin,
    }
