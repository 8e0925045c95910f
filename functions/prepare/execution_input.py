"""The execution input: the one JSON document a person pastes into the Step Functions console.

Minimal form ``{"source": "s3://<bucket>/incoming/<dataset>/<file>.csv"}``; ``settings`` overrides any
field of the dataset's ``dropml.json``; ``prepared`` is added by the S3 trigger, which has already
converted the file. The README documents this model; ``dropml input-schema`` prints its JSON schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import UserInputError
from core.names import upload_location
from core.s3 import split_s3_uri
from core.settings import describe_validation_error
from functions.run_document import Prepared

SOURCE_PATTERN = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/incoming/[^/]+/[^/]+\.[cC][sS][vV]$"


class ExecutionInput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="the uploaded CSV: s3://<bucket>/incoming/<dataset>/<file>.csv")
    settings: dict[str, Any] = Field(default_factory=dict, description="overrides of the dataset's dropml.json")
    prepared: Prepared | None = None

    @field_validator("source")
    @classmethod
    def _an_upload(cls, value: str) -> str:
        if not re.match(SOURCE_PATTERN, value):
            raise ValueError(f"must be an uploaded CSV like s3://<bucket>/incoming/<dataset>/<file>.csv, not {value!r}")
        try:
            upload_location(split_s3_uri(value)[1])  # the rule the S3 trigger applies, for the same answer
        except UserInputError as refusal:
            raise ValueError(refusal.reason) from None
        return value

    @property
    def bucket(self) -> str:
        return split_s3_uri(self.source)[0]

    @property
    def key(self) -> str:
        return split_s3_uri(self.source)[1]

    @property
    def dataset(self) -> str:
        return upload_location(self.key)[0]  # valid: checked when the input was parsed


def parse_execution_input(document: Any) -> ExecutionInput:
    """Validate the execution input, naming every problem and showing the minimal valid form."""
    try:
        return ExecutionInput.model_validate(document)
    except ValidationError as error:
        problems = describe_validation_error(error)
        if "source: Field required" in problems or "(document)" in problems:
            problems += ' (the minimal input is {"source": "s3://<bucket>/incoming/<dataset>/<file>.csv"})'
        raise UserInputError(f"execution input: {problems}") from None


def execution_input_json_schema() -> str:
    return json.dumps(ExecutionInput.model_json_schema(by_alias=True), indent=2)
