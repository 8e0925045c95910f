"""Local SageMaker endpoints: a real ``serve`` process per instance behind InvokeEndpoint; updates swap
servers without a failed request, and failures read like AWS's."""

from __future__ import annotations

import re
import threading

import boto3
import pytest

from local.sagemaker.api import SageMakerEngine
from local.sagemaker.context import AwsAccount, EngineContext
from local.sagemaker.errors import ModelError, RuntimeValidationError, ValidationError
from tests.helpers.sagemaker import (
    BUCKET,
    DROPML_IMAGE,
    REGION,
    ROLE,
    child_programs,
    sample_rows,
    training_request,
    upload_model,
    wait_until,
)

SERVE = "training_image.serving"


@pytest.fixture
def bucket(aws: str) -> str:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    return BUCKET


def deploy_config(engine: SageMakerEngine, name: str, model_url: str, *, image: str = DROPML_IMAGE) -> None:
    engine.models.create_model(
        {"ModelName": name, "ExecutionRoleArn": ROLE, "PrimaryContainer": {"Image": image, "ModelDataUrl": model_url}}
    )
    engine.models.create_endpoint_config(
        {
            "EndpointConfigName": name,
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        }
    )


def status(engine: SageMakerEngine, name: str) -> str:
    return engine.endpoints.describe_endpoint(name)["EndpointStatus"]


def scores(engine: SageMakerEngine, endpoint: str, rows: int = 3) -> list[float]:
    answer = engine.endpoints.invoke(
        {"EndpointName": endpoint, "Body": sample_rows(rows), "ContentType": "text/csv", "Accept": "text/csv"}
    )
    assert answer["ContentType"].startswith("text/csv")
    return [float(line.split(",")[0]) for line in answer["Body"].decode().splitlines()]


def test_an_endpoint_serves_the_models_predictions(engine: SageMakerEngine, bucket: str) -> None:
    # GIVEN a model artifact as a training job leaves it
    deploy_config(engine, "bc-v1", upload_model("models/v1/model.tar.gz", rounds=10, max_depth=3))

    # WHEN an endpoint is created from it
    engine.endpoints.create_endpoint({"EndpointName": "bc", "EndpointConfigName": "bc-v1"})
    assert status(engine, "bc") == "Creating"
    wait_until(lambda: status(engine, "bc") != "Creating")

    # THEN it is InService, described like AWS's, and answers CSV and JSON with real scores
    description = engine.endpoints.describe_endpoint("bc")
    assert description["EndpointStatus"] == "InService", description.get("FailureReason")
    assert description["EndpointArn"] == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/bc"
    [variant] = description["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["CurrentInstanceCount"] == 1
    assert variant["DeployedImages"][0]["SpecifiedImage"] == DROPML_IMAGE
    values = scores(engine, "bc")
    assert len(values) == 3 and all(0.0 <= v <= 1.0 for v in values)
    answer = engine.endpoints.invoke(
        {"EndpointName": "bc", "Body": sample_rows(1), "ContentType": "text/csv", "Accept": "application/json"}
    )
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["ContentType"].startswith("application/json")
    assert b'"score"' in answer["Body"]


def test_container_errors_pass_through_as_model_errors(engine: SageMakerEngine, bucket: str) -> None:
    deploy_config(engine, "bc-v1", upload_model("models/v1/model.tar.gz", rounds=5, max_depth=2))
    engine.endpoints.create_endpoint({"EndpointName": "bc", "EndpointConfigName": "bc-v1"})
    wait_until(lambda: status(engine, "bc") == "InService")

    with pytest.raises(ModelError) as unsupported:
        engine.endpoints.invoke({"EndpointName": "bc", "Body": b"<xml/>", "ContentType": "application/xml"})
    assert unsupported.value.original_status == 415
    assert unsupported.value.message.startswith("Received client error (415) from primary")
    assert ":log-group:/aws/sagemaker/Endpoints/bc:log-stream:AllTraffic/" in unsupported.value.log_stream_arn
    with pytest.raises(ModelError) as bad_rows:
        engine.endpoints.invoke({"EndpointName": "bc", "Body": b"1,2,3\n", "ContentType": "text/csv"})
    assert bad_rows.value.original_status == 400
    with pytest.raises(RuntimeValidationError, match="Endpoint nope of account 123456789012 not found"):
        engine.endpoints.invoke({"EndpointName": "nope", "Body": b"1", "ContentType": "text/csv"})


def test_update_swaps_the_model_without_a_failed_request(engine: SageMakerEngine, bucket: str) -> None:
    # GIVEN an endpoint on a one-round model, and a newer, deeper model
    deploy_config(engine, "bc-v1", upload_model("models/v1/model.tar.gz", rounds=1, max_depth=1))
    deploy_config(engine, "bc-v2", upload_model("models/v2/model.tar.gz", rounds=30, max_depth=4))
    engine.endpoints.create_endpoint({"EndpointName": "bc", "EndpointConfigName": "bc-v1"})
    wait_until(lambda: status(engine, "bc") == "InService")
    before = scores(engine, "bc")

    # WHEN it is updated while a client keeps sending requests
    failures: list[BaseException] = []
    answered = 0
    done = threading.Event()

    def client() -> None:
        nonlocal answered
        while not done.is_set():
            try:
                scores(engine, "bc")
                answered += 1
            except Exception as exc:
                failures.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    engine.endpoints.update_endpoint({"EndpointName": "bc", "EndpointConfigName": "bc-v2"})
    assert status(engine, "bc") == "Updating"
    assert engine.endpoints.describe_endpoint("bc")["PendingDeploymentSummary"]["EndpointConfigName"] == "bc-v2"
    wait_until(lambda: status(engine, "bc") != "Updating")
    after_swap = answered
    wait_until(lambda: answered > after_swap + 5)
    done.set()
    thread.join()

    # THEN no request failed, and the endpoint now answers with the new model
    assert failures == []
    description = engine.endpoints.describe_endpoint("bc")
    assert description["EndpointStatus"] == "InService"
    assert description["EndpointConfigName"] == "bc-v2"
    assert "PendingDeploymentSummary" not in description
    assert scores(engine, "bc") != before
    # AND the old server is gone
    wait_until(lambda: len(child_programs(SERVE)) == 1, timeout=30)


def test_a_failed_update_leaves_the_old_model_in_service(engine: SageMakerEngine, bucket: str) -> None:
    deploy_config(engine, "bc-v1", upload_model("models/v1/model.tar.gz", rounds=5, max_depth=2))
    deploy_config(engine, "bc-broken", f"s3://{BUCKET}/models/missing/model.tar.gz")
    engine.endpoints.create_endpoint({"EndpointName": "bc", "EndpointConfigName": "bc-v1"})
    wait_until(lambda: status(engine, "bc") == "InService")
    before = scores(engine, "bc")

    engine.endpoints.update_endpoint({"EndpointName": "bc", "EndpointConfigName": "bc-broken"})
    wait_until(lambda: status(engine, "bc") != "Updating")

    description = engine.endpoints.describe_endpoint("bc")
    assert description["EndpointStatus"] == "InService"
    assert description["EndpointConfigName"] == "bc-v1"
    assert "models/missing/model.tar.gz" in description["FailureReason"]
    assert scores(engine, "bc") == before


def test_an_image_local_mode_cannot_run_fails_the_endpoint(engine: SageMakerEngine, bucket: str) -> None:
    url = upload_model("models/v1/model.tar.gz", rounds=1, max_depth=1)
    deploy_config(engine, "other", url, image="123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own-server:1")
    engine.endpoints.create_endpoint({"EndpointName": "other", "EndpointConfigName": "other"})
    wait_until(lambda: status(engine, "other") != "Creating")

    description = engine.endpoints.describe_endpoint("other")
    assert description["EndpointStatus"] == "Failed"
    assert "my-own-server" in description["FailureReason"]


def test_deleting_an_endpoint_stops_its_server_and_keeps_its_name_while_deleting(
    engine: SageMakerEngine, bucket: str
) -> None:
    deploy_config(engine, "bc-v1", upload_model("models/v1/model.tar.gz", rounds=1, max_depth=1))
    engine.endpoints.create_endpoint({"EndpointName": "bc", "EndpointConfigName": "bc-v1"})
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/bc"
    with pytest.raises(ValidationError, match=re.escape(f'Cannot update in-progress endpoint "{arn}".')):
        engine.endpoints.update_endpoint({"EndpointName": "bc", "EndpointConfigName": "bc-v1"})
    wait_until(lambda: status(engine, "bc") == "InService")
    assert len(child_programs(SERVE)) == 1
    assert engine.context.endpoint_deletion_s > 0  # AWS's deletion takes minutes; local mode's is not instant

    # WHEN it is deleted THEN it is Deleting: serving nothing, and its name still taken
    engine.endpoints.delete_endpoint("bc")
    assert status(engine, "bc") == "Deleting"
    with pytest.raises(ValidationError, match=re.escape(f'Cannot create already existing endpoint "{arn}".')):
        engine.endpoints.create_endpoint({"EndpointName": "bc", "EndpointConfigName": "bc-v1"})
    with pytest.raises(ValidationError, match="Cannot update in-progress endpoint"):
        engine.endpoints.update_endpoint({"EndpointName": "bc", "EndpointConfigName": "bc-v1"})
    with pytest.raises(RuntimeValidationError, match="Endpoint bc of account 123456789012 not found"):
        scores(engine, "bc")
    wait_until(lambda: not child_programs(SERVE), timeout=30)

    # AND then it is gone, and the name can be used again
    wait_until(lambda: "bc" not in [e["EndpointName"] for e in engine.endpoints.list_endpoints({})["Endpoints"]])
    with pytest.raises(ValidationError, match="Could not find endpoint"):
        engine.endpoints.describe_endpoint("bc")
    engine.endpoints.create_endpoint({"EndpointName": "bc", "EndpointConfigName": "bc-v1"})
    assert status(engine, "bc") == "Creating"
    with pytest.raises(ValidationError, match="Cannot create already existing model"):
        deploy_config(engine, "bc-v1", f"s3://{BUCKET}/models/v1/model.tar.gz")


def test_shutdown_ends_every_job_and_server(aws: str, tmp_path, bucket: str) -> None:
    # GIVEN an engine with an endpoint serving and a training job boosting
    context = EngineContext(aws=AwsAccount(endpoint_url=aws, region=REGION), workdir=tmp_path, stop_grace_s=5.0)
    own = SageMakerEngine(context)
    deploy_config(own, "bc-v1", upload_model("models/v1/model.tar.gz", rounds=1, max_depth=1))
    own.endpoints.create_endpoint({"EndpointName": "bc", "EndpointConfigName": "bc-v1"})
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key="data/train/a.csv", Body=b"1,2\n0,1\n" * 50)
    data = {
        "train": f"s3://{BUCKET}/data/train/",
        "validation": f"s3://{BUCKET}/data/train/",
        "output": f"s3://{BUCKET}/o",
    }
    hyperparameters = {"objective": "binary:logistic", "num_round": "1000000"}
    own.training_jobs.create(training_request("long", data, hyperparameters=hyperparameters))
    wait_until(lambda: status(own, "bc") == "InService" and len(child_programs("training_image.train_main")) == 1)

    # WHEN the engine shuts down (what `dropml local down` calls)
    own.shutdown()

    # THEN no process of it is left
    assert child_programs(SERVE) == []
    assert child_programs("training_image.train_main") == []
    assert own.training_jobs.describe("long")["TrainingJobStatus"] == "Stopped"


def test_variants_get_traffic_by_weight_or_by_target(engine: SageMakerEngine, bucket: str) -> None:
    # GIVEN two variants: A on two instances with all the weight, B on one instance with none
    for name, rounds in (("bc-a", 1), ("bc-b", 20)):
        url = upload_model(f"models/{name}/model.tar.gz", rounds=rounds, max_depth=3)
        engine.models.create_model(
            {
                "ModelName": name,
                "ExecutionRoleArn": ROLE,
                "PrimaryContainer": {"Image": DROPML_IMAGE, "ModelDataUrl": url},
            }
        )
    engine.models.create_endpoint_config(
        {
            "EndpointConfigName": "ab",
            "ProductionVariants": [
                {"VariantName": "A", "ModelName": "bc-a", "InitialInstanceCount": 2, "InitialVariantWeight": 1},
                {"VariantName": "B", "ModelName": "bc-b", "InitialInstanceCount": 1, "InitialVariantWeight": 0},
            ],
        }
    )
    engine.endpoints.create_endpoint({"EndpointName": "ab", "EndpointConfigName": "ab"})
    wait_until(lambda: status(engine, "ab") != "Creating")

    # THEN each instance is a server, the weight decides where requests go, and TargetVariant overrides it
    variants = {v["VariantName"]: v for v in engine.endpoints.describe_endpoint("ab")["ProductionVariants"]}
    assert (variants["A"]["CurrentInstanceCount"], variants["B"]["CurrentInstanceCount"]) == (2, 1)
    assert len(child_programs(SERVE)) == 3
    request = {"EndpointName": "ab", "Body": sample_rows(2), "ContentType": "text/csv", "Accept": "text/csv"}
    assert {engine.endpoints.invoke(request)["InvokedProductionVariant"] for _ in range(6)} == {"A"}
    to_b = engine.endpoints.invoke({**request, "TargetVariant": "B"})
    assert to_b["InvokedProductionVariant"] == "B"
    assert to_b["Body"] != engine.endpoints.invoke(request)["Body"]
