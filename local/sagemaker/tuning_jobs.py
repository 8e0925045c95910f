"""Hyperparameter tuning jobs driven by a real optimiser (optuna), running real training jobs.

Strategies map onto optuna: ``Bayesian`` → TPE, ``Random`` → random sampling, ``Grid`` → every
combination of the categorical ranges, ``Hyperband`` → TPE with optuna's ``HyperbandPruner``, whose
resource is the boosting round. ``TrainingJobEarlyStoppingType: Auto`` is SageMaker's median stopping
rule, optuna's ``MedianPruner``. Both pruners are fed the objective metric of every round as the child
job logs it (its ``[round]`` prefix is the step); a pruned child is stopped like StopTrainingJob and
ends ``Stopped``. Children are ordinary training jobs (``<tuning job>-<NNN>-<8 hex>``): Describe and
List show them like any other, with ``TuningJobArn`` set, and get the definition's ``ResourceConfig``
or, as the SageMaker Python SDK 2.x sends it, its ``HyperParameterTuningResourceConfig``.

What AWS refuses at CreateHyperParameterTuningJob is refused here, with its message where it is
known: Hyperband without a ``MaxResource`` it can read (given, or one of the epoch-style static
hyperparameters, never ``num_round``), and a job budget larger than the number of combinations the
ranges allow (a continuous range allows infinitely many).

Parallelism is ``MaxParallelTrainingJobs`` bounded by the machine's cores
(``EngineContext.max_parallel_processes``), because every child is a process that wants a core. The
ranges become optuna's search space in :mod:`local.sagemaker.search_space`.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import optuna
from optuna.trial import Trial, TrialState

from core.parameter_ranges import combinations
from local.sagemaker.context import EngineContext
from local.sagemaker.errors import ResourceInUse, ResourceNotFound, ValidationError
from local.sagemaker.metrics import MetricPoint
from local.sagemaker.registry import JobRegistry, Listing, paginate
from local.sagemaker.search_space import grid_of, parameter_space
from local.sagemaker.training_jobs import TrainingJob, TrainingJobs, check_spot

TUNING_JOB_NAME_MAX = 32
_POLL_S = 0.1
# Median rule: judge a job only once this many others have finished, and only after this many rounds.
MEDIAN_STARTUP_TRIALS = 2
MEDIAN_WARMUP_ROUNDS = 5
HYPERBAND_REDUCTION_FACTOR = 3
# The static hyperparameters Hyperband reads MaxResource from when StrategyConfig gives none (botocore's
# documentation of HyperbandStrategyConfig.MaxResource); any other name is a validation error.
HYPERBAND_RESOURCE_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
NO_SUCCESS_REASON = (
    "No training job succeeded after {attempts} attempts. "
    "Please take a look at the training job failures to get more details."
)
"""A failed tuning job's FailureReason on AWS; why each child failed is on the child (its FailureReason)."""

optuna.logging.set_verbosity(optuna.logging.WARNING)


class _GridSampler(optuna.samplers.GridSampler):
    """optuna's grid sampler without its end-of-grid ``study.stop()``.

    That call ends an ``optimize()`` loop and raises in ask-and-tell use, which is how a tuning job
    drives the study; here the job budget is the grid's size, so nothing needs stopping.
    """

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        return None


@dataclass
class _Child:
    """One training job of the tuning job and the optuna trial it evaluates."""

    index: int
    trial: Trial
    tuned: dict[str, str]
    job: TrainingJob | None = None
    pruned: bool = False
    last_step: int = -1
    told: bool = False
    objective: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class TuningJob:
    """One CreateHyperParameterTuningJob request, run by a scheduler thread.

    It ends ``Completed`` when its job budget is spent, when ``ResourceLimits.MaxRuntimeInSeconds``
    runs out (running children are stopped) or when ``TuningJobCompletionCriteria`` 's target is
    reached; ``Stopped`` after StopHyperParameterTuningJob; ``Failed`` when every child failed, with
    AWS's generic :data:`NO_SUCCESS_REASON`. The best job is the best objective among ``Completed`` children.
    """

    def __init__(self, request: Mapping[str, Any], *, context: EngineContext, training_jobs: TrainingJobs) -> None:
        self.request = dict(request)
        self.name: str = self.request["HyperParameterTuningJobName"]
        self.arn = context.aws.arn("hyper-parameter-tuning-job", self.name)
        self._context = context
        self._training_jobs = training_jobs
        if self.request.get("TrainingJobDefinitions"):
            raise ValidationError("TrainingJobDefinitions (several algorithms) are not supported locally")
        if self.request.get("WarmStartConfig"):
            raise ValidationError("WarmStartConfig is not supported locally")
        self._definition: dict[str, Any] = dict(self.request.get("TrainingJobDefinition") or {})
        if not self._definition:
            raise ValidationError("TrainingJobDefinition is required")
        self._child_resources = _child_resources(self._definition)
        config = self.request["HyperParameterTuningJobConfig"]
        objective = config.get("HyperParameterTuningJobObjective") or self._definition.get("TuningObjective")
        if not objective:
            raise ValidationError("HyperParameterTuningJobObjective is required")
        self._objective: dict[str, str] = dict(objective)
        self._maximize = self._objective["Type"] == "Maximize"
        self._ranges = config.get("ParameterRanges") or self._definition.get("HyperParameterRanges") or {}
        self._parameters = parameter_space(self._ranges)
        limits = config["ResourceLimits"]
        self._strategy: str = config.get("Strategy", "Bayesian")
        self._max_jobs = self._job_budget(limits)
        self._parallel = max(1, min(int(limits["MaxParallelTrainingJobs"]), self._context.max_parallel_processes))
        self._max_runtime_s: float | None = limits.get("MaxRuntimeInSeconds")
        target = (config.get("TuningJobCompletionCriteria") or {}).get("TargetObjectiveMetricValue")
        self._target: float | None = float(target) if target is not None else None
        self._study = self._make_study(config)
        self._lock = threading.RLock()
        self._children: list[_Child] = []
        self._stop_requested = False
        self.status = "InProgress"
        self.failure_reason: str | None = None
        self.creation_time = context.clock()
        self.last_modified = self.creation_time
        self.end_time: datetime | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"tuning-job-{self.name}", daemon=True)

    def _job_budget(self, limits: Mapping[str, Any]) -> int:
        given = limits.get("MaxNumberOfTrainingJobs")
        if self._strategy == "Grid":
            grid_of(self._parameters)  # refuses what Grid cannot search
        count = combinations(self._ranges)
        if not given:
            if self._strategy == "Grid":
                return int(count)
            raise ValidationError(f"MaxNumberOfTrainingJobs is required for the {self._strategy} strategy")
        if int(given) > count:
            raise ValidationError(
                "You don't have enough combinations of hyperparameter ranges. The total number of "
                f"hyperparameter combinations for the provided ranges [{float(count)}] must be equal or "
                f"greater than the value of MaxNumberOfJobs, [{int(given)}]. Provide additional ranges."
            )
        return int(given)

    def _make_study(self, config: Mapping[str, Any]) -> optuna.Study:
        seed = config.get("RandomSeed")
        early_stopping = config.get("TrainingJobEarlyStoppingType", "Off")
        pruner: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
        sampler: optuna.samplers.BaseSampler
        if self._strategy == "Bayesian":
            sampler = optuna.samplers.TPESampler(seed=seed)
        elif self._strategy == "Random":
            sampler = optuna.samplers.RandomSampler(seed=seed)
        elif self._strategy == "Grid":
            sampler = _GridSampler(grid_of(self._parameters), seed=seed)
        elif self._strategy == "Hyperband":
            if early_stopping == "Auto":
                raise ValidationError("TrainingJobEarlyStoppingType must be Off with the Hyperband strategy")
            hyperband = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
            max_resource = _hyperband_max_resource(hyperband, self._definition.get("StaticHyperParameters") or {})
            min_resource = int(hyperband.get("MinResource") or 1)
            sampler = optuna.samplers.TPESampler(seed=seed)
            pruner = optuna.pruners.HyperbandPruner(
                min_resource=min_resource, max_resource=max_resource, reduction_factor=HYPERBAND_REDUCTION_FACTOR
            )
        else:
            raise ValidationError(f"unknown Strategy {self._strategy!r}")
        if early_stopping == "Auto":
            pruner = optuna.pruners.MedianPruner(
                n_startup_trials=MEDIAN_STARTUP_TRIALS, n_warmup_steps=MEDIAN_WARMUP_ROUNDS
            )
        direction = optuna.study.StudyDirection.MAXIMIZE if self._maximize else optuna.study.StudyDirection.MINIMIZE
        # Named after the tuning job: Hyperband assigns trials to brackets by a hash of the study's name,
        # so a job's name and RandomSeed reproduce its choices.
        return optuna.create_study(study_name=self.name, sampler=sampler, pruner=pruner, direction=direction)

    # -- the API ------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            if self.status != "InProgress":
                return
            self._stop_requested = True
            self.status = "Stopping"
            self.last_modified = self._context.clock()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            children = list(self._children)
            description: dict[str, Any] = {
                "HyperParameterTuningJobName": self.name,
                "HyperParameterTuningJobArn": self.arn,
                "HyperParameterTuningJobConfig": self.request["HyperParameterTuningJobConfig"],
                "TrainingJobDefinition": self._definition,
                "HyperParameterTuningJobStatus": self.status,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified,
                "TrainingJobStatusCounters": self._status_counters(children),
                "ObjectiveStatusCounters": self._objective_counters(children),
            }
            if self.end_time is not None:
                description["HyperParameterTuningEndTime"] = self.end_time
            end = self.end_time or self._context.clock()
            description["ConsumedResources"] = {"RuntimeInSeconds": int((end - self.creation_time).total_seconds())}
            best = self._best(children)
            if best is not None:
                description["BestTrainingJob"] = self._summary(best)
            if self.failure_reason:
                description["FailureReason"] = self.failure_reason
            return description

    def summary(self) -> dict[str, Any]:
        """The ``ListHyperParameterTuningJobs`` entry."""
        described = self.describe()
        config = described["HyperParameterTuningJobConfig"]
        summary = {
            "HyperParameterTuningJobName": self.name,
            "HyperParameterTuningJobArn": self.arn,
            "HyperParameterTuningJobStatus": described["HyperParameterTuningJobStatus"],
            "Strategy": config.get("Strategy", "Bayesian"),
            "CreationTime": described["CreationTime"],
            "LastModifiedTime": described["LastModifiedTime"],
            "TrainingJobStatusCounters": described["TrainingJobStatusCounters"],
            "ObjectiveStatusCounters": described["ObjectiveStatusCounters"],
            "ResourceLimits": config["ResourceLimits"],
        }
        if "HyperParameterTuningEndTime" in described:
            summary["HyperParameterTuningEndTime"] = described["HyperParameterTuningEndTime"]
        return summary

    def list_training_jobs(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """ListTrainingJobsForHyperParameterTuningJob, with its filter, sort orders and paging."""
        with self._lock:
            children = [c for c in self._children if c.job is not None]
        return page_training_jobs([self._summary(child) for child in children], request)

    # -- the scheduler's thread ---------------------------------------------------------------------

    def _run(self) -> None:
        started = time.monotonic()
        try:
            while True:
                self._collect_finished()
                running = [c for c in self._children if c.job is not None and not c.job.finished]
                out_of_time = self._max_runtime_s is not None and time.monotonic() - started > self._max_runtime_s
                if self._stop_requested or out_of_time or self._target_reached():
                    for child in running:
                        assert child.job is not None
                        child.job.stop()
                    if not running:
                        break
                elif len(self._children) >= self._max_jobs and not running:
                    break
                else:
                    while len(running) < self._parallel and len(self._children) < self._max_jobs:
                        running.append(self._launch())
                time.sleep(_POLL_S)
            self._collect_finished()
            self._finish("Stopped" if self._stop_requested else self._outcome())
        except Exception as exc:  # a scheduler must end in a status, never die silently
            for child in self._children:
                if child.job is not None:
                    child.job.stop()
            self.failure_reason = f"InternalServerError: local tuning failed: {exc!r}"
            self._finish("Failed")
        finally:
            self._done.set()

    def _launch(self) -> _Child:
        distributions = {p.name: p.distribution for p in self._parameters}
        trial = self._study.ask(distributions)
        tuned = {p.name: p.to_text(trial.params[p.name]) for p in self._parameters}
        child = _Child(index=len(self._children) + 1, trial=trial, tuned=tuned)
        definition = self._definition
        hyperparameters = {
            **{str(k): str(v) for k, v in (definition.get("StaticHyperParameters") or {}).items()},
            **tuned,
            "_tuning_objective_metric": self._objective["MetricName"],
        }
        algorithm = dict(definition["AlgorithmSpecification"])
        request = {
            "TrainingJobName": f"{self.name}-{child.index:03d}-{uuid.uuid4().hex[:8]}",
            "AlgorithmSpecification": {k: v for k, v in algorithm.items() if k != "AlgorithmName"},
            "RoleArn": definition.get("RoleArn"),
            "HyperParameters": hyperparameters,
            "InputDataConfig": definition.get("InputDataConfig") or [],
            "OutputDataConfig": definition["OutputDataConfig"],
            "ResourceConfig": dict(self._child_resources),
            "StoppingCondition": definition.get("StoppingCondition") or {},
        }
        for optional in ("CheckpointConfig", "Environment", "VpcConfig", "EnableNetworkIsolation",
                         "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining"):  # fmt: skip
            if definition.get(optional) is not None:
                request[optional] = definition[optional]
        with self._lock:
            self._children.append(child)
            self.last_modified = self._context.clock()
        child.job = self._training_jobs.create(
            request, tuning_job_arn=self.arn, on_metric=lambda point: self._on_metric(child, point)
        )
        return child

    def _on_metric(self, child: _Child, point: MetricPoint) -> None:
        """Feed the objective's per-round values to the pruner; stop the child when it says so."""
        if point.name != self._objective["MetricName"] or point.step is None:
            return
        with child.lock:
            if child.told or child.pruned or point.step <= child.last_step:
                return
            child.last_step = point.step
            child.trial.report(point.value, point.step)
            if child.trial.should_prune() and child.job is not None:
                child.pruned = True
                child.job.stop()

    def _collect_finished(self) -> None:
        for child in list(self._children):
            job = child.job
            if job is None or not job.finished or child.told:
                continue
            values = [m["Value"] for m in job.final_metrics if m["MetricName"] == self._objective["MetricName"]]
            with child.lock:
                child.told = True
                child.objective = float(values[-1]) if values else None
                if child.pruned:
                    self._study.tell(child.trial, state=TrialState.PRUNED)
                elif job.status == "Completed" and child.objective is not None:
                    self._study.tell(child.trial, child.objective)
                else:
                    self._study.tell(child.trial, state=TrialState.FAIL)
            with self._lock:
                self.last_modified = self._context.clock()

    def _target_reached(self) -> bool:
        best = self._best(self._children)
        if self._target is None or best is None or best.objective is None:
            return False
        return best.objective >= self._target if self._maximize else best.objective <= self._target

    def _outcome(self) -> str:
        jobs = [c.job for c in self._children if c.job is not None]
        if jobs and all(job.status == "Failed" for job in jobs):
            self.failure_reason = NO_SUCCESS_REASON.format(attempts=len(jobs))
            return "Failed"
        return "Completed"

    def _finish(self, status: str) -> None:
        with self._lock:
            self.status = status
            self.end_time = self.last_modified = self._context.clock()

    # -- answers -------------------------------------------------------------------------------------

    def _best(self, children: list[_Child]) -> _Child | None:
        scored = [
            c
            for c in children
            if c.told and c.objective is not None and c.job is not None and c.job.status == "Completed"
        ]
        if not scored:
            return None
        pick = max if self._maximize else min
        return pick(scored, key=lambda c: c.objective)  # type: ignore[arg-type, return-value]

    def _summary(self, child: _Child) -> dict[str, Any]:
        assert child.job is not None
        job = child.job.describe()
        summary: dict[str, Any] = {
            "TrainingJobName": job["TrainingJobName"],
            "TrainingJobArn": job["TrainingJobArn"],
            "TuningJobName": self.name,
            "CreationTime": job["CreationTime"],
            "TrainingJobStatus": job["TrainingJobStatus"],
            "TunedHyperParameters": dict(child.tuned),
            "ObjectiveStatus": self._objective_status(child),
        }
        for key in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
            if key in job:
                summary[key] = job[key]
        if child.told and child.objective is not None:
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "Type": self._objective["Type"],
                "MetricName": self._objective["MetricName"],
                "Value": child.objective,
            }
        return summary

    @staticmethod
    def _objective_status(child: _Child) -> str:
        if not child.told:
            return "Pending"
        return "Succeeded" if child.objective is not None else "Failed"

    @staticmethod
    def _status_counters(children: list[_Child]) -> dict[str, int]:
        counters = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
        for child in children:
            status = child.job.status if child.job is not None else "InProgress"
            if status == "Failed":
                counters["NonRetryableError"] += 1
            elif status in ("InProgress", "Stopping"):
                counters["InProgress"] += 1
            else:
                counters[status] += 1
        return counters

    def _objective_counters(self, children: list[_Child]) -> dict[str, int]:
        counters = {"Succeeded": 0, "Pending": 0, "Failed": 0}
        for child in children:
            counters[self._objective_status(child)] += 1
        return counters


def _child_resources(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The ResourceConfig of the children: the definition's, or its HyperParameterTuningResourceConfig
    (the first of its InstanceConfigs when it lists several: one machine has no instance flexibility)."""
    given, tuning = definition.get("ResourceConfig"), definition.get("HyperParameterTuningResourceConfig")
    if given and tuning:
        raise ValidationError("Specify either ResourceConfig or HyperParameterTuningResourceConfig, not both.")
    if given:
        return dict(given)
    if not tuning:
        raise ValidationError("TrainingJobDefinition needs a ResourceConfig or a HyperParameterTuningResourceConfig.")
    source = (tuning.get("InstanceConfigs") or [tuning])[0]
    keys = ("InstanceType", "InstanceCount", "VolumeSizeInGB")
    resources = {key: source[key] for key in keys if source.get(key) is not None}
    if tuning.get("VolumeKmsKeyId"):
        resources["VolumeKmsKeyId"] = tuning["VolumeKmsKeyId"]
    return resources


def _hyperband_max_resource(hyperband: Mapping[str, Any], static: Mapping[str, Any]) -> int:
    if hyperband.get("MaxResource"):
        return int(hyperband["MaxResource"])
    for key in HYPERBAND_RESOURCE_KEYS:
        if static.get(key) is not None:
            return int(static[key])
    raise ValidationError(
        "HyperbandStrategyConfig.MaxResource is not set and cannot be inferred: none of the static "
        f"hyperparameters {', '.join(HYPERBAND_RESOURCE_KEYS)} is given."
    )


LISTING = Listing(
    page_key="HyperParameterTuningJobSummaries",
    name_field="HyperParameterTuningJobName",
    status_field="HyperParameterTuningJobStatus",
    sort_fields={"Name": "HyperParameterTuningJobName", "Status": "HyperParameterTuningJobStatus"},
    time_bounds=True,
)


def page_training_jobs(summaries: list[dict[str, Any]], request: Mapping[str, Any]) -> dict[str, Any]:
    """ListTrainingJobsForHyperParameterTuningJob's filter, sort orders and paging of a tuning job's
    children (also what a tuning job restored from disk answers with: local.sagemaker.persistence)."""
    if request.get("StatusEquals"):
        summaries = [s for s in summaries if s["TrainingJobStatus"] == request["StatusEquals"]]
    sort_by = request.get("SortBy") or "Name"
    descending = (request.get("SortOrder") or "Ascending") == "Descending"
    if sort_by == "FinalObjectiveMetricValue":
        # AWS lists only jobs that reported the objective when sorting by it.
        summaries = [s for s in summaries if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        summaries.sort(key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"], reverse=descending)
    else:
        key = {"Name": "TrainingJobName", "CreationTime": "CreationTime", "Status": "TrainingJobStatus"}[sort_by]
        summaries.sort(key=lambda s: s[key], reverse=descending)
    return paginate(summaries, "TrainingJobSummaries", request)


class TuningJobs(JobRegistry[TuningJob]):
    """Every tuning job of one engine, by name."""

    def __init__(self, context: EngineContext, training_jobs: TrainingJobs) -> None:
        super().__init__(
            lambda name: ResourceNotFound(f"Amazon SageMaker can't find a tuning job with name {name}"),
            listing=LISTING,
            stop_timeout_s=context.stop_grace_s + 15,
        )
        self._context = context
        self._training_jobs = training_jobs

    def create(self, request: Mapping[str, Any]) -> TuningJob:
        name = request.get("HyperParameterTuningJobName") or ""
        if not 1 <= len(name) <= TUNING_JOB_NAME_MAX:
            raise ValidationError(f"HyperParameterTuningJobName must be 1 to {TUNING_JOB_NAME_MAX} characters")
        check_spot(request.get("TrainingJobDefinition") or {})
        job = TuningJob(request, context=self._context, training_jobs=self._training_jobs)
        taken = ResourceInUse(f"Tuning job with name {name} already exists.")
        self.add(name, lambda: job, taken=lambda _: taken)
        job.start()
        return job

    def stop(self, name: str) -> None:
        job = self.get(name)
        if job.status != "InProgress":
            raise ValidationError(
                f"The hyperparameter tuning job {name} is in status {job.status} and cannot be stopped."
            )
        job.stop()

    def list_training_jobs(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return self.get(request["HyperParameterTuningJobName"]).list_training_jobs(request)
