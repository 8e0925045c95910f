"""Local SageMaker tuning jobs: optuna picks hyperparameters, real training jobs run them, and the
answers (best job, counters, child listings) are shaped like AWS's."""

from __future__ import annotations

import pytest

from local.sagemaker.api import SageMakerEngine
from local.sagemaker.errors import ResourceNotFound, ValidationError
from tests.helpers.sagemaker import BUILTIN_XGBOOST, ROLE, channel, wait_until


def tuning_request(
    name: str,
    data: dict,
    *,
    strategy: str = "Bayesian",
    ranges: dict | None = None,
    static: dict | None = None,
    objective: tuple[str, str] = ("Maximize", "validation:auc"),
    max_jobs: int | None = 4,
    parallel: int = 2,
    early_stopping: str = "Off",
    **config: object,
) -> dict:
    limits = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": objective[0], "MetricName": objective[1]},
            "ResourceLimits": limits,
            "ParameterRanges": ranges
            or {
                "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "5"}],
                "ContinuousParameterRanges": [
                    {"Name": "eta", "MinValue": "0.01", "MaxValue": "0.5", "ScalingType": "Logarithmic"},
                    {"Name": "subsample", "MinValue": "0.5", "MaxValue": "1", "ScalingType": "Linear"},
                ],
                "CategoricalParameterRanges": [{"Name": "grow_policy", "Values": ["depthwise", "lossguide"]}],
            },
            "TrainingJobEarlyStoppingType": early_stopping,
            **config,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": static or {"objective": "binary:logistic", "num_round": "10"},
            "AlgorithmSpecification": {"TrainingImage": BUILTIN_XGBOOST, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "InputDataConfig": [channel("train", data["train"]), channel("validation", data["validation"])],
            "OutputDataConfig": {"S3OutputPath": data["output"]},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 120},
        },
    }


def children(engine: SageMakerEngine, name: str, **request: object) -> list[dict]:
    return engine.tuning_jobs.list_training_jobs({"HyperParameterTuningJobName": name, **request})[
        "TrainingJobSummaries"
    ]


def test_bayesian_tuning_runs_real_jobs_two_at_a_time_and_names_the_best(
    engine: SageMakerEngine, breast_cancer: dict
) -> None:
    # GIVEN a 3-job Bayesian tuning job, 2 in parallel, over integer, continuous and categorical ranges
    job = engine.tuning_jobs.create(tuning_request("bc-bayes", breast_cancer, max_jobs=3))

    # WHEN it runs to the end
    assert job.wait(timeout=240)
    description = engine.tuning_jobs.describe("bc-bayes")

    # THEN three real jobs completed, each with a validation AUC
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["TrainingJobStatusCounters"] == {
        "Completed": 3, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0,
    }  # fmt: skip
    assert description["ObjectiveStatusCounters"] == {"Succeeded": 3, "Pending": 0, "Failed": 0}
    summaries = children(engine, "bc-bayes", SortBy="FinalObjectiveMetricValue", SortOrder="Descending")
    assert len(summaries) == 3
    # AND the best job is the one with the highest objective
    best = description["BestTrainingJob"]
    assert best["TrainingJobName"] == summaries[0]["TrainingJobName"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "validation:auc"
    assert 0.9 < best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] <= 1.0
    # AND the tuned values lie in their ranges, and each child is an ordinary training job
    for summary in summaries:
        tuned = summary["TunedHyperParameters"]
        assert 1 <= int(tuned["max_depth"]) <= 5
        assert 0.01 <= float(tuned["eta"]) <= 0.5
        assert 0.5 <= float(tuned["subsample"]) <= 1
        assert tuned["grow_policy"] in ("depthwise", "lossguide")
        training = engine.training_jobs.describe(summary["TrainingJobName"])
        assert training["TuningJobArn"] == description["HyperParameterTuningJobArn"]
        assert training["HyperParameters"] == {
            "objective": "binary:logistic", "num_round": "10", **tuned,
            "_tuning_objective_metric": "validation:auc",
        }  # fmt: skip
        assert summary["TrainingJobName"].startswith("bc-bayes-")
    # AND two ran at once, never more
    spans = [(s["CreationTime"], s["TrainingEndTime"]) for s in summaries]
    overlaps = [sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans]
    assert max(overlaps) == 2


def test_grid_tries_every_combination_once(engine: SageMakerEngine, breast_cancer: dict) -> None:
    ranges = {
        "CategoricalParameterRanges": [
            {"Name": "max_depth", "Values": ["1", "3"]},
            {"Name": "eta", "Values": ["0.1", "0.3"]},
        ]
    }
    job = engine.tuning_jobs.create(
        tuning_request("bc-grid", breast_cancer, strategy="Grid", ranges=ranges, max_jobs=None)
    )
    assert job.wait(timeout=240)

    tried = sorted(
        (s["TunedHyperParameters"]["max_depth"], s["TunedHyperParameters"]["eta"]) for s in children(engine, "bc-grid")
    )
    assert tried == [("1", "0.1"), ("1", "0.3"), ("3", "0.1"), ("3", "0.3")]
    assert engine.tuning_jobs.describe("bc-grid")["HyperParameterTuningJobStatus"] == "Completed"


def test_grid_refuses_continuous_ranges(engine: SageMakerEngine, breast_cancer: dict) -> None:
    with pytest.raises(ValidationError, match="Grid strategy supports only CategoricalParameterRanges"):
        engine.tuning_jobs.create(tuning_request("bc-grid-bad", breast_cancer, strategy="Grid"))


def test_auto_early_stopping_stops_a_job_worse_than_the_median(engine: SageMakerEngine, breast_cancer: dict) -> None:
    # GIVEN jobs that boost until validation logloss stops improving, one at a time, and a seed under
    # which the third job gets a learning rate so small that its loss hardly moves
    ranges = {"CategoricalParameterRanges": [{"Name": "eta", "Values": ["0.3", "0.2", "0.0001"]}]}
    static = {"objective": "binary:logistic", "num_round": "100000", "early_stopping_rounds": "5", "max_depth": "3"}
    request = tuning_request(
        "bc-median", breast_cancer, strategy="Random", ranges=ranges, static=static,
        objective=("Minimize", "validation:logloss"), max_jobs=3, parallel=1, early_stopping="Auto", RandomSeed=28,
    )  # fmt: skip
    job = engine.tuning_jobs.create(request)
    assert job.wait(timeout=240)

    # THEN the slow learner was stopped early by the median rule and the best job is a fast learner
    summaries = children(engine, "bc-median", SortBy="CreationTime")
    assert [s["TunedHyperParameters"]["eta"] for s in summaries] == ["0.3", "0.2", "0.0001"]
    assert [s["TrainingJobStatus"] for s in summaries] == ["Completed", "Completed", "Stopped"]
    description = engine.tuning_jobs.describe("bc-median")
    assert description["TrainingJobStatusCounters"]["Stopped"] == 1
    assert description["BestTrainingJob"]["TunedHyperParameters"]["eta"] in ("0.3", "0.2")
    stopped = engine.training_jobs.describe(summaries[2]["TrainingJobName"])
    assert stopped["SecondaryStatus"] == "Stopped"  # by the tuner, not by MaxRuntimeInSeconds


def test_hyperband_stops_a_job_that_falls_behind_at_its_rung(engine: SageMakerEngine, breast_cancer: dict) -> None:
    # GIVEN Hyperband over rounds 1..9, one job at a time, and a seed under which the second job gets a
    # learning rate so small that it is behind the first at the first rung
    ranges = {"CategoricalParameterRanges": [{"Name": "eta", "Values": ["0.3", "0.0001"]}]}
    static = {"objective": "binary:logistic", "num_round": "100000", "early_stopping_rounds": "5", "max_depth": "3"}
    request = tuning_request(
        "bc-hb", breast_cancer, strategy="Hyperband", ranges=ranges, static=static,
        objective=("Minimize", "validation:logloss"), max_jobs=2, parallel=1, RandomSeed=10,
        StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}},
    )  # fmt: skip
    job = engine.tuning_jobs.create(request)
    assert job.wait(timeout=240)

    # THEN the slow learner was stopped at the rung and the fast one is the best job
    summaries = children(engine, "bc-hb", SortBy="CreationTime")
    assert [s["TunedHyperParameters"]["eta"] for s in summaries] == ["0.3", "0.0001"]
    assert [s["TrainingJobStatus"] for s in summaries] == ["Completed", "Stopped"]
    stopped = engine.training_jobs.describe(summaries[1]["TrainingJobName"])
    assert stopped["SecondaryStatus"] == "Stopped"  # by the tuner, not by MaxRuntimeInSeconds
    description = engine.tuning_jobs.describe("bc-hb")
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    assert description["BestTrainingJob"]["TunedHyperParameters"] == {"eta": "0.3"}
    with pytest.raises(ValidationError, match="must be Off with the Hyperband strategy"):
        engine.tuning_jobs.create(
            tuning_request(
                "bc-hb-auto", breast_cancer, strategy="Hyperband", ranges=ranges, max_jobs=2, early_stopping="Auto"
            )
        )


def test_stopping_a_tuning_job_stops_its_running_jobs(engine: SageMakerEngine, breast_cancer: dict) -> None:
    static = {"objective": "binary:logistic", "num_round": "1000000", "eta": "0.01"}
    job = engine.tuning_jobs.create(tuning_request("bc-stop", breast_cancer, static=static, ranges={
        "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "3", "MaxValue": "6"}]
    }))  # fmt: skip
    wait_until(lambda: engine.tuning_jobs.describe("bc-stop")["TrainingJobStatusCounters"]["InProgress"] == 2)

    engine.tuning_jobs.stop("bc-stop")
    assert engine.tuning_jobs.describe("bc-stop")["HyperParameterTuningJobStatus"] == "Stopping"
    assert job.wait(timeout=60)

    description = engine.tuning_jobs.describe("bc-stop")
    assert description["HyperParameterTuningJobStatus"] == "Stopped"
    assert description["TrainingJobStatusCounters"]["Stopped"] == 2
    assert "BestTrainingJob" not in description
    assert [s["TrainingJobStatus"] for s in children(engine, "bc-stop")] == ["Stopped", "Stopped"]


def test_ranges_and_names_are_validated(engine: SageMakerEngine, breast_cancer: dict) -> None:
    with pytest.raises(ValidationError, match="Logarithmic scaling needs MinValue > 0"):
        log_range = {"Name": "alpha", "MinValue": "0", "MaxValue": "1", "ScalingType": "Logarithmic"}
        engine.tuning_jobs.create(
            tuning_request("bc-log", breast_cancer, ranges={"ContinuousParameterRanges": [log_range]})
        )
    with pytest.raises(ValidationError, match="1 to 32 characters"):
        engine.tuning_jobs.create(tuning_request("x" * 33, breast_cancer))
    with pytest.raises(ResourceNotFound, match="can't find a tuning job with name nope"):
        engine.tuning_jobs.describe("nope")


def test_hyperband_needs_a_max_resource_it_can_read(engine: SageMakerEngine, breast_cancer: dict) -> None:
    ranges = {"CategoricalParameterRanges": [{"Name": "eta", "Values": ["0.3", "0.1"]}]}

    # num_round is not one of the epoch-style names AWS infers MaxResource from: refused at create
    with pytest.raises(ValidationError, match="MaxResource is not set and cannot be inferred"):
        engine.tuning_jobs.create(
            tuning_request("bc-hb-none", breast_cancer, strategy="Hyperband", ranges=ranges, max_jobs=2)
        )
    assert "bc-hb-none" not in engine.tuning_jobs

    # an epoch-style static hyperparameter is read (StrategyConfig's MaxResource: the test above); XGBoost
    # has no such hyperparameter, so the job is only accepted here, then stopped
    static = {"objective": "binary:logistic", "num_round": "5", "num_epochs": "5"}
    job = engine.tuning_jobs.create(
        tuning_request("bc-hb-epochs", breast_cancer, strategy="Hyperband", ranges=ranges, static=static, max_jobs=1)
    )
    assert engine.tuning_jobs.describe("bc-hb-epochs")["HyperParameterTuningJobStatus"] == "InProgress"
    engine.tuning_jobs.stop("bc-hb-epochs")
    assert job.wait(timeout=60)


def test_a_budget_above_the_number_of_combinations_is_refused(engine: SageMakerEngine, breast_cancer: dict) -> None:
    grid = {"CategoricalParameterRanges": [{"Name": "max_depth", "Values": ["1", "3", "5"]}]}
    with pytest.raises(ValidationError) as refused:
        engine.tuning_jobs.create(
            tuning_request("bc-too-many", breast_cancer, strategy="Grid", ranges=grid, max_jobs=8)
        )
    assert refused.value.message == (
        "You don't have enough combinations of hyperparameter ranges. The total number of hyperparameter "
        "combinations for the provided ranges [3.0] must be equal or greater than the value of MaxNumberOfJobs, "
        "[8]. Provide additional ranges."
    )
    # integer ranges count their integers, times each categorical range's values (3 × 2 here)
    mixed = {
        "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "4"}],
        "CategoricalParameterRanges": [{"Name": "eta", "Values": ["0.1", "0.3"]}],
    }
    with pytest.raises(ValidationError, match=r"provided ranges \[6.0\] .* MaxNumberOfJobs, \[7\]"):
        engine.tuning_jobs.create(tuning_request("bc-too-many", breast_cancer, ranges=mixed, max_jobs=7))
    assert "bc-too-many" not in engine.tuning_jobs


def test_a_tuning_job_whose_trials_lack_gpu_capacity_fails_with_awss_generic_reason(
    engine: SageMakerEngine, breast_cancer: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a machine without a GPU, and a definition that asks for one through
    # HyperParameterTuningResourceConfig (what the SageMaker Python SDK 2.x sends instead of ResourceConfig)
    monkeypatch.setattr("local.sagemaker.capacity.machine_has_gpu", lambda: False)
    request = tuning_request("bc-gpu", breast_cancer, max_jobs=2)
    definition = request["TrainingJobDefinition"]
    del definition["ResourceConfig"]
    tuning_resources = {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 7}
    definition["HyperParameterTuningResourceConfig"] = tuning_resources

    # WHEN it runs
    job = engine.tuning_jobs.create(request)
    assert job.wait(timeout=60)

    # THEN it failed with AWS's generic reason, which does not say why
    description = engine.tuning_jobs.describe("bc-gpu")
    assert description["HyperParameterTuningJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        "No training job succeeded after 2 attempts. "
        "Please take a look at the training job failures to get more details."
    )
    assert "CapacityError" not in str(description)
    # AND the children, on the tuning resource config's instances, carry the CapacityError
    failed = children(engine, "bc-gpu", StatusEquals="Failed")
    assert len(failed) == 2
    for summary in failed:
        assert summary["FailureReason"].startswith("CapacityError: Unable to provision requested ML compute capacity")
        training = engine.training_jobs.describe(summary["TrainingJobName"])
        assert training["FailureReason"] == summary["FailureReason"]
        assert training["ResourceConfig"] == tuning_resources


def test_a_definition_needs_exactly_one_resource_config(engine: SageMakerEngine, breast_cancer: dict) -> None:
    request = tuning_request("bc-res", breast_cancer)
    definition = request["TrainingJobDefinition"]
    definition["HyperParameterTuningResourceConfig"] = {"InstanceType": "ml.m5.large", "InstanceCount": 1}
    with pytest.raises(ValidationError, match="either ResourceConfig or HyperParameterTuningResourceConfig"):
        engine.tuning_jobs.create(request)
    del definition["ResourceConfig"], definition["HyperParameterTuningResourceConfig"]
    with pytest.raises(ValidationError, match="needs a ResourceConfig or a HyperParameterTuningResourceConfig"):
        engine.tuning_jobs.create(request)
