import numpy as np
import pytest

from core.schema import Feature, Schema
from functions.evaluate.champion import EndpointBusy, check_settled, decide
from functions.run_document import Champion, Winner

SCHEMA = Schema(
    target="y",
    problem_type="binary",
    features=(
        Feature("x", "numeric"),
        Feature("colour", "categorical", ("red", "blue"), capped=True),
        Feature("flag", "boolean"),
    ),
    classes=("no", "yes"),
)


def winner(auc: float) -> Winner:
    return Winner(job="j", model_data="s3://b/m.tar.gz", hyperparameters={}, metrics={"auc": auc, "accuracy": 0.9})


def champion_with(auc: float) -> Champion:
    return Champion(endpoint="e", endpoint_config="c", metrics={"auc": auc})


def test_first_model_is_deployed() -> None:
    decision = decide(schema=SCHEMA, winner=winner(0.8), champion=None, margin=0.0)
    assert decision.deploy and decision.reason == "no model is live on this endpoint yet"


def test_better_challenger_is_deployed_and_worse_one_is_not() -> None:
    champion = champion_with(0.85)
    assert decide(schema=SCHEMA, winner=winner(0.9), champion=champion, margin=0.0).deploy
    kept = decide(schema=SCHEMA, winner=winner(0.84), champion=champion, margin=0.0)
    assert not kept.deploy
    assert kept.reason == "the live model is as good or better: auc 0.8400 vs live 0.8500 (higher is better)"


def test_margin_must_be_exceeded() -> None:
    champion = champion_with(0.80)
    kept = decide(schema=SCHEMA, winner=winner(0.81), champion=champion, margin=0.05)
    assert not kept.deploy and "more than 5.0%" in kept.reason
    assert decide(schema=SCHEMA, winner=winner(0.85), champion=champion, margin=0.05).deploy


def test_unscorable_champion_is_replaced_with_the_reason() -> None:
    champion = Champion(endpoint="e", endpoint_config="c", error="400: expected 7 columns")
    decision = decide(schema=SCHEMA, winner=winner(0.7), champion=champion, margin=0.0)
    assert decision.deploy and "could not be scored" in decision.reason


def test_decoded_rows_encode_back_to_the_same_matrix() -> None:
    rows = np.array([[1.5, 1, 0, 0, 1], [np.nan, 0, 0, 1, 0], [2.0, np.nan, np.nan, np.nan, np.nan]], dtype=np.float32)
    records = SCHEMA.decode_rows(rows)
    assert records[0] == {"x": 1.5, "colour": "red", "flag": True}
    assert records[1] == {"x": None, "colour": "__other__", "flag": False}
    np.testing.assert_array_equal(SCHEMA.encode_records(records), rows)


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"])
def test_an_endpoint_that_is_changing_is_neither_scored_nor_deployed_to(status: str) -> None:
    with pytest.raises(EndpointBusy, match=f"endpoint e is {status}: a change this run did not make"):
        check_settled({"EndpointName": "e", "EndpointStatus": status})


@pytest.mark.parametrize("status", ["InService", "Failed", "OutOfService", "UpdateRollbackFailed"])
def test_an_endpoint_that_settled_goes_on_to_the_decision(status: str) -> None:
    check_settled({"EndpointName": "e", "EndpointStatus": status})
