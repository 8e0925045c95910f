"""The run report page, built from a real model's test-split figures data, as a reader sees it."""

from datetime import UTC, datetime

import numpy as np
import pytest
import xgboost as xgb

from core.schema import Feature, Schema
from functions.notify.report import FinalState, build_report
from functions.report.evidence import Evidence
from functions.report.figures import Trial
from functions.report.page import render
from tests.helpers.report_page import read_page, svg_texts
from tests.helpers.runs import PENGUIN_SCHEMA, planned_run
from training_image.diagnostics import diagnostics

RNG = np.random.default_rng(3)
FINISHED = datetime(2026, 12, 2, 12, 5, tzinfo=UTC)
TUNING_JOB = "dropml-penguins-0123456789-c"
WINNER = f"{TUNING_JOB}-003-1a2b"


def _evaluation(metrics: dict[str, float]) -> dict:
    return {
        "decision": "deploy",
        "reason": "no model is live on this endpoint yet",
        "metric": next(iter(metrics)),
        "winner": {
            "job": WINNER,
            "model_data": "s3://b/m.tar.gz",
            "metrics": metrics,
            "hyperparameters": {"eta": "0.3"},
        },
        "champion": None,
        "endpoint_exists": False,
        "endpoint_status": None,
        "example_record": {"bill": 39.5},
    }


def _diagnostics(problem_type: str, schema: Schema, classes: int = 2) -> dict:
    features = RNG.normal(size=(400, schema.width)).astype(np.float32)
    if problem_type == "regression":
        labels = 2 * features[:, 0] + RNG.normal(size=400)
        params = {"objective": "reg:squarederror"}
    else:
        labels = np.digitize(features[:, 0] + features[:, -1], np.linspace(-1, 1, classes - 1)).astype(np.float64)
        params = (
            {"objective": "binary:logistic"} if classes == 2 else {"objective": "multi:softprob", "num_class": classes}
        )
    booster = xgb.train(params, xgb.DMatrix(features, labels), 8)
    prediction = booster.predict(xgb.DMatrix(features))
    return diagnostics(
        problem_type=problem_type,  # type: ignore[arg-type]
        booster=booster,
        labels=labels,
        prediction=prediction,
        source_columns=schema.source_columns(),
    )


def _page(run, evidence: Evidence, *, failed: bool = False) -> str:
    state = run.to_state()
    final = FinalState.from_state(state, "2026-12-02T12:00:00Z")
    return render(build_report(final, failed=failed, finished_at=FINISHED), final.run, evidence)


def test_a_tuned_multiclass_run_shows_its_trials_importance_and_confusion_matrix_in_class_names() -> None:
    schema = Schema(
        target="species",
        problem_type="multiclass",
        features=(Feature("island", "categorical", ("Biscoe", "Dream")), Feature("bill", "numeric")),
        classes=("Adelie", "Chinstrap", "Gentoo"),
    )
    trials = [
        Trial(f"{TUNING_JOB}-001-aaaa", 0.41, "Completed"),
        Trial(f"{TUNING_JOB}-002-bbbb", None, "Failed"),
        Trial(WINNER, 0.12, "Completed"),
        Trial(f"{TUNING_JOB}-004-cccc", 0.30, "Completed"),
    ]
    run = planned_run(
        schema=schema,
        training={"kind": "tuning job", "tuning_job": TUNING_JOB, "job": WINNER, "trials": 4},
        evaluation=_evaluation({"logloss": 0.12, "accuracy": 0.96}),
    )
    evidence = Evidence(schema=schema, diagnostics=_diagnostics("multiclass", schema, classes=3), trials=trials)

    page = read_page(_page(run, evidence))

    assert list(page.figures) == ["tuning", "importance", "confusion"]
    assert page.loads == [] and page.scripts == 0
    confusion = svg_texts(page.figures["confusion"])
    assert {"Adelie", "Chinstrap", "Gentoo", "predicted", "actual"} <= set(confusion)
    assert {"island", "bill"} <= set(svg_texts(page.figures["importance"]))  # one-hot columns folded back
    tuning = svg_texts(page.figures["tuning"])
    assert "validation:mlogloss" in tuning and "winner" in tuning and "no value (failed or stopped)" in tuning


def test_a_binary_run_adds_roc_and_precision_recall_curves() -> None:
    schema = Schema(
        target="churned", problem_type="binary", features=(Feature("tenure", "numeric"),), classes=("no", "yes")
    )
    run = planned_run(
        schema=schema,
        training={"kind": "training job", "job": WINNER},
        evaluation=_evaluation({"auc": 0.91, "logloss": 0.3}),
    )
    page = read_page(_page(run, Evidence(schema=schema, diagnostics=_diagnostics("binary", schema))))

    assert list(page.figures) == ["importance", "confusion", "roc", "precision_recall"]
    assert "model (AUC 0.910)" in svg_texts(page.figures["roc"])
    assert {"no", "yes"} <= set(svg_texts(page.figures["confusion"]))


def test_a_regression_run_shows_predicted_against_actual_and_residuals() -> None:
    schema = Schema(target="price", problem_type="regression", features=(Feature("rooms", "numeric"),))
    run = planned_run(
        schema=schema,
        training={"kind": "training job", "job": WINNER},
        evaluation=_evaluation({"rmse": 1.1, "r2": 0.8}),
    )
    page = read_page(_page(run, Evidence(schema=schema, diagnostics=_diagnostics("regression", schema))))

    assert list(page.figures) == ["importance", "predicted_actual", "residuals"]
    assert "actual price" in svg_texts(page.figures["predicted_actual"])


@pytest.mark.parametrize("missing", [[], ["the test-split figures of j: An error occurred (NoSuchKey)"]])
def test_a_failed_run_says_the_step_the_reason_and_what_to_do_with_what_it_has(missing: list[str]) -> None:
    run = planned_run(
        training={"kind": "training job", "job": WINNER},
        failure={"Error": "States.TaskFailed", "Cause": "CapacityError: no ml.g4dn.xlarge"},
        failed_step="Deploy",
    )
    evidence = Evidence(
        schema=PENGUIN_SCHEMA,
        diagnostics=None if missing else _diagnostics("multiclass", PENGUIN_SCHEMA, 3),
        missing=missing,
    )

    html = _page(run, evidence, failed=True)
    page = read_page(html)

    assert 'id="failure"' in html and "<b>Step:</b> Deploy" in html
    assert "CapacityError: no ml.g4dn.xlarge" in html and "The previous endpoint (if any) is still serving" in html
    assert list(page.figures) == ([] if missing else ["importance", "confusion"])
    assert all(item in html for item in missing)


def test_text_from_the_upload_is_escaped_not_run() -> None:
    schema = Schema(target="t", problem_type="regression", features=(Feature("<script>alert(1)</script>", "numeric"),))
    run = planned_run(schema=schema, dataset="penguins")
    html = _page(run, Evidence(schema=schema, missing=["<img src=x onerror=alert(1)>"]))
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert read_page(html).scripts == 0
