"""The real ``training_image/serve`` executable, started as a subprocess and spoken to over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from tests.helpers.serving import (
    SPECIES,
    Endpoint,
    penguin_records,
    penguin_schema,
    serving,
    start_serve,
    stop_serve,
    train_penguin_model,
)

SCHEMA = penguin_schema("multiclass")
ROW = b"0,1,0,39.1,18.7,181,3750,1,0,2007\n"  # an Adelie, one-hot encoded as the schema says


@pytest.fixture(scope="module")
def opt_ml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("opt_ml")
    train_penguin_model(root / "model", "multiclass")
    return root


@pytest.fixture(scope="module")
def booster(opt_ml: Path) -> xgb.Booster:
    return xgb.Booster(model_file=str(opt_ml / "model" / "model.ubj"))


@pytest.fixture(scope="module")
def endpoint(opt_ml: Path) -> Iterator[Endpoint]:
    yield from serving(opt_ml)


def expected_species(booster: xgb.Booster, matrix: np.ndarray) -> list[str]:
    return [SPECIES[i] for i in booster.inplace_predict(matrix).argmax(axis=1)]


def csv_rows(matrix: np.ndarray) -> bytes:
    return "".join(",".join("" if np.isnan(v) else repr(float(v)) for v in row) + "\n" for row in matrix).encode()


def test_ping(endpoint: Endpoint) -> None:
    assert endpoint.request("GET", "/ping")[0] == 200


def test_csv_rows_get_the_users_species_names(endpoint: Endpoint, booster: xgb.Booster) -> None:
    matrix = SCHEMA.encode_records(penguin_records()[::20])  # includes a row of missing measurements

    status, headers, body = endpoint.invoke(csv_rows(matrix), accept="application/json")

    assert status == 200 and headers["content-type"] == "application/json"
    predictions = json.loads(body)["predictions"]
    assert [p["label"] for p in predictions] == expected_species(booster, matrix)
    probabilities = booster.inplace_predict(matrix)
    for got, row in zip(predictions, probabilities, strict=True):
        assert list(got["probabilities"]) == list(SPECIES)
        assert list(got["probabilities"].values()) == pytest.approx(row.tolist(), rel=1e-6)
        assert got["score"] == pytest.approx(row.tolist(), rel=1e-6)  # multi:softprob's, as the built-in's


def test_json_numeric_rows(endpoint: Endpoint, booster: xgb.Booster) -> None:
    matrix = SCHEMA.encode_records(penguin_records()[1:4])
    rows = [[None if np.isnan(v) else float(v) for v in row] for row in matrix]

    status, _, body = endpoint.invoke(json.dumps(rows).encode(), "application/json")

    assert status == 200
    assert [p["label"] for p in json.loads(body)["predictions"]] == expected_species(booster, matrix)


def test_raw_records_with_the_original_column_names(endpoint: Endpoint, booster: xgb.Booster) -> None:
    gentoo = next(r for r in penguin_records() if r["species"] == "Gentoo")
    records = [
        {k: v for k, v in gentoo.items() if k != "species"},
        {**gentoo, "island": "Atlantis"},  # a category never seen in training is missing, not an error
        {"island": "Dream", "bill_length_mm": 49.0, "flipper_length_mm": 195},  # absent fields are missing
        {**gentoo, "penguin_id": "P-17", "comment": "tagged twice"},  # unknown fields are ignored
    ]

    status, _, body = endpoint.invoke(json.dumps(records).encode(), "application/json")

    assert status == 200
    labels = [p["label"] for p in json.loads(body)["predictions"]]
    assert labels == expected_species(booster, SCHEMA.encode_records(records))
    assert labels[0] == labels[3] == "Gentoo"


def test_one_record_and_the_instances_wrapper(endpoint: Endpoint) -> None:
    record = {"island": "Torgersen", "bill_length_mm": 39.1, "bill_depth_mm": 18.7, "sex": "male"}

    single = endpoint.invoke(json.dumps(record).encode(), "application/json")
    wrapped = endpoint.invoke(json.dumps({"instances": [record]}).encode(), "application/json")

    assert single[0] == wrapped[0] == 200
    assert single[2] == wrapped[2]


def test_csv_out(endpoint: Endpoint, booster: xgb.Booster) -> None:
    matrix = SCHEMA.encode_records(penguin_records()[:3])

    status, headers, body = endpoint.invoke(csv_rows(matrix), accept="text/csv; labels=true")

    assert status == 200 and headers["content-type"] == "text/csv"
    lines = body.decode().splitlines()
    assert [line.split(",")[0] for line in lines] == expected_species(booster, matrix)
    assert all(len(line.split(",")) == 1 + len(SPECIES) for line in lines)

    status, headers, body = endpoint.invoke(csv_rows(matrix))  # no Accept: the built-in's answer

    assert status == 200 and headers["content-type"] == "text/csv"
    expected = booster.inplace_predict(matrix).astype(np.float64).tolist()
    assert body.decode() == "".join(",".join(map(repr, row)) + "\n" for row in expected)


def test_execution_parameters(endpoint: Endpoint) -> None:
    status, _, body = endpoint.request("GET", "/execution-parameters")

    assert status == 200
    assert json.loads(body) == {"MaxConcurrentTransforms": 1, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}


def test_a_payload_over_6_mb_is_413(endpoint: Endpoint) -> None:
    row = b"0,1,0,39.1,18.7,181,3750,1,0,2007\n"

    status, _, body = endpoint.invoke(row * (6 * 1024 * 1024 // len(row) + 1))

    assert status == 413
    assert b"over 6 MB" in body


@pytest.mark.parametrize(
    ("content_type", "accept", "status", "reason"),
    [
        ("application/x-www-form-urlencoded", None, 415, "use text/csv or application/json"),
        ("text/csv", "application/xml", 406, "use application/json or text/csv"),
    ],
)
def test_unsupported_media_types(
    endpoint: Endpoint, content_type: str, accept: str | None, status: int, reason: str
) -> None:
    got, _, body = endpoint.invoke(b"1,2,3\n", content_type, accept)

    assert got == status
    assert reason in body.decode()


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"1,2,3\n", "text/csv", "line 1 has 3 values; this model expects 10 per row"),
        (b"species,island\nAdelie,Dream\n", "text/csv", "line 1 has 2 values; this model expects 10"),
        (b"\x00\xff\xfe garbage \x81", "text/csv", "not UTF-8"),
        (b"[[1, 2]]", "application/json", "row 0 has 2 values; this model expects 10"),
        (b"{oops", "application/json", "not valid JSON"),
        (b'[{"body_mass_g": "heavy"}]', "application/json", "column 'body_mass_g' expects a number"),
    ],
)
def test_bad_input_is_a_400_with_the_reason(endpoint: Endpoint, body: bytes, content_type: str, reason: str) -> None:
    status, headers, answer = endpoint.invoke(body, content_type)

    assert status == 400
    assert headers["content-type"].startswith("text/plain")
    assert reason in answer.decode()


def test_the_worker_survives_bad_input(endpoint: Endpoint) -> None:
    hostile = [
        (b"[" * 200_000, "application/json"),
        (b"\xff" * 10_000, "application/json"),
        (b'{"instances": {"a": [1, {"b": null}]}}', "application/json"),
        (b"1e999999," * 9 + b"nan\n", "text/csv"),
        (b'"unterminated,quote\n', "text/csv"),
    ]
    answers = [endpoint.invoke(body, content_type)[0] for body, content_type in hostile]

    status, _, body = endpoint.invoke(b"0,1,0,39.1,18.7,181,3750,1,0,2007\n", accept="application/json")

    assert all(code < 500 for code in answers), answers
    assert status == 200 and json.loads(body)["predictions"][0]["label"] == "Adelie"
    assert len(re.findall(r"Booting worker with pid", endpoint.output())) == 1, "a worker was restarted"


def test_one_connection_serves_many_requests(endpoint: Endpoint) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
    try:
        statuses = []
        for body in (b"0,1,0,39.1,18.7,181,3750,1,0,2007\n", b"bad\n", b"0,0,1,,,,,,,2009\n"):
            connection.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            assert response.getheader("Connection") != "close"
    finally:
        connection.close()

    assert statuses == [200, 400, 200]


def test_idle_connections_do_not_hold_up_a_request(endpoint: Endpoint) -> None:
    """50 clients connect and send nothing; on one worker each used to hold the endpoint ~5 s (~250 s)."""
    idle = [socket.create_connection(("127.0.0.1", endpoint.port), timeout=10) for _ in range(50)]
    try:
        connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=10)
        try:
            connection.request(
                "POST", "/invocations", body=ROW, headers={"Content-Type": "text/csv", "Accept": "application/json"}
            )
            response = connection.getresponse()
            answer = json.loads(response.read())
        finally:
            connection.close()
    finally:
        for client in idle:
            client.close()

    assert response.status == 200
    assert answer["predictions"][0]["label"] == "Adelie"


def test_a_client_sending_its_body_slowly_does_not_hold_up_others(endpoint: Endpoint) -> None:
    slow = socket.create_connection(("127.0.0.1", endpoint.port), timeout=10)
    try:
        head = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n"
        slow.sendall(head % len(ROW) + ROW[:5])
        others = [endpoint.invoke(ROW) for _ in range(3)]  # each with a 30 s timeout
        slow.sendall(ROW[5:])
        slow_answer = b""
        while b"\r\n" not in slow_answer:  # the status line, however the kernel splits the answer
            chunk = slow.recv(4096)
            if not chunk:
                break
            slow_answer += chunk
    finally:
        slow.close()

    assert [status for status, _, _ in others] == [200, 200, 200]
    assert slow_answer.startswith(b"HTTP/1.1 200 OK")


def test_a_model_without_schema_takes_numbers_and_answers_class_indices(tmp_path: Path) -> None:
    train_penguin_model(tmp_path / "model", "multiclass", with_schema=False)
    row = b"0,1,0,39.1,18.7,181,3750,1,0,2007\n"

    endpoint = start_serve(tmp_path)
    try:
        numbers = endpoint.invoke(row, accept="application/json")
        records = endpoint.invoke(b'[{"island": "Dream"}]', "application/json")
    finally:
        stop_serve(endpoint)

    assert numbers[0] == 200
    assert json.loads(numbers[2])["predictions"][0]["label"] == "0"
    assert records[0] == 400 and b"no schema.json" in records[2]


def test_sigterm_stops_every_worker_cleanly(tmp_path: Path) -> None:
    """Default settings: a worker per CPU; SIGTERM (how endpoints are stopped) exits 0 and frees the port."""
    train_penguin_model(tmp_path / "model", "binary", rounds=3)
    endpoint = start_serve(tmp_path, workers=None)
    cpus = len(os.sched_getaffinity(0))
    deadline = time.monotonic() + 20
    while endpoint.output().count(" serves ") < cpus and time.monotonic() < deadline:
        time.sleep(0.05)  # every worker has loaded the model, so SIGTERM finds none half-started
    parameters = json.loads(endpoint.request("GET", "/execution-parameters")[2])
    assert endpoint.invoke(b"0,1,0,39.1,18.7,181,3750,1,0,2007\n")[0] == 200

    status = stop_serve(endpoint)  # SIGTERM, and SIGKILL if it has not exited after 20 s

    assert status == 0
    assert parameters["MaxConcurrentTransforms"] == cpus
    assert endpoint.output().count("Booting worker") == cpus
    assert endpoint.output().count(f"serves {tmp_path / 'model'}: binary, 10 model columns") == cpus
    assert endpoint.output().count("Worker exiting") == cpus
    with pytest.raises(ConnectionRefusedError):
        endpoint.request("GET", "/ping")


def test_serve_without_a_model_fails_at_start_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()

    with pytest.raises(RuntimeError, match=r"serve exited with [1-9][\s\S]*no model\.ubj"):
        start_serve(tmp_path)


def test_sigterm_while_a_request_is_in_flight_lets_it_finish(opt_ml: Path) -> None:
    """SIGTERM arrives while a request's body is still on its way: that client still gets its answer."""
    endpoint = start_serve(opt_ml)
    rows = b"0,1,0,39.1,18.7,181,3750,1,0,2007\n" * 1000
    connection = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=30)
    try:
        # A first request on the connection makes sure the worker holds it before the signal.
        connection.request("POST", "/invocations", body=rows[:35], headers={"Content-Type": "text/csv"})
        assert connection.getresponse().read()
        connection.putrequest("POST", "/invocations")
        connection.putheader("Content-Type", "text/csv")
        connection.putheader("Content-Length", str(len(rows)))
        connection.endheaders(rows[: len(rows) // 2])
        time.sleep(0.5)
        endpoint.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        connection.send(rows[len(rows) // 2 :])
        response = connection.getresponse()
        answer = response.read()
    finally:
        connection.close()
        code = stop_serve(endpoint)

    assert response.status == 200
    assert len(answer.decode().splitlines()) == 1000  # the built-in's text/csv: a line per row
    assert code == 0
