import json

import numpy as np
import pytest

from core.schema import Feature, Schema
from functions.evaluate.champion import REQUEST_BYTES, EndpointBusy, check_settled, decide, request_bodies
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


def test_requests_to_the_live_model_are_sized_in_bytes_under_the_payload_cap() -> None:
    # GIVEN 2,000 raw records of 700 columns (500 of them were 7 MB: over the 6 MB cap)
    records = [{f"column_{c}": 1234.5678 + r for c in range(700)} for r in range(2_000)]
    # WHEN they are cut into request bodies
    bodies = list(request_bodies(records))
    # THEN every body is a JSON array under the limit, and together they carry every record in order
    assert all(len(body.encode()) <= REQUEST_BYTES for body, _ in bodies)
    assert len(bodies) > 1
    sent = [record for body, _ in bodies for record in json.loads(body)]
    assert sent == records
    assert sum(count for _, count in bodies) == len(records)


def test_a_record_too_large_for_any_request_is_refused_with_a_reason() -> None:
    with pytest.raises(RuntimeError, match="more than an endpoint request may hold"):
        list(request_bodies([{"text": "x" * 200}], limit=100))
