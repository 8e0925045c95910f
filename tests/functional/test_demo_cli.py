"""``make demo`` runs ``dropml demo``: the whole pipeline in local mode on the bundled datasets."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from local.ports import free_port

pytestmark = pytest.mark.slow


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
    emails = sorted(tmp_path.glob("local-*/outbox/*.eml"))
    assert len(emails) == 2
    answer = out.split("dropml-penguins → ", 1)[1].splitlines()[0]
    assert json.loads(answer)["predictions"][0]["label"] == "Adelie"  # the first row of penguins.csv
    assert not list(tmp_path.glob("local-*/server.json"))  # local mode was stopped again
