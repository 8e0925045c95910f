"""What one API request asks IAM for: the IAM action, the resource ARNs it acts on, the condition keys
it carries, and the ``iam:PassRole`` it implies.

moto authorizes most services against the resource ``*`` and under the operation's name, not the IAM
action's (``Invoke`` for ``lambda:InvokeFunction``, ``HeadBucket`` for ``s3:ListBucket``); a policy
scoped to ARNs, as the template's are, then never applies. The resource of each operation the stack
uses is read from the request as the Service Authorization Reference defines it (the function of
``lambda:InvokeFunction``, the job of ``sagemaker:CreateTrainingJob`` or ``sagemaker:CreateProcessingJob``,
the log stream of ``logs:PutLogEvents``, the queue ``sqs:GetQueueUrl`` names…); an operation not listed
here keeps the resource moto gives it (``*`` for most).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass(frozen=True)
class Request:
    """An authenticated request as moto's IAM check sees it."""

    service: str
    """The signing name from the credential scope (``s3``, ``lambda``, ``sagemaker`` for both SageMaker APIs)."""
    operation: str
    account: str
    region: str
    path: str
    body: bytes
    form: Mapping[str, Sequence[str]] = field(default_factory=dict)
    copy_source: str | None = None
    """S3's ``x-amz-copy-source`` header: the object a CopyObject or UploadPartCopy reads."""


@dataclass(frozen=True)
class PassedRole:
    """An ``iam:PassRole`` the request implies: the role handed to ``service`` (``iam:PassedToService``)."""

    role_arn: str
    service: str


# Operation names that are not the IAM action's name.
_ACTION_NAMES: Final[dict[tuple[str, str], str]] = {
    ("lambda", "Invoke"): "InvokeFunction",
    ("lambda", "InvokeAsync"): "InvokeFunction",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "GetPublicAccessBlock"): "GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "PutBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "PutBucketPublicAccessBlock",
    ("s3", "ListBucketVersions"): "ListBucketVersions",
}

# SageMaker request members naming a resource → the resource type in its ARN (names in lower case).
_SAGEMAKER_RESOURCES: Final = (
    ("TrainingJobName", "training-job"),
    ("HyperParameterTuningJobName", "hyper-parameter-tuning-job"),
    ("ProcessingJobName", "processing-job"),
    ("EndpointName", "endpoint"),
    ("EndpointConfigName", "endpoint-config"),
    ("ModelName", "model"),
)

# Where a request hands a role to a service: (signing name, operation) → (member path, the service).
_PASSED_ROLES: Final[dict[tuple[str, str], tuple[tuple[tuple[str, ...], ...], str]]] = {
    ("sagemaker", "CreateTrainingJob"): ((("RoleArn",),), "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateModel"): ((("ExecutionRoleArn",),), "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateProcessingJob"): ((("RoleArn",),), "sagemaker.amazonaws.com"),
    ("sagemaker", "CreateHyperParameterTuningJob"): (
        (("TrainingJobDefinition", "RoleArn"), ("TrainingJobDefinitions", "*", "RoleArn")),
        "sagemaker.amazonaws.com",
    ),
    ("lambda", "CreateFunction"): ((("Role",),), "lambda.amazonaws.com"),
    ("lambda", "UpdateFunctionConfiguration"): ((("Role",),), "lambda.amazonaws.com"),
    ("states", "CreateStateMachine"): ((("roleArn",),), "states.amazonaws.com"),
    ("states", "UpdateStateMachine"): ((("roleArn",),), "states.amazonaws.com"),
}

_LAMBDA_FUNCTION_PATH: Final = re.compile(r"^/[^/]+/functions/([^/?]+)")
_ENDPOINT_PATH: Final = re.compile(r"^/endpoints/([^/?]+)/invocations")


def iam_action(request: Request) -> str:
    """``service:Action`` as policies name it."""
    name = _ACTION_NAMES.get((request.service, request.operation), request.operation)
    return f"{request.service}:{name}"


def resources(request: Request, moto_resource: str) -> list[str]:
    """The ARNs the request acts on (each must be allowed), or moto's resource when the operation is not listed."""
    found: list[str] = []
    params = _json_body(request)
    arn = f"{request.region}:{request.account}"
    if request.service == "lambda" and (match := _LAMBDA_FUNCTION_PATH.match(request.path)):
        found.append(_function_arn(unquote(match.group(1)), arn))
    elif request.service == "lambda" and isinstance(params.get("FunctionName"), str):
        found.append(_function_arn(params["FunctionName"], arn))
    elif request.service == "sagemaker":
        found += _sagemaker_resources(request, params, arn)
    elif request.service == "states":
        found += [str(params[key]) for key in ("stateMachineArn", "executionArn") if isinstance(params.get(key), str)]
    elif request.service == "sns":
        found += [request.form[key][0] for key in ("TopicArn", "TargetArn") if request.form.get(key)]
    elif request.service == "sqs" and isinstance(params.get("QueueName"), str):  # GetQueueUrl, CreateQueue
        owner = params.get("QueueOwnerAWSAccountId")
        account = owner if isinstance(owner, str) and owner else request.account
        found.append(f"arn:aws:sqs:{request.region}:{account}:{params['QueueName']}")
    elif request.service == "logs" and isinstance(params.get("logGroupName"), str):
        group = f"arn:aws:logs:{arn}:log-group:{params['logGroupName']}"
        stream = params.get("logStreamName")
        of_stream = isinstance(stream, str) and "LogEvents" in request.operation
        found.append(f"{group}:log-stream:{stream}" if of_stream else group)
    return found or [moto_resource]


def context(request: Request) -> dict[str, list[str]]:
    """The condition keys the request carries that the template's policies test."""
    values = {"aws:RequestedRegion": [request.region], "aws:SecureTransport": ["false"]}
    if iam_action(request) == "s3:ListBucket":
        prefix = parse_qs(urlsplit(request.path).query, keep_blank_values=True).get("prefix")
        if prefix is not None:
            values["s3:prefix"] = prefix
    if request.service == "cloudwatch":  # PutMetricData: a query form, or JSON as botocore now sends it
        namespace = request.form.get("Namespace") or _json_body(request).get("Namespace")
        if namespace:
            values["cloudwatch:namespace"] = [namespace] if isinstance(namespace, str) else list(namespace)
    return values


def passed_roles(request: Request) -> list[PassedRole]:
    """The roles the request hands to a service, which the caller must be allowed ``iam:PassRole`` on."""
    where = _PASSED_ROLES.get((request.service, request.operation))
    if where is None:
        return []
    paths, service = where
    params = _json_body(request)
    return [PassedRole(arn, service) for path in paths for arn in _values_at(params, path)]


def copy_source_read(request: Request) -> tuple[str, str] | None:
    """(action, object ARN) a copy needs on its source besides ``s3:PutObject`` on its target: S3 reads
    the source as the caller, ``s3:GetObjectVersion`` when the copy names a version (moto checks only
    the target)."""
    if request.service != "s3" or not request.copy_source:
        return None
    # "bucket/key?versionId=…", the key percent-encoded (so a "?" in it is "%3F")
    quoted, _, query = request.copy_source.partition("?")
    versioned = "versionId" in parse_qs(query)
    return ("s3:GetObjectVersion" if versioned else "s3:GetObject", f"arn:aws:s3:::{unquote(quoted).lstrip('/')}")


def _function_arn(name: str, region_account: str) -> str:
    if name.startswith("arn:"):
        return name
    function, _, qualifier = name.partition(":")
    return f"arn:aws:lambda:{region_account}:function:{function}" + (f":{qualifier}" if qualifier else "")


def _sagemaker_resources(request: Request, params: Mapping[str, Any], region_account: str) -> list[str]:
    if (match := _ENDPOINT_PATH.match(request.path)) is not None:  # SageMaker Runtime's InvokeEndpoint
        return [f"arn:aws:sagemaker:{region_account}:endpoint/{unquote(match.group(1)).lower()}"]
    if isinstance(params.get("ResourceArn"), str):  # AddTags, ListTags, DeleteTags
        return [params["ResourceArn"]]
    for member, kind in _SAGEMAKER_RESOURCES:
        if isinstance(params.get(member), str):
            return [f"arn:aws:sagemaker:{region_account}:{kind}/{params[member].lower()}"]
    return []


def _values_at(params: Any, path: tuple[str, ...]) -> list[str]:
    if not path:
        return [params] if isinstance(params, str) else []
    head, rest = path[0], path[1:]
    if head == "*":
        return [value for item in params for value in _values_at(item, rest)] if isinstance(params, list) else []
    return _values_at(params.get(head), rest) if isinstance(params, Mapping) else []


def _json_body(request: Request) -> dict[str, Any]:
    if not request.body or request.service in ("s3", "sns", "iam", "sts", "cloudformation"):
        return {}
    try:
        parsed = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
