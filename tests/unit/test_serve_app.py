"""The WSGI app called in process: every status a client can get, without starting a server."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tests.helpers.serving import train_penguin_model
from training_image.serving.app import MAX_PAYLOAD_BYTES, ServingApp
from training_image.serving.model import load_model

ROW = b"0,1,0,39.1,18.7,181,3750,1,0,2007\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> ServingApp:
    model_dir = tmp_path_factory.mktemp("opt_ml") / "model"
    train_penguin_model(model_dir, rounds=3)
    return ServingApp(load_model(model_dir), workers=3)


def call(
    app: ServingApp,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    content_type: str | None = "text/csv",
    accept: str | None = None,
    length: bool = True,
) -> tuple[int, dict[str, str], bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "wsgi.input": io.BytesIO(body),
    }
    if length:  # without it the body arrives chunked, its size unknown until read
        environ["CONTENT_LENGTH"] = str(len(body))
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if accept is not None:
        environ["HTTP_ACCEPT"] = accept
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(headers)

    body_out = b"".join(app(environ, start_response))
    assert int(answer["headers"]["Content-Length"]) == len(body_out)
    return answer["status"], answer["headers"], body_out


def test_ping_answers_200(app: ServingApp) -> None:
    assert call(app, "GET", "/ping")[0] == 200


def test_execution_parameters_tell_batch_transform_how_to_call(app: ServingApp) -> None:
    status, headers, body = call(app, "GET", "/execution-parameters")

    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"MaxConcurrentTransforms": 3, "BatchStrategy": "MULTI_RECORD", "MaxPayloadInMB": 6}


def test_csv_without_accept_is_answered_as_the_builtin_container_does(app: ServingApp) -> None:
    """No Accept on text/csv: one line per row of the booster's output (here 3 class probabilities)."""
    status, headers, body = call(app, "POST", "/invocations", ROW)

    assert status == 200 and headers["Content-Type"] == "text/csv"
    [line] = body.decode().splitlines()
    probabilities = [float(value) for value in line.split(",")]
    assert len(probabilities) == 3 and probabilities.index(max(probabilities)) == 0  # Adelie
    assert call(app, "POST", "/invocations", ROW, accept="*/*")[2] == body


def test_invocation_answers_json_and_labelled_csv_when_asked(app: ServingApp) -> None:
    status, headers, body = call(app, "POST", "/invocations", ROW, accept="application/json")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["predictions"][0]["label"] == "Adelie"

    status, headers, body = call(app, "POST", "/invocations", ROW, accept="text/csv; labels=true")
    assert status == 200 and headers["Content-Type"] == "text/csv"
    assert body.decode().split(",")[0] == "Adelie"


def test_the_endpoints_default_accept_is_the_answer_to_no_accept(app: ServingApp) -> None:
    app.default_accept = "application/json"

    status, headers, body = call(app, "POST", "/invocations", ROW)

    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["predictions"][0]["label"] == "Adelie"


def test_content_type_parameters_are_ignored(app: ServingApp) -> None:
    assert call(app, "POST", "/invocations", ROW, content_type="text/csv; charset=utf-8")[0] == 200


@pytest.mark.parametrize(
    ("kwargs", "status", "reason"),
    [
        ({"content_type": "text/plain"}, 415, "Content-Type 'text/plain' is not supported"),
        ({"content_type": None}, 415, "Content-Type '(none)' is not supported"),
        ({"accept": "image/png"}, 406, "Accept 'image/png' is not supported"),
    ],
)
def test_unsupported_media_types_are_refused(app: ServingApp, kwargs: dict[str, Any], status: int, reason: str) -> None:
    got, headers, body = call(app, "POST", "/invocations", ROW, **kwargs)

    assert got == status
    assert headers["Content-Type"].startswith("text/plain")
    assert reason in body.decode()


def test_bad_data_is_a_400_with_the_reason(app: ServingApp) -> None:
    status, _, body = call(app, "POST", "/invocations", b"1,2,3\n")

    assert status == 400
    assert body.decode().startswith("line 1 has 3 values; this model expects 10 per row")


def test_deeply_nested_json_is_a_400_not_a_crash(app: ServingApp) -> None:
    status, _, body = call(app, "POST", "/invocations", b"[" * 100_000, content_type="application/json")

    assert status == 400
    assert body == b"the JSON body is nested too deeply to be rows of features\n"


def test_empty_body_is_204_like_the_built_in_container(app: ServingApp) -> None:
    assert call(app, "POST", "/invocations", b"")[:1] == (204,)


def test_a_body_over_6_mb_is_413(app: ServingApp) -> None:
    body = ROW * (MAX_PAYLOAD_BYTES // len(ROW) + 1)

    status, _, reason = call(app, "POST", "/invocations", body)

    assert status == 413 and b"over 6 MB" in reason


def test_a_chunked_body_over_6_mb_is_413_too(app: ServingApp) -> None:
    body = ROW * (MAX_PAYLOAD_BYTES // len(ROW) + 1)

    assert call(app, "POST", "/invocations", body, length=False)[0] == 413
    assert call(app, "POST", "/invocations", ROW, length=False)[0] == 200


def test_a_body_of_exactly_6_mb_is_served(app: ServingApp) -> None:
    rows = ROW * (MAX_PAYLOAD_BYTES // len(ROW))
    body = rows + b"\n" * (MAX_PAYLOAD_BYTES - len(rows))

    status, _, answer = call(app, "POST", "/invocations", body, accept="text/csv")

    assert status == 200
    assert len(answer.splitlines()) == MAX_PAYLOAD_BYTES // len(ROW)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/invocations", 405), ("POST", "/ping", 405), ("GET", "/predict", 404)],
)
def test_wrong_routes_and_methods(app: ServingApp, method: str, path: str, status: int) -> None:
    assert call(app, method, path)[0] == status
