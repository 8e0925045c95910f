import numpy as np
import pytest
import xgboost as xgb

from training_image.train_main import fail, xgboost_reason


def test_xgboosts_own_refusal_becomes_one_readable_line():
    with pytest.raises(xgb.core.XGBoostError) as raised:
        xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(np.zeros((2, 2)), label=[0, 2]), 1)

    assert xgboost_reason(raised.value) == "label must be in (0, 1) for logistic regression"


def test_the_failure_file_holds_one_line_within_sagemakers_limit(tmp_path):
    failure = tmp_path / "output" / "failure"

    code = fail(failure, "first line\nsecond   line " + "x" * 2000, 1)

    assert code == 1
    text = failure.read_text()
    assert text.startswith("first line second line x") and text.count("\n") == 1
    assert len(text) == 1024 + 1
