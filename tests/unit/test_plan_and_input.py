import re

import pytest

from core.errors import UserInputError
from core.names import TRAINING_JOB_NAME_MAX, TUNING_JOB_NAME_MAX
from core.settings import DatasetSettings
from functions.prepare.execution_input import parse_execution_input
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
    names += list(run.plan.names.model_dump().values())
    assert all(name.startswith("dropml-") for name in names)
    assert gpu.tuning_job_name != cpu.tuning_job_name and gpu.training_job_name != cpu.training_job_name


def test_without_a_gpu_type_the_first_attempt_is_the_cpu_attempt() -> None:
    run = planned_run(gpu_instance_type=None)
    assert run.attempt == run.plan.cpu_attempt


def test_plan_objective_and_user_hyperparameters() -> None:
    plan = planned_run(DatasetSettings(hyperparameters={"max_depth": 4, "eta": "0.05"})).plan
    assert plan.objective.model_dump() == {"metric": "validation:mlogloss", "type": "Minimize"}
    static = plan.static_hyperparameters
    assert static["objective"] == "multi:softprob" and static["num_class"] == "3"
    assert static["max_depth"] == "4" and static["eta"] == "0.05"
    searched = [r["Name"] for kind in plan.ranges.model_dump().values() for r in kind]
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
    assert re.match(validation_regex, line).group(1) == "1.5e-02"


def test_grid_and_hyperband_plans_are_what_sagemaker_accepts() -> None:
    grid = planned_run(DatasetSettings.model_validate({"tuning": {"strategy": "Grid", "max_jobs": 9}})).plan
    assert grid.ranges.ContinuousParameterRanges == [] and grid.ranges.CategoricalParameterRanges
    hyperband = planned_run(DatasetSettings.model_validate({"tuning": {"strategy": "Hyperband"}})).plan
    assert hyperband.tuning.early_stopping == "Off"


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
