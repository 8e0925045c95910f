"""Dataset settings: ``incoming/<dataset>/dropml.json`` and the execution input's overrides.

One pydantic model validates both, so a typo in a console execution and a typo in the settings file
get the same clear message ("dropml.json: split.train: must be greater than 0"). Unknown keys are
refused: a silently ignored setting is worse than an error.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import UserInputError
from core.hyperparameters import problems
from core.schema import ProblemType

DEFAULT_MAX_CATEGORIES = 100
MAX_INSTANCE_COUNT = 100


class SplitFractions(BaseModel):
    """Fractions of the rows that go to each split; they must add up to 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    train: float = Field(0.8, gt=0, lt=1)
    validation: float = Field(0.1, gt=0, lt=1)
    test: float = Field(0.1, gt=0, lt=1)

    @model_validator(mode="after")
    def _adds_up(self) -> SplitFractions:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must add up to 1, not {total:g}")
        return self


class TuningSettings(BaseModel):
    """The hyperparameter tuning budget (SageMaker's ResourceLimits and strategy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_jobs: int = Field(8, ge=1, le=500)
    max_parallel_jobs: int = Field(2, ge=1, le=100)
    strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"] = "Bayesian"

    @model_validator(mode="after")
    def _parallel_within_total(self) -> TuningSettings:
        if self.max_parallel_jobs > self.max_jobs:
            raise ValueError("max_parallel_jobs cannot exceed max_jobs")
        return self


class DatasetSettings(BaseModel):
    """Everything a user may set per dataset; every field has a default that works."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str | None = Field(None, min_length=1, description="label column; default: target/label/y/class")
    problem_type: ProblemType | None = None
    split: SplitFractions = SplitFractions()
    max_categories: int = Field(DEFAULT_MAX_CATEGORIES, ge=1, le=10_000)
    mode: Literal["tune", "train"] = "tune"
    hyperparameters: dict[str, str | int | float] = Field(default_factory=dict)
    tuning: TuningSettings = TuningSettings()
    instance: Literal["auto", "gpu", "cpu"] = "auto"
    endpoint_name: str | None = Field(None, pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
    endpoint_instance_type: str | None = Field(None, pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
    deploy_margin: float = Field(0.0, ge=0, le=1)
    instance_count: Literal["auto"] | int = Field(
        "auto", description='training instances per job: "auto" (from the training data\'s size) or 1 to 100'
    )
    conversion: Literal["auto", "lambda", "processing"] = Field(
        "auto",
        description='where the upload is converted: "auto" (a Lambda up to the stack\'s LambdaConversionMaxBytes, '
        'else a SageMaker Processing job), "lambda" or "processing"',
    )
    spot: bool = Field(True, description="managed spot training, with checkpoints; false: on-demand instances only")

    @field_validator("instance_count", mode="before")
    @classmethod
    def _instance_count_in_range(cls, value: object) -> object:
        """One clear message for every wrong spelling (pydantic's would list each branch of the union);
        SageMaker's ResourceConfig.InstanceCount is 1 to 100, and the stack's own cap applies too."""
        if value == "auto" or (type(value) is int and 1 <= value <= MAX_INSTANCE_COUNT):
            return value
        raise ValueError(f'must be "auto" or a whole number from 1 to {MAX_INSTANCE_COUNT}, not {value!r}')

    @field_validator("hyperparameters")
    @classmethod
    def _valid_hyperparameters(cls, value: dict[str, str | int | float]) -> dict[str, str | int | float]:
        """Every bad one named at once, before a job starts (the image would stop at the first)."""
        found = problems({name: str(v) for name, v in value.items()})
        if found:
            raise ValueError("; ".join(found))
        return value


def parse_settings(text: str | bytes, *, source: str = "dropml.json") -> DatasetSettings:
    """Validate settings JSON, raising :class:`UserInputError` with every problem in one line."""
    try:
        return DatasetSettings.model_validate_json(text)
    except ValidationError as exc:
        raise UserInputError(f"{source}: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: ValidationError) -> str:
    """pydantic's errors as ``field.path: message; …`` — short enough for an email subject line."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "(document)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
