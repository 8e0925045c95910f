import json
import subprocess
import sys
from pathlib import Path


def test_demo_converts_every_bundled_dataset(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "local.cli", "demo", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    penguins = json.loads((tmp_path / "penguins" / "schema.json").read_text())
    diabetes = json.loads((tmp_path / "diabetes" / "schema.json").read_text())
    assert penguins["target"] == "species" and penguins["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert diabetes["problem_type"] == "regression"
    assert "== penguins: penguins.csv" in done.stdout and "0=Adelie, 1=Chinstrap, 2=Gentoo" in done.stdout
    for dataset in ("penguins", "diabetes"):
        for split in ("train", "validation", "test"):
            assert list((tmp_path / dataset / split).glob("*.csv")), (dataset, split)
