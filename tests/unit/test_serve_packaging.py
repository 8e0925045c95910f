"""The image's build inputs agree with the project: what the code imports is installed, at the project's pins.

No Docker daemon runs here, so these read the Dockerfile and requirements.txt instead of building them;
each check fails on a mistake that would otherwise surface only in a broken image on SageMaker.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import sys
import tomllib
from pathlib import Path

import pytest

from core.machine import cpu_count
from training_image.serving.server import server_options

REPO = Path(__file__).resolve().parents[2]
IMAGE = REPO / "training_image"


def pins(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line.split("#")[0].strip())
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


def image_requirements() -> dict[str, str]:
    return pins((IMAGE / "requirements.txt").read_text().splitlines())


def test_requirements_are_exact_pins_equal_to_pyproject() -> None:
    project = pins(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])
    lines = [line.split("#")[0].strip() for line in (IMAGE / "requirements.txt").read_text().splitlines()]

    requirements = image_requirements()

    assert len(requirements) == len([line for line in lines if line]), "every requirement is pinned with =="
    for name, version in requirements.items():
        expected = project.get(name) or importlib.metadata.version(name)
        assert version == expected, f"{name}=={version} in requirements.txt, {expected} in the project"


def module_level_imports(path: Path) -> list[str]:
    """What importing ``path`` imports (imports inside functions are optional: boto3 in core, for one)."""
    names: list[str] = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return names


def source_of(module: str) -> Path | None:
    """The file of one of our modules (``core.schema`` → core/schema.py), ``None`` for anything else."""
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_every_package_the_image_code_imports_is_installed_by_requirements() -> None:
    """Follow the imports from training_image/ through core/: each third-party one needs a requirement."""
    distributions = importlib.metadata.packages_distributions()
    requirements = image_requirements()
    queue = list(IMAGE.rglob("*.py"))
    seen: set[Path] = set()
    missing = set()
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in module_level_imports(path):
            top = name.split(".")[0]
            if top in {"core", "training_image"}:
                parts = name.split(".")  # importing a.b.c runs a/__init__.py and a/b/__init__.py too
                queue += [s for i in range(1, len(parts) + 1) if (s := source_of(".".join(parts[:i]))) is not None]
            elif top not in {*sys.stdlib_module_names, "__future__"} and not any(
                d.lower() in requirements for d in distributions.get(top, [top])
            ):
                missing.add(f"{top} ({path.relative_to(REPO)})")

    assert REPO / "core" / "schema.py" in seen  # the walk reaches core through the image's imports
    assert not missing, sorted(missing)


def test_dockerfile_ships_core_and_the_image_code_with_train_and_serve_on_path() -> None:
    dockerfile = (IMAGE / "Dockerfile").read_text()
    copies = re.findall(r"^COPY (\S+) (\S+)$", dockerfile, flags=re.MULTILINE)
    path = re.search(r"PATH=(\S+)", dockerfile)

    assert ("core/", "/opt/program/core/") in copies
    assert ("training_image/", "/opt/program/training_image/") in copies
    assert path is not None and "/opt/program/training_image" in path.group(1).split(":")
    assert "PYTHONPATH=/opt/program" in dockerfile
    assert re.search(r"^FROM nvidia/cuda:\S+ubuntu22\.04$", dockerfile, flags=re.MULTILINE)
    assert "python3.11" in dockerfile  # the version pyproject.toml requires
    assert "ENTRYPOINT" not in dockerfile  # SageMaker runs `docker run <image> train|serve`
    for source, _ in copies:
        assert (REPO / source).exists(), f"COPY {source}: no such path in the build context"


@pytest.mark.parametrize("script", ["serve", "train", "process"])
def test_the_contract_executables_exist_and_are_executable(script: str) -> None:
    assert os.access(IMAGE / script, os.X_OK)
    assert (IMAGE / script).read_text().startswith("#!/bin/sh")


def test_server_defaults_follow_the_sagemaker_contract() -> None:
    options = server_options({})

    assert options["bind"] == "0.0.0.0:8080"
    assert options["workers"] == cpu_count() == len(os.sched_getaffinity(0))
    # threads for many connections at once (an idle or slow client holds one), and room to keep as many alive
    assert options["worker_class"] == "gthread"
    assert options["worker_connections"] - options["threads"] >= options["threads"] >= 256


def test_server_settings_come_from_sagemakers_variables() -> None:
    options = server_options(
        {
            "SAGEMAKER_BIND_TO_PORT": "9000",
            "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "120",
        }
    )

    assert (options["bind"], options["workers"], options["timeout"]) == ("0.0.0.0:9000", 3, 120)


@pytest.mark.parametrize(
    ("host", "bind"), [("127.0.0.1", "127.0.0.1:9000"), ("::1", "[::1]:9000"), ("", "0.0.0.0:9000")]
)
def test_the_listen_address_is_all_interfaces_unless_set(host: str, bind: str) -> None:
    assert server_options({"SAGEMAKER_BIND_TO_PORT": "9000", "DROPML_BIND_TO_HOST": host})["bind"] == bind
