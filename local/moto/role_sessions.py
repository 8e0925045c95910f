"""Temporary credentials of a role, as the AWS service that runs as it (Lambda, SageMaker, Step Functions)
obtains them: an STS AssumeRole session in the embedded AWS, whose requests IAM then judges against
that role's policies.

The session is made in moto's STS backend directly rather than through the AssumeRole API, because
the caller is the service, not a principal of the account: on AWS no user's permission is involved,
only the role's trust policy naming the service (:func:`trusts_service`). One session per role and
session name is kept and reused while STS still holds it, as a warm Lambda reuses its credentials.

Shared by the patch modules (like :mod:`local.moto.wire`), so it imports none of them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final

from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.sts.models import AssumedRole, sts_backends

from local.moto.iam_policies import Policy, trust_allows

PARTITION: Final = "aws"
_SESSION_SECONDS: Final = 12 * 3600


@dataclass(frozen=True)
class RoleCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str


_lock = threading.Lock()
_sessions: dict[tuple[str, str, str], AssumedRole] = {}


def role_credentials(account: str, role_arn: str, session_name: str) -> RoleCredentials:
    """A session of ``role_arn`` named ``session_name`` (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``)."""
    key = (account, role_arn, session_name)
    backend = sts_backends[account][PARTITION]
    with _lock:
        session = _sessions.get(key)
        if session is None or session not in backend.assumed_roles:  # moto was reset since
            session = backend.assume_role(
                region_name="us-east-1",
                role_session_name=session_name,
                role_arn=role_arn,
                policy="",
                duration=_SESSION_SECONDS,
                external_id="",
            )
            _sessions[key] = session
    return RoleCredentials(session.access_key_id, session.secret_access_key, session.session_token)


def role_keys(account: str, role_arn: str, session_name: str) -> tuple[str, str, str]:
    """:func:`role_credentials` as the (key id, secret, token) triple :mod:`local.sagemaker` takes."""
    keys = role_credentials(account, role_arn, session_name)
    return keys.access_key_id, keys.secret_access_key, keys.session_token


def trusts_service(account: str, role_arn: str, service: str) -> bool:
    """Whether the role exists and its trust policy lets ``service`` (``sagemaker.amazonaws.com``) assume it."""
    try:
        role = iam_backends[account][PARTITION].get_role_by_arn(role_arn)
    except NotFoundException:
        return False
    return trust_allows(Policy.parse("trust", role.assume_role_policy_document), "Service", [service])
