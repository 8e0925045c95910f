"""Email for local mode: a real SMTP sink that files every message as an ``.eml`` a person can open.

SNS email subscriptions are delivered over SMTP (not written straight to disk) so the path a message
takes is the one a mail server would see; the sink stores exactly what it received.
"""

from __future__ import annotations

import smtplib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

SNS_SENDER = "AWS Notifications <no-reply@sns.amazonaws.com>"
DEFAULT_SUBJECT = "AWS Notification Message"


@dataclass(frozen=True)
class MailItem:
    """One message in the outbox, as ``dropml local mail`` lists it."""

    date: str
    to: str
    subject: str
    path: Path

    def as_dict(self) -> dict[str, str]:
        return {"date": self.date, "to": self.to, "subject": self.subject, "path": str(self.path)}


class _OutboxHandler:
    """aiosmtpd handler: each accepted message becomes one file, written atomically."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.outbox.mkdir(parents=True, exist_ok=True)
        # named by arrival time to the microsecond, so that sorting names sorts messages
        name = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}-{uuid.uuid4().hex[:8]}.eml"
        staging = self.outbox / f".{name}.part"
        staging.write_bytes(envelope.original_content or envelope.content)
        staging.rename(self.outbox / name)
        return "250 Message accepted for delivery"


def start_sink(outbox: Path, port: int, host: str = "127.0.0.1") -> Controller:
    """Start the SMTP sink on ``host:port`` in a background thread; call ``.stop()`` to end it."""
    controller = Controller(_OutboxHandler(outbox), hostname=host, port=port)
    controller.start()
    return controller


def send(*, smtp_port: int, to: str, subject: str | None, body: str, host: str = "127.0.0.1") -> None:
    """Send one plain-text message the way SNS does to an email subscription."""
    message = EmailMessage()
    message["From"] = SNS_SENDER
    message["To"] = to
    message["Subject"] = subject or DEFAULT_SUBJECT
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = f"<{uuid.uuid4()}@dropml.local>"
    message.set_content(body)
    with smtplib.SMTP(host, smtp_port, timeout=30) as client:
        client.send_message(message)


def list_outbox(outbox: Path) -> list[MailItem]:
    """Messages in the outbox, oldest first."""
    if not outbox.is_dir():
        return []
    parser = BytesHeaderParser(policy=default_policy)
    items = []
    for path in sorted(outbox.glob("*.eml")):
        with path.open("rb") as source:
            headers = parser.parse(source)
        items.append(
            MailItem(
                date=_iso_date(headers.get("Date")),
                to=str(headers.get("To", "")),
                # a long subject is folded right after "Subject:", and the parser keeps the fold's space
                subject=str(headers.get("Subject", "")).strip(),
                path=path,
            )
        )
    return items


def _iso_date(header: object) -> str:
    if header is None:
        return ""
    try:
        return parsedate_to_datetime(str(header)).isoformat()
    except (TypeError, ValueError):
        return str(header)
