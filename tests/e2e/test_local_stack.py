"""Local mode end to end, driven as a person would: the ``dropml`` CLI and the AWS CLI from PyPI.

``dropml local up`` deploys template.yaml; then ``aws s3 cp`` runs the deployed ingest function,
``aws lambda invoke`` calls it directly, ``aws stepfunctions start-execution`` runs the definition to
an email in the outbox, and ``dropml local down`` stops it all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from local.ports import free_port
from local.stack import REPO_ROOT
from tests.helpers.local import clean_env, dropml, wait_for

pytestmark = pytest.mark.slow

AWS_CLI = Path(sys.executable).with_name("aws")


@dataclass
class UpStack:
    port: int
    env: dict[str, str]
    aws_env: dict[str, str]
    status: dict[str, Any]
    tmp: Path

    def aws(self, *args: str) -> Any:
        """Run the AWS CLI; its JSON answer parsed (None for commands that print progress instead)."""
        completed = subprocess.run(
            [str(AWS_CLI), *args, "--output", "json"],
            env=self.aws_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout) if completed.stdout.startswith("{") else None

    def outbox_subjects(self) -> list[str]:
        listed = dropml("local", "mail", "--port", str(self.port), "--json", env=self.env)
        assert listed.returncode == 0, listed.stderr
        return [item["subject"] for item in json.loads(listed.stdout)]


def _exports(stdout: str) -> dict[str, str]:
    pairs = (line.removeprefix("export ").split("=", 1) for line in stdout.splitlines() if line.startswith("export "))
    return {name: value.strip("'") for name, value in pairs}


def _finished(stack: UpStack, execution_arn: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        described = stack.aws("stepfunctions", "describe-execution", "--execution-arn", execution_arn)
        return None if described["status"] == "RUNNING" else dict(described)

    return dict(wait_for(done, timeout_s=90, what=f"execution {execution_arn}"))


def _invoke_ingest_with_an_ignored_key(stack: UpStack) -> None:
    # an event for a key outside incoming/<dataset>/<file>.csv: ingest looks at it and ignores it
    event = json.loads((REPO_ROOT / "tests" / "events" / "s3_object_created.json").read_text())
    event["Records"][0]["s3"]["bucket"]["name"] = stack.status["bucket"]
    event["Records"][0]["s3"]["object"]["key"] = "notes/readme.txt"
    payload_file, result_file = stack.tmp / "event.json", stack.tmp / "result.json"
    payload_file.write_text(json.dumps(event))

    function = stack.status["ingest_function"]
    response = stack.aws(
        "lambda", "invoke", "--function-name", function, "--payload", f"file://{payload_file}", str(result_file)
    )

    assert "FunctionError" not in response, result_file.read_text()
    assert json.loads(result_file.read_text()) == [{"key": "notes/readme.txt", "status": "ignored", "run_id": None}]


def _upload_runs_ingest_and_the_pipeline_to_an_email(stack: UpStack) -> None:
    bucket, machine = stack.status["bucket"], stack.status["state_machine_arn"]
    for name in ("dropml.json", "penguins.csv"):
        source = REPO_ROOT / "datasets" / "penguins" / name
        stack.aws("s3", "cp", "--only-show-errors", str(source), f"s3://{bucket}/incoming/penguins/")

    def executions() -> list[dict[str, Any]]:
        listed = stack.aws("stepfunctions", "list-executions", "--state-machine-arn", machine)
        return [item for item in listed["executions"] if item["name"].startswith("penguins-")]

    [execution] = wait_for(executions, timeout_s=120, what="ingest to start an execution")
    prepared = json.loads(
        stack.aws("stepfunctions", "describe-execution", "--execution-arn", execution["executionArn"])["input"]
    )["prepared"]
    assert prepared["dataset"] == "penguins" and prepared["target"] == "species"
    listed = stack.aws(
        "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", f"runs/penguins/{prepared['run_id']}/"
    )
    written = {item["Key"].removeprefix(f"runs/penguins/{prepared['run_id']}/") for item in listed["Contents"]}
    assert "schema.json" in written and any(key.startswith("data/train/") for key in written)
    _finished(stack, execution["executionArn"])
    wait_for(
        lambda: any(subject.startswith("dropml penguins: ") for subject in stack.outbox_subjects()),
        what="the run's email",
    )


def _start_execution_ends_with_an_email(stack: UpStack) -> None:
    machine = stack.status["state_machine_arn"]
    bad_input = '{"source": "not a location"}'

    started = stack.aws("stepfunctions", "start-execution", "--state-machine-arn", machine, "--input", bad_input)

    described = _finished(stack, started["executionArn"])
    assert described["status"] == "FAILED"
    assert described["error"] == "dropml.RunFailed"
    wait_for(lambda: "dropml (unknown): FAILED at Prepare data" in stack.outbox_subjects(), what="the failure email")


def test_local_mode_end_to_end_with_the_dropml_and_aws_clis(tmp_path: Path) -> None:
    # GIVEN local mode started on a free port with its own state folder
    port = free_port()
    env = clean_env(DROPML_HOME=str(tmp_path / "home"))
    started = dropml("local", "up", "--port", str(port), "--email", "ana@example.com", env=env)
    family: list[psutil.Process] = []
    try:
        assert started.returncode == 0, started.stderr
        exported = _exports(started.stdout)
        assert exported["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{port}"
        status_run = dropml("local", "status", "--port", str(port), "--json", env=env)
        assert status_run.returncode == 0, status_run.stderr
        status = json.loads(status_run.stdout)
        stack = UpStack(port, env, {**env, **exported}, status, tmp_path)

        # THEN status shows what the template deployed
        assert status["bucket"].startswith("dropml-")
        assert ":stateMachine:" in status["state_machine_arn"]
        assert ":sns:" in status["topic_arn"]
        assert status["endpoints"] == []
        assert Path(status["outbox"]).is_relative_to(tmp_path)

        # AND the AWS CLI drives the deployed resources
        _invoke_ingest_with_an_ignored_key(stack)
        _upload_runs_ingest_and_the_pipeline_to_an_email(stack)
        _start_execution_ends_with_an_email(stack)
        server = psutil.Process(status["pid"])
        family = [server, *server.children(recursive=True)]
    finally:
        # WHEN local mode is stopped
        stopped = dropml("local", "down", "--port", str(port), env=env)

    # THEN the server and everything it started are gone
    assert stopped.returncode == 0
    assert "stopped" in stopped.stdout
    assert not any(member.is_running() and member.status() != psutil.STATUS_ZOMBIE for member in family)
    after = dropml("local", "status", "--port", str(port), "--json", env=env)
    assert after.returncode == 1
    assert json.loads(after.stdout) == {"port": port, "running": False}


# -- down then up keeps what the stack holds; down --discard starts clean -----------------------------

PENGUINS = REPO_ROOT / "datasets" / "penguins" / "penguins.csv"
QUICK = {"target": "species", "mode": "train", "hyperparameters": {"num_round": 3, "max_depth": 1}}
# Still training when `down` comes (it is stopped then, never run to its end): as many rounds as the
# trainer allows, none of them ending it early (the pipeline's default early_stopping_rounds would).
SLOW = {
    "target": "species",
    "mode": "train",
    "hyperparameters": {"num_round": 1_000_000, "early_stopping_rounds": 1_000_000, "eta": 0.001, "max_depth": 6},
}


@dataclass
class KeptStack:
    """One stack driven with the dropml CLI (up, down) and boto3 (what a user's scripts would do)."""

    port: int
    env: dict[str, str]
    home: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        completed = dropml("local", *args, "--port", str(self.port), env=self.env)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed

    def status(self) -> dict[str, Any]:
        return dict(json.loads(self.cli("status", "--json").stdout))

    def client(self, service: str) -> Any:
        from local.stack import stack_for

        stack = stack_for(self.port, self.home)
        return stack.session().client(service, endpoint_url=stack.endpoint_url)

    def execution(self, machine: str, prefix: str) -> str:
        def started() -> str | None:
            listed = self.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
            return next((e["executionArn"] for e in listed if e["name"].startswith(prefix)), None)

        return str(wait_for(started, timeout_s=120, what=f"an execution {prefix}*"))

    def training(self, prefix: str) -> str:
        """The name of a job ``prefix``* once it is InProgress and Training (after the GPU attempt)."""
        sagemaker = self.client("sagemaker")

        def training() -> str | None:
            listed = sagemaker.list_training_jobs(NameContains=prefix, StatusEquals="InProgress")
            for job in listed["TrainingJobSummaries"]:
                described = sagemaker.describe_training_job(TrainingJobName=job["TrainingJobName"])
                if (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("InProgress", "Training"):
                    return str(job["TrainingJobName"])
            return None

        return str(wait_for(training, timeout_s=120, what=f"a job {prefix}* InProgress and Training"))

    def finished(self, arn: str) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            described = self.client("stepfunctions").describe_execution(executionArn=arn)
            return None if described["status"] == "RUNNING" else dict(described)

        return dict(wait_for(done, timeout_s=240, what=f"execution {arn} to end"))

    def subjects(self) -> list[str]:
        return [item["subject"] for item in json.loads(self.cli("mail", "--json").stdout)]

    def predict(self, endpoint: str) -> dict[str, Any]:
        answer = self.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps([{"island": "Torgersen", "bill_length_mm": 39.1, "flipper_length_mm": 181}]),
        )
        return dict(json.loads(answer["Body"].read()))


def _versions(s3: Any, bucket: str) -> list[tuple[str, str]]:
    listed = s3.list_object_versions(Bucket=bucket, Prefix="incoming/")
    return sorted((item["Key"], item["VersionId"]) for item in listed.get("Versions", []))


def test_down_then_up_keeps_what_it_holds_and_down_discard_starts_clean(tmp_path: Path) -> None:
    kept = KeptStack(free_port(), clean_env(DROPML_HOME=str(tmp_path / "home")), tmp_path / "home")
    kept.cli("up", "--email", "ana@example.com")
    try:
        status = kept.status()
        bucket, machine = status["bucket"], status["state_machine_arn"]
        s3 = kept.client("s3")

        # GIVEN a run that was deployed (two versions of its settings file: the bucket is versioned)
        s3.put_object(Bucket=bucket, Key="incoming/penguins/dropml.json", Body=json.dumps(SLOW).encode())
        s3.put_object(Bucket=bucket, Key="incoming/penguins/dropml.json", Body=json.dumps(QUICK).encode())
        s3.put_object(Bucket=bucket, Key="incoming/penguins/penguins.csv", Body=PENGUINS.read_bytes())
        deployed = kept.finished(kept.execution(machine, "penguins-"))
        assert deployed["status"] == "SUCCEEDED", deployed
        history = kept.client("stepfunctions").get_execution_history(executionArn=deployed["executionArn"])["events"]
        before = kept.predict("dropml-penguins")
        # AND a run still training when local mode is stopped
        s3.put_object(Bucket=bucket, Key="incoming/slow/dropml.json", Body=json.dumps(SLOW).encode())
        s3.put_object(Bucket=bucket, Key="incoming/slow/slow.csv", Body=PENGUINS.read_bytes())
        in_flight = kept.execution(machine, "slow-")
        endpoint_arn = kept.client("sagemaker").describe_endpoint(EndpointName="dropml-penguins")["EndpointArn"]
        kept.client("sagemaker").add_tags(ResourceArn=endpoint_arn, Tags=[{"Key": "team", "Value": "ana"}])
        tags = kept.client("sagemaker").list_tags(ResourceArn=endpoint_arn)["Tags"]
        training = kept.training("slow-")
        versions = _versions(s3, bucket)

        # WHEN local mode is stopped and started again
        stopped = kept.cli("down")
        assert "kept" in stopped.stdout
        kept.cli("up", "--email", "ana@example.com")

        # THEN the same stack is there, with every object version
        assert kept.status()["bucket"] == bucket and kept.status()["state_machine_arn"] == machine
        s3 = kept.client("s3")
        assert _versions(s3, bucket) == versions
        assert len([key for key, _ in versions if key == "incoming/penguins/dropml.json"]) == 2
        # AND the deployed run, SUCCEEDED with its whole history
        stepfunctions = kept.client("stepfunctions")
        assert stepfunctions.describe_execution(executionArn=deployed["executionArn"])["status"] == "SUCCEEDED"
        assert stepfunctions.get_execution_history(executionArn=deployed["executionArn"])["events"] == history
        # AND its endpoint, coming back (Creating) to InService and answering as before
        sagemaker = kept.client("sagemaker")
        status_after_up = sagemaker.describe_endpoint(EndpointName="dropml-penguins")["EndpointStatus"]
        assert status_after_up in ("Creating", "InService")
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName="dropml-penguins", WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        assert kept.predict("dropml-penguins") == before
        assert sagemaker.list_tags(ResourceArn=endpoint_arn)["Tags"] == tags
        assert {"Key": "team", "Value": "ana"} in tags
        # AND the run in flight ended FAILED at its training, whose job was stopped, with its failure email
        failed = stepfunctions.describe_execution(executionArn=in_flight)
        assert failed["status"] == "FAILED", failed
        assert sagemaker.describe_training_job(TrainingJobName=training)["TrainingJobStatus"] == "Stopped"
        assert any(subject.startswith("dropml slow: FAILED") for subject in kept.subjects()), kept.subjects()

        # WHEN local mode is stopped discarding what it holds, and started again
        discarded = kept.cli("down", "--discard")
        assert "starts clean" in discarded.stdout
        kept.cli("up", "--email", "ana@example.com")

        # THEN nothing is left from before: no object, run, job, endpoint or mail
        status = kept.status()
        assert _versions(kept.client("s3"), status["bucket"]) == []
        stepfunctions = kept.client("stepfunctions")
        assert stepfunctions.list_executions(stateMachineArn=status["state_machine_arn"])["executions"] == []
        assert kept.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
        assert status["endpoints"] == []
        assert kept.subjects() == []
    finally:
        dropml("local", "down", "--discard", "--port", str(kept.port), env=kept.env)
