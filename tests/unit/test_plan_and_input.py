import json
import re
from typing import Any

import pytest

from core.errors import UserInputError
from core.names import TRAINING_JOB_NAME_MAX, TUNING_JOB_NAME_MAX
from core.settings import DatasetSettings, parse_settings
from functions.prepare.execution_input import parse_execution_input
from functions.prepare.plan import DEFAULT_STATIC, EVENTS_PER_POLL, HISTORY_EVENTS_MAX
from tests.helpers.runs import planned_run


def test_plan_fits_sagemaker_limits_and_names_the_stack() -> None:
    run = planned_run(dataset="a very long dataset name with ünïcode " * 3)
    gpu, cpu = run.attempt, run.plan.fallback_attempt
    assert (gpu.device, gpu.instance_type, cpu.device, cpu.instance_type) == (
        "GPU",
        "ml.g4dn.xlarge",
        "CPU",
        "ml.m5.xlarge",
    )
    assert len(gpu.tuning_job_name) <= TUNING_JOB_NAME_MAX and len(cpu.tuning_job_name) <= TUNING_JOB_NAME_MAX
    assert len(gpu.training_job_name) <= TRAINING_JOB_NAME_MAX and len(cpu.training_job_name) <= TRAINING_JOB_NAME_MAX
    names = [gpu.training_job_name, gpu.tuning_job_name, cpu.training_job_name, cpu.tuning_job_name]
    names += [run.plan.names.model, run.plan.names.endpoint_config, run.plan.names.endpoint]
    assert all(name.startswith("dropml-") for name in names)
    assert gpu.tuning_job_name != cpu.tuning_job_name and gpu.training_job_name != cpu.training_job_name


def test_the_first_attempt_is_spot_and_the_fallback_on_demand_cpu() -> None:
    run = planned_run(gpu_instance_type=None)
    first, fallback = run.attempt, run.plan.fallback_attempt
    assert (first.device, first.spot, fallback.device, fallback.spot) == ("CPU", True, "CPU", False)
    # SageMaker wants MaxWaitTimeInSeconds with spot (at least the run time), and refuses it without
    assert first.stopping_condition.model_dump(exclude_none=True) == {
        "MaxRuntimeInSeconds": 3600,
        "MaxWaitTimeInSeconds": 7200,
    }
    assert run.to_state()["plan"]["fallback_attempt"]["stopping_condition"] == {"MaxRuntimeInSeconds": 3600}
    assert first.training_job_name != fallback.training_job_name
    assert first.tuning_job_name != fallback.tuning_job_name
    assert run.plan.checkpoint_uri == "s3://b/runs/penguins/0123456789ab/checkpoints/"


def test_without_spot_and_gpu_the_first_attempt_is_the_fallback() -> None:
    run = planned_run(DatasetSettings(spot=False), gpu_instance_type=None)
    assert run.attempt == run.plan.fallback_attempt


def test_a_gpu_attempt_opted_out_of_spot_runs_on_demand() -> None:
    run = planned_run(DatasetSettings(spot=False))
    assert (run.attempt.device, run.attempt.spot) == ("GPU", False)
    assert "MaxWaitTimeInSeconds" not in run.to_state()["attempt"]["stopping_condition"]
    assert run.attempt.training_job_name != run.plan.fallback_attempt.training_job_name


def _distribution(run: Any) -> dict[str, str]:
    return {c.ChannelName: c.DataSource.S3DataSource.S3DataDistributionType for c in run.plan.input_data_config}


def test_several_instances_shard_the_training_split_and_replicate_the_rest() -> None:
    run = planned_run(DatasetSettings(instance_count=2))
    assert run.plan.instances.count == 2 and run.plan.instances.reason == "instance_count 2"
    assert _distribution(run) == {
        "train": "ShardedByS3Key",
        "validation": "FullyReplicated",
        "test": "FullyReplicated",
        "schema": "FullyReplicated",
    }
    assert set(_distribution(planned_run()).values()) == {"FullyReplicated"}


@pytest.mark.parametrize(
    ("asked", "train_gib", "parts", "count", "reason"),
    [
        ("auto", 0.5, 16, 1, "auto: 512.0 MiB of training data, one instance per 4.0 GiB"),
        ("auto", 10, 320, 3, "auto: 10.0 GiB of training data, one instance per 4.0 GiB"),
        ("auto", 100, 3200, 4, "auto: 100.0 GiB of training data, one instance per 4.0 GiB, at most 4 "
                               "(MaxTrainingInstances=4, 3200 parts)"),
        (3, 0.001, 2, 2, "instance_count 3, lowered to the 2 parts of the training split (1.0 MiB)"),
    ],
)  # fmt: skip
def test_instances_follow_the_training_data_within_the_cap_and_its_parts(
    asked: Any, train_gib: float, parts: int, count: int, reason: str
) -> None:
    from functions.prepare.plan import DataSize

    size = int(train_gib * (1 << 30))
    run = planned_run(
        DatasetSettings(instance_count=asked),
        data_size=DataSize(train_parts=parts, train_bytes=size, total_bytes=size * 5 // 4),
    )
    assert (run.plan.instances.count, run.plan.instances.reason) == (count, reason)
    # each instance's volume holds its shard, all of validation and test, twice over; 30 GB at least
    assert run.plan.instances.volume_gb >= max(30, 2 * (size / count + size / 4) / (1 << 30))


def test_plan_objective_and_user_hyperparameters() -> None:
    plan = planned_run(DatasetSettings(hyperparameters={"max_depth": 4, "eta": "0.05"})).plan
    assert plan.tuning_job_config.HyperParameterTuningJobObjective.model_dump() == {
        "Type": "Minimize",
        "MetricName": "validation:mlogloss",
    }
    static = plan.static_hyperparameters
    assert static["objective"] == "multi:softprob" and static["num_class"] == "3"
    assert static["max_depth"] == "4" and static["eta"] == "0.05"
    searched = [r["Name"] for kind in plan.tuning_job_config.ParameterRanges.model_dump().values() for r in kind]
    assert "max_depth" not in searched and "eta" not in searched and "subsample" in searched
    channels = {c.ChannelName: c.DataSource.S3DataSource.S3Uri for c in plan.input_data_config}
    assert channels == {
        "train": "s3://b/runs/penguins/0123456789ab/data/train/",
        "validation": "s3://b/runs/penguins/0123456789ab/data/validation/",
        "test": "s3://b/runs/penguins/0123456789ab/data/test/",
        "schema": "s3://b/runs/penguins/0123456789ab/schema.json",
    }
    assert plan.output_path == "s3://b/runs/penguins/0123456789ab/jobs/"
    [validation_regex] = [d.Regex for d in plan.metric_definitions if d.Name == "validation:mlogloss"]
    line = "[7]#011train-mlogloss:0.41#011validation-mlogloss:1.5e-02#011validation-merror:0.1"
    matched = re.match(validation_regex, line)
    assert matched is not None and matched.group(1) == "1.5e-02"


def tuning_job_config(settings: dict[str, Any]) -> dict[str, Any]:
    """The HyperParameterTuningJobConfig the Tune state sends, as the run document carries it."""
    return dict(planned_run(DatasetSettings.model_validate(settings)).to_state()["plan"]["tuning_job_config"])


def test_hyperband_states_its_resource_as_boosting_rounds() -> None:
    # SageMaker infers MaxResource only from epoch-style names, never num_round: the plan must send it
    config = tuning_job_config({"tuning": {"strategy": "Hyperband"}, "hyperparameters": {"num_round": 300}})
    assert config["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 300}}
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    # the default num_round is the resource when the user sets none
    assert tuning_job_config({"tuning": {"strategy": "Hyperband"}})["StrategyConfig"]["HyperbandStrategyConfig"][
        "MaxResource"
    ] == int(DEFAULT_STATIC["num_round"])


@pytest.mark.parametrize("strategy", ["Bayesian", "Random", "Grid"])
def test_other_strategies_send_no_strategy_config(strategy: str) -> None:
    # "This parameter should be provided only if Hyperband is selected" (the API reference)
    config = tuning_job_config({"tuning": {"strategy": strategy, "max_jobs": 9}})
    assert "StrategyConfig" not in config and config["Strategy"] == strategy
    assert config["TrainingJobEarlyStoppingType"] == "Auto"


def test_hyperband_refuses_a_num_round_it_cannot_use_as_its_resource() -> None:
    with pytest.raises(UserInputError) as error:
        planned_run(
            DatasetSettings.model_validate(
                {"tuning": {"strategy": "Hyperband"}, "hyperparameters": {"num_round": 20_001}}
            )
        )
    assert "num_round must be a whole number from 1 to 20,000" in error.value.reason


@pytest.mark.parametrize("rounds", ["many", 0])
def test_a_num_round_no_job_could_use_is_refused_with_the_settings(rounds: object) -> None:
    with pytest.raises(UserInputError, match=f"hyperparameter num_round='{rounds}' is invalid"):
        parse_settings(json.dumps({"hyperparameters": {"num_round": rounds}}))


@pytest.mark.parametrize(
    ("settings", "jobs", "parallel"),
    [
        # Grid with eta fixed: max_depth's 3 values are every combination there is
        (
            {"tuning": {"strategy": "Grid", "max_jobs": 8, "max_parallel_jobs": 4}, "hyperparameters": {"eta": 0.1}},
            3,
            3,
        ),
        ({"tuning": {"strategy": "Grid", "max_jobs": 20}}, 9, 2),
        # Bayesian with every continuous range fixed: max_depth 3..9 is 7 combinations
        (
            {
                "tuning": {"max_jobs": 8},
                "hyperparameters": {"eta": 0.1, "subsample": 1, "colsample_bytree": 1, "min_child_weight": 1},
            },
            7,
            2,
        ),
        # a continuous range left: any budget is searchable
        ({"tuning": {"max_jobs": 50}, "hyperparameters": {"max_depth": 4}}, 50, 2),
    ],
)
def test_a_budget_above_the_combinations_left_is_lowered_to_them(
    settings: dict[str, Any], jobs: int, parallel: int
) -> None:
    limits = tuning_job_config(settings)["ResourceLimits"]
    assert limits == {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": parallel}


@pytest.mark.parametrize(
    "settings",
    [
        {"tuning": {"strategy": "Grid"}, "hyperparameters": {"eta": 0.1, "max_depth": 4}},
        {"hyperparameters": {"eta": 0.1, "subsample": 1, "colsample_bytree": 1, "min_child_weight": 1, "max_depth": 4}},
    ],
)
def test_with_no_range_left_the_run_trains_instead_of_tuning(settings: dict[str, Any]) -> None:
    plan = planned_run(DatasetSettings.model_validate(settings)).plan
    assert plan.mode == "train"
    assert plan.static_hyperparameters["eta"] == "0.1" and plan.static_hyperparameters["max_depth"] == "4"


def test_the_deletion_of_a_failed_endpoint_is_polled_for_half_an_hour() -> None:
    run = planned_run()
    assert run.plan.endpoint_deletion_polls * run.plan.endpoint_poll_seconds == 30 * 60


@pytest.mark.parametrize("poll_seconds", [1, 5, 30, 300])
def test_every_polling_loop_together_fits_an_executions_history(poll_seconds: int) -> None:
    # a run may wait for earlier runs, delete a failed endpoint and deploy, one after another; past
    # 25,000 events the execution fails with no Catch and no email
    plan = planned_run(endpoint_poll_seconds=poll_seconds).plan
    polls = plan.queue_polls + plan.endpoint_deletion_polls + plan.endpoint_wait_polls
    assert polls * EVENTS_PER_POLL < HISTORY_EVENTS_MAX - 1_000  # room for the run's other states
    assert plan.endpoint_wait_polls * poll_seconds >= min(90 * 60, 500 * poll_seconds)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "source: Field required (the minimal input is"),
        (
            {"source": "penguins.csv"},
            "must be an uploaded CSV like s3://<bucket>/incoming/<dataset>/<file>.csv, not 'penguins.csv'",
        ),
        ({"source": "s3://bucket/incoming/penguins/p.csv", "setings": {}}, "setings: unknown setting"),
        ("not an object", "execution input"),
    ],
)
def test_bad_execution_input_is_refused_with_a_clear_message(document: object, message: str) -> None:
    with pytest.raises(UserInputError) as error:
        parse_execution_input(document)
    assert message in error.value.reason


def test_minimal_execution_input() -> None:
    request = parse_execution_input({"source": "s3://my-bucket/incoming/pingüinos/file name.CSV"})
    assert (request.bucket, request.key, request.dataset) == (
        "my-bucket",
        "incoming/pingüinos/file name.CSV",
        "pingüinos",
    )


def test_input_schema_command_prints_the_contract_the_first_state_enforces() -> None:
    import json
    import subprocess
    import sys

    printed = subprocess.run(
        [sys.executable, "-m", "cli.main", "input-schema"], capture_output=True, text=True, check=True, timeout=60
    )
    schema = json.loads(printed.stdout)
    assert schema["required"] == ["source"] and schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"source", "settings", "prepared"}
