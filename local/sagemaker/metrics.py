"""Metrics read from a training job's log lines with its MetricDefinitions, as SageMaker reads them.

SageMaker matches each definition's regex against every log line (tabs shown as ``#011``) and takes the
number the first group captured; the last value of each metric is the job's ``FinalMetricDataList``,
which is what a tuning job optimises. Lines printed per boosting round (``[12]#011validation-auc:0.9``)
also carry the round, which early stopping uses as the step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.container import METRIC_VALUE
from local.sagemaker.errors import ValidationError

_LEADING_NUMBER = re.compile(rf"\s*({METRIC_VALUE}|[-+]?(?:nan|inf))", re.IGNORECASE)
_ROUND = re.compile(r"\[([0-9]+)\]")


@dataclass(frozen=True)
class MetricPoint:
    name: str
    value: float
    timestamp: datetime
    step: int | None


class MetricReader:
    """Applies a job's MetricDefinitions to its log lines and keeps every value seen, in order."""

    def __init__(
        self,
        definitions: Sequence[Mapping[str, str]],
        clock: Callable[[], datetime],
        on_point: Callable[[MetricPoint], None] | None = None,
    ) -> None:
        self._patterns: list[tuple[str, re.Pattern[str]]] = []
        for definition in definitions:
            try:
                self._patterns.append((definition["Name"], re.compile(definition["Regex"])))
            except re.error as exc:
                raise ValidationError(
                    f"MetricDefinitions {definition['Name']!r}: invalid regex {definition['Regex']!r}: {exc}"
                ) from None
        self._clock = clock
        self._on_point = on_point
        self.points: list[MetricPoint] = []

    def read(self, logged_line: str) -> None:
        for name, pattern in self._patterns:
            match = pattern.search(logged_line)
            if match is None or not match.groups() or match.group(1) is None:
                continue
            number = _LEADING_NUMBER.match(match.group(1))
            if number is None:
                continue
            round_match = _ROUND.search(logged_line)
            point = MetricPoint(
                name=name,
                value=float(number.group(1)),
                timestamp=self._clock(),
                step=int(round_match.group(1)) if round_match else None,
            )
            self.points.append(point)
            if self._on_point is not None:
                self._on_point(point)

    def final(self) -> list[dict[str, object]]:
        """``FinalMetricDataList``: the last value of each metric, in definition order."""
        last: dict[str, MetricPoint] = {}
        for point in self.points:
            last[point.name] = point
        order = [name for name, _ in self._patterns]
        return [
            {"MetricName": p.name, "Value": p.value, "Timestamp": p.timestamp}
            for p in sorted(last.values(), key=lambda p: order.index(p.name))
        ]
