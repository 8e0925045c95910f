"""The errors SageMaker's API answers with, as exceptions that carry AWS's error code.

The engine raises these; whatever fronts it (the moto patch, a test) turns the code and message into the
wire error a client expects, so ``botocore`` raises the same ``ClientError`` it would against AWS.
"""

from __future__ import annotations


class SageMakerApiError(Exception):
    """An error answer of the SageMaker (or SageMaker Runtime) API."""

    code = "ValidationException"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(SageMakerApiError):
    code = "ValidationException"


class ResourceNotFound(SageMakerApiError):
    code = "ResourceNotFound"


class ResourceInUse(SageMakerApiError):
    code = "ResourceInUse"


class RuntimeValidationError(SageMakerApiError):
    """SageMaker Runtime names its validation error ``ValidationError`` (the control plane says ``…Exception``)."""

    code = "ValidationError"


class ModelError(SageMakerApiError):
    """The model container answered an invocation with a 4xx/5xx; AWS wraps it as HTTP 424."""

    code = "ModelError"
    status = 424

    def __init__(self, message: str, *, original_status: int, original_message: str, log_stream_arn: str):
        super().__init__(message)
        self.original_status = original_status
        self.original_message = original_message
        self.log_stream_arn = log_stream_arn


class InternalFailure(SageMakerApiError):
    """The endpoint's server could not be reached at all (it died): AWS answers InternalFailure."""

    code = "InternalFailure"
    status = 500
