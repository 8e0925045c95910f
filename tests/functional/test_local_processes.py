"""What local mode's SageMaker leaves running: every serve or train process is recorded by pid and create
time while it runs, a crashed server's processes are stopped by the next ``down`` (or ``up``) through
those records, and nothing else is, not even a process that now has a recorded pid."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer

from local.ports import free_port
from local.sagemaker.api import SageMakerEngine
from local.sagemaker.models import Models
from local.sagemaker.processes import ProcessRecord, records_folder, stop_recorded
from local.stack import down, stack_for, start_server
from tests.helpers.local import RunningServer, wait_for
from tests.helpers.sagemaker import BUCKET, DROPML_IMAGE, REGION, ROLE, sample_rows, upload_model

SERVE = "training_image.serving"


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def unrelated() -> Iterator[subprocess.Popen[bytes]]:
    """A process of someone else's, in a session of its own, as a recorded program would be."""
    process = subprocess.Popen(["sleep", "120"], start_new_session=True)
    yield process
    process.kill()
    process.wait()


def test_a_recorded_pid_that_is_now_another_process_is_left_alone(
    tmp_path: Path, unrelated: subprocess.Popen[bytes]
) -> None:
    # GIVEN a record naming the pid of a live process, but a create time that is not that process's
    folder = records_folder(tmp_path / "sagemaker" / "123456789012" / REGION)
    folder.mkdir(parents=True)
    started = psutil.Process(unrelated.pid).create_time()
    record = {"pid": unrelated.pid, "create_time": started - 3600, "program": "serve"}
    (folder / f"{unrelated.pid}.json").write_text(json.dumps(record))

    # WHEN the records are acted on
    stopped = stop_recorded(tmp_path, grace_s=2)

    # THEN the process still runs, and the stale record is gone
    assert stopped == []
    assert unrelated.poll() is None
    assert list(folder.iterdir()) == []


def test_a_recorded_program_and_its_session_are_stopped_even_after_the_program_itself_has_died(
    tmp_path: Path,
) -> None:
    # GIVEN two recorded programs, each a session leader with a child (as gunicorn's master has workers),
    # and the first one's leader already dead, its child orphaned
    folder = records_folder(tmp_path / "sagemaker")
    programs = [
        subprocess.Popen(["sh", "-c", "sleep 120 & wait"], start_new_session=True, stdout=subprocess.DEVNULL)
        for _ in range(2)
    ]
    children = [_only_child(program.pid) for program in programs]
    for program in programs:
        ProcessRecord.of(program.pid, "serve", folder)
    programs[0].kill()
    programs[0].wait()
    assert children[0].is_running()

    # WHEN the records are acted on
    stopped = stop_recorded(tmp_path, grace_s=5)

    # THEN every one of them is gone
    for program in programs:
        program.wait(timeout=10)
    assert sorted(stopped) == sorted([children[0].pid, programs[1].pid, children[1].pid])
    assert not any(_alive(child.pid) for child in children)
    assert list(folder.iterdir()) == []


def test_an_endpoint_server_is_recorded_while_it_runs_and_listens_on_loopback_only(engine: SageMakerEngine) -> None:
    import boto3

    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    model_url = upload_model("models/v1/model.tar.gz", rounds=1, max_depth=1)
    _deploy(engine.models, "lo", model_url)

    engine.endpoints.create_endpoint({"EndpointName": "lo", "EndpointConfigName": "lo"})
    wait_for(lambda: engine.endpoints.describe_endpoint("lo")["EndpointStatus"] == "InService", timeout_s=90)

    [record] = _records(engine)
    listening = _listening(record.pid)
    assert listening and {address for address, _ in listening} == {"127.0.0.1"}
    answer = engine.endpoints.invoke({"EndpointName": "lo", "Body": sample_rows(1), "ContentType": "text/csv"})
    assert answer["Body"]

    engine.endpoints.delete_endpoint("lo")
    wait_for(lambda: not _records(engine), timeout_s=60, what="the record to go with the server")
    assert not _alive(record.pid)


def test_a_model_may_ask_its_endpoint_to_listen_on_every_interface(engine: SageMakerEngine) -> None:
    import boto3

    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    model_url = upload_model("models/v1/model.tar.gz", rounds=1, max_depth=1)
    _deploy(engine.models, "open", model_url, environment={"DROPML_BIND_TO_HOST": "0.0.0.0"})

    engine.endpoints.create_endpoint({"EndpointName": "open", "EndpointConfigName": "open"})
    wait_for(lambda: engine.endpoints.describe_endpoint("open")["EndpointStatus"] == "InService", timeout_s=90)

    [record] = _records(engine)
    assert {address for address, _ in _listening(record.pid)} == {"0.0.0.0"}
    answer = engine.endpoints.invoke({"EndpointName": "open", "Body": sample_rows(1), "ContentType": "text/csv"})
    assert answer["Body"]


def test_down_after_a_crash_stops_the_endpoint_the_dead_server_left_serving(
    tmp_path: Path, unrelated: subprocess.Popen[bytes]
) -> None:
    # GIVEN a local server with an InService endpoint, and a record of an unrelated process with a
    # reused pid (a create time that is not its own) among the server's records
    stack = stack_for(free_port(), tmp_path)
    stack.state_dir.mkdir(parents=True)
    start_server(stack)
    try:
        server = RunningServer(stack=stack, state_home=tmp_path)
        _endpoint_in_service(server, "crash")
        serving = [record.pid for record in _records_in(stack.state_dir)]
        assert len(serving) == 1
        gunicorn = psutil.Process(serving[0])
        family = [gunicorn.pid, *(child.pid for child in gunicorn.children(recursive=True))]
        stale = records_folder(stack.state_dir / "sagemaker" / "elsewhere")
        stale.mkdir(parents=True)
        reused = {"pid": unrelated.pid, "create_time": psutil.Process(unrelated.pid).create_time() - 60}
        (stale / f"{unrelated.pid}.json").write_text(json.dumps({**reused, "program": "serve"}))

        # WHEN the server is killed with SIGKILL (no cleanup runs)
        server_process = stack.server_process()
        assert server_process is not None
        os.kill(server_process.pid, signal.SIGKILL)
        wait_for(lambda: not _alive(server_process.pid), what="the server to die")
        assert all(_alive(pid) for pid in family), "the endpoint should outlive its server"
    finally:
        # AND local mode is stopped
        down(stack.port, state_home=tmp_path)

    # THEN the endpoint's processes are gone, by pid, and the unrelated process runs on
    assert not [pid for pid in family if _alive(pid)]
    assert unrelated.poll() is None
    assert _records_in(stack.state_dir) == []


def _only_child(pid: int) -> psutil.Process:
    children: list[psutil.Process] = wait_for(lambda: psutil.Process(pid).children(), what="the child")
    return children[0]


def _deploy(models: Models, name: str, model_url: str, *, environment: dict[str, str] | None = None) -> None:
    container = {"Image": DROPML_IMAGE, "ModelDataUrl": model_url, "Environment": environment or {}}
    models.create_model({"ModelName": name, "ExecutionRoleArn": ROLE, "PrimaryContainer": container})
    models.create_endpoint_config(
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


def _endpoint_in_service(server: RunningServer, name: str) -> None:
    """A one-round model, a model, a configuration and an endpoint on the local server, through boto3."""
    s3, iam, sagemaker = server.client("s3"), server.client("iam"), server.client("sagemaker")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=f"{name}/model.tar.gz", Body=_model_archive())
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    role = iam.create_role(RoleName="dropml-sagemaker", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "logs:*", "cloudwatch:*"], "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="dropml-sagemaker", PolicyName="all", PolicyDocument=json.dumps(policy))
    container = {"Image": DROPML_IMAGE, "ModelDataUrl": f"s3://{BUCKET}/{name}/model.tar.gz"}
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=role, PrimaryContainer=container)
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    waiter = sagemaker.get_waiter("endpoint_in_service")
    waiter.wait(EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


def _model_archive() -> bytes:
    features, labels = load_breast_cancer(return_X_y=True)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 1, "nthread": 1}, xgb.DMatrix(features, label=labels), 1
    )
    model = bytes(booster.save_raw("ubj"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        member = tarfile.TarInfo("model.ubj")
        member.size = len(model)
        archive.addfile(member, io.BytesIO(model))
    return buffer.getvalue()


def _records(engine: SageMakerEngine) -> list[ProcessRecord]:
    return _records_in(engine.context.workdir)


def _records_in(folder: Path) -> list[ProcessRecord]:
    found = (ProcessRecord.read(path) for path in sorted(folder.rglob("processes/*.json")))
    return [record for record in found if record is not None]


def _listening(pid: int) -> list[tuple[str, int]]:
    """The addresses the process and its children listen on (gunicorn's master holds the socket)."""
    family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return sorted(
        {
            (connection.laddr.ip, connection.laddr.port)
            for member in family
            for connection in member.net_connections(kind="inet")
            if connection.status == psutil.CONN_LISTEN
        }
    )
