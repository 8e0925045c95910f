"""The run report as one self-contained HTML page: text, tables and figures, no scripts, no fonts, no
links to load, so it opens the same from S3, from a file, or from the API.

The page says what the email says (the same ``Report``), and draws what an email cannot: the tuning
progress, feature importance and, from the test split, the confusion matrix and curves (classification)
or predicted against actual and residuals (regression).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from core.schema import Schema
from functions.notify.report import Report
from functions.report import figures
from functions.report.evidence import Evidence
from functions.run_document import RunDocument


@dataclass(frozen=True)
class Figure:
    """One figure of the page; ``kind`` names it for a reader's program (and the page's tests)."""

    kind: str
    title: str
    svg: str

    @property
    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode()).decode()


def page_figures(run: RunDocument | None, evidence: Evidence) -> list[Figure]:
    """Every figure the run's evidence allows, in the page's order."""
    found: list[Figure] = []
    if run is not None and evidence.trials:
        objective = run.plan.tuning_job_config.HyperParameterTuningJobObjective
        svg = figures.tuning_progress(
            evidence.trials,
            metric=objective.MetricName,
            objective_type=objective.Type,
            winner=run.training.job if run.training else None,
        )
        found.append(Figure("tuning", "Tuning progress", svg))
    diagnostics = evidence.diagnostics or {}
    if diagnostics.get("importance"):
        found.append(Figure("importance", "Feature importance", figures.importance(diagnostics["importance"])))
    if "confusion" in diagnostics:
        classes = _class_names(evidence.schema, len(diagnostics["confusion"]))
        found.append(Figure("confusion", "Confusion matrix", figures.confusion(diagnostics["confusion"], classes)))
    if "roc" in diagnostics:
        auc = _winner_metric(run, "auc")
        found.append(Figure("roc", "ROC curve", figures.roc(diagnostics["roc"]["fpr"], diagnostics["roc"]["tpr"], auc)))
        curve = diagnostics["precision_recall"]
        confusion = diagnostics.get("confusion")
        positive_rate = sum(confusion[1]) / max(sum(map(sum, confusion)), 1) if confusion else None
        found.append(
            Figure(
                "precision_recall",
                "Precision–recall curve",
                figures.precision_recall(curve["recall"], curve["precision"], positive_rate),
            )
        )
    if "sample" in diagnostics:
        target = evidence.schema.target if evidence.schema else "target"
        actual, predicted = diagnostics["sample"]["actual"], diagnostics["sample"]["predicted"]
        found.append(
            Figure(
                "predicted_actual",
                "Predicted against actual",
                figures.predicted_against_actual(actual, predicted, target),
            )
        )
        found.append(Figure("residuals", "Residuals", figures.residuals(actual, predicted, target)))
    return found


def _class_names(schema: Schema | None, count: int) -> list[str]:
    if schema is not None and len(schema.classes) == count:
        return list(schema.classes)
    return [str(index) for index in range(count)]


def _winner_metric(run: RunDocument | None, name: str) -> float | None:
    if run is None or run.evaluation is None:
        return None
    return run.evaluation.winner.metrics.get(name)


# The page's markup, beside this module (the Lambda package and local mode ship the folder whole).
_TEMPLATE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent), autoescape=True, undefined=jinja2.StrictUndefined
).get_template("report.html.j2")


def render(report: Report, run: RunDocument | None, evidence: Evidence) -> str:
    evaluation = run.evaluation if run else None
    return _TEMPLATE.render(
        d=report.document,
        decision=evaluation,
        hyperparameters=evaluation.winner.hyperparameters if evaluation else {},
        figures=page_figures(run, evidence),
        missing=evidence.missing,
        email=report.body,
        number=_number,
    )


def _number(value: Any) -> str:
    return "—" if value is None else f"{value:.4g}"
