"""SNS email subscriptions that deliver mail.

moto accepts ``email`` and ``email-json`` subscriptions but delivers nothing to them, and the pipeline's
result is an email. Here a publish to one sends a real message through the SMTP sink
(:mod:`local.mail`), which files it in the stack's outbox; every other protocol is moto's as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from moto.sns.models import Subscription

from local import mail
from local.moto.state import Replacements, current_settings

_EMAIL_PROTOCOLS: Final = ("email", "email-json")


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
