"""Every change dropml makes to moto's behaviour, in one place, each with a test in ``tests/functional``.

moto is pinned to one exact version (see pyproject.toml); the patches below replace or wrap named
moto internals that were read in that version. A moto upgrade that renames one fails loudly at
:func:`apply` or in that patch's test rather than silently changing local mode. Measured gaps they
close are listed in ``shared/notes/moto-5.2.5.md``.

1. Lambda runs the function's handler from its package in a child process (:mod:`local.lambda_runner`)
   instead of Docker; an exception is ``FunctionError: Unhandled`` with AWS's error payload. This one
   seam covers the Invoke API, ``lambda:invoke`` tasks and S3 notifications. ``Event`` invocations
   run in the background and ``DryRun`` runs nothing, as on AWS.
2. S3 → Lambda notifications are asynchronous, as on AWS: the upload returns before the function runs.
3. SNS email subscriptions deliver real mail through the SMTP sink (:mod:`local.mail`).
4. ``StartExecution`` without a name gets a UUID, as on AWS (moto names them all ``None``).
5. CloudFormation state machines are registered where executions run, with ``DefinitionSubstitutions``
   filled.
6. CloudFormation buckets get their ``NotificationConfiguration``, ``VersioningConfiguration`` and
   ``PublicAccessBlockConfiguration``.
7. Step Functions' SageMaker integration supports ``.sync`` for training and tuning jobs, polling a job
   status source that local mode's SageMaker runner can replace (:func:`use_sagemaker_job_source`).
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal, cast

from moto.awslambda.models import LambdaFunction
from moto.core.config import default_user_config
from moto.core.exceptions import JsonRESTError
from moto.s3 import notifications as s3_notifications
from moto.s3.models import FakeBucket, s3_backends
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.sns.models import Subscription
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.models import StateMachine, StepFunctionBackend
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
from moto.stepfunctions.utils import cfn_to_api_tags
from moto.utilities.utils import get_partition

from local import lambda_runner, mail
from local.sagemaker.api import OPERATIONS, LocalSageMaker
from local.sagemaker.errors import ModelError, SageMakerApiError

_LOG_TAIL_BYTES = 4096
_ABSENT: Final = object()


@dataclass(frozen=True)
class LocalSettings:
    """Where the patched behaviours send things: set once per process by :func:`apply`."""

    endpoint_url: str
    work_dir: Path
    smtp_port: int | None = None
    # Patch 8: SageMaker runs for real (the local server sets it). Off, SageMaker stays moto's recorder,
    # which in-process tests use to script job statuses.
    run_sagemaker: bool = False


class _Installed:
    """The settings of the patches installed in this process (None when they are not)."""

    settings: LocalSettings | None = None
    sagemaker: LocalSageMaker | None = None


class _Replacements:
    """Attributes replaced on moto's classes and modules, remembered so they can be put back."""

    def __init__(self) -> None:
        self._originals: list[tuple[Any, str, Any]] = []

    def replace(self, owner: Any, name: str, value: Any) -> Any:
        """Set ``owner.name`` to ``value``; return the original (as stored, descriptors included), or
        ``_ABSENT`` when moto does not define it (the attribute is then removed again on restore)."""
        original = vars(owner).get(name, _ABSENT)
        self._originals.append((owner, name, original))
        setattr(owner, name, value)
        return original

    def restore(self) -> None:
        while self._originals:
            owner, name, original = self._originals.pop()
            if original is _ABSENT:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


@contextmanager
def installed(settings: LocalSettings) -> Iterator[None]:
    """Run the block with every patch installed and Step Functions executing definitions.

    The local server holds this for its lifetime; tests hold it for one test, so moto is back to
    itself for whatever runs next in the same process.
    """
    if _Installed.settings is not None:
        raise RuntimeError("local.moto_patches are already installed in this process")
    replacements = _Replacements()
    previous_sfn_config = default_user_config.get("stepfunctions")
    previous_job_source = _JobSource.current
    _Installed.settings = settings
    try:
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        for install in (
            _patch_lambda_invoke,
            _patch_s3_lambda_notifications_async,
            _patch_sns_email,
            _patch_unnamed_executions,
            _patch_cloudformation_state_machine,
            _patch_cloudformation_bucket,
            _patch_sagemaker_task_service,
            _patch_sagemaker_jobs_and_endpoints,
        ):
            install(replacements)
        yield
    finally:
        replacements.restore()
        if _Installed.sagemaker is not None:
            _Installed.sagemaker.shutdown()
            _Installed.sagemaker = None
        _JobSource.current = previous_job_source
        if previous_sfn_config is None:
            default_user_config.pop("stepfunctions", None)
        else:
            default_user_config["stepfunctions"] = previous_sfn_config
        _Installed.settings = None


def _settings() -> LocalSettings:
    if _Installed.settings is None:
        raise RuntimeError("local.moto_patches are not installed in this process")
    return _Installed.settings


# 1. Lambda ------------------------------------------------------------------------------------------


def _run_function(function: LambdaFunction, event: object) -> lambda_runner.Invocation:
    settings = _settings()
    spec = lambda_runner.FunctionSpec(
        name=function.function_name,
        arn=function.function_arn,
        version=str(function.version),
        handler=str(function.handler),
        code_zip=function.code_bytes,
        environment={key: str(value) for key, value in (function.environment_vars or {}).items()},
        timeout_s=float(function.timeout),
        memory_mb=int(function.memory_size),
    )
    aws = lambda_runner.AwsAccess(endpoint_url=settings.endpoint_url, region=function.region)
    invocation = lambda_runner.invoke(spec, event, aws=aws, work_dir=settings.work_dir / "lambda")
    report = f"END RequestId: {invocation.request_id}"
    function.logs_backend.ensure_log_group(function.logs_group_name)
    function.save_logs(f"START RequestId: {invocation.request_id}\n{invocation.logs}{report}\n")
    return invocation


def _invoke(self: LambdaFunction, body: str | bytes | None, request_headers: Any, response_headers: Any) -> str:
    event = json.loads(body) if body else {}
    invocation_type = request_headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type == "DryRun":
        return ""
    if invocation_type == "Event":  # queued on AWS: the caller gets 202 and never the result
        threading.Thread(target=_run_function, args=(self, event), daemon=True).start()
        return ""
    invocation = _run_function(self, event)
    if invocation.function_error:
        response_headers["x-amz-function-error"] = invocation.function_error
    tail = invocation.logs.encode("utf-8")[-_LOG_TAIL_BYTES:]
    response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
    return invocation.payload


def _patch_lambda_invoke(replacements: _Replacements) -> None:
    replacements.replace(LambdaFunction, "invoke", _invoke)


# 2. S3 → Lambda, asynchronously --------------------------------------------------------------------


def _patch_s3_lambda_notifications_async(replacements: _Replacements) -> None:
    deliver = vars(s3_notifications)["_invoke_awslambda"]

    def invoke_later(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        worker = threading.Thread(target=deliver, args=(account_id, event_body, fn_arn, region_name), daemon=True)
        worker.start()

    replacements.replace(s3_notifications, "_invoke_awslambda", invoke_later)


# 3. SNS → email ------------------------------------------------------------------------------------

_EMAIL_PROTOCOLS: Final = ("email", "email-json")


def _publish_with_email(
    self: Subscription,
    message: str,
    message_id: str,
    subject: str | None = None,
    message_attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    message_structure: str | None = None,
) -> None:
    if self.protocol not in _EMAIL_PROTOCOLS:
        _ORIGINAL_PUBLISH(
            self,
            message,
            message_id,
            subject=subject,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            message_structure=message_structure,
        )
        return
    matcher = self._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return
    if message_structure == "json":
        message = self._parse_message_structure(message, self.protocol)
    smtp_port = _settings().smtp_port
    if smtp_port is None:
        raise RuntimeError("SNS email delivery needs an SMTP sink; none was configured")
    body = message
    if self.protocol == "email-json":
        body = json.dumps(
            {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": self.topic.arn,
                "Subject": subject,
                "Message": message,
                "Timestamp": datetime.now().astimezone().isoformat(),
                "UnsubscribeURL": f"{_settings().endpoint_url}/?Action=Unsubscribe&SubscriptionArn={self.arn}",
            }
        )
    else:
        body = f"{message}\n\n--\nYou are subscribed to {self.topic.arn} (subscription {self.arn}).\n"
    mail.send(smtp_port=smtp_port, to=self.endpoint, subject=subject, body=body)


_ORIGINAL_PUBLISH: Final = Subscription.publish


def _patch_sns_email(replacements: _Replacements) -> None:
    replacements.replace(Subscription, "publish", _publish_with_email)


# 4. Unnamed executions ----------------------------------------------------------------------------


def _patch_unnamed_executions(replacements: _Replacements) -> None:
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


# 5. CloudFormation state machines -----------------------------------------------------------------


def substitute(definition: str, substitutions: dict[str, Any]) -> str:
    """Fill ``${Name}`` placeholders the way CloudFormation's DefinitionSubstitutions does."""
    for name, value in substitutions.items():
        definition = definition.replace("${" + name + "}", str(value))
    return definition


def _create_state_machine_from_cloudformation(
    cls: type[StateMachine],
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> StateMachine:
    properties = cloudformation_json["Properties"]
    definition = properties.get("DefinitionString") or json.dumps(properties.get("Definition", {}))
    definition = substitute(definition, properties.get("DefinitionSubstitutions", {}))
    tags = cfn_to_api_tags(properties.get("Tags", []))
    backend = sfn_responses.get_backend(account_id, region_name)
    return backend.create_state_machine(
        properties.get("StateMachineName", resource_name),
        definition,
        properties.get("RoleArn", ""),
        tags=tags,
    )


def _delete_state_machine_from_cloudformation(
    cls: type[StateMachine], resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
) -> None:
    sfn_responses.get_backend(account_id, region_name).delete_state_machine(resource_name)


def _patch_cloudformation_state_machine(replacements: _Replacements) -> None:
    create = classmethod(_create_state_machine_from_cloudformation)
    replacements.replace(StateMachine, "create_from_cloudformation_json", create)
    delete = classmethod(_delete_state_machine_from_cloudformation)
    replacements.replace(StateMachine, "delete_from_cloudformation_json", delete)


# 6. CloudFormation buckets ------------------------------------------------------------------------

_CFN_NOTIFICATION_KINDS: Final = (
    ("LambdaConfigurations", "CloudFunctionConfiguration", "Function", "CloudFunction"),
    ("QueueConfigurations", "QueueConfiguration", "Queue", "Queue"),
    ("TopicConfigurations", "TopicConfiguration", "Topic", "Topic"),
)


def notification_config_from_cloudformation(properties: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's ``NotificationConfiguration`` in the shape moto's S3 backend takes from the API."""
    config: dict[str, Any] = {}
    for cfn_key, api_key, cfn_target, api_target in _CFN_NOTIFICATION_KINDS:
        entries = []
        for entry in properties.get(cfn_key, []):
            api_entry: dict[str, Any] = {api_target: entry[cfn_target], "Event": [entry["Event"]]}
            rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules")
            if rules:
                api_entry["Filter"] = {"S3Key": {"FilterRule": list(rules)}}
            entries.append(api_entry)
        if entries:
            config[api_key] = entries
    if properties.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        config["EventBridgeConfiguration"] = {}
    return config


def _patch_cloudformation_bucket(replacements: _Replacements) -> None:
    create = vars(FakeBucket)["create_from_cloudformation_json"].__func__

    def create_from_cloudformation_json(
        cls: type[FakeBucket],
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> FakeBucket:
        bucket = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        backend = s3_backends[account_id][get_partition(region_name)]
        versioning = properties.get("VersioningConfiguration", {}).get("Status")
        if versioning:
            backend.put_bucket_versioning(bucket.name, versioning)
        if properties.get("PublicAccessBlockConfiguration"):
            backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
        notifications = notification_config_from_cloudformation(properties.get("NotificationConfiguration", {}))
        if notifications:
            backend.put_bucket_notification_configuration(bucket.name, notifications)
        return bucket

    replacements.replace(FakeBucket, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


# 7. Step Functions → SageMaker .sync --------------------------------------------------------------

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


class _JobSource:
    current: SageMakerJobSource = describe_job_in_moto


def use_sagemaker_job_source(source: SageMakerJobSource) -> SageMakerJobSource:
    """Make ``.sync`` tasks poll ``source`` from now on; returns the previous source.

    This is the hook for local mode's SageMaker runner: it reports real job progress here.
    """
    previous = _JobSource.current
    _JobSource.current = source
    return previous


def job_status(kind: JobKind, description: dict[str, Any]) -> str:
    key = "TrainingJobStatus" if kind == "TrainingJob" else "HyperParameterTuningJobStatus"
    return str(description.get(key, ""))


def to_step_functions_json(value: Any) -> Any:
    """Make a Describe* output JSON-safe the way Step Functions shows it: timestamps in epoch ms."""
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {key: to_step_functions_json(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [to_step_functions_json(item) for item in value]
    return value


class StateTaskServiceSageMaker(state_task_service_callback.StateTaskServiceCallback):
    """``arn:aws:states:::sagemaker:<action>[.sync|.waitForTaskToken]`` as AWS runs it.

    Request-response forwards the call to SageMaker; ``.sync`` (training and tuning jobs) then polls
    the job status source until the job ends: Completed → the Describe* output; Failed or Stopped →
    ``States.TaskFailed`` whose cause is the Describe* output (with its FailureReason), so Catch works.
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
        env.stack.append(to_step_functions_json(response))

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
            description = _JobSource.current(kind, name, resource_runtime_part.account, resource_runtime_part.region)
            status = job_status(kind, description)
            if status == _DONE:
                return dict(to_step_functions_json(description))
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
                    cause=json.dumps(to_step_functions_json(description)),
                )
            ),
        )


def _patch_sagemaker_task_service(replacements: _Replacements) -> None:
    original = vars(state_task_service_factory)["state_task_service_for"]

    def state_task_service_for(service_name: str) -> Any:
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker()
        return original(service_name)

    replacements.replace(state_task_service_factory, "state_task_service_for", state_task_service_for)
    replacements.replace(state_task_factory, "state_task_service_for", state_task_service_for)


# 8. SageMaker jobs and endpoints that really run ---------------------------------------------------


def _sagemaker_api_result(value: Any) -> Any:
    """An engine answer as SageMaker's JSON protocol sends it: timestamps as epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {key: _sagemaker_api_result(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_sagemaker_api_result(item) for item in value]
    return value


def _sagemaker_action(action: str) -> Callable[[SageMakerResponse], str]:
    def handle(self: SageMakerResponse) -> str:
        engine = _Installed.sagemaker
        assert engine is not None
        try:
            answer = engine.call(action, self.current_account, self.region, json.loads(self.body or "{}"))
        except SageMakerApiError as error:
            raise JsonRESTError(error.code, error.message) from None
        return json.dumps(_sagemaker_api_result(answer))

    return handle


def _invoke_endpoint(self: SageMakerRuntimeResponse) -> tuple[int, dict[str, str], bytes | str]:
    engine = _Installed.sagemaker
    assert engine is not None
    request: dict[str, Any] = {
        "EndpointName": self.path.split("/")[2],
        "Body": self.body if isinstance(self.body, bytes) else (self.body or "").encode(),
        "ContentType": self.headers.get("Content-Type", "application/octet-stream"),
        "Accept": self.headers.get("Accept", "*/*"),
    }
    for header, key in (
        ("X-Amzn-SageMaker-Target-Variant", "TargetVariant"),
        ("X-Amzn-SageMaker-Custom-Attributes", "CustomAttributes"),
    ):
        if self.headers.get(header):
            request[key] = self.headers[header]
    try:
        answer = engine.invoke(self.current_account, self.region, request)
    except SageMakerApiError as error:
        body: dict[str, Any] = {"message": error.message}
        if isinstance(error, ModelError):
            body.update(
                OriginalStatusCode=error.original_status,
                OriginalMessage=error.original_message,
                LogStreamArn=error.log_stream_arn,
            )
        # moto takes a handler's status from the "status" header, not from the tuple's first item.
        headers = {"status": str(error.status), "x-amzn-ErrorType": error.code, "Content-Type": "application/json"}
        return error.status, headers, json.dumps(body)
    headers = {
        "Content-Type": answer["ContentType"],
        "x-Amzn-Invoked-Production-Variant": answer["InvokedProductionVariant"],
    }
    if answer.get("CustomAttributes"):
        headers["X-Amzn-SageMaker-Custom-Attributes"] = answer["CustomAttributes"]
    return 200, headers, answer["Body"]


def _patch_sagemaker_jobs_and_endpoints(replacements: _Replacements) -> None:
    """moto's SageMaker only records calls; these operations go to :mod:`local.sagemaker` instead, which
    runs the training image for real, and ``.sync`` tasks poll its job descriptions."""
    settings = _settings()
    if not settings.run_sagemaker:
        return
    engine = LocalSageMaker(endpoint_url=settings.endpoint_url, work_dir=settings.work_dir / "sagemaker")
    _Installed.sagemaker = engine
    for action in OPERATIONS:
        name = "".join("_" + c.lower() if c.isupper() else c for c in action).lstrip("_")
        replacements.replace(SageMakerResponse, name, _sagemaker_action(action))
    replacements.replace(SageMakerRuntimeResponse, "invoke_endpoint", _invoke_endpoint)

    def describe(kind: JobKind, name: str, account: str, region: str) -> dict[str, Any]:
        action = "DescribeTrainingJob" if kind == "TrainingJob" else "DescribeHyperParameterTuningJob"
        key = "TrainingJobName" if kind == "TrainingJob" else "HyperParameterTuningJobName"
        return engine.call(action, account, region, {key: name})

    use_sagemaker_job_source(describe)
