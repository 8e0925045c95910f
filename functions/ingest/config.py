"""The ingest function's configuration, read once from its environment.

Names are constants here so the template, local mode and tests spell them the same way; a missing
value fails at cold start with the variable's name rather than as a silent default later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

STATE_MACHINE_ARN = "STATE_MACHINE_ARN"
NOTIFICATION_TOPIC_ARN = "NOTIFICATION_TOPIC_ARN"


@dataclass(frozen=True)
class IngestConfig:
    state_machine_arn: str
    topic_arn: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> IngestConfig:
        missing = [name for name in (STATE_MACHINE_ARN, NOTIFICATION_TOPIC_ARN) if not environ.get(name)]
        if missing:
            raise RuntimeError(f"ingest function misconfigured: set {', '.join(missing)}")
        return cls(state_machine_arn=environ[STATE_MACHINE_ARN], topic_arn=environ[NOTIFICATION_TOPIC_ARN])
