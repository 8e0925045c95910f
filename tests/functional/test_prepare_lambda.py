"""The state machine's first step, called as Step Functions calls it: a console execution from a raw
CSV gets the same run as the S3 trigger would, and a bad input fails with a message a person can act on."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core.container import OPT_ML_ENV
from core.errors import UserInputError
from core.names import run_id
from functions import aws as lambda_clients
from functions.prepare import app
from tests.helpers.aws import LambdaContext, client

REPO = Path(__file__).resolve().parents[2]
BUCKET = "dropml-data"


@pytest.fixture
def bucket(aws: str, monkeypatch: pytest.MonkeyPatch) -> str:
    client("s3").create_bucket(Bucket=BUCKET)
    for name, value in {
        "GPU_INSTANCE_TYPE": "ml.g4dn.xlarge",
        "CPU_INSTANCE_TYPE": "ml.m5.xlarge",
        "NAME_PREFIX": "dropml",
        "MAX_RUNTIME_SECONDS": "3600",
        "ENDPOINT_POLL_SECONDS": "30",
        "ENDPOINT_INSTANCE_TYPE": "ml.m5.large",
        "MAX_TUNING_JOBS": "6",
        "MAX_PARALLEL_TUNING_JOBS": "3",
        "MAX_TRAINING_INSTANCES": "4",
        "PROCESSING_INSTANCE_TYPE": "ml.m5.xlarge",
        "LAMBDA_CONVERSION_MAX_BYTES": str(1 << 30),
    }.items():
        monkeypatch.setenv(name, value)
    lambda_clients.reset()
    return BUCKET


def test_console_execution_from_a_raw_csv_prepares_and_plans(bucket: str) -> None:
    s3 = client("s3")
    put = s3.put_object(
        Bucket=bucket, Key="incoming/penguins/penguins.csv", Body=(REPO / "datasets/penguins/penguins.csv").read_bytes()
    )
    s3.put_object(
        Bucket=bucket, Key="incoming/penguins/dropml.json", Body=b'{"target": "species", "tuning": {"max_jobs": 4}}'
    )

    run = app.lambda_handler(
        {
            "input": {"source": f"s3://{bucket}/incoming/penguins/penguins.csv", "settings": {"instance": "cpu"}},
            "execution": "console-run-1",
        },
        LambdaContext(),
    )

    expected_run = run_id(bucket, "incoming/penguins/penguins.csv", put["ETag"].strip('"'))
    assert run["run_id"] == expected_run and run["dataset"] == "penguins" and run["file"] == "penguins.csv"
    assert run["prepared"]["problem_type"] == "multiclass"
    assert s3.head_object(Bucket=bucket, Key=f"runs/penguins/{expected_run}/schema.json")
    plan = run["plan"]
    # the execution's override wins over the stack's GPU
    assert run["attempt"]["device"] == "CPU" and run["attempt"]["instance_type"] == "ml.m5.xlarge"
    assert run["attempt"]["spot"] is True and run["attempt"]["replaced"] is None
    # the data S3 holds decides the instances: the penguins are one small part
    assert plan["instances"] == {"count": 1, "volume_gb": 30, "reason": plan["instances"]["reason"]}
    assert plan["instances"]["reason"].startswith("auto: 0.0 MiB of training data")
    # the file's max_jobs wins over the stack default; the stack default fills what the file leaves out
    tuning = plan["tuning_job_config"]
    assert tuning["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 3}
    # what the Tune state sends as is: no StrategyConfig outside Hyperband (SageMaker takes it only there)
    assert tuning["Strategy"] == "Bayesian" and "StrategyConfig" not in tuning
    [schema_channel] = [c for c in plan["input_data_config"] if c["ChannelName"] == "schema"]
    assert schema_channel["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"s3://{bucket}/runs/penguins/{expected_run}/schema.json"
    )

    # running the same upload again reuses the prepared data
    parts_before = s3.list_objects_v2(Bucket=bucket, Prefix="runs/")["KeyCount"]
    again = app.lambda_handler(
        {"input": {"source": f"s3://{bucket}/incoming/penguins/penguins.csv"}, "execution": "console-run-2"},
        LambdaContext(),
    )
    assert again["run_id"] == expected_run
    assert again["attempt"]["device"] == "GPU" and again["attempt"]["instance_type"] == "ml.g4dn.xlarge"
    # … but a second execution gets its own job names: SageMaker never reuses a name
    assert again["plan"]["fallback_attempt"]["tuning_job_name"] != plan["fallback_attempt"]["tuning_job_name"]
    assert again["plan"]["names"]["endpoint"] == plan["names"]["endpoint"] == "dropml-penguins"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="runs/")["KeyCount"] == parts_before


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"source": "s3://dropml-data/incoming/penguins/missing.csv"},
            "no object at s3://dropml-data/incoming/penguins/missing.csv",
        ),
        ({"source": "s3://dropml-data/data.csv"}, "must be an uploaded CSV like"),
        (
            {"source": "s3://dropml-data/incoming/p/x.csv", "settings": {"mode": "fast"}},
            "mode: Input should be 'tune' or 'train'",
        ),
        # the S3 trigger's rule, for the same answer either way
        ({"source": "s3://dropml-data/incoming/../x.csv"}, "'..' cannot name a dataset"),
    ],
)
def test_bad_console_input_fails_with_a_reason(bucket: str, document: dict, message: str) -> None:
    client("s3").put_object(Bucket=bucket, Key="incoming/p/x.csv", Body=b"a,target\n1,0\n2,1\n")
    with pytest.raises(UserInputError) as error:
        app.lambda_handler({"input": document, "execution": "console-run"}, LambdaContext())
    assert message in error.value.reason


def refusal(bucket: str, settings: dict) -> str:
    """Why Prepare refuses a console run of a small upload with ``settings``."""
    client("s3").put_object(Bucket=bucket, Key="incoming/p/x.csv", Body=b"a,target\n1,0\n2,1\n" * 10)
    document = {"source": f"s3://{bucket}/incoming/p/x.csv", "settings": settings}
    with pytest.raises(UserInputError) as error:
        app.lambda_handler({"input": document, "execution": "console-run"}, LambdaContext())
    return error.value.reason


def test_hyperband_with_more_rounds_than_sagemaker_allows_is_refused_with_the_limit(bucket: str) -> None:
    reason = refusal(bucket, {"tuning": {"strategy": "Hyperband"}, "hyperparameters": {"num_round": 50_000}})

    assert reason == (
        'hyperparameters: num_round must be a whole number from 1 to 20,000 with the "Hyperband" strategy '
        "(its maximum resource), not '50000'"
    )


def test_asking_for_a_gpu_on_a_stack_without_one_is_refused(bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a stack deployed with an empty GpuInstanceType
    monkeypatch.setenv("GPU_INSTANCE_TYPE", "")
    reason = refusal(bucket, {"instance": "gpu"})

    assert 'instance is "gpu" but this stack has no GpuInstanceType' in reason
    assert client("s3").list_objects_v2(Bucket=bucket, Prefix="runs/")["KeyCount"] == 0  # refused before converting


def test_a_missing_variable_fails_with_its_name(bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPU_INSTANCE_TYPE")
    with pytest.raises(RuntimeError, match="PrepareConfig misconfigured: set CPU_INSTANCE_TYPE"):
        app.lambda_handler({"input": {}, "execution": "console-run"}, LambdaContext())


def test_settings_over_the_stacks_caps_are_refused_naming_each_cap(bucket: str) -> None:
    # GIVEN a stack whose caps are 6 trials, 3 at once, and its allowed endpoint instance types
    greedy = {"tuning": {"max_jobs": 500, "max_parallel_jobs": 100}, "endpoint_instance_type": "ml.p4d.24xlarge"}

    reason = refusal(bucket, greedy)

    assert "tuning.max_jobs 500 is over this stack's MaxTuningJobs=6" in reason
    assert "tuning.max_parallel_jobs 100 is over this stack's MaxParallelTuningJobs=3" in reason
    assert "endpoint_instance_type ml.p4d.24xlarge is not one this stack allows (ml.m5.large" in reason
    assert "AllowedEndpointInstanceTypes" in reason and "--parameter-overrides" in reason
    assert client("s3").list_objects_v2(Bucket=bucket, Prefix="runs/")["KeyCount"] == 0  # refused before converting


def test_every_bad_hyperparameter_is_named_before_any_job_starts(bucket: str) -> None:
    bad = {"hyperparameters": {"max_depth": -3, "eta": "fast", "colour": 1, "eval_metric": "auc,accuracy"}}

    reason = refusal(bucket, bad)

    assert "unknown hyperparameter 'colour'" in reason
    assert "hyperparameter eta='fast' is invalid: expected a number in [0, 1]" in reason
    assert "hyperparameter max_depth='-3' is invalid: expected an integer in [0, 1000]" in reason
    assert "hyperparameter eval_metric has unknown metric 'accuracy'" in reason


def _run_processing_job(plan: dict, root: Path) -> subprocess.CompletedProcess[str]:
    """Play SageMaker Processing for the job Prepare asked for: inputs down, the image's process, outputs up."""
    s3 = client("s3")
    for item in plan["inputs"]:
        source = item["S3Input"]
        bucket, key = source["S3Uri"].removeprefix("s3://").split("/", 1)
        folder = root / source["LocalPath"].removeprefix("/opt/ml/")
        folder.mkdir(parents=True)
        s3.download_file(bucket, key, str(folder / key.rsplit("/", 1)[1]))
    done = subprocess.run(
        [str(REPO / "training_image" / "process")],
        env={**os.environ, OPT_ML_ENV: str(root)}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    for item in plan["outputs"]:
        output = item["S3Output"]
        bucket, prefix = output["S3Uri"].removeprefix("s3://").split("/", 1)
        folder = root / output["LocalPath"].removeprefix("/opt/ml/")
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_file():
                s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder)}")
    return done


def test_a_console_run_asking_for_processing_hands_the_conversion_to_a_processing_job(
    bucket: str, tmp_path: Path
) -> None:
    # GIVEN an upload whose run is to be converted by a Processing job
    s3 = client("s3")
    s3.put_object(
        Bucket=bucket, Key="incoming/penguins/penguins.csv", Body=(REPO / "datasets/penguins/penguins.csv").read_bytes()
    )
    document = {
        "source": f"s3://{bucket}/incoming/penguins/penguins.csv",
        "settings": {"target": "species", "conversion": "processing", "instance_count": 2},
    }

    # WHEN Prepare runs first
    pending = app.lambda_handler({"input": document, "execution": "big-1"}, LambdaContext())

    # THEN it converted nothing, pinned the upload and wrote the settings, and asks for the job
    assert "plan" not in pending and pending["source"] == document["source"]
    assert (
        pending["conversion"]["where"] == "processing" and pending["conversion"]["reason"] == 'conversion "processing"'
    )
    job = pending["processing"]
    assert job["job_name"].startswith("dropml-penguins-") and job["job_name"].endswith("-convert")
    assert pending["conversion"]["job"] == job["job_name"] and job["instance_type"] == "ml.m5.xlarge"
    run = job["run_id"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/penguins/{run}/")["Contents"]]
    assert sorted(keys) == [f"runs/penguins/{run}/settings.json", f"runs/penguins/{run}/upload.csv"]

    # WHEN the Processing job runs the image's process program, and Prepare runs again
    done = _run_processing_job(job, tmp_path / "opt-ml")
    assert done.returncode == 0, done.stdout + done.stderr
    converted = {"conversion": pending["conversion"], "upload": pending["upload"]}
    planned = app.lambda_handler(
        {"input": pending["input"], "execution": "big-1", "converted": converted}, LambdaContext()
    )

    # THEN the run is planned on the job's data (two training parts, for the two instances), and the
    # pinned copy is gone; the upload itself is untouched
    assert planned["run_id"] == run and planned["conversion"] == pending["conversion"]
    assert planned["plan"]["instances"]["count"] == 2
    assert planned["prepared"]["rows"]["train"] > 200
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/penguins/{run}/")["Contents"]}
    assert f"runs/penguins/{run}/upload.csv" not in keys
    assert {f"runs/penguins/{run}/data/train/part-00000.csv", f"runs/penguins/{run}/data/train/part-00001.csv"} <= keys
    assert s3.head_object(Bucket=bucket, Key="incoming/penguins/penguins.csv")


def test_a_processing_job_refusing_the_upload_says_why_and_writes_no_data(bucket: str, tmp_path: Path) -> None:
    s3 = client("s3")
    s3.put_object(Bucket=bucket, Key="incoming/ragged/data.csv", Body=b"a,b,target\n1,2,0\n3,4,1\n5,6,7,8\n")
    document = {"source": f"s3://{bucket}/incoming/ragged/data.csv", "settings": {"conversion": "processing"}}
    pending = app.lambda_handler({"input": document, "execution": "ragged-1"}, LambdaContext())

    done = _run_processing_job(pending["processing"], tmp_path / "opt-ml")

    assert done.returncode == 1
    message = (tmp_path / "opt-ml" / "output" / "message").read_text()
    assert "line 4" in message
    run = pending["processing"]["run_id"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/ragged/{run}/").get("Contents", [])]
    assert not [key for key in keys if "/data/" in key or key.endswith("schema.json")]


@pytest.mark.parametrize(
    ("asked", "size", "where"),
    [("auto", 1 << 30, "lambda"), ("auto", (1 << 30) + 1, "processing"), ("lambda", 1 << 40, "lambda"),
     ("processing", 10, "processing")],
)  # fmt: skip
def test_where_an_upload_is_converted(asked: str, size: int, where: str) -> None:
    from functions.upload import conversion_site

    site = conversion_site(asked, size, 1 << 30)
    assert site.where == where
    assert (f"{size:,} bytes" in site.reason) == (asked == "auto")
