"""Step Functions that execute definitions the way AWS does for dropml's state machine.

- moto only records executions unless told to run them; :func:`execute_definitions` turns its
  ``execute_state_machine`` setting on for as long as the patches are installed.
- moto names every execution started without a name ``None``; AWS gives it a UUID
  (:func:`patch_unnamed_executions`).
- moto's SageMaker task service has no ``.sync``; the pipeline starts training and tuning jobs with it.
  :class:`StateTaskServiceSageMaker` forwards the call to SageMaker and, for ``.sync``, polls a job
  status source until the job ends. The source is moto's own records by default (their jobs complete
  at once); local mode's SageMaker (:mod:`local.moto.sagemaker`) and tests swap in their own with
  :func:`use_sagemaker_job_source`, and whatever source was in force at install is put back at uninstall.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, Final, Literal, cast

from moto.core.config import default_user_config
from moto.sagemaker.models import sagemaker_backends
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
    state_task_service_factory,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
    ResourceRuntimePart,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from local.moto.state import Replacements
from local.moto.wire import to_wire

# Executing definitions -----------------------------------------------------------------------------


def execute_definitions(replacements: Replacements) -> None:
    previous = default_user_config.get("stepfunctions")
    default_user_config["stepfunctions"] = {"execute_state_machine": True}

    def put_back() -> None:
        if previous is None:
            default_user_config.pop("stepfunctions", None)
        else:
            default_user_config["stepfunctions"] = previous

    replacements.on_restore(put_back)


# Unnamed executions --------------------------------------------------------------------------------


def patch_unnamed_executions(replacements: Replacements) -> None:
    for backend_class in (StepFunctionBackend, StepFunctionsParserBackend):
        original = vars(backend_class)["start_execution"]

        def start_execution(
            self: Any,
            state_machine_arn: str,
            name: str | None = None,
            *args: Any,
            _original: Any = original,
            **kwargs: Any,
        ) -> Any:
            return _original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

        replacements.replace(backend_class, "start_execution", start_execution)


# The SageMaker task service and its job source -----------------------------------------------------

JobKind = Literal["TrainingJob", "HyperParameterTuningJob"]
SageMakerJobSource = Callable[[JobKind, str, str, str], dict[str, Any]]
"""``(kind, job name, account, region) → DescribeTrainingJob / DescribeHyperParameterTuningJob output``."""

_SYNC_JOBS: Final[dict[str, tuple[JobKind, str]]] = {
    "createtrainingjob": ("TrainingJob", "TrainingJobName"),
    "createhyperparametertuningjob": ("HyperParameterTuningJob", "HyperParameterTuningJobName"),
}
_DONE: Final = "Completed"
_FAILED: Final = ("Failed", "Stopped")


def describe_job_in_moto(kind: JobKind, name: str, account: str, region: str) -> dict[str, Any]:
    """Describe a job from moto's SageMaker records (the default source; they complete at once)."""
    backend = sagemaker_backends[account][region]
    if kind == "TrainingJob":
        return dict(backend.describe_training_job(name))
    return dict(backend.describe_hyper_parameter_tuning_job(name))


_job_source: SageMakerJobSource = describe_job_in_moto
"""What ``.sync`` tasks poll; read at every poll, so a swap applies to running executions too."""


def use_sagemaker_job_source(source: SageMakerJobSource) -> SageMakerJobSource:
    """Make ``.sync`` tasks poll ``source`` from now on; returns the previous source.

    This is the hook for local mode's SageMaker runner: it reports real job progress here.
    """
    global _job_source
    previous, _job_source = _job_source, source
    return previous


def job_status(kind: JobKind, description: dict[str, Any]) -> str:
    key = "TrainingJobStatus" if kind == "TrainingJob" else "HyperParameterTuningJobStatus"
    return str(description.get(key, ""))


class StateTaskServiceSageMaker(state_task_service_callback.StateTaskServiceCallback):
    """``arn:aws:states:::sagemaker:<action>[.sync|.waitForTaskToken]`` as AWS runs it.

    Request-response forwards the call to SageMaker; ``.sync`` (training and tuning jobs) then polls
    the job status source until the job ends: Completed → the Describe* output; Failed or Stopped →
    ``States.TaskFailed`` whose cause is the Describe* output (with its FailureReason), so Catch works.
    Outputs show timestamps as Step Functions does, in epoch milliseconds.
    """

    def __init__(self) -> None:
        super().__init__(
            supported_integration_patterns=cast(
                set[ResourceCondition], {ResourceCondition.WaitForTaskToken, ResourceCondition.Sync}
            )
        )

    def _get_supported_parameters(self) -> set[str] | None:
        return None

    def _validate_service_integration_is_supported(self) -> None:
        action = self.resource.api_action.lower()
        if self.resource.condition == ResourceCondition.Sync and action not in _SYNC_JOBS:
            raise ValueError(f"sagemaker:{self.resource.api_action}.sync is not supported in local mode")

    def _eval_service_task(
        self,
        env: Any,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        client = boto_client_for(
            region=resource_runtime_part.region, service="sagemaker", state_credentials=state_credentials
        )
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(to_wire(response, epoch="ms"))

    def _build_sync_resolver(
        self,
        env: Any,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> Callable[[], Any] | None:
        env.stack.pop()  # the Create* response; AWS's .sync output is the Describe* one
        kind, name_key = _SYNC_JOBS[self.resource.api_action.lower()]
        name = normalised_parameters[name_key]

        def resolve() -> dict[str, Any] | None:
            description = _job_source(kind, name, resource_runtime_part.account, resource_runtime_part.region)
            status = job_status(kind, description)
            if status == _DONE:
                return dict(to_wire(description, epoch="ms"))
            if status in _FAILED:
                raise FailureEventException(self._job_failed(env, description))
            return None

        return resolve

    def _job_failed(self, env: Any, description: dict[str, Any]) -> FailureEvent:
        error = StatesErrorNameType.StatesTaskFailed.to_name()
        return FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
                taskFailedEventDetails=TaskFailedEventDetails(
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                    error=error,
                    cause=json.dumps(to_wire(description, epoch="ms")),
                )
            ),
        )


def patch_sagemaker_task_service(replacements: Replacements) -> None:
    original = vars(state_task_service_factory)["state_task_service_for"]

    def state_task_service_for(service_name: str) -> Any:
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker()
        return original(service_name)

    replacements.replace(state_task_service_factory, "state_task_service_for", state_task_service_for)
    replacements.replace(state_task_factory, "state_task_service_for", state_task_service_for)
    replacements.on_restore(partial(use_sagemaker_job_source, _job_source))
