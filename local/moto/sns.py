"""SNS email subscriptions that deliver mail, and the subjects SNS refuses.

moto accepts ``email`` and ``email-json`` subscriptions but delivers nothing to them, and the pipeline's
result is an email. Here a publish to one sends a real message through the SMTP sink
(:mod:`local.mail`), which files it in the stack's outbox; every other protocol is moto's as before.

SNS refuses a ``Subject`` that is not ASCII, holds a line break or another control character, does not
begin with a letter, digit or punctuation mark, or is 100 characters or longer (the Publish reference);
moto checks only the length. Here each is AWS's ``InvalidParameter`` ("Invalid parameter: Subject"), so
a subject built from a user's dataset name fails here as it would there.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from moto.sns.exceptions import InvalidParameterValue
from moto.sns.models import SNSBackend, Subscription

from local import mail
from local.moto.state import Replacements, current_settings

_EMAIL_PROTOCOLS: Final = ("email", "email-json")
SUBJECT_MAX: Final = 99  # "less than 100 characters long"


def subject_refusal(subject: str | None) -> str | None:
    """Why SNS refuses ``subject``, or None when it takes it."""
    if subject is None:
        return None
    if not subject or len(subject) > SUBJECT_MAX:
        return "Subject must be less than 100 characters"
    if not subject.isascii() or not subject.isprintable():
        return "Subject must be ASCII text without line breaks or control characters"
    if not (subject[0].isalnum() or subject[0] in string.punctuation):
        return "Subject must begin with a letter, number or punctuation mark"
    return None


def _checking_subjects(original: Callable[..., str]) -> Callable[..., str]:
    def publish(self: SNSBackend, message: str, **kwargs: Any) -> str:  # moto passes all but the message by name
        if subject_refusal(kwargs.get("subject")) is not None:
            raise InvalidParameterValue("Invalid parameter: Subject")
        return original(self, message, **kwargs)

    return publish


def _email_body(subscription: Subscription, message: str, message_id: str, subject: str | None) -> str:
    if subscription.protocol == "email-json":
        return json.dumps(
            {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": subscription.topic.arn,
                "Subject": subject,
                "Message": message,
                "Timestamp": datetime.now().astimezone().isoformat(),
                "UnsubscribeURL": (
                    f"{current_settings().endpoint_url}/?Action=Unsubscribe&SubscriptionArn={subscription.arn}"
                ),
            }
        )
    return f"{message}\n\n--\nYou are subscribed to {subscription.topic.arn} (subscription {subscription.arn}).\n"


def _publishing_email(original: Callable[..., None]) -> Callable[..., None]:
    def publish(
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
            original(
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
        smtp_port = current_settings().smtp_port
        if smtp_port is None:
            raise RuntimeError("SNS email delivery needs an SMTP sink; none was configured")
        body = _email_body(self, message, message_id, subject)
        mail.send(smtp_port=smtp_port, to=self.endpoint, subject=subject, body=body)

    return publish


def patch_email(replacements: Replacements) -> None:
    original = vars(Subscription)["publish"]
    replacements.replace(Subscription, "publish", _publishing_email(original))
    replacements.replace(SNSBackend, "publish", _checking_subjects(vars(SNSBackend)["publish"]))
