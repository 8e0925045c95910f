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
    gpu, cpu = run.attempt, run.plan.cpu_attempt
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


def test_without_a_gpu_type_the_first_attempt_is_the_cpu_attempt() -> None:
    run = planned_run(gpu_instance_type=None)
    assert run.attempt == run.plan.cpu_attempt


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
