import numpy as np
import pytest
import xgboost as xgb

from core.errors import UserInputError
from tests.helpers.training import breast_cancer, iris, split
from training_image.channels import Dataset
from training_image.hyperparameters import parse_hyperparameters
from training_image.trainer import check_labels, train


def as_dataset(rows):
    return Dataset(np.ascontiguousarray(rows[:, 1:], dtype=np.float32), rows[:, 0].astype(np.float32))


def test_a_job_whose_checkpoint_already_has_every_round_reports_that_models_metrics():
    rows_train, rows_validation, _ = split(breast_cancer())
    data = {"train": as_dataset(rows_train), "validation": as_dataset(rows_validation)}
    parameters = parse_hyperparameters({"num_round": "6", "max_depth": "2"}, problem_type="binary", num_class=None)
    printed: list[str] = []
    first = train(**data, parameters=parameters, device="cpu", printer=printed.append)
    assert len(printed) == 6

    again = train(**data, parameters=parameters, device="cpu", resume_from=first.booster, printer=printed.append)

    assert len(printed) == 6  # no round was trained
    assert again.rounds == 6 and again.resumed_from == 6 and again.best_iteration == 5
    assert again.metrics["validation"]["auc"] == pytest.approx(first.metrics["validation"]["auc"], abs=1e-5)
    assert again.metrics["train"]["logloss"] == pytest.approx(first.metrics["train"]["logloss"], abs=1e-5)


def test_early_stopping_keeps_the_best_rounds_and_their_metrics():
    rows_train, rows_validation, _ = split(breast_cancer())
    parameters = parse_hyperparameters(
        {"num_round": "200", "eta": "0.5", "early_stopping_rounds": "3"}, problem_type="binary", num_class=None
    )

    result = train(
        train=as_dataset(rows_train),
        validation=as_dataset(rows_validation),
        parameters=parameters,
        device="cpu",
        printer=lambda line: None,
    )

    assert result.rounds < 200 and result.rounds == result.best_iteration + 4
    assert result.booster.num_boosted_rounds() == result.best_iteration + 1
    validation = xgb.DMatrix(rows_validation[:, 1:], rows_validation[:, 0])
    # The saved (cut) model scores on validation what the log said at its best round.
    fields = dict(field.split(":") for field in result.booster.eval(validation, "validation").split("\t")[1:])
    assert float(fields["validation-auc"]) == pytest.approx(result.metrics["validation"]["auc"], abs=1e-5)


def test_class_indexes_outside_num_class_are_named_by_row():
    rows = iris()
    rows[4, 0] = 3
    parameters = parse_hyperparameters({}, problem_type="multiclass", num_class=3)

    with pytest.raises(UserInputError, match=r"row 5 has label 3, expected a class index 0\.\.2"):
        check_labels(as_dataset(rows), parameters, "train")
