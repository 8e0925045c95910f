"""Step Functions that execute definitions the way AWS does for dropml's state machine.

- moto only records executions unless told to run them; :func:`execute_definitions` turns its
  ``execute_state_machine`` setting on for as long as the patches are installed.
- moto names every execution started without a name ``None``; AWS gives it a UUID
  (:func:`patch_unnamed_executions`).
- moto's SageMaker task service has no ``.sync``; the pipeline starts training, tuning and processing
  jobs with it.
  :class:`StateTaskServiceSageMaker` forwards the call to SageMaker and, for ``.sync``, polls a job
  status source until the job ends. The source is moto's own records by default (their jobs complete
  at once); local mode's SageMaker (:mod:`local.moto.sagemaker`) and tests swap in their own with
  :func:`use_sagemaker_job_source`, and whatever source was in force at install is put back at uninstall.
- Errors carry the names Step Functions gives them (:func:`patch_error_names`): an aws-sdk SageMaker
  task's errors are ``SageMaker.<Code>Exception`` when the service model declares the code and
  ``SageMaker.SageMakerException`` otherwise (moto says ``sagemaker.sagemakerException``); the optimized
  integration's are ``SageMaker.<Code>Exception`` or ``SageMaker.AmazonSageMakerException`` (moto turned
  them into ``States.Runtime``). ``States.Runtime`` itself (a path missing from a state's input) ends
  the execution: no Retry or Catch takes it, ``States.ALL`` included, where moto's ``States.ALL`` did;
  and a Choice rule whose ``Variable`` is missing fails the execution with it, where moto took the
  rule as false (only ``IsPresent`` may test a missing path).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, Final, Literal, cast

from botocore.exceptions import ClientError
from moto.core.config import default_user_config
from moto.sagemaker.models import sagemaker_backends
from moto.stepfunctions.models import StepFunctionBackend
from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name import error_equals_decl
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_operator_type import (
    ComparisonOperatorType,
)
from moto.stepfunctions.parser.asl.component.state.choice.comparison.comparison_variable import ComparisonVariable
from moto.stepfunctions.parser.asl.component.state.choice.comparison.variable import NoSuchVariable
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
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

JobKind = Literal["TrainingJob", "HyperParameterTuningJob", "ProcessingJob"]
SageMakerJobSource = Callable[[JobKind, str, str, str], dict[str, Any]]
"""``(kind, job name, account, region) → the Describe<kind> output``."""

_SYNC_JOBS: Final[dict[str, tuple[JobKind, str]]] = {
    "createtrainingjob": ("TrainingJob", "TrainingJobName"),
    "createhyperparametertuningjob": ("HyperParameterTuningJob", "HyperParameterTuningJobName"),
    "createprocessingjob": ("ProcessingJob", "ProcessingJobName"),
}
_DONE: Final = "Completed"
_FAILED: Final = ("Failed", "Stopped")


def describe_job_in_moto(kind: JobKind, name: str, account: str, region: str) -> dict[str, Any]:
    """Describe a job from moto's SageMaker records (the default source; they complete at once)."""
    backend = sagemaker_backends[account][region]
    if kind == "TrainingJob":
        return dict(backend.describe_training_job(name))
    if kind == "ProcessingJob":
        return dict(backend.describe_processing_job(name))
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
    return str(description.get(f"{kind}Status", ""))


class StateTaskServiceSageMaker(state_task_service_callback.StateTaskServiceCallback):
    """``arn:aws:states:::sagemaker:<action>[.sync|.waitForTaskToken]`` as AWS runs it.

    Request-response forwards the call to SageMaker; ``.sync`` (training, tuning, processing jobs) then polls
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

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        """A SageMaker error answer as the optimized integration names it (the Java SDK's exception class)."""
        if not isinstance(ex, ClientError):
            return cast(FailureEvent, super()._from_error(env=env, ex=ex))
        code = ex.response["Error"].get("Code", "")
        modelled = type(ex) is not ClientError  # botocore makes a class only for the codes the model declares
        error = f"SageMaker.{_exception_name(code)}" if modelled else OPTIMIZED_UNMODELLED_ERROR
        metadata = ex.response["ResponseMetadata"]
        cause = (
            f"{ex.response['Error'].get('Message', '')} (Service: AmazonSageMaker; "
            f"Status Code: {metadata['HTTPStatusCode']}; Error Code: {code}; "
            f"Request ID: {metadata.get('RequestId', '')}; Proxy: null)"
        )
        return self._task_failed(env, ErrorName(error_name=error), cause)

    def _job_failed(self, env: Any, description: dict[str, Any]) -> FailureEvent:
        name = StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed)
        return self._task_failed(env, name, json.dumps(to_wire(description, epoch="ms")))

    def _task_failed(self, env: Any, name: ErrorName, cause: str) -> FailureEvent:
        """The TaskFailed event a Catch or Retry reads: ``name`` is the error it matches, ``cause`` its text."""
        return FailureEvent(
            env=env,
            error_name=name,
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
                taskFailedEventDetails=TaskFailedEventDetails(
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                    error=name.error_name,
                    cause=cause,
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


# Error names -----------------------------------------------------------------------------------------

OPTIMIZED_UNMODELLED_ERROR: Final = "SageMaker.AmazonSageMakerException"
"""What ``arn:aws:states:::sagemaker:…`` raises for an error SageMaker's model does not declare."""
AWS_SDK_SERVICE_ERROR_NAMES: Final = {"sagemaker": "SageMaker"}
"""The Pascal-case service names of ``ServiceName.ErrorName`` for aws-sdk tasks, beyond moto's own."""


def _exception_name(code: str) -> str:
    """Step Functions always adds ``Exception`` to a modelled error's name (``ResourceNotFound`` →
    ``ResourceNotFoundException``), as its AWS SDK integration guide says."""
    return code if code.endswith("Exception") else f"{code}Exception"


def patch_error_names(replacements: Replacements) -> None:
    names = {**state_task_service_aws_sdk._SERVICE_ERROR_NAMES, **AWS_SDK_SERVICE_ERROR_NAMES}
    replacements.replace(state_task_service_aws_sdk, "_SERVICE_ERROR_NAMES", names)
    original = vars(error_equals_decl.ErrorEqualsDecl)["_eval_body"]
    runtime = StatesErrorName(typ=StatesErrorNameType.StatesRuntime)

    def eval_body(self: Any, env: Any) -> None:
        if env.stack and env.stack[-1] == runtime:
            env.stack.pop()
            env.stack.append(False)  # "A retry or catch on States.ALL won't catch States.Runtime errors."
            return
        original(self, env)

    replacements.replace(error_equals_decl.ErrorEqualsDecl, "_eval_body", eval_body)
    replacements.replace(ComparisonVariable, "_eval_body", _compare_present_variables_only)


def _compare_present_variables_only(self: ComparisonVariable, env: Any) -> None:
    self.variable.eval(env)
    value = env.stack[-1]
    if isinstance(value, NoSuchVariable) and self.comparison_function.operator_type != ComparisonOperatorType.IsPresent:
        path = self.variable.string_sampler.literal_value
        cause = f"Invalid path '{path}': The choice state's condition path references an invalid value."
        raise FailureEventException(
            FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesRuntime),
                event_type=HistoryEventType.EvaluationFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]  # moto's TypedDict is total
                    evaluationFailedEventDetails=EvaluationFailedEventDetails(
                        error=StatesErrorNameType.StatesRuntime.to_name(), cause=cause, state=env.next_state_name
                    )
                ),
            )
        )
    self.comparison_function.eval(env)


# aws-sdk results as JSON ---------------------------------------------------------------------------


def patch_aws_sdk_results(replacements: Replacements) -> None:
    """An aws-sdk task's result is JSON on AWS; moto keeps boto3's ``datetime`` objects in it, so
    ``States.JsonToString`` of a DescribeEndpoint answer (or any later JSON of the state) fails with a
    ``TypeError``. Timestamps become epoch milliseconds, as in the optimized integration's outputs."""
    sdk = state_task_service_aws_sdk.StateTaskServiceAwsSdk
    original = vars(sdk)["_eval_service_task"]

    def eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        original(self, env, *args, **kwargs)
        env.stack.append(to_wire(env.stack.pop(), epoch="ms"))

    replacements.replace(sdk, "_eval_service_task", eval_service_task)
