"""The deploying principal's credentials: what ``dropml local up`` prints and its own clients sign with.

In one place because two parts must agree on them: the CLI side (:mod:`local.stack`) hands them to
shells, boto3 and the AWS CLI, and the embedded AWS (:mod:`local.moto.iam`) makes them a session of its
administrator role, as a user's own credentials would be on AWS.
"""

from __future__ import annotations

from typing import Final

FAKE_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
