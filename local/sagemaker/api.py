"""The engine behind the SageMaker API: which operation calls what, for every account and region.

Whatever serves the API (the moto patch in :mod:`local.moto.sagemaker`) looks an action name up in
:data:`OPERATIONS`, passes the request's parameters as botocore parsed them, and serialises the dict
it gets back with the operation's output shape; a :class:`local.sagemaker.errors.SageMakerApiError`
becomes the matching AWS error. InvokeEndpoint (SageMaker Runtime) goes through :meth:`LocalSageMaker.invoke`.

A :class:`SageMakerEngine` is the local SageMaker of one account and region: its training jobs, tuning
jobs, processing jobs, models and endpoints. Whatever fronts it (the moto patch, a test) hands it API
request dicts and takes its answers; ``shutdown()`` is what ``dropml local down`` relies on to leave no
process behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from local.sagemaker.context import AwsAccount, EngineContext, Programs, RoleSessions
from local.sagemaker.endpoints import Endpoints
from local.sagemaker.models import Models
from local.sagemaker.processing_jobs import ProcessingJobs
from local.sagemaker.request_validation import check_request
from local.sagemaker.tags import Tags, check_tags
from local.sagemaker.training_jobs import TrainingJobs
from local.sagemaker.tuning_jobs import TuningJobs


class SageMakerEngine:
    """The local SageMaker of one account and region."""

    def __init__(self, context: EngineContext) -> None:
        self.context = context
        self.training_jobs = TrainingJobs(context)
        self.tuning_jobs = TuningJobs(context, self.training_jobs)
        self.processing_jobs = ProcessingJobs(context)
        self.models = Models(context)
        self.endpoints = Endpoints(context, self.models)
        self.tags = Tags(self.arns)

    def arns(self) -> set[str]:
        """The ARN of every resource this engine holds now."""
        return (
            {job.arn for job in self.training_jobs.values()}
            | {job.arn for job in self.tuning_jobs.values()}
            | {job.arn for job in self.processing_jobs.values()}
            | self.models.arns()
            | self.endpoints.arns()
        )

    def created(self, answer: dict[str, Any], arn_key: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """A Create* answer, once the new resource holds its request's ``Tags`` (and no older ones)."""
        self.tags.replace(answer[arn_key], request.get("Tags"))
        return answer

    def shutdown(self) -> None:
        """Stop every tuning, training and processing job and endpoint server, and wait for their processes."""
        self.tuning_jobs.shutdown()
        self.training_jobs.shutdown()
        self.processing_jobs.shutdown()
        self.endpoints.shutdown()


Operation = Callable[[SageMakerEngine, Mapping[str, Any]], dict[str, Any]]


def _empty(action: Callable[[], object]) -> dict[str, Any]:
    action()
    return {}


OPERATIONS: dict[str, Operation] = {
    "CreateTrainingJob": lambda e, p: e.created({"TrainingJobArn": e.training_jobs.create(p).arn}, "TrainingJobArn", p),
    "DescribeTrainingJob": lambda e, p: e.training_jobs.describe(p["TrainingJobName"]),
    "ListTrainingJobs": lambda e, p: e.training_jobs.list(p),
    "StopTrainingJob": lambda e, p: _empty(lambda: e.training_jobs.stop(p["TrainingJobName"])),
    "CreateHyperParameterTuningJob": lambda e, p: e.created(
        {"HyperParameterTuningJobArn": e.tuning_jobs.create(p).arn}, "HyperParameterTuningJobArn", p
    ),
    "DescribeHyperParameterTuningJob": lambda e, p: e.tuning_jobs.describe(p["HyperParameterTuningJobName"]),
    "ListHyperParameterTuningJobs": lambda e, p: e.tuning_jobs.list(p),
    "StopHyperParameterTuningJob": lambda e, p: _empty(lambda: e.tuning_jobs.stop(p["HyperParameterTuningJobName"])),
    "ListTrainingJobsForHyperParameterTuningJob": lambda e, p: e.tuning_jobs.list_training_jobs(p),
    "CreateProcessingJob": lambda e, p: e.created(
        {"ProcessingJobArn": e.processing_jobs.create(p).arn}, "ProcessingJobArn", p
    ),
    "DescribeProcessingJob": lambda e, p: e.processing_jobs.describe(
        check_request("DescribeProcessingJob", p)["ProcessingJobName"]
    ),
    "ListProcessingJobs": lambda e, p: e.processing_jobs.list(check_request("ListProcessingJobs", p)),
    "StopProcessingJob": lambda e, p: _empty(
        lambda: e.processing_jobs.stop(check_request("StopProcessingJob", p)["ProcessingJobName"])
    ),
    "CreateModel": lambda e, p: e.created(e.models.create_model(p), "ModelArn", p),
    "DescribeModel": lambda e, p: e.models.describe_model(p["ModelName"]),
    "DeleteModel": lambda e, p: _empty(lambda: e.models.delete_model(p["ModelName"])),
    "ListModels": lambda e, p: e.models.list_models(p),
    "CreateEndpointConfig": lambda e, p: e.created(e.models.create_endpoint_config(p), "EndpointConfigArn", p),
    "DescribeEndpointConfig": lambda e, p: e.models.describe_endpoint_config(p["EndpointConfigName"]),
    "DeleteEndpointConfig": lambda e, p: _empty(lambda: e.models.delete_endpoint_config(p["EndpointConfigName"])),
    "ListEndpointConfigs": lambda e, p: e.models.list_endpoint_configs(p),
    "CreateEndpoint": lambda e, p: e.created(e.endpoints.create_endpoint(p), "EndpointArn", p),
    "DescribeEndpoint": lambda e, p: e.endpoints.describe_endpoint(p["EndpointName"]),
    "UpdateEndpoint": lambda e, p: e.endpoints.update_endpoint(p),
    "DeleteEndpoint": lambda e, p: _empty(lambda: e.endpoints.delete_endpoint(p["EndpointName"])),
    "ListEndpoints": lambda e, p: e.endpoints.list_endpoints(p),
    "AddTags": lambda e, p: e.tags.add(p),
    "ListTags": lambda e, p: e.tags.list(p),
    "DeleteTags": lambda e, p: e.tags.delete(p),
}


class LocalSageMaker:
    """One :class:`SageMakerEngine` per account and region, made on first use, all reached over
    ``endpoint_url`` (the embedded AWS), working under ``work_dir/<account>/<region>`` and running
    ``programs`` (the training image's, unless a test gives its own)."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        work_dir: Path,
        credentials: tuple[str, str] | None = ("local", "local"),
        assume_role: RoleSessions | None = None,
        programs: Programs | None = None,
    ) -> None:
        self._endpoint_url = endpoint_url
        self._work_dir = work_dir
        self._credentials = credentials
        self._assume_role = assume_role
        self._programs = programs or Programs()
        self._lock = threading.Lock()
        self._engines: dict[tuple[str, str], SageMakerEngine] = {}

    def engine(self, account: str, region: str) -> SageMakerEngine:
        with self._lock:
            if (account, region) not in self._engines:
                aws = AwsAccount(
                    endpoint_url=self._endpoint_url,
                    region=region,
                    account_id=account,
                    credentials=self._credentials,
                    assume_role=self._assume_role,
                )
                context = EngineContext(aws=aws, workdir=self._work_dir / account / region, programs=self._programs)
                self._engines[(account, region)] = SageMakerEngine(context)
            return self._engines[(account, region)]

    def engines(self) -> dict[tuple[str, str], SageMakerEngine]:
        """Every engine made so far, by (account, region): what local mode saves when it stops."""
        with self._lock:
            return dict(self._engines)

    def call(self, action: str, account: str, region: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
        check_tags(parameters.get("Tags"))  # before anything is made: a bad tag fails the whole request
        return OPERATIONS[action](self.engine(account, region), parameters)

    def invoke(self, account: str, region: str, request: Mapping[str, Any]) -> dict[str, Any]:
        return self.engine(account, region).endpoints.invoke(request)

    def describe_job(self, kind: str, name: str, account: str, region: str) -> dict[str, Any]:
        """A training, tuning or processing job's Describe* output (what a Step Functions ``.sync`` task polls)."""
        engine = self.engine(account, region)
        if kind == "TrainingJob":
            return engine.training_jobs.describe(name)
        if kind == "ProcessingJob":
            return engine.processing_jobs.describe(name)
        return engine.tuning_jobs.describe(name)

    def shutdown(self) -> None:
        with self._lock:
            engines = list(self._engines.values())
            self._engines.clear()
        for engine in engines:
            engine.shutdown()
