import json
from datetime import UTC, datetime

from functions.notify.report import build_report

FINISHED = datetime(2026, 11, 25, 12, 4, 30, tzinfo=UTC)
PREPARED = {
    "problem_type": "multiclass",
    "target": "species",
    "classes": ["Adelie", "Chinstrap", "Gentoo"],
    "rows": {"train": 273, "validation": 34, "test": 35, "missing_target": 2},
}


def test_success_email_explains_the_decision_metrics_and_how_to_call_the_endpoint() -> None:
    state = {
        "source": "s3://b/incoming/penguins/penguins.csv",
        "dataset": "penguins",
        "run_id": "0123456789ab",
        "started_at": "2026-11-25T12:00:00Z",
        "prepared": PREPARED,
        "training": {
            "kind": "tuning job",
            "tuning_job": "dropml-penguins-0123456789-c",
            "job": "dropml-penguins-0123456789-c-003-1a2b",
            "device": "CPU",
            "trials": 4,
        },
        "gpu_fallback": {"reason": "CapacityError: no ml.g4dn.xlarge"},
        "failure": {"Error": "States.TaskFailed", "Cause": "CapacityError: no ml.g4dn.xlarge"},  # recovered from
        "evaluation": {
            "decision": "deploy",
            "reason": "the new model is better: logloss 0.1000 vs live 0.2000 (lower is better)",
            "winner": {"metrics": {"accuracy": 0.97, "logloss": 0.1}, "hyperparameters": {"eta": "0.1"}},
            "champion": {"metrics": {"accuracy": 0.9, "logloss": 0.2}},
            "example_record": {"island": "Dream", "bill_length_mm": 39.5},
        },
        "deployment": {"endpoint": "dropml-penguins", "status": "InService"},
    }
    report = build_report(state, failed=False, finished_at=FINISHED)
    assert report.subject == "dropml penguins: deployed the new model to endpoint dropml-penguins"
    body = report.body
    assert "Duration: 4 min 30 s" in body
    assert "2 rows without a label left out" in body
    assert "0=Adelie, 1=Chinstrap, 2=Gentoo" in body
    assert "  logloss         0.1000      0.2000" in body
    assert "eta=0.1" in body
    assert "so it ran on CPU instead: CapacityError: no ml.g4dn.xlarge" in body
    assert (
        "Training: tuning job dropml-penguins-0123456789-c on CPU; best trial dropml-penguins-0123456789-c-003-1a2b"
        in body
    )
    assert "Trials completed: 4" in body
    assert "--endpoint-name dropml-penguins" in body and '"island": "Dream"' in body
    assert report.document["decision"] == "deploy" and report.document["duration_seconds"] == 270.0
    assert json.loads(body.rsplit("\n", 1)[1]) == report.document


def test_failure_email_names_step_reason_and_what_to_do() -> None:
    state = {
        "source": "s3://b/incoming/penguins/penguins.csv",
        "failure": {
            "Error": "UserInputError",
            "Cause": json.dumps({"errorMessage": "no column named 'species'", "errorType": "UserInputError"}),
        },
        "failed_step": "Prepare data",
    }
    report = build_report(state, failed=True, finished_at=FINISHED)
    assert report.subject == "dropml penguins: FAILED at Prepare data"
    assert "Reason: no column named 'species' (UserInputError)" in report.body
    assert "What to do: Fix the CSV" in report.body
    assert report.document["status"] == "failed"


def test_subject_is_ascii_and_short_for_sns() -> None:
    state = {"source": "s3://b/incoming/" + "ü" * 150 + "/f.csv", "failure": {"Error": "X"}, "failed_step": "Train"}
    subject = build_report(state, failed=True, finished_at=FINISHED).subject
    assert subject.isascii() and len(subject) < 100
