"""The image's ``train`` run as SageMaker runs it (a subprocess on an /opt/ml tree), on real data."""

import json
import re

import numpy as np
import pytest
import xgboost as xgb
from sklearn import metrics as sk

from core.schema import Schema
from tests.helpers.training import OptMl, breast_cancer, diabetes, iris, run_train, schema_for, split

# The built-in XGBoost algorithm's MetricDefinitions, as SageMaker defines them for CloudWatch.
METRIC_REGEX = r".*\[[0-9]+\].*#011{channel}-{metric}:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?).*"
# The shorter form often written by hand; ``#011`` is no whitespace, so it reads a line's last value only.
SHORT_REGEX = r".*\[[0-9]+\].*#011{channel}-{metric}:(\S+)"


@pytest.fixture
def opt_ml(tmp_path):
    return OptMl(tmp_path / "opt" / "ml")


def cloudwatch_lines(stdout: str) -> list[str]:
    """Lines as CloudWatch Logs shows them: a tab becomes ``#011``."""
    return [line.replace("\t", "#011") for line in stdout.splitlines()]


def test_binary_job_writes_model_schema_summary_and_evaluation(opt_ml):
    rows = breast_cancer()
    train, validation, test = split(rows)
    opt_ml.channel("train", train, parts=3, compress=True, nested=True)
    opt_ml.channel("validation", validation)
    opt_ml.channel("test", test)
    schema = schema_for(rows, "binary", ["malignant", "benign"])
    opt_ml.schema(schema)
    opt_ml.hyperparameters({"num_round": 30, "max_depth": 3, "eta": 0.3, "early_stopping_rounds": 5})

    done = run_train(opt_ml.root)

    assert done.returncode == 0, done.stderr
    assert not opt_ml.failure.exists()
    assert sorted(p.name for p in opt_ml.model_dir.iterdir()) == ["model.ubj", "schema.json", "summary.json"]
    assert Schema.from_json((opt_ml.model_dir / "schema.json").read_text()) == schema
    booster = xgb.Booster(model_file=str(opt_ml.model_dir / "model.ubj"))
    probability = booster.inplace_predict(test[:, 1:].astype(np.float32))
    test_auc = sk.roc_auc_score(test[:, 0], probability)
    assert test_auc > 0.95

    report = json.loads(opt_ml.evaluation.read_text())
    assert report["problem_type"] == "binary" and report["rows"] == len(test)
    assert set(report["metrics"]) == {"auc", "accuracy", "f1", "logloss"}
    assert report["metrics"]["auc"] == pytest.approx(test_auc, abs=1e-6)
    assert report["metrics"]["accuracy"] == pytest.approx(sk.accuracy_score(test[:, 0], probability >= 0.5))

    summary = opt_ml.summary()
    assert summary["problem_type"] == "binary" and summary["objective"] == "binary:logistic"
    assert summary["hyperparameters"]["max_depth"] == 3 and summary["hyperparameters"]["num_round"] == 30
    # Early stopping keeps the best round's model: the saved model has exactly best_iteration + 1 rounds.
    assert booster.num_boosted_rounds() == summary["best_iteration"] + 1
    assert summary["metrics"]["test"] == report["metrics"]
    assert set(summary["metrics"]["validation"]) == {"logloss", "auc"}


def test_per_round_lines_match_the_built_in_algorithms_metric_regexes(opt_ml):
    train, validation, _ = split(breast_cancer())
    opt_ml.channel("train", train)
    opt_ml.channel("validation", validation)
    opt_ml.hyperparameters(
        {
            "num_round": 12,
            "max_depth": 2,
            "eval_metric": "auc,error,logloss",
            "_tuning_objective_metric": "validation:auc",
        }
    )

    done = run_train(opt_ml.root)

    assert done.returncode == 0, done.stderr
    lines = cloudwatch_lines(done.stdout)
    summary = opt_ml.summary()
    for channel in ("train", "validation"):
        for metric in ("logloss", "auc", "error"):
            pattern = re.compile(METRIC_REGEX.format(channel=channel, metric=metric))
            values = [float(m.group(1)) for line in lines if (m := pattern.match(line))]
            assert len(values) == 12, (channel, metric)
            assert values[-1] == pytest.approx(summary["metrics"][channel][metric], abs=1e-5)
    # The tuning objective's metric ends each line, so even the short regex reads it as a number.
    short = re.compile(SHORT_REGEX.format(channel="validation", metric="auc"))
    auc = [float(m.group(1)) for line in lines if (m := short.match(line))]
    assert len(auc) == 12
    assert auc[-1] > auc[0]  # it learned, round after round


def test_multiclass_reads_the_schema_from_its_own_channel_and_takes_num_class_from_it(opt_ml):
    rows = iris()
    train, validation, test = split(rows)
    opt_ml.channel("train", train)
    opt_ml.channel("validation", validation)
    opt_ml.channel("test", test)
    opt_ml.schema(schema_for(rows, "multiclass", ["setosa", "versicolor", "virginica"]), channel="schema")
    opt_ml.hyperparameters({"num_round": 20, "max_depth": 3})

    done = run_train(opt_ml.root)

    assert done.returncode == 0, done.stderr
    summary = opt_ml.summary()
    assert summary["objective"] == "multi:softprob" and summary["hyperparameters"]["num_class"] == 3
    report = json.loads(opt_ml.evaluation.read_text())
    assert set(report["metrics"]) == {"accuracy", "f1", "logloss"}
    assert report["metrics"]["accuracy"] > 0.85
    assert "#011validation-mlogloss:" in done.stdout.replace("\t", "#011")
    assert (opt_ml.model_dir / "schema.json").exists()


def test_regression_on_diabetes_reports_rmse_mae_and_r2(opt_ml):
    rows = diabetes()
    train, validation, test = split(rows)
    opt_ml.channel("train", train, parts=2)
    opt_ml.channel("validation", validation)
    opt_ml.channel("test", test)
    opt_ml.schema(schema_for(rows, "regression"))
    opt_ml.hyperparameters({"num_round": 40, "max_depth": 2, "eta": 0.1})

    done = run_train(opt_ml.root)

    assert done.returncode == 0, done.stderr
    report = json.loads(opt_ml.evaluation.read_text())
    assert set(report["metrics"]) == {"rmse", "mae", "r2"}
    assert report["metrics"]["r2"] > 0.2
    booster = xgb.Booster(model_file=str(opt_ml.model_dir / "model.ubj"))
    predicted = booster.inplace_predict(test[:, 1:].astype(np.float32))
    assert report["metrics"]["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(test[:, 0], predicted)), rel=1e-5)


@pytest.mark.parametrize(
    ("hyperparameters", "content_type", "reason"),
    [
        ({"max_depth": "-2"}, "text/csv", "hyperparameter max_depth='-2' is invalid: expected an integer in [0, 1000]"),
        ({"learning_rat": "0.1"}, "text/csv", "unknown hyperparameter 'learning_rat'"),
        ({}, "text/libsvm", "content type 'text/libsvm' is not supported"),
        ({"objective": "multi:softprob"}, "text/csv", "num_class is required with objective multi:softprob"),
        ({"early_stopping_rounds": "3"}, "text/csv", "early_stopping_rounds needs a validation channel"),
        (
            {"monotone_constraints": "(1,0"},
            "text/csv",
            "XGBoost refused the job: Invalid Parameter format for monotone_constraints",
        ),
    ],
)
def test_a_problem_the_user_can_fix_leaves_a_one_line_reason_and_a_failing_exit(
    opt_ml, hyperparameters, content_type, reason
):
    opt_ml.channel("train", breast_cancer()[:50], content_type=content_type)
    opt_ml.hyperparameters(hyperparameters)

    done = run_train(opt_ml.root)

    assert done.returncode == 1
    failure = opt_ml.failure.read_text()
    assert reason in failure and failure.count("\n") == 1
    assert not (opt_ml.model_dir / "model.ubj").exists()


def test_labels_the_objective_cannot_take_are_named_by_row(opt_ml):
    rows = diabetes()[:60]
    opt_ml.channel("train", rows)
    opt_ml.hyperparameters({"objective": "binary:logistic"})

    done = run_train(opt_ml.root)

    assert done.returncode == 1
    assert f"row 1 has label {rows[0, 0]:g}, expected 0 or 1" in opt_ml.failure.read_text()


def test_no_train_channel_is_refused(opt_ml):
    opt_ml.channel("validation", breast_cancer()[:50])

    done = run_train(opt_ml.root)

    assert done.returncode == 1
    assert "'train' channel is required" in opt_ml.failure.read_text()
