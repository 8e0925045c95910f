"""The run plan: everything the state machine's later states need, decided once, in plain code.

Step Functions is good at waiting and branching, poor at arithmetic and string building; so names
within SageMaker's limits, the objective metric, static hyperparameters, ranges and metric regexes are
computed here and the definition only reads fields of the plan.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Literal

from core.container import (
    DATA_CHANNELS,
    PROCESSING_DATA,
    PROCESSING_SCHEMA,
    PROCESSING_SETTINGS,
    PROCESSING_UPLOAD,
    SCHEMA_CHANNEL,
    TRAIN_CHANNEL,
    container_path,
    metric_definitions,
)
from core.errors import UserInputError
from core.names import (
    ENDPOINT_NAME_MAX,
    MODEL_NAME_MAX,
    PROCESSING_JOB_NAME_MAX,
    TRAINING_JOB_NAME_MAX,
    TUNING_JOB_NAME_MAX,
    endpoint_name,
    owner_tag_value,
    slug,
)
from core.parameter_ranges import combinations
from core.problems import PROBLEMS
from core.s3 import split_s3_uri
from core.schema import Schema
from core.settings import DatasetSettings, TuningSettings
from functions.run_document import (
    Attempt,
    Channel,
    Instances,
    JobNames,
    Plan,
    ProcessingPlan,
    S3Object,
    TuningStrategyConfig,
)

ATTEMPT_ID_LENGTH = 10
# How long a run waits, at most, in each of its polling loops: for a Failed endpoint to be deleted, for
# an endpoint to be created or updated (a large model's instances can take long to pass their health
# checks), for earlier runs of its dataset to end.
ENDPOINT_DELETION_TIMEOUT_SECONDS = 30 * 60
ENDPOINT_WAIT_TIMEOUT_SECONDS = 90 * 60
QUEUE_TIMEOUT_SECONDS = 24 * 60 * 60
# An execution's history holds 25,000 events, and one poll writes about 11 (task, choice, pass, wait).
# A run may go through all three loops one after another, so however short EndpointPollSeconds is,
# their polls together stay under 2,000 (about 22,000 events).
EVENTS_PER_POLL = 11
HISTORY_EVENTS_MAX = 25_000
POLLS_MAX = {"endpoint_deletion": 500, "endpoint_wait": 500, "queue": 1_000}
# HyperbandStrategyConfig.MaxResource: "The maximum value is 20,000 epochs" (SageMaker API reference).
HYPERBAND_MAX_RESOURCE = 20_000
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
# A managed spot job may wait this many times its run time for capacity and interruptions (AWS: at
# least MaxRuntimeInSeconds); one that gets none in that time falls back to on-demand CPU.
SPOT_WAIT_FACTOR = 2
# Training data per instance for instance_count "auto": CSV bytes of the training split. The image
# holds its shard as float32 (about half the CSV's bytes for numbers of 8 digits) plus XGBoost's
# quantile histograms, so 4 GiB of CSV fits the 16 GiB of an ml.m5.xlarge with room.
TRAIN_BYTES_PER_INSTANCE = 4 << 30
# Each instance's volume holds its training shard, all of validation and test, and the model: twice
# that, with SageMaker's 30 GB as the least.
MIN_VOLUME_GB = 30
GRID_RANGES: dict[str, list[dict[str, Any]]] = {
    "ContinuousParameterRanges": [],
    "IntegerParameterRanges": [],
    "CategoricalParameterRanges": [
        {"Name": "eta", "Values": ["0.05", "0.1", "0.3"]},
        {"Name": "max_depth", "Values": ["3", "6", "9"]},
    ],
}


@dataclass(frozen=True)
class DataSize:
    """What S3 holds of the run's converted data: the training split's parts and bytes, and all splits'."""

    train_parts: int
    train_bytes: int
    total_bytes: int


def attempt_id(execution_name: str) -> str:
    """A short id per execution: a rerun of the same upload needs new job names (SageMaker never
    reuses one), while a retried state of the same execution keeps its names."""
    return hashlib.sha256(execution_name.encode()).hexdigest()[:ATTEMPT_ID_LENGTH]


class _Namer:
    """Names start with the stack's prefix, so IAM can scope SageMaker permissions to this stack
    (a user's own endpoint name from the settings is prefixed too)."""

    def __init__(self, prefix: str, dataset: str, attempt: str) -> None:
        self.prefix, self.dataset, self.attempt = prefix, dataset, attempt

    def within(self, limit: int, suffix: str) -> str:
        prefix, attempt = self.prefix, self.attempt
        room = limit - len(prefix) - len(attempt) - len(suffix) - 3
        return f"{prefix}-{slug(self.dataset, room)}-{attempt}-{suffix}" if room > 0 else f"{prefix}-{attempt}-{suffix}"

    def attempt_on(
        self, device: Literal["GPU", "CPU"], instance_type: str, *, spot: bool, max_runtime_seconds: int
    ) -> Attempt:
        """Every attempt needs names of its own: a job name is never reused, even after a failure."""
        short = device.lower() + ("-spot" if spot else "")
        wait = max_runtime_seconds * SPOT_WAIT_FACTOR if spot else None
        return Attempt.model_validate(
            {
                "device": device,
                "instance_type": instance_type,
                "spot": spot,
                "stopping_condition": {"MaxRuntimeInSeconds": max_runtime_seconds, "MaxWaitTimeInSeconds": wait},
                "training_job_name": self.within(TRAINING_JOB_NAME_MAX, short),
                "tuning_job_name": self.within(TUNING_JOB_NAME_MAX, short[0] + ("s" if spot else "")),
            }
        )

    def deployment(self, endpoint: str | None) -> JobNames:
        """The dataset's own endpoint, or the one its dropml.json names; a run deploys to either only
        when it is new or carries this dataset's tag (functions/evaluate/champion.py)."""
        named = f"{self.prefix}-{slug(endpoint, ENDPOINT_NAME_MAX - len(self.prefix) - 1)}" if endpoint else None
        return JobNames(
            model=self.within(MODEL_NAME_MAX, "model"),
            endpoint_config=self.within(MODEL_NAME_MAX, "config"),
            endpoint=named or endpoint_name(self.prefix, self.dataset),
            endpoint_owner=owner_tag_value(self.dataset),
        )


def processing_plan(
    *,
    prefix: str,
    dataset: str,
    execution_name: str,
    run_id: str,
    upload_uri: str,
    upload_bytes: int,
    settings_uri: str,
    data_uri: str,
    run_uri: str,
    instance_type: str,
    max_runtime_seconds: int,
) -> ProcessingPlan:
    """The Processing job that converts an upload too large for a Lambda: the pinned copy and the
    settings in, the splits to the run's ``data/`` and ``schema.json`` to the run's folder out. The
    volume holds the copy and the splits (about as large again) with room."""

    def source(name: str, uri: str, folder: str) -> dict[str, Any]:
        return {
            "InputName": name,
            "S3Input": {
                "S3Uri": uri, "LocalPath": container_path(folder), "S3DataType": "S3Prefix", "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
            },
        }  # fmt: skip

    def result(name: str, uri: str, folder: str) -> dict[str, Any]:
        return {
            "OutputName": name,
            "S3Output": {"S3Uri": uri, "LocalPath": container_path(folder), "S3UploadMode": "EndOfJob"},
        }

    namer = _Namer(prefix, dataset, attempt_id(execution_name))
    upload_bucket, upload_key = split_s3_uri(upload_uri)
    return ProcessingPlan(
        job_name=namer.within(PROCESSING_JOB_NAME_MAX, "convert"),
        run_id=run_id,
        instance_type=instance_type,
        volume_gb=max(MIN_VOLUME_GB, math.ceil(3 * upload_bytes / (1 << 30))),
        max_runtime_seconds=max_runtime_seconds,
        inputs=[source("upload", upload_uri, PROCESSING_UPLOAD), source("settings", settings_uri, PROCESSING_SETTINGS)],
        outputs=[
            result("data", data_uri.rstrip("/"), PROCESSING_DATA),
            result("schema", run_uri.rstrip("/"), PROCESSING_SCHEMA),
        ],
        upload_copy=S3Object(bucket=upload_bucket, key=upload_key),
    )


def _polls(loop: str, timeout_seconds: int, poll_seconds: int) -> int:
    return min(math.ceil(timeout_seconds / max(poll_seconds, 1)), POLLS_MAX[loop])


def input_data_config(data_uri: str, schema_uri: str, *, instances: int) -> list[Channel]:
    """SageMaker's InputDataConfig for the run's data, one entry per channel. On several instances the
    training split is ``ShardedByS3Key`` (each instance downloads and trains on its own parts); the
    others stay ``FullyReplicated``, and the image takes each host's share of validation itself."""
    data = data_uri.rstrip("/")
    channels = [(name, "text/csv", f"{data}/{name}/") for name in DATA_CHANNELS]
    channels.append((SCHEMA_CHANNEL, "application/json", schema_uri))
    return [
        Channel.model_validate(
            {
                "ChannelName": name,
                "ContentType": content_type,
                "DataSource": {
                    "S3DataSource": {
                        "S3Uri": uri,
                        "S3DataDistributionType": (
                            "ShardedByS3Key" if name == TRAIN_CHANNEL and instances > 1 else "FullyReplicated"
                        ),
                    }
                },
            }
        )
        for name, content_type, uri in channels
    ]


def plan_instances(asked: int | Literal["auto"], data: DataSize, *, cap: int) -> Instances:
    """How many instances train each job: the number asked for, or "auto" from the training split's
    size; never more than the stack's cap (MaxTrainingInstances) nor than the split has parts, since
    ``ShardedByS3Key`` gives each instance whole parts and one without any would fail the job."""
    size = _gigabytes(data.train_bytes)
    if asked == "auto":
        wanted = max(1, math.ceil(data.train_bytes / TRAIN_BYTES_PER_INSTANCE))
        count = min(wanted, cap, data.train_parts)
        reason = f"auto: {size} of training data, one instance per {_gigabytes(TRAIN_BYTES_PER_INSTANCE)}"
        if count < wanted:
            reason += f", at most {min(cap, data.train_parts)} (MaxTrainingInstances={cap}, {data.train_parts} parts)"
    else:
        count = min(asked, cap, data.train_parts)
        reason = f"instance_count {asked}"
        if count < asked:
            reason += f", lowered to the {data.train_parts} parts of the training split ({size})"
    share = math.ceil(data.train_bytes / count) + data.total_bytes - data.train_bytes
    volume = max(MIN_VOLUME_GB, math.ceil(2 * share / (1 << 30)))
    return Instances(count=count, volume_gb=volume, reason=reason)


def _gigabytes(size: int) -> str:
    return f"{size / (1 << 30):.1f} GiB" if size >= 1 << 30 else f"{size / (1 << 20):.1f} MiB"


def tuning_ranges(fixed: set[str], strategy: str) -> dict[str, list[dict[str, Any]]]:
    """The search space for the strategy, without the hyperparameters the user fixed."""
    space = GRID_RANGES if strategy == "Grid" else DEFAULT_RANGES
    return {kind: [r for r in ranges if r["Name"] not in fixed] for kind, ranges in space.items()}


def _searched(ranges: dict[str, list[dict[str, Any]]]) -> bool:
    return any(ranges.values())


def _resource_limits(tuning: TuningSettings, ranges: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """The budget, lowered to the number of combinations when the user's fixed hyperparameters leave
    fewer: ``max_jobs`` is a maximum, and trying every combination there is is the best search."""
    jobs = int(min(tuning.max_jobs, combinations(ranges)))
    return {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": min(tuning.max_parallel_jobs, jobs)}


def _strategy_config(strategy: str, static: dict[str, str]) -> TuningStrategyConfig | None:
    """Hyperband's resource is the boosting round: it may stop a trial after round 1 and lets the best
    run every round; SageMaker cannot infer MaxResource from ``num_round``, so the plan sends it."""
    if strategy != "Hyperband":
        return None
    rounds = static["num_round"]
    if not rounds.isdigit() or not 1 <= int(rounds) <= HYPERBAND_MAX_RESOURCE:
        raise UserInputError(
            f"hyperparameters: num_round must be a whole number from 1 to {HYPERBAND_MAX_RESOURCE:,} with the "
            f'"Hyperband" strategy (its maximum resource), not {rounds!r}'
        )
    return TuningStrategyConfig.model_validate(
        {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": int(rounds)}}
    )


def plan_run(
    *,
    prefix: str,
    dataset: str,
    execution_name: str,
    schema: Schema,
    settings: DatasetSettings,
    gpu_instance_type: str | None,
    cpu_instance_type: str,
    data_uri: str,
    data_size: DataSize,
    max_instances: int,
    schema_uri: str,
    output_path: str,
    checkpoint_uri: str,
    max_runtime_seconds: int,
    endpoint_poll_seconds: int,
    endpoint_instance_type: str,
) -> tuple[Plan, Attempt]:
    """The plan the definition reads (every hyperparameter a string), and the first attempt: on GPU
    when the stack has a GPU type and the dataset does not ask for CPU, else on CPU; on spot capacity
    unless the dataset opts out. The fallback is always on-demand CPU."""
    problem = PROBLEMS[schema.problem_type]
    static = {**DEFAULT_STATIC, "objective": problem.objective, "eval_metric": problem.tuning_metric}
    if schema.problem_type == "multiclass":
        static["num_class"] = str(schema.num_class)
    static.update({name: str(value) for name, value in settings.hyperparameters.items()})
    strategy = settings.tuning.strategy
    ranges = tuning_ranges(set(settings.hyperparameters), strategy)
    # With every searched hyperparameter fixed there is nothing to tune (SageMaker needs a range): train.
    mode = settings.mode if _searched(ranges) else "train"
    namer = _Namer(prefix, dataset, attempt_id(execution_name))
    fallback = namer.attempt_on("CPU", cpu_instance_type, spot=False, max_runtime_seconds=max_runtime_seconds)
    instances = plan_instances(settings.instance_count, data_size, cap=max_instances)
    plan = Plan.model_validate(
        {
            "mode": mode,
            "fallback_attempt": fallback,
            "instances": instances,
            "checkpoint_uri": checkpoint_uri,
            "names": namer.deployment(settings.endpoint_name),
            "input_data_config": input_data_config(data_uri, schema_uri, instances=instances.count),
            "output_path": output_path,
            "static_hyperparameters": static,
            "tuning_job_config": {
                "Strategy": strategy,
                "StrategyConfig": _strategy_config(strategy, static) if mode == "tune" else None,
                "HyperParameterTuningJobObjective": {
                    "Type": problem.tuning_direction,
                    "MetricName": f"validation:{problem.tuning_metric}",
                },
                "ResourceLimits": _resource_limits(settings.tuning, ranges),
                "ParameterRanges": ranges,
                # SageMaker refuses automatic early stopping with Hyperband, which stops trials itself
                "TrainingJobEarlyStoppingType": "Off" if strategy == "Hyperband" else "Auto",
            },
            "metric_definitions": metric_definitions(problem.tuning_metric),
            "endpoint_poll_seconds": endpoint_poll_seconds,
            "endpoint_deletion_polls": _polls(
                "endpoint_deletion", ENDPOINT_DELETION_TIMEOUT_SECONDS, endpoint_poll_seconds
            ),
            "endpoint_wait_polls": _polls("endpoint_wait", ENDPOINT_WAIT_TIMEOUT_SECONDS, endpoint_poll_seconds),
            "queue_polls": _polls("queue", QUEUE_TIMEOUT_SECONDS, endpoint_poll_seconds),
            "endpoint_instance_type": settings.endpoint_instance_type or endpoint_instance_type,
            "deploy_margin": settings.deploy_margin,
        }
    )
    first = (
        namer.attempt_on(
            "GPU" if gpu_instance_type else "CPU",
            gpu_instance_type or cpu_instance_type,
            spot=settings.spot,
            max_runtime_seconds=max_runtime_seconds,
        )
        if gpu_instance_type or settings.spot
        else fallback
    )
    return plan, first
