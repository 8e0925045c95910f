"""The layers import downwards only: cloud code never imports local mode or the CLI, and local mode
runs the training image as a program (as SageMaker does), never as a library."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOP_LEVEL = {"core", "functions", "training_image", "local", "cli"}
# package → the project packages it may import
ALLOWED = {
    "core": {"core"},
    "functions": {"core", "functions"},
    "training_image": {"core", "training_image"},
    "local": {"core", "local"},  # it runs the functions as Lambda does: from their package, by handler name
    "cli": {"core", "functions", "local", "cli"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & TOP_LEVEL


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    wrong = {
        str(path.relative_to(REPO)): sorted(imported_packages(path) - ALLOWED[package])
        for path in sorted((REPO / package).rglob("*.py"))
    }
    assert {path: names for path, names in wrong.items() if names} == {}
