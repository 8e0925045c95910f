"""Metrics read from a training job's log lines with its MetricDefinitions, as SageMaker reads them.

SageMaker matches each definition's regex against every log line (tabs shown as ``#011``) and takes the
number the first group captured; the last value of each metric is the job's ``FinalMetricDataList``,
which is what a tuning job optimises. Lines printed per boosting round (``[12]#011validation-auc:0.9``)
also carry the round, which early stopping uses as the step.

Every value is also published to CloudWatch as SageMaker publishes training metrics (namespace
``/aws/sagemaker/TrainingJobs``, with the job's role, whose ``cloudwatch:PutMetricData`` the
CreateTrainingJob execution-role docs list), twice: under ``TrainingJobName`` = ``<job>``, which the
SageMaker SDK's ``TrainingJobAnalytics`` queries (2.257 and 3.27 alike), and under ``Host`` =
``<job>/<host>``, the per-instance series of SageMaker's monitoring guide and the console's charts.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core.container import METRIC_VALUE
from local.sagemaker.errors import ValidationError

TRAINING_METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
HOST_DIMENSION = "Host"
JOB_DIMENSION = "TrainingJobName"
# Values per PutMetricData request (CloudWatch takes 1,000): botocore gzips a PutMetricData body of 10 KB
# or more, and the embedded AWS refuses a compressed request (SignatureDoesNotMatch, docs/fidelity.md),
# so requests stay under that size: 20 values are about 3 KB.
_PUT_MAX = 20

log = logging.getLogger(__name__)

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

    def read(self, logged_line: str) -> list[MetricPoint]:
        """The values ``logged_line`` holds (kept, and given to ``on_point``), in definition order."""
        found: list[MetricPoint] = []
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
            found.append(point)
            if self._on_point is not None:
                self._on_point(point)
        return found

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


class MetricPublisher:
    """A job's metric values, buffered per host and sent to CloudWatch by :meth:`flush`.

    The job's thread flushes while it supervises its hosts, so a chart fills as the job trains. A
    refusal (a role without ``cloudwatch:PutMetricData``) is logged once and the values are dropped:
    the job goes on, as on AWS, where such a job simply has no metrics.
    """

    def __init__(self, cloudwatch: Any, job: str) -> None:
        self._cloudwatch = cloudwatch
        self._job = job
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._refused = False

    def add(self, host: str, points: Sequence[MetricPoint]) -> None:
        if self._refused:  # nothing more is sent: keep nothing
            return
        series = ({"Name": JOB_DIMENSION, "Value": self._job}, {"Name": HOST_DIMENSION, "Value": f"{self._job}/{host}"})
        datums = [
            {"MetricName": point.name, "Dimensions": [dimension], "Timestamp": point.timestamp, "Value": point.value}
            for point in points
            if math.isfinite(point.value)  # CloudWatch refuses NaN and infinities
            for dimension in series
        ]
        with self._lock:
            self._pending += datums

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        for start in range(0, len(pending), _PUT_MAX):
            if self._refused:
                return
            try:
                self._cloudwatch.put_metric_data(
                    Namespace=TRAINING_METRICS_NAMESPACE, MetricData=pending[start : start + _PUT_MAX]
                )
            except (ClientError, BotoCoreError) as exc:
                self._refused = True
                log.warning("training job %s: its metrics were not published to CloudWatch: %s", self._job, exc)
