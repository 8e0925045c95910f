"""The WSGI app: SageMaker's serving routes over the decode → predict → encode steps.

A bare WSGI callable rather than a web framework: a one-row prediction takes ~0.2 ms, so routing and
request objects would cost more than the model. Anything wrong with a request is answered with a
status and a one-line reason (400 bad data, 413 too large, 415 unknown Content-Type, 406 unknown
Accept); the worker always lives on to answer the next one.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from core.errors import UserInputError
from training_image.serving.decode import DECODERS
from training_image.serving.encode import CSV, ENCODERS, JSON, LABELLED_CSV, choose_media_type
from training_image.serving.model import ServedModel
from training_image.serving.predict import predict

# SageMaker's cap on a real-time request (and on a batch transform mini-batch): 6 MB.
MAX_PAYLOAD_MB = 6
MAX_PAYLOAD_BYTES = MAX_PAYLOAD_MB * 1024 * 1024
# Bodies up to this size are read to the end before a 413, so the client sees the answer rather than a
# reset connection; larger ones are refused as soon as their headers arrive.
_DRAIN_LIMIT_BYTES = 8 * MAX_PAYLOAD_BYTES
_CHUNK = 1 << 20

StartResponse = Callable[..., Any]
Response = tuple[str, str, bytes]

# gunicorn's error log: our lines come out next to its own, in its format, wherever it is sent.
log = logging.getLogger("gunicorn.error")

_TEXT = "text/plain; charset=utf-8"
_STATUS = {
    200: "200 OK",
    204: "204 No Content",
    400: "400 Bad Request",
    404: "404 Not Found",
    405: "405 Method Not Allowed",
    406: "406 Not Acceptable",
    413: "413 Content Too Large",
    415: "415 Unsupported Media Type",
    500: "500 Internal Server Error",
}


class ServingApp:
    """``GET /ping``, ``POST /invocations``, ``GET /execution-parameters`` for one loaded model.

    ``workers`` is how many requests the endpoint serves at once, which batch transform reads from
    ``/execution-parameters`` as ``MaxConcurrentTransforms``; ``default_accept`` is the endpoint's
    ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``, the answer to a request with no ``Accept`` or ``*/*``.
    One app is one worker: its threads read and answer many connections, but it decodes and predicts
    for one request at a time, so a worker uses one CPU whatever its clients do.
    """

    def __init__(self, model: ServedModel, *, workers: int, default_accept: str | None = None) -> None:
        self.model = model
        self.default_accept = default_accept
        self._one_at_a_time = threading.Lock()
        self.execution_parameters = json.dumps(
            {
                "MaxConcurrentTransforms": workers,
                "BatchStrategy": "MULTI_RECORD",
                "MaxPayloadInMB": MAX_PAYLOAD_MB,
            }
        ).encode()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        if path == "/invocations":
            status, content_type, body = self._post_only(method) or self._invoke(environ)
        elif path == "/ping":
            status, content_type, body = self._get_only(method) or ("200 OK", _TEXT, b"")
        elif path == "/execution-parameters":
            status, content_type, body = self._get_only(method) or (
                "200 OK",
                "application/json",
                self.execution_parameters,
            )
        else:
            status, content_type, body = _refuse(404, f"no route {path}; use POST /invocations")
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def _post_only(self, method: str) -> Response | None:
        return None if method == "POST" else _refuse(405, "use POST for /invocations")

    def _get_only(self, method: str) -> Response | None:
        return None if method in ("GET", "HEAD") else _refuse(405, "use GET")

    def _invoke(self, environ: dict[str, Any]) -> Response:
        body = _read_body(environ)
        if body is None:
            return _refuse(413, f"the request body is over {MAX_PAYLOAD_MB} MB; send fewer rows per request")
        if not body:
            # SageMaker's built-in container answers 204 too: batch transform sends an empty file as an
            # empty request and must not fail the whole job over it.
            return "204 No Content", _TEXT, b""
        with self._one_at_a_time:  # taken once the body is in: a slow client holds only its own thread
            return self._answer(environ, body)

    def _answer(self, environ: dict[str, Any], body: bytes) -> Response:
        content_type = environ.get("CONTENT_TYPE", "")
        media = content_type.partition(";")[0].strip().lower()
        decoder = DECODERS.get(media)
        if decoder is None:
            return _refuse(
                415,
                f"Content-Type {content_type or '(none)'!r} is not supported; use text/csv or application/json",
            )
        accept = environ.get("HTTP_ACCEPT")
        # A request with no Accept is answered as SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT says, else in its own
        # format: text/csv as the built-in container answers it, JSON (dropml's own input) as JSON.
        media_type = choose_media_type(accept, self.default_accept or (JSON if media == JSON else CSV))
        if media_type is None:
            return _refuse(406, f"Accept {accept!r} is not supported; use application/json or text/csv")
        try:
            matrix = decoder(body, self.model)
        except UserInputError as exc:
            return _refuse(400, exc.reason)
        except Exception as exc:  # decoding is a pure function of the body: whatever fails is the input
            log.exception("could not decode a %s body", content_type)
            return _refuse(400, f"could not read the body as {content_type}: {exc}")
        try:
            output = ENCODERS[media_type](predict(self.model, matrix), self.model.classes)
        except Exception:  # our bug, not the client's: say so, and keep the worker serving
            log.exception("prediction failed")
            return _refuse(500, "prediction failed; the server log has the details")
        return "200 OK", CSV if media_type == LABELLED_CSV else media_type, output


def _read_body(environ: dict[str, Any]) -> bytes | None:
    """The request body, or ``None`` when it is over the payload cap (drained when that is cheap)."""
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    if length > MAX_PAYLOAD_BYTES:
        if length <= _DRAIN_LIMIT_BYTES:
            while stream.read(_CHUNK):
                pass
        return None
    body: bytes = stream.read(length) if length >= 0 else stream.read(MAX_PAYLOAD_BYTES + 1)
    return None if len(body) > MAX_PAYLOAD_BYTES else body


def _refuse(code: int, reason: str) -> Response:
    return _STATUS[code], _TEXT, (reason + "\n").encode()
