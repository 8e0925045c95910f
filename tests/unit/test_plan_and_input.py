import re

import pytest

from core.errors import UserInputError
from core.names import TRAINING_JOB_NAME_MAX, TUNING_JOB_NAME_MAX
from core.schema import Feature, Schema
from core.settings import DatasetSettings
from functions.prepare.execution_input import parse_execution_input
from functions.prepare.plan import plan_run

SCHEMA = Schema(
    target="species",
    problem_type="multiclass",
    features=(Feature("bill", "numeric"),),
    classes=("Adelie", "Chinstrap", "Gentoo"),
)


def plan(settings: DatasetSettings, dataset: str = "penguins") -> dict:
    return plan_run(
        prefix="dropml",
        dataset=dataset,
        execution_name="penguins-0123456789ab",
        schema=SCHEMA,
        settings=settings,
        use_gpu=True,
        data_uri="s3://b/runs/penguins/0123456789ab/data/",
        schema_uri="s3://b/runs/penguins/0123456789ab/schema.json",
        max_runtime_seconds=3600,
        endpoint_poll_seconds=30,
        endpoint_instance_type="ml.m5.large",
    )


def test_plan_fits_sagemaker_limits_and_names_the_stack() -> None:
    names = plan(DatasetSettings(), dataset="a very long dataset name with ünïcode " * 3)["names"]
    assert len(names["tuning_gpu"]) <= TUNING_JOB_NAME_MAX and len(names["tuning_cpu"]) <= TUNING_JOB_NAME_MAX
    assert len(names["training_gpu"]) <= TRAINING_JOB_NAME_MAX
    assert all(name.startswith("dropml-") for name in names.values())
    assert names["tuning_gpu"] != names["tuning_cpu"]


def test_plan_objective_and_user_hyperparameters() -> None:
    result = plan(DatasetSettings(hyperparameters={"max_depth": 4, "eta": "0.05"}))
    assert result["objective"] == {"metric": "validation:mlogloss", "type": "Minimize"}
    static = result["static_hyperparameters"]
    assert static["objective"] == "multi:softprob" and static["num_class"] == "3"
    assert static["max_depth"] == "4" and static["eta"] == "0.05"
    searched = [r["Name"] for kind in result["ranges"].values() for r in kind]
    assert "max_depth" not in searched and "eta" not in searched and "subsample" in searched
    assert result["channels"]["train"] == "s3://b/runs/penguins/0123456789ab/data/train/"
    assert result["output_path"] == "s3://b/runs/penguins/0123456789ab/jobs/"
    [validation_regex] = [d["Regex"] for d in result["metric_definitions"] if d["Name"] == "validation:mlogloss"]
    line = "[7]#011train-mlogloss:0.41#011validation-mlogloss:1.5e-02#011validation-merror:0.1"
    assert re.match(validation_regex, line).group(1) == "1.5e-02"


def test_grid_and_hyperband_plans_are_what_sagemaker_accepts() -> None:
    grid = plan(DatasetSettings.model_validate({"tuning": {"strategy": "Grid", "max_jobs": 9}}))
    assert grid["ranges"]["ContinuousParameterRanges"] == [] and grid["ranges"]["CategoricalParameterRanges"]
    hyperband = plan(DatasetSettings.model_validate({"tuning": {"strategy": "Hyperband"}}))
    assert hyperband["tuning"]["early_stopping"] == "Off"


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
        [sys.executable, "-m", "local.cli", "input-schema"], capture_output=True, text=True, check=True, timeout=60
    )
    schema = json.loads(printed.stdout)
    assert schema["required"] == ["source"] and schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"source", "settings", "prepared"}
