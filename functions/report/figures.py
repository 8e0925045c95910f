"""The report's figures, drawn with matplotlib as SVG documents.

SVG because the page must be self-contained and sharp at any zoom: matplotlib writes text as paths
(no fonts to load), and each figure goes into the page as its own ``data:`` image, so the figures'
element ids never meet. ``Figure`` objects, not pyplot: nothing global, no GUI backend in a Lambda.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

WIDTH, HEIGHT = 6.4, 4.0
TOP_COLUMNS = 20
ANNOTATED_CLASSES = 12  # up to this many classes, each cell of the confusion matrix shows its count
OBJECTIVE_BETTER = {"Maximize": max, "Minimize": min}


@dataclass(frozen=True)
class Trial:
    """One training job of a tuning job, in the order SageMaker created them; ``objective`` is None for
    a trial that ended without a value (failed or stopped)."""

    name: str
    objective: float | None
    status: str


def _svg(figure: Figure) -> str:
    figure.tight_layout()
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()


def tuning_progress(trials: Sequence[Trial], *, metric: str, objective_type: str, winner: str | None) -> str:
    """Each trial's objective in order, the best so far as a step line, the winner marked."""
    figure = Figure(figsize=(WIDTH, HEIGHT))
    axes = figure.add_subplot()
    better = OBJECTIVE_BETTER[objective_type]
    scored = [
        (number, trial.name, trial.objective) for number, trial in enumerate(trials, 1) if trial.objective is not None
    ]
    numbers, values = [number for number, _, _ in scored], [value for _, _, value in scored]
    axes.scatter(numbers, values, color="tab:blue", label="trial", zorder=3)
    best: list[float] = []
    for value in values:
        best.append(value if not best else better(best[-1], value))
    axes.step(numbers, best, where="post", color="tab:orange", label="best so far")
    for number, name, value in scored:
        if name == winner:
            axes.scatter([number], [value], marker="*", s=260, color="tab:red", label="winner", zorder=4)
    unscored = [number for number, trial in enumerate(trials, start=1) if trial.objective is None]
    if unscored:
        for number in unscored:
            axes.axvline(number, color="0.7", linestyle=":", zorder=1)
        axes.plot([], [], color="0.7", linestyle=":", label="no value (failed or stopped)")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("trial (in the order started)")
    axes.set_ylabel(metric)
    axes.set_title(f"Tuning: {metric} per trial ({objective_type.lower()})")
    axes.legend(loc="best")
    return _svg(figure)


def importance(shares: dict[str, float]) -> str:
    """Each input column's share of the model's total gain, the largest at the top."""
    top = list(shares.items())[:TOP_COLUMNS]
    figure = Figure(figsize=(WIDTH, max(2.0, 0.32 * len(top) + 1.2)))
    axes = figure.add_subplot()
    axes.barh([name for name, _ in reversed(top)], [share for _, share in reversed(top)], color="tab:blue")
    axes.set_xlabel("share of total gain")
    shown = f" (top {TOP_COLUMNS} of {len(shares)})" if len(shares) > TOP_COLUMNS else ""
    axes.set_title(f"Feature importance{shown}")
    return _svg(figure)


def confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> str:
    """Counts of actual (rows) against predicted (columns) classes on the test split."""
    counts = np.asarray(matrix)
    side = max(WIDTH, 0.45 * len(classes) + 2.5)
    figure = Figure(figsize=(side, side * 0.8))
    axes = figure.add_subplot()
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes, label="rows")
    ticks = range(len(classes))
    axes.set_xticks(ticks, labels=list(classes), rotation=45, ha="right")
    axes.set_yticks(ticks, labels=list(classes))
    if len(classes) <= ANNOTATED_CLASSES:
        threshold = counts.max() / 2 if counts.size else 0
        for (row, column), count in np.ndenumerate(counts):
            color = "white" if count > threshold else "black"
            axes.text(column, row, str(count), ha="center", va="center", color=color)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title("Confusion matrix (test split)")
    return _svg(figure)


def roc(fpr: Sequence[float], tpr: Sequence[float], auc: float | None) -> str:
    figure = Figure(figsize=(HEIGHT + 0.6, HEIGHT))
    axes = figure.add_subplot()
    label = f"model (AUC {auc:.3f})" if auc is not None else "model"
    axes.plot(fpr, tpr, color="tab:blue", label=label)
    axes.plot([0, 1], [0, 1], color="0.6", linestyle="--", label="chance")
    axes.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.set_title("ROC curve (test split)")
    axes.legend(loc="lower right")
    return _svg(figure)


def precision_recall(recall: Sequence[float], precision: Sequence[float], positive_rate: float | None) -> str:
    figure = Figure(figsize=(HEIGHT + 0.6, HEIGHT))
    axes = figure.add_subplot()
    axes.plot(recall, precision, color="tab:blue", label="model")
    if positive_rate is not None:
        axes.axhline(positive_rate, color="0.6", linestyle="--", label="chance")
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set(xlim=(-0.02, 1.02), ylim=(0, 1.05))
    axes.set_title("Precision–recall curve (test split)")
    axes.legend(loc="lower left")
    return _svg(figure)


def predicted_against_actual(actual: Sequence[float], predicted: Sequence[float], target: str) -> str:
    figure = Figure(figsize=(HEIGHT + 0.6, HEIGHT))
    axes = figure.add_subplot()
    axes.scatter(actual, predicted, s=8, alpha=0.5, color="tab:blue")
    low, high = min(*actual, *predicted), max(*actual, *predicted)
    axes.plot([low, high], [low, high], color="tab:red", linestyle="--", label="predicted = actual")
    axes.set_xlabel(f"actual {target}")
    axes.set_ylabel(f"predicted {target}")
    axes.set_title("Predicted against actual (test split)")
    axes.legend(loc="upper left")
    return _svg(figure)


def residuals(actual: Sequence[float], predicted: Sequence[float], target: str) -> str:
    errors = np.asarray(actual) - np.asarray(predicted)
    figure = Figure(figsize=(WIDTH, HEIGHT))
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    left.scatter(predicted, errors, s=8, alpha=0.5, color="tab:blue")
    left.axhline(0, color="tab:red", linestyle="--")
    left.set_xlabel(f"predicted {target}")
    left.set_ylabel("actual − predicted")
    right.hist(errors, bins=30, color="tab:blue")
    right.set_xlabel("actual − predicted")
    right.set_ylabel("rows")
    figure.suptitle("Residuals (test split)")
    return _svg(figure)
