"""The run document: the one JSON document every state after "Prepare data" reads and adds to.

Prepare returns a :class:`RunDocument`; the definition reads its fields by JSONPath and writes each
state's result into one of them (``$.attempt``, ``$.training``, ``$.evaluation``, ``$.deployment``,
``$.failure``, ``$.failed_trials``, ``$.endpoint_deletion``); evaluate parses it and returns it with
``evaluation`` filled; notify and the CLI's live view parse it.
``tests/unit/test_definition_contract.py`` resolves every path the definition reads or writes against
this module's JSON schema, so a field renamed here and not there fails in seconds rather than in a run
on AWS.

State names that code must match are :class:`State`; the step a failure email names is :class:`Step`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.schema import ProblemType
from core.settings import DatasetSettings


class Step(StrEnum):
    """The four stages of a run, as a failure email names them (the definition's ``$.failed_step``)."""

    PREPARE = "Prepare data"
    TRAIN = "Train"
    EVALUATE = "Evaluate"
    DEPLOY = "Deploy"


class State(StrEnum):
    """Definition states that code outside the definition refers to by name."""

    PREPARE = "Prepare data"
    CONVERT = "Convert on SageMaker Processing"
    REMOVE_UPLOAD_COPY = "Remove the run's copy of the upload"
    PLAN_CONVERTED = "Plan the converted data"
    TRAIN = "Train"
    TUNE = "Tune"
    NOTIFY_SUCCESS = "Notify success"
    NOTIFY_FAILURE = "Notify failure"


class RunError(StrEnum):
    """Errors a function raises on purpose (a Lambda's error name is its exception's class name), which
    the failure email answers with advice of their own."""

    ENDPOINT_OF_ANOTHER_DATASET = "EndpointOfAnotherDataset"
    EARLIER_RUN_STILL_RUNNING = "EarlierRunStillRunning"
    ENDPOINT_BUSY = "EndpointBusy"


class _Document(BaseModel):
    # Unknown fields are refused: a field the definition writes that no model knows is a contract break.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Prepared(_Document):
    """Where the run's converted data is; the S3 trigger passes it in the execution input."""

    dataset: str
    run_id: str = Field(pattern=r"^[0-9a-f]{12}$")
    source_version: str | None = Field(
        None, description="the S3 version id of the upload the run converted (None where the bucket has no versions)"
    )
    data: str = Field(description="s3:// folder holding train/, validation/ and test/")
    schema_uri: str = Field(alias="schema", description="s3:// URI of the run's schema.json")
    problem_type: ProblemType
    target: str
    classes: list[str]
    rows: dict[str, int] = Field(description="rows per split, plus missing_target (rows without a label)")
    left_out: dict[str, str] = Field(
        default_factory=dict, description="input columns that are no feature, each with the reason (core.schema)"
    )


class S3DataSource(_Document):
    S3DataType: Literal["S3Prefix"] = "S3Prefix"
    S3Uri: str
    S3DataDistributionType: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"


class DataSource(_Document):
    S3DataSource: S3DataSource


class Channel(_Document):
    """One entry of SageMaker's ``InputDataConfig``, in the API's own shape."""

    ChannelName: str
    ContentType: str
    DataSource: DataSource


class StoppingCondition(_Document):
    """SageMaker's ``StoppingCondition``. ``MaxWaitTimeInSeconds`` (how long a managed spot job may take,
    waiting for capacity and interruptions included) is left out of the JSON on an on-demand attempt:
    SageMaker refuses it there ("It is only supported when EnableManagedSpotTraining is set to true")."""

    MaxRuntimeInSeconds: int
    MaxWaitTimeInSeconds: int | None = Field(None, exclude_if=lambda value: value is None)


class Replaced(_Document):
    """The attempt that met a capacity error and was replaced, and why, for the email."""

    device: Literal["GPU", "CPU"]
    instance_type: str
    spot: bool
    failure: str


class Attempt(_Document):
    """Where and under which names the training or tuning job runs, and whether on spot capacity.

    An attempt that meets a capacity error (a GPU type SageMaker cannot provide, spot capacity that did
    not come within ``MaxWaitTimeInSeconds``) is replaced by the plan's ``fallback_attempt``, on-demand
    CPU, with what it replaced kept for the email (``replaced``). SageMaker never reuses a job name, so
    each attempt has its own names.
    """

    device: Literal["GPU", "CPU"]
    instance_type: str
    spot: bool
    stopping_condition: StoppingCondition
    training_job_name: str
    tuning_job_name: str
    replaced: Replaced | None = Field(None, description="the attempt this one replaced, when it did")


class Instances(_Document):
    """How many instances each training job runs on, and why that many (the email says it)."""

    count: int = Field(ge=1)
    volume_gb: int = Field(description="each instance's ML storage volume: its share of the data, with room")
    reason: str


class JobNames(_Document):
    """SageMaker names the deployment uses; they start with the stack's prefix, which IAM is scoped to."""

    model: str
    endpoint_config: str
    endpoint: str
    endpoint_owner: str = Field(description="the value of the dataset's tag (core.names.OWNER_TAG) on its endpoint")


class Objective(_Document):
    """SageMaker's ``HyperParameterTuningJobObjective``, e.g. Minimize validation:mlogloss."""

    Type: Literal["Maximize", "Minimize"]
    MetricName: str


class ResourceLimits(_Document):
    MaxNumberOfTrainingJobs: int
    MaxParallelTrainingJobs: int


class HyperbandStrategyConfig(_Document):
    """Hyperband's resource is boosting rounds: SageMaker infers MaxResource only from epoch-style
    names (``epochs``, ``num_epochs``…), never from ``num_round``, so the plan states it."""

    MinResource: int
    MaxResource: int


class TuningStrategyConfig(_Document):
    HyperbandStrategyConfig: HyperbandStrategyConfig


class ParameterRanges(_Document):
    """SageMaker's ``ParameterRanges``, in the API's own shape."""

    ContinuousParameterRanges: list[dict[str, str]]
    IntegerParameterRanges: list[dict[str, str]]
    CategoricalParameterRanges: list[dict[str, Any]]


class TuningJobConfig(_Document):
    """SageMaker's ``HyperParameterTuningJobConfig``, whole, so the definition passes it as one path.

    ``StrategyConfig`` is left out of the JSON unless the strategy is Hyperband: SageMaker takes it
    only with Hyperband, and ASL cannot leave a field out of a task's Parameters by condition.
    """

    Strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"]
    StrategyConfig: TuningStrategyConfig | None = Field(None, exclude_if=lambda value: value is None)
    HyperParameterTuningJobObjective: Objective
    ResourceLimits: ResourceLimits
    ParameterRanges: ParameterRanges
    TrainingJobEarlyStoppingType: Literal["Off", "Auto"]


class MetricDefinition(_Document):
    Name: str
    Regex: str


class Plan(_Document):
    """Everything the definition needs, decided once in plain code (Step Functions only reads it)."""

    mode: Literal["tune", "train"]
    fallback_attempt: Attempt = Field(description="on-demand CPU: what an attempt that meets a capacity error becomes")
    instances: Instances
    checkpoint_uri: str = Field(description="CheckpointConfig.S3Uri: the run's checkpoints, under its own folder")
    names: JobNames
    input_data_config: list[Channel]
    output_path: str
    static_hyperparameters: dict[str, str] = Field(
        description="every job's hyperparameters; a single training job uses the defaults for what tuning searches"
    )
    tuning_job_config: TuningJobConfig
    metric_definitions: list[MetricDefinition]
    endpoint_poll_seconds: int
    endpoint_deletion_polls: int = Field(
        description="polls of a Failed endpoint being deleted before the run gives up (DeleteEndpoint is asynchronous)"
    )
    queue_polls: int = Field(description="polls for earlier runs of the dataset to end before the run gives up")
    endpoint_wait_polls: int = Field(description="polls of an endpoint being created or updated before giving up")
    endpoint_instance_type: str
    deploy_margin: float


class Failure(_Document):
    """What a Catch writes: Step Functions' error name and cause (a JSON text for Lambda and SageMaker)."""

    Error: str
    Cause: str = ""


class FailedTrials(_Document):
    """Why the first failed trial of a failed tuning job failed (ListTrainingJobsForHyperParameterTuningJob).

    A tuning job's own FailureReason is generic ("No training job succeeded after N attempts…"); why
    the trials failed, a GPU capacity shortage included, is only on the trials.
    """

    reasons: list[str] = Field(description="the listed trial's FailureReason; empty when it has none")


class EndpointDeletion(_Document):
    """Progress of replacing a Failed endpoint: SageMaker deletes it asynchronously (``Deleting``), and
    CreateEndpoint of the same name fails until it is gone."""

    polls: int
    answer: Failure | None = Field(None, description="DescribeEndpoint's error; 'Could not find endpoint' means gone")


class EndpointWait(_Document):
    """Polls of an endpoint being created or updated: SageMaker does both asynchronously."""

    polls: int


class EndpointCheck(_Document):
    """DescribeEndpoint while a deployment is under way: its two required members, and the answer whole
    (EndpointConfigName and the rest are optional in the service model; naming a missing one in a
    ResultSelector would end the run with an uncatchable States.Runtime)."""

    endpoint: str
    status: str
    answer: dict[str, Any]


class Training(_Document):
    """The training or tuning task's result: the job whose model is the run's candidate."""

    kind: Literal["training job", "tuning job"]
    job: str = Field(description="the training job (the best trial's, for a tuning job)")
    tuning_job: str | None = None
    trials: int | None = Field(None, description="trials completed, for a tuning job")


class Winner(_Document):
    job: str
    model_data: str
    hyperparameters: dict[str, str]
    metrics: dict[str, float | None]
    rows: int | None = None
    training_seconds: int | None = None
    billable_seconds: int | None = Field(None, description="SageMaker's BillableTimeInSeconds (less on spot)")
    instance_type: str | None = None
    instance_count: int | None = None
    spot: bool | None = None


class Champion(_Document):
    """The model live on the endpoint; ``error`` when it could not be scored on this run's rows."""

    endpoint: str
    endpoint_config: str
    metrics: dict[str, float | None] | None = None
    error: str | None = None
    answers: bool = Field(True, description="False when the endpoint answered with a server error (it serves nothing)")


class Queue(_Document):
    """Runs of one dataset take turns at its endpoint: a run evaluates and deploys only once every run of
    the dataset that started before it has ended (functions/evaluate/queue.py)."""

    ahead: str | None = Field(description="the earliest running execution of the dataset ahead; None: its turn")
    polls: int = Field(description="how many times the run has found runs ahead of it")
    waited_for: list[str] = Field(description="names of the executions the run waited for, in the order it met them")


class Evaluation(_Document):
    decision: Literal["deploy", "keep"]
    reason: str
    metric: str
    winner: Winner
    champion: Champion | None
    endpoint_exists: bool
    endpoint_status: str | None = Field(description="None when there is no endpoint; Failed ones are replaced")
    example_record: dict[str, Any] = Field(description="a real row of this run, for the email's example call")
    example_csv: str = Field(
        "", description="the same row as the model's numeric columns (text/csv, as for the built-in XGBoost)"
    )


class Deployment(_Document):
    """The endpoint after the run: ``status`` is SageMaker's EndpointStatus, or ``kept``."""

    endpoint: str
    status: str
    config: str | None = None


class Notification(_Document):
    status: Literal["succeeded", "failed"]


class Conversion(_Document):
    """Where the upload was converted, and why there (the email says it)."""

    where: Literal["lambda", "processing", "earlier run"]
    reason: str
    job: str | None = Field(None, description="the Processing job, when one converted it")
    instance_type: str | None = None


class S3Object(_Document):
    """One object, as S3's API names it (the definition deletes it with an aws-sdk task)."""

    bucket: str
    key: str


class ProcessingPlan(_Document):
    """A CreateProcessingJob request's parts the definition reads (``ProcessingInputs`` and ``Outputs``
    in the API's own shape), decided by Prepare; and the run's copy of the upload that the job reads,
    which the definition deletes if the job fails (Prepare deletes it once the job has succeeded)."""

    job_name: str
    run_id: str
    instance_type: str
    volume_gb: int
    max_runtime_seconds: int
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    upload_copy: S3Object


class UploadIdentity(_Document):
    """Which version of the key a run converts: the one Prepare pinned before the Processing job."""

    version_id: str | None
    etag: str


class Converted(_Document):
    """What the definition hands Prepare once the Processing job has converted the upload."""

    conversion: Conversion
    upload: UploadIdentity


class PendingConversion(_Document):
    """What "Prepare data" returns when the upload is too large for it to convert: the execution's input
    as it came (the definition hands it to Prepare again once the Processing job has converted it), the
    job to run, and where the conversion will happen. ``source`` stays at the top, where a failure email
    looks for it."""

    source: str
    input: Any
    conversion: Conversion
    upload: UploadIdentity
    processing: ProcessingPlan
    failure: Failure | None = Field(None, description="the Processing job's or the second Prepare's, when it failed")


class RunDocument(_Document):
    """The document itself. ``attempt`` onwards are written by the states as the run gets there."""

    source: str
    dataset: str
    file: str
    run_id: str
    settings: DatasetSettings
    prepared: Prepared
    conversion: Conversion | None = None
    plan: Plan
    attempt: Attempt
    training: Training | None = None
    queue: Queue | None = None
    evaluation: Evaluation | None = None
    deployment: Deployment | None = None
    failure: Failure | None = None
    failed_trials: FailedTrials | None = None
    endpoint_deletion: EndpointDeletion | None = None
    endpoint_wait: EndpointWait | None = None
    endpoint_check: EndpointCheck | None = None
    failed_step: Step | None = None
    notification: Notification | None = None

    def to_state(self) -> dict[str, Any]:
        """JSON for Step Functions. None stays as null, not absent: a Choice that reads a missing path
        fails the execution (States.Runtime), one that reads null just does not match."""
        return self.model_dump(mode="json", by_alias=True)
