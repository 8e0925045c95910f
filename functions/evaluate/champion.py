"""Champion/challenger: score the run's winner and the live model on this run's test split, decide.

The winner's metrics come from its training job's ``evaluation.json`` (the image scored it on the test
channel with :func:`core.metrics.score`). The live model is scored here on the same rows, sent to its
endpoint as raw records, because it may have been trained on another vocabulary; only raw records mean
the same to both models. The winner is deployed only if it is better by the configured margin.

An endpoint serves one dataset: the run that creates it tags it with its dataset, and a run whose
endpoint exists without its own dataset's tag stops before scoring anything. Without that, a dataset
whose name (or whose dropml.json ``endpoint_name``) reaches another dataset's endpoint would find the
live model unable to score its rows and deploy over it.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from botocore.exceptions import ClientError

from core.metrics import improvement, score
from core.names import OWNER_TAG, RUNS_PREFIX
from core.problems import PROBLEMS
from core.s3 import split_s3_uri
from core.schema import Schema
from functions.job_output import read_evaluation
from functions.run_document import Champion, Evaluation, RunDocument, Winner

REQUEST_BYTES = 5 << 20  # a request's JSON body: under InvokeEndpoint's 6 MB payload cap, whatever the width
DECODE_ROWS = 5_000  # test rows turned into raw records at a time (records are Python dicts: ~1 KB a row)
HTTP_SERVER_ERROR = 500
PROBES, PROBE_PAUSE_S = 3, 5.0  # a live endpoint answering 5xx is asked this often before it counts as dead


class EndpointBusy(Exception):
    """The endpoint is changing (Creating, Updating, …) by a deployment that is not this run's.

    Its class name is the error Step Functions records (``RunError.ENDPOINT_BUSY``).
    """


# EndpointStatus values (the service model) by what a run does about them.
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
SERVES_NOTHING = ("OutOfService", "UpdateRollbackFailed")  # updated in place; Failed is replaced


class EndpointOfAnotherDataset(Exception):
    """The run's endpoint exists and does not carry its dataset's tag: nothing is scored or deployed.

    Its class name is the error Step Functions records (``RunError.ENDPOINT_OF_ANOTHER_DATASET``), which
    the failure email answers with advice of its own.
    """


@dataclass(frozen=True)
class Decision:
    deploy: bool
    reason: str
    metric: str


def winner_summary(sagemaker: Any, s3: Any, job_name: str) -> Winner:
    """The winning training job's model, hyperparameters and test-split metrics."""
    job = sagemaker.describe_training_job(TrainingJobName=job_name)
    evaluation = read_evaluation(s3, job)
    hyperparameters = {k: v for k, v in job.get("HyperParameters", {}).items() if not k.startswith(("_", "sagemaker_"))}
    return Winner(
        job=job_name,
        model_data=job["ModelArtifacts"]["S3ModelArtifacts"],
        hyperparameters=hyperparameters,
        metrics=evaluation["metrics"],
        rows=evaluation.get("rows"),
        training_seconds=job.get("TrainingTimeInSeconds"),
        billable_seconds=job.get("BillableTimeInSeconds"),
        instance_type=job.get("ResourceConfig", {}).get("InstanceType"),
        instance_count=job.get("ResourceConfig", {}).get("InstanceCount"),
        spot=job.get("EnableManagedSpotTraining"),
    )


def describe_endpoint(sagemaker: Any, endpoint: str) -> dict[str, Any] | None:
    """The endpoint's description, or None when no endpoint has that name."""
    try:
        described: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=endpoint)
    except sagemaker.exceptions.ClientError as error:
        if "Could not find" in str(error) or error.response["Error"]["Code"] == "ResourceNotFound":
            return None
        raise
    return described


def owner_of(sagemaker: Any, endpoint_arn: str) -> str | None:
    """The value of the endpoint's dataset tag, or None when it has none (it was not made by a run)."""
    for page in sagemaker.get_paginator("list_tags").paginate(ResourceArn=endpoint_arn):
        for tag in page.get("Tags", []):
            if tag["Key"] == OWNER_TAG:
                return str(tag["Value"])
    return None


def check_owner(sagemaker: Any, live: dict[str, Any], *, dataset: str, owner: str, runs_uri: str) -> None:
    """Raise :class:`EndpointOfAnotherDataset` unless the live endpoint carries ``owner`` as its tag.

    An endpoint with no tag whose every model was trained by this dataset's runs (its artifacts lie
    under ``runs_uri``, ``s3://bucket/runs/<dataset>/``) is this dataset's from before endpoints were
    tagged: it is tagged now and kept.
    """
    found = owner_of(sagemaker, live["EndpointArn"])
    if found == owner:
        return
    if found is None and serves_only_models_under(sagemaker, live, runs_uri):
        sagemaker.add_tags(ResourceArn=live["EndpointArn"], Tags=[{"Key": OWNER_TAG, "Value": owner}])
        return
    name = live["EndpointName"]
    whose = f"serves dataset {found!r}" if found is not None else f"has no {OWNER_TAG} tag (no dropml run created it)"
    raise EndpointOfAnotherDataset(
        f"endpoint {name} {whose}, so this run of dataset {dataset!r} neither scored nor replaced it. "
        f'Give the dataset an endpoint of its own with "endpoint_name" in its dropml.json; or, to let it '
        f"replace this endpoint, tag it: aws sagemaker add-tags --resource-arn {live['EndpointArn']} "
        f"--tags Key={OWNER_TAG},Value={owner}"
    )


def serves_only_models_under(sagemaker: Any, live: dict[str, Any], runs_uri: str) -> bool:
    """Whether every model of the endpoint's configuration has its artifact under ``runs_uri``."""
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=live["EndpointConfigName"])
        models = [sagemaker.describe_model(ModelName=v["ModelName"]) for v in config["ProductionVariants"]]
    except (KeyError, ClientError):  # no configuration, or one this run may not read: not provably ours
        return False
    containers = [m.get("PrimaryContainer") or (m.get("Containers") or [{}])[0] for m in models]
    artifacts = [c.get("ModelDataUrl", "") for c in containers]
    return bool(artifacts) and all(url.startswith(runs_uri) for url in artifacts)


def check_settled(live: dict[str, Any]) -> None:
    """Raise :class:`EndpointBusy` while the endpoint is changing: neither scoring it nor deploying to it
    means anything then (UpdateEndpoint refuses an endpoint in progress)."""
    status = live["EndpointStatus"]
    if status in IN_PROGRESS:
        raise EndpointBusy(
            f"endpoint {live['EndpointName']} is {status}: a change this run did not make is in progress (runs of "
            "one dataset take turns, so it came from elsewhere); nothing was deployed. Run again once it is "
            "InService or gone."
        )


@dataclass(frozen=True)
class TestSplit:
    """The run's test split in S3, read one part at a time: a part is at most tens of MB, the split any size."""

    s3: Any
    bucket: str
    keys: tuple[str, ...]

    @classmethod
    def of(cls, s3: Any, data_uri: str) -> TestSplit:
        bucket, prefix = split_s3_uri(f"{data_uri.rstrip('/')}/test/")
        keys = [
            obj["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for obj in page.get("Contents", [])
            if obj["Size"] > 0
        ]
        if not keys:
            raise RuntimeError(f"no test rows under s3://{bucket}/{prefix}")
        return cls(s3, bucket, tuple(sorted(keys)))

    def parts(self) -> Iterator[np.ndarray]:
        """Each part as a float matrix, label in column 0 (NaN for empty fields)."""
        for key in self.keys:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            yield pl.read_csv(io.BytesIO(body), has_header=False, infer_schema=False).cast(pl.Float64).to_numpy()

    def first_row(self) -> np.ndarray:
        return next(self.parts())[:1]


def request_bodies(records: Iterable[dict[str, Any]], limit: int = REQUEST_BYTES) -> Iterator[tuple[str, int]]:
    """JSON arrays of the records, each body at most ``limit`` bytes, with the number of records in it.

    Sized in bytes, not rows: 500 rows of 700 columns already exceed the 6 MB an endpoint accepts.
    """
    parts: list[str] = []
    size = 2  # the brackets
    for record in records:
        text = json.dumps(record, ensure_ascii=False)
        length = len(text.encode()) + 1  # and its comma
        if length + 2 > limit:
            raise RuntimeError(f"one test row is {length} bytes as JSON, more than an endpoint request may hold")
        if parts and size + length > limit:
            yield "[" + ",".join(parts) + "]", len(parts)
            parts, size = [], 2
        parts.append(text)
        size += length
    if parts:
        yield "[" + ",".join(parts) + "]", len(parts)


def score_endpoint(runtime: Any, endpoint: str, schema: Schema, split: TestSplit) -> dict[str, float | None]:
    """Send the test rows to a live endpoint as raw records and score its answers like the winner's.

    The rows stream: a part, then ``DECODE_ROWS`` records of it, at a time; what is kept per row is its
    label and the model's score (or one probability per class), a few floats.
    """
    labels: list[np.ndarray] = []
    answers: list[np.ndarray] = []
    for rows in split.parts():
        labels.append(rows[:, 0])
        for start in range(0, len(rows), DECODE_ROWS):
            records = schema.decode_rows(rows[start : start + DECODE_ROWS, 1:])
            for body, _ in request_bodies(records):
                response = runtime.invoke_endpoint(
                    EndpointName=endpoint, ContentType="application/json", Accept="application/json", Body=body
                )
                answers.append(_answer_matrix(schema, json.loads(response["Body"].read())["predictions"]))
    label = np.concatenate(labels)
    predicted = np.vstack(answers)
    if schema.problem_type == "regression":
        return score("regression", label, predicted[:, 0])
    if schema.problem_type == "binary":
        return score("binary", label, predicted[:, 1])
    return score("multiclass", label, predicted)


def _answer_matrix(schema: Schema, predictions: list[dict[str, Any]]) -> np.ndarray:
    """A response's predictions as rows of floats: the score, or the probabilities by the user's class names
    (so that a model with another label order is read correctly)."""
    if schema.problem_type == "regression":
        return np.array([[float(p["score"])] for p in predictions], dtype=np.float64).reshape(-1, 1)
    return np.array(
        [[float(p.get("probabilities", {}).get(name, 0.0)) for name in schema.classes] for p in predictions],
        dtype=np.float64,
    ).reshape(-1, len(schema.classes))


def score_champion(runtime: Any, live: dict[str, Any], schema: Schema, split: TestSplit) -> Champion:
    """The live model's metrics on the rows, or why it has none.

    A 4xx from its container means it cannot read this data (another dataset's model, other columns).
    A 5xx, from the container or from SageMaker in front of it, is asked again after a pause, ``PROBES``
    times in all (each with the SDK's own retries): only an endpoint that answers none of them serves
    nothing (its container died), and a brief SageMaker fault does not cost the live model its place.
    Either way the new model replaces it, and the email says which it was. Any other error (throttling
    after the SDK's retries, a refused request) is not the live model's fault: it fails the evaluation.
    """
    endpoint, config = live["EndpointName"], live["EndpointConfigName"]
    server_error = ""
    for probe in range(PROBES):
        if probe:
            time.sleep(PROBE_PAUSE_S)
        try:
            metrics = score_endpoint(runtime, endpoint, schema, split)
        except ClientError as failure:
            response = failure.response
            status = response.get("OriginalStatusCode") or response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if response.get("Error", {}).get("Code") != "ModelError" and status < HTTP_SERVER_ERROR:
                raise
            if status < HTTP_SERVER_ERROR:
                return Champion(endpoint=endpoint, endpoint_config=config, error=str(failure))
            server_error = str(failure)
        else:
            return Champion(endpoint=endpoint, endpoint_config=config, metrics=metrics)
    return Champion(endpoint=endpoint, endpoint_config=config, error=server_error, answers=False)


def decide(*, schema: Schema, winner: Winner, champion: Champion | None, margin: float) -> Decision:
    problem = PROBLEMS[schema.problem_type]
    metric = problem.comparison_metric
    better = "higher" if problem.higher_is_better else "lower"
    challenger_value = winner.metrics[metric]
    if champion is None:
        return Decision(True, "no model is live on this endpoint yet", metric)
    if not champion.answers:
        return Decision(
            True, f"the live endpoint answers no request, so the new model replaces it ({champion.error})", metric
        )
    if champion.error is not None or champion.metrics is None:
        return Decision(True, f"the live model could not be scored on this data ({champion.error})", metric)
    champion_value = champion.metrics[metric]
    if challenger_value is None or champion_value is None:
        return Decision(True, f"{metric} is undefined on this test split; deploying the new model", metric)
    gain = improvement(schema.problem_type, challenger_value, champion_value)
    comparison = f"{metric} {challenger_value:.4f} vs live {champion_value:.4f} ({better} is better)"
    if gain > margin:
        return Decision(True, f"the new model is better: {comparison}", metric)
    needed = f"; a gain of more than {margin:.1%} is required" if margin else ""
    return Decision(False, f"the live model is as good or better: {comparison}{needed}", metric)


def evaluate_run(run: RunDocument, *, sagemaker: Any, runtime: Any, s3: Any) -> Evaluation:
    """Score the run's candidate and the live model on this run's test split, and decide."""
    if run.training is None:
        raise RuntimeError("the run document has no training result: the definition must train before evaluating")
    bucket, key = split_s3_uri(run.prepared.schema_uri)
    schema = Schema.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    endpoint = run.plan.names.endpoint
    live = describe_endpoint(sagemaker, endpoint)
    if live is not None:
        runs_uri = f"s3://{bucket}/{RUNS_PREFIX}{run.dataset}/"
        check_owner(sagemaker, live, dataset=run.dataset, owner=run.plan.names.endpoint_owner, runs_uri=runs_uri)
    winner = winner_summary(sagemaker, s3, run.training.job)
    split = TestSplit.of(s3, run.prepared.data)
    champion: Champion | None = None
    status = live["EndpointStatus"] if live is not None else None
    if live is not None:
        check_settled(live)
    if live is not None and status == "InService":
        champion = score_champion(runtime, live, schema, split)
    elif live is not None and status in SERVES_NOTHING:
        why = f": {live['FailureReason']}" if live.get("FailureReason") else ""
        champion = Champion(
            endpoint=endpoint,
            endpoint_config=live.get("EndpointConfigName", ""),
            error=f"the endpoint is {status}{why}",
            answers=False,
        )
    decision = decide(schema=schema, winner=winner, champion=champion, margin=run.plan.deploy_margin)
    example = split.first_row()[:, 1:]  # a real row of this run, for the "how to call it" part of the email
    return Evaluation(
        decision="deploy" if decision.deploy else "keep",
        reason=decision.reason,
        metric=decision.metric,
        winner=winner,
        champion=champion,
        # the definition updates an existing endpoint and creates a missing one; a Failed endpoint
        # cannot be updated: the definition deletes it and creates it anew
        endpoint_exists=live is not None,
        endpoint_status=live["EndpointStatus"] if live is not None else None,
        example_record={k: v for k, v in schema.decode_rows(example)[0].items() if v is not None},
        example_csv=",".join("" if np.isnan(v) else str(np.float32(v)) for v in example[0]),
    )
