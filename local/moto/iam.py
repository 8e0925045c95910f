"""IAM as AWS applies it: every request is authenticated and judged against its principal's policies.

moto serves every request unauthenticated unless ``INITIAL_NO_AUTH_ACTION_COUNT`` says otherwise, and
then judges it with an evaluator the template's policies defeat (see :mod:`local.moto.iam_policies`).
Wherever the patches are installed (the local server, the in-process ``patched_aws`` fixture):

- every request must be signed by a known key, and its action on each resource it names
  (:mod:`local.moto.iam_requests`), plus the ``iam:PassRole`` a role in it implies, must be allowed;
  a refusal is AWS's ``AccessDenied`` (S3, the query services), ``AuthorizationError`` (SNS) or
  ``AccessDeniedException`` (the JSON services), worded as AWS words it, action and resource named;
- the deploying principal, local mode's printed credentials (``local.credentials.FAKE_CREDENTIALS``), is a
  session of the administrator role :data:`DEPLOYER_ROLE`, as a user's own credentials would be;
- Step Functions calls Lambda, SageMaker and the aws-sdk integrations as the state machine's role.

``iam:SimulatePrincipalPolicy`` (moto: HTTP 500; the SageMaker SDK v3 calls it before training) answers
with the same evaluator, whatever the setting.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from typing import Any, Final

import boto3
from botocore.config import Config
from moto import settings as moto_settings
from moto.core import exceptions as moto_exceptions
from moto.core.models import botocore_stubber
from moto.core.responses import ActionResult, BaseResponse
from moto.iam import access_control
from moto.iam.exceptions import NotFoundException
from moto.iam.models import IAMBackend, ManagedPolicy, iam_backends
from moto.iam.responses import IamResponse
from moto.s3.exceptions import S3ClientError
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.sts.models import sts_backends

from local.credentials import FAKE_CREDENTIALS
from local.moto.iam_policies import Evaluation, Policy, evaluate, trust_allows
from local.moto.iam_requests import Request, context, copy_source_read, iam_action, passed_roles, resources
from local.moto.role_sessions import PARTITION, role_credentials, trusts_service
from local.moto.state import Replacements, current_settings

DEPLOYER_ROLE: Final = "dropml-local-admin"
DEPLOYER_SESSION: Final = "local"
DEPLOYER_KEYS: Final = (
    FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
    FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
)
"""Access key id, secret and session token of the deployer, as a session's three fields."""
_ADMINISTRATOR: Final = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
)
_STATES_SESSION: Final = "dropml-local-states"
_ANY_KEY_ID: Final = re.compile(r"Credential=([^/\s,]+)/")
_SERVICE_ERRORS: Final = {"sns": "AuthorizationError", "iam": "AccessDenied", "sts": "AccessDenied"}
_QUERY_SERVICES: Final = {"sns", "iam", "sts", "cloudformation"}
# moto names a request's service by its signing name; policies name the service by its IAM prefix.
_IAM_PREFIX: Final = {"monitoring": "cloudwatch"}
# How a service refuses, at create time, a role its trust policy does not let it assume.
_UNASSUMABLE: Final = {
    "sagemaker.amazonaws.com": (
        "ValidationException",
        "Could not assume role {role}. Please ensure that the role exists and allows principal "
        "'sagemaker.amazonaws.com' to assume the role.",
    ),
    "lambda.amazonaws.com": (
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    ),
}


# The deployer -----------------------------------------------------------------------------------


def ensure_deployer(account: str) -> None:
    """Make the deployer's role and session in ``account`` unless they exist (after a moto reset too)."""
    iam = iam_backends[account][PARTITION]
    try:
        iam.get_role(DEPLOYER_ROLE)
    except NotFoundException:
        trust = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
        document = json.dumps({"Version": "2012-10-17", "Statement": [trust]})
        role = iam.create_role(DEPLOYER_ROLE, document, "/", None, "local mode's deployer", [], None)
        iam.put_role_policy(role.name, "AdministratorAccess", _ADMINISTRATOR)
    sts = sts_backends[account][PARTITION]
    if any(session.access_key_id == DEPLOYER_KEYS[0] for session in sts.assumed_roles):
        return
    session = sts.assume_role("us-east-1", DEPLOYER_SESSION, iam.get_role(DEPLOYER_ROLE).arn, "", 43200, "")
    session.access_key_id, session.secret_access_key, session.session_token = DEPLOYER_KEYS


# Evaluation -------------------------------------------------------------------------------------


def principal_policies(iam: IAMBackend, principal_arn: str) -> list[Policy]:
    """The identity-based policies of a role (or a session of it), a user (with its groups') or a group."""
    kind, _, path = principal_arn.split(":", 5)[-1].partition("/")
    name = path.split("/")[-2] if kind == "assumed-role" else path.split("/")[-1]
    if kind in ("role", "assumed-role"):
        holders: list[Any] = [iam.get_role(name)]
    elif kind == "user":
        holders = [iam.get_user(name), *iam.get_groups_for_user(name)]
    elif kind == "group":
        holders = [iam.get_group(name)]
    else:
        raise NotFoundException(f"The principal {principal_arn} is not a user, group or role.")
    policies: list[Policy] = []
    for holder in holders:
        policies += [Policy.parse(policy_name, document) for policy_name, document in holder.policies.items()]
        policies += [Policy.parse(arn, _default_document(p)) for arn, p in holder.managed_policies.items()]
    return policies


def _default_document(policy: ManagedPolicy) -> str:
    return next(version.document for version in policy.versions if version.is_default)


def denial_message(principal_arn: str, evaluation: Evaluation, *, quote_resource: bool = False) -> str:
    """AWS's wording; S3 quotes the resource."""
    resource = f'"{evaluation.resource}"' if quote_resource else evaluation.resource
    why = (
        "with an explicit deny in an identity-based policy"
        if evaluation.decision == "explicitDeny"
        else f"because no identity-based policy allows the {evaluation.action} action"
    )
    return f"User: {principal_arn} is not authorized to perform: {evaluation.action} on resource: {resource} {why}"


class S3AccessDenied(S3ClientError):
    code = "AccessDenied"


class QueryAccessDenied(moto_exceptions._RESTError):
    """The query protocol's error document (IAM, STS, SNS), status 403."""

    code = 403


def _refuse(service: str, message: str) -> Exception:
    if service == "s3":
        error = S3AccessDenied("AccessDenied", message)
        error.status_code = 403  # type: ignore[attr-defined]
        return error
    if service in _QUERY_SERVICES:
        return QueryAccessDenied(_SERVICE_ERRORS.get(service, "AccessDenied"), message)
    json_error = moto_exceptions.JsonRESTError("AccessDeniedException", message)
    json_error.code = 403
    return json_error


def _check_action_permitted(self: access_control.IAMRequestBase, resource: str) -> None:
    """moto's ``IAMRequestBase.check_action_permitted``, judged as AWS judges it."""
    operation = self._action.split(":", 1)[1]
    request = Request(
        service=_IAM_PREFIX.get(self._service, self._service),
        operation=operation,
        account=self.account_id,
        region=self._region,
        path=self._path,
        body=self._body if isinstance(self._body, bytes) else (self._body or "").encode(),
        form=self._data if isinstance(self._data, dict) else {},
        copy_source=self._headers.get("x-amz-copy-source") if self._service == "s3" else None,
    )
    action = iam_action(request)
    if action == "sts:GetCallerIdentity":  # always allowed, whatever the policies say
        return
    principal = self._access_key.arn
    policies = principal_policies(self.backend, principal)
    values = context(request)
    checks = [(action, target, values) for target in resources(request, resource)]
    for passed in passed_roles(request):
        checks.append(("iam:PassRole", passed.role_arn, {**values, "iam:PassedToService": [passed.service]}))
    if (read := copy_source_read(request)) is not None:
        checks.append((*read, values))
    for checked_action, target, checked_values in checks:
        evaluation = evaluate(policies, checked_action, target, checked_values)
        if evaluation.decision != "allowed":
            message = denial_message(principal, evaluation, quote_resource=request.service == "s3")
            raise _refuse(request.service, message)
    for passed in passed_roles(request):
        refusal = _UNASSUMABLE.get(passed.service)
        if refusal is not None and not trusts_service(self.account_id, passed.role_arn, passed.service):
            code, message = refusal
            error = moto_exceptions.JsonRESTError(code, message.format(role=passed.role_arn))
            error.code = 400
            raise error
    if action == "sts:AssumeRole" and not trusts_principal(self.backend, resource, principal):
        message = denial_message(principal, Evaluation(action, resource, "implicitDeny"))
        raise _refuse(request.service, message)


def trusts_principal(iam: IAMBackend, role_arn: str, principal_arn: str) -> bool:
    """Whether the role's trust policy names the caller: ``*``, its account (``ACCOUNT`` or
    ``arn:aws:iam::ACCOUNT:root``), its user or role ARN, or its session's ARN. moto's own check
    compares the session's ARN with each entry verbatim, and fails on a ``Service`` principal."""
    try:
        role = iam.get_role_by_arn(role_arn)
    except NotFoundException:
        return False
    account = principal_arn.split(":")[4]
    names = {"*", account, f"arn:aws:iam::{account}:root", principal_arn}
    kind, _, path = principal_arn.split(":", 5)[-1].partition("/")
    if kind == "assumed-role":
        names.add(f"arn:aws:iam::{account}:role/{path.split('/')[0]}")
    return trust_allows(Policy.parse("trust", role.assume_role_policy_document), "AWS", names)


def _create_access_key(account_id: str, partition: str, access_key_id: str, headers: dict[str, str]) -> Any:
    ensure_deployer(account_id)
    return _moto_create_access_key(account_id, partition, access_key_id, headers)


_moto_create_access_key = vars(access_control)["create_access_key"]


def _create_aws_request(self: access_control.IAMRequestBase) -> Any:
    """moto's request to re-sign, with an empty body kept empty: moto signs the query string's dict in its
    place, so every body-less request (``lambda:Invoke`` without a payload, a REST ``GET``) mismatched.
    A form (the query protocol) reaches moto parsed, with no raw body, and is left to moto."""
    is_form = "x-www-form-urlencoded" in str(self._headers.get("Content-Type", ""))
    if self._body or is_form:
        return _moto_create_aws_request(self)
    data, self._data = self._data, {}
    try:
        return _moto_create_aws_request(self)
    finally:
        self._data = data


_moto_create_aws_request = vars(access_control.IAMRequestBase)["_create_aws_request"]


# Step Functions' clients ------------------------------------------------------------------------


def _state_machine_client(region: str, service: str, state_credentials: Any = None) -> Any:
    """moto's ``boto_client_for`` (which signs with "ak"/"sk"), signing as the state machine's role: in-process
    under ``mock_aws`` (whose stubber answers it), over HTTP in the local server."""
    role_arn = str(getattr(state_credentials, "role_arn", "") or "")
    if not role_arn:
        raise ValueError("a Step Functions task has no role to run as")
    keys = role_credentials(role_arn.split(":")[4], role_arn, _STATES_SESSION)
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=None if botocore_stubber.enabled else current_settings().endpoint_url,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token,
        config=Config(parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1}),
    )


def _modules_using_boto_client_for() -> Iterator[Any]:
    original = vars(boto_client)["boto_client_for"]
    for name, module in list(sys.modules.items()):
        ours = name.startswith(("moto.stepfunctions.parser", "local.moto"))
        if ours and vars(module).get("boto_client_for") is original:
            yield module


# SimulatePrincipalPolicy ------------------------------------------------------------------------


def _simulate_principal_policy(self: IamResponse) -> ActionResult:
    """IAM's SimulatePrincipalPolicy: each action on each resource, decided from the principal's policies
    (and ``PolicyInputList``) with the request's ``ContextEntries``."""
    source = str(self._get_param("PolicySourceArn"))
    try:
        policies = principal_policies(self.backend, source)
    except NotFoundException:
        raise NotFoundException(f"The principal {source} cannot be found.") from None
    extra = self._get_param("PolicyInputList") or []
    policies += [Policy.parse(f"PolicyInputList.{n + 1}", document) for n, document in enumerate(extra)]
    values = {
        entry["ContextKeyName"]: list(entry.get("ContextKeyValues", []))
        for entry in self._get_param("ContextEntries") or []
    }
    results = []
    for action in self._get_param("ActionNames") or []:
        for resource in self._get_param("ResourceArns") or ["*"]:
            evaluation = evaluate(policies, action, resource, values)
            results.append(
                {
                    "EvalActionName": action,
                    "EvalResourceName": resource,
                    "EvalDecision": evaluation.decision,
                    "MatchedStatements": [
                        {"SourcePolicyId": policy_id, "SourcePolicyType": _policy_type(source, policy_id)}
                        for policy_id in evaluation.matched
                    ],
                    "MissingContextValues": list(evaluation.missing_context),
                }
            )
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


def _policy_type(source: str, policy_id: str) -> str:
    """SimulatePrincipalPolicy's ``SourcePolicyType``: the holder's kind for an inline policy."""
    if policy_id.startswith("PolicyInputList."):
        return "none"
    if policy_id.startswith("arn:"):
        return "aws-managed" if policy_id.startswith("arn:aws:iam::aws:") else "user-managed"
    kind = source.split(":", 5)[-1].partition("/")[0]
    return "role" if kind == "assumed-role" else kind


# Patches ----------------------------------------------------------------------------------------


def patch_simulate_principal_policy(replacements: Replacements) -> None:
    replacements.replace(IamResponse, "simulate_principal_policy", _simulate_principal_policy)


def patch_enforcement(replacements: Replacements) -> None:
    previous = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0

    def put_back() -> None:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = previous

    replacements.on_restore(put_back)
    replacements.replace(access_control, "create_access_key", _create_access_key)
    # moto recognises only 20-character key ids as the caller's (others are "user/moto" to
    # GetCallerIdentity); local mode's printed key id is "testing".
    replacements.replace(BaseResponse, "access_key_regex", _ANY_KEY_ID)
    replacements.replace(access_control.IAMRequestBase, "check_action_permitted", _check_action_permitted)
    replacements.replace(access_control.IAMRequestBase, "_create_aws_request", _create_aws_request)
    for module in _modules_using_boto_client_for():
        replacements.replace(module, "boto_client_for", _state_machine_client)
