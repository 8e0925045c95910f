"""The local SageMaker's records, kept across a restart of local mode: jobs, models, endpoint
configurations and endpoints, not the processes that ran them.

An AWS account keeps its SageMaker resources whatever happens to the client; local mode's engine keeps
them in memory, so ``dropml local down`` would lose them. :func:`snapshot` takes what each engine holds
as plain data, and :func:`restore` puts it back into a new engine:
- a training, tuning or processing job comes back as a :class:`RecordedJob`, which answers Describe*,
  List* (and, for a tuning job, ListTrainingJobsForHyperParameterTuningJob) as the job did when it was
  saved. The server stops every running job before its last save (:func:`stop_running_jobs`), so those
  records are final; a job that was running in a save taken while serving (the server was then killed)
  comes back ``Failed`` with AWS's internal-error reason;
- models and endpoint configurations come back as the records they are, and every resource its tags;
- an endpoint that was ``InService`` serves again: it comes back ``Creating`` while its servers are
  started in the background from its configuration and models as they were saved, and is ``InService``
  once they answer ``/ping`` (as AWS shows an endpoint coming up). One that was being created is created
  again; one that was updating comes back (``Creating``, then) ``InService`` on its old configuration,
  with a FailureReason saying the update was interrupted.

The endpoint part reads the engine's internals (:class:`local.sagemaker.endpoints.Endpoints`): an
endpoint restored with its status as saved is not something the public API can make.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from local.sagemaker.api import LocalSageMaker, SageMakerEngine
from local.sagemaker.endpoints import Endpoint, Endpoints
from local.sagemaker.errors import SageMakerApiError, ValidationError
from local.sagemaker.models import Record
from local.sagemaker.registry import JobRegistry
from local.sagemaker.tuning_jobs import page_training_jobs

T = TypeVar("T")
INTERRUPTED_UPDATE: Final = "The local server stopped during this update; the endpoint kept its previous configuration."
INTERRUPTED_JOB: Final = "InternalServerError: We encountered an internal error. Please try again."
_RUNNING: Final = ("InProgress", "Stopping")
_ALL_PAGES: Final = {"MaxResults": 1_000_000}
_JOB_KINDS: Final = {  # a kind of job (its Describe* members' prefix) → the member holding its end time
    "TrainingJob": "TrainingEndTime",
    "HyperParameterTuningJob": "HyperParameterTuningEndTime",
    "ProcessingJob": "ProcessingEndTime",
}


class RecordedJob:
    """A training, tuning or processing job as it was saved: answers what the live job answered, and is final."""

    def __init__(self, description: dict[str, Any], summary: dict[str, Any], children: list[dict[str, Any]]) -> None:
        self._description = description
        self._summary = summary
        self._children = children
        kind = _kind(description)
        self.arn = str(description[f"{kind}Arn"])
        self.status = str(description[f"{kind}Status"])

    def describe(self) -> dict[str, Any]:
        return copy.deepcopy(self._description)

    def summary(self) -> dict[str, Any]:
        return copy.deepcopy(self._summary)

    def list_training_jobs(self, request: Mapping[str, Any]) -> dict[str, Any]:
        return page_training_jobs(copy.deepcopy(self._children), request)

    def interrupt(self, now: datetime) -> None:
        """End a job saved while it ran (the server was killed): ``Failed``, as AWS ends a job whose
        instance was lost, with AWS's internal-error reason (which a processing job's summary shows too)."""
        kind = _kind(self._description)  # worked out, not stored: an older save's jobs lack such a field
        for record in (self._description, self._summary):
            record[f"{kind}Status"] = "Failed"
            record["LastModifiedTime"] = now
            record[_JOB_KINDS[kind]] = now
            if "SecondaryStatus" in record:
                record["SecondaryStatus"] = "Failed"
        self._description["FailureReason"] = INTERRUPTED_JOB
        if kind == "ProcessingJob":
            self._summary["FailureReason"] = INTERRUPTED_JOB
        self.status = "Failed"

    def stop(self) -> None:
        """Nothing runs: a saved job had ended (the registries refuse to stop an ended job anyway)."""

    def wait(self, timeout: float | None = None) -> bool:
        return True


@dataclass(frozen=True)
class EndpointRecord:
    name: str
    arn: str
    status: str
    created: Any
    last_modified: Any
    failure_reason: str | None
    config: Record | None  # what it serves, as it was when saved (None: its configuration was deleted)
    models: dict[str, Record]


@dataclass(frozen=True)
class EngineRecords:
    """What one engine (one account and region) held."""

    training_jobs: list[RecordedJob] = field(default_factory=list)
    tuning_jobs: list[RecordedJob] = field(default_factory=list)
    processing_jobs: list[RecordedJob] = field(default_factory=list)
    models: list[Record] = field(default_factory=list)
    configs: list[Record] = field(default_factory=list)
    endpoints: list[EndpointRecord] = field(default_factory=list)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # by ARN


Snapshot = dict[tuple[str, str], EngineRecords]


def stop_running_jobs(local: LocalSageMaker) -> None:
    """Stop* for every job still running, as a job killed mid-way would end on AWS (``Stopped``: a
    ``.sync`` task waiting on it fails and the run's Catch takes it)."""
    for engine in local.engines().values():
        for registry in _job_registries(engine):
            for job in registry.values():
                if job.status == "InProgress":
                    with contextlib.suppress(SageMakerApiError):  # it ended meanwhile
                        registry.stop(_name(job.describe()))


def running_jobs(local: LocalSageMaker) -> int:
    return sum(
        job.status in _RUNNING
        for engine in local.engines().values()
        for registry in _job_registries(engine)
        for job in registry.values()
    )


def _job_registries(engine: SageMakerEngine) -> tuple[Any, ...]:
    """Tuning jobs first: stopping one stops its training jobs, which are then not stopped twice."""
    return (engine.tuning_jobs, engine.training_jobs, engine.processing_jobs)


def snapshot(local: LocalSageMaker) -> Snapshot:
    return {key: _engine_records(engine) for key, engine in local.engines().items()}


def _engine_records(engine: SageMakerEngine) -> EngineRecords:
    models = engine.models
    with models.lock:
        model_records = copy.deepcopy(models._models.values())
        config_records = copy.deepcopy(models._configs.values())
        endpoints = [_endpoint_record(engine, endpoint) for endpoint in engine.endpoints._endpoints.values()]
    with engine.tags._lock:
        tags = copy.deepcopy(engine.tags._tags)
    return EngineRecords(
        training_jobs=[_job_record(job) for job in engine.training_jobs.values()],
        tuning_jobs=[_job_record(job, tuning=True) for job in engine.tuning_jobs.values()],
        processing_jobs=[_job_record(job) for job in engine.processing_jobs.values()],
        models=model_records,
        configs=config_records,
        endpoints=[record for record in endpoints if record is not None],
        tags=tags,
    )


def _job_record(job: Any, *, tuning: bool = False) -> RecordedJob:
    children = job.list_training_jobs(_ALL_PAGES)["TrainingJobSummaries"] if tuning else []
    return RecordedJob(job.describe(), job.summary(), children)


def _endpoint_record(engine: SageMakerEngine, endpoint: Endpoint) -> EndpointRecord | None:
    if endpoint.deleted or endpoint.status == "Deleting":
        return None
    config = engine.models._configs.find(endpoint.config_name)
    try:
        models = engine.models.snapshot(config) if config is not None else {}
    except ValidationError:  # a model it serves was deleted since: its servers cannot be started again
        config, models = None, {}
    return EndpointRecord(
        name=endpoint.name,
        arn=endpoint.arn,
        status=endpoint.status,
        created=endpoint.created,
        last_modified=endpoint.last_modified,
        failure_reason=endpoint.failure_reason,
        config=copy.deepcopy(config),
        models=models,
    )


def restore(local: LocalSageMaker, saved: Snapshot) -> None:
    """Put ``saved`` back into ``local``'s engines; the endpoints that serve are started in the background.

    Needs the embedded AWS to be answering: an endpoint's model is downloaded from S3 again.
    """
    for (account, region), records in saved.items():
        engine = local.engine(account, region)
        _restore_jobs(engine.training_jobs, records.training_jobs)
        _restore_jobs(engine.tuning_jobs, records.tuning_jobs)
        _restore_jobs(engine.processing_jobs, getattr(records, "processing_jobs", []))  # none in older saves
        for model in records.models:
            engine.models._models.add(model["ModelName"], _given(model), taken=_taken)
        for config in records.configs:
            engine.models._configs.add(config["EndpointConfigName"], _given(config), taken=_taken)
        with engine.tags._lock:
            engine.tags._tags.update(getattr(records, "tags", {}))  # a state saved before tags were: none
        for endpoint in records.endpoints:
            _restore_endpoint(engine, endpoint)


def _restore_jobs(registry: JobRegistry[Any], jobs: list[RecordedJob]) -> None:
    now = datetime.now(UTC)
    for job in jobs:
        if job.status in _RUNNING:
            job.interrupt(now)
        registry.add(_name(job.describe()), _given(job), taken=_taken)


def _restore_endpoint(engine: SageMakerEngine, record: EndpointRecord) -> None:
    endpoints = engine.endpoints
    serves = record.status in ("InService", "Creating", "Updating") and record.config is not None
    endpoint = Endpoint(
        name=record.name,
        arn=record.arn,
        config_name=record.config["EndpointConfigName"] if record.config else "",
        created=record.created,
        status="Creating" if serves else record.status,
        failure_reason=INTERRUPTED_UPDATE if record.status == "Updating" else record.failure_reason,
        last_modified=record.last_modified,
    )
    endpoints._endpoints.add(record.name, lambda: endpoint, taken=_taken)
    if serves and record.config is not None:
        endpoints._in_background(_serve_again, endpoints, endpoint, record)


def _serve_again(endpoints: Endpoints, endpoint: Endpoint, record: EndpointRecord) -> None:
    """The creation path: servers started, /ping awaited, then InService (or Failed with the reason)."""
    assert record.config is not None
    endpoints._create(endpoint, record.config, record.models)
    with endpoints._lock:
        if record.status != "Creating" and endpoint.status == "InService":
            endpoint.last_modified = record.last_modified
            endpoint.failure_reason = INTERRUPTED_UPDATE if record.status == "Updating" else record.failure_reason


def _kind(description: Mapping[str, Any]) -> str:
    """Which kind of job a Describe* output describes (a tuning job's names its best training job only
    below ``BestTrainingJob``)."""
    return next(kind for kind in _JOB_KINDS if f"{kind}Name" in description)


def _name(description: Mapping[str, Any]) -> str:
    return str(description[f"{_kind(description)}Name"])


def _given(item: T) -> Callable[[], T]:
    """What a registry's ``add`` makes: the restored item itself."""
    return lambda: item


def _taken(_existing: object) -> SageMakerApiError:
    return ValidationError("local mode restored a resource whose name is already in use")
