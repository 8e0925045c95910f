"""``make demo`` runs ``dropml demo``: the whole pipeline in local mode on the bundled datasets."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cli.commands.demo import _execution_for
from local.ports import free_port


@pytest.mark.slow
def test_demo_runs_the_pipeline_on_every_bundled_dataset(tmp_path: Path) -> None:
    environment = {**os.environ, "DROPML_HOME": str(tmp_path)}
    environment.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "demo", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=environment,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    # followed live, GPU capacity missing on this machine → CPU
    assert "penguins: Tune on GPU" in out and "penguins: Tune on CPU" in out and "finished: SUCCEEDED" in out
    assert "penguins   SUCCEEDED  deploy   logloss" in out and "diabetes   SUCCEEDED  deploy   rmse" in out
    assert "email: dropml penguins: deployed the new model to endpoint dropml-penguins" in out
    assert len([line for line in out.splitlines() if line.startswith("email: ")]) == 2
    answer = out.split("dropml-penguins → ", 1)[1].splitlines()[0]
    assert json.loads(answer)["predictions"][0]["label"] == "Adelie"  # the first row of penguins.csv
    assert not list(tmp_path.glob("local-*/server.json"))  # local mode was stopped again
    # and what it held discarded: the next demo on that port deploys the working tree again
    assert [path.name for path in tmp_path.glob("local-*/*")] == ["server.log"]


class _Executions:
    def __init__(self, executions: list[dict[str, Any]]) -> None:
        self.executions = executions

    def list_executions(self, stateMachineArn: str) -> dict[str, Any]:
        return {"executions": self.executions}


def test_the_demo_follows_the_execution_its_upload_started_not_an_earlier_one() -> None:
    # GIVEN a stack kept from an earlier demo: its penguins run, then this demo's
    since = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    earlier = {"name": "penguins-old", "executionArn": "arn:old", "startDate": since - timedelta(minutes=5)}
    this_one = {"name": "penguins-new", "executionArn": "arn:new", "startDate": since}
    stepfunctions = _Executions([earlier, this_one])

    # WHEN the demo looks for the execution of its upload, THEN it takes the one started since its uploads
    assert _execution_for(stepfunctions, "arn:machine", "penguins", since) == "arn:new"
