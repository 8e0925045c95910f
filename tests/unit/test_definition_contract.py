"""The definition against the run document: every path it reads or writes exists in the model.

Without this, a field renamed in ``functions/run_document.py`` and not in ``pipeline.asl.json`` (or
misspelt in either) is found only by an end-to-end run, or by a user's execution on AWS failing with
``States.Runtime``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from functions.notify.report import ADVICE
from functions.run_document import RunDocument, State, Step

DEFINITION = Path(__file__).resolve().parents[2] / "state_machine" / "pipeline.asl.json"
# A JSONPath into the state document: "$.plan.names.endpoint" (no filters, no indexes in this definition).
PATH = re.compile(r"(?<![$\w])\$(?:\.[A-Za-z_][A-Za-z0-9_]*)+|(?<![$\w])\$(?![$.\w])")
CHOICE_PATH_KEYS = ("Variable", "SecondsPath", "TimestampPath", "ItemsPath")


def load_definition() -> dict[str, Any]:
    return dict(json.loads(DEFINITION.read_text()))


def _paths_in(value: Any) -> Iterator[str]:
    """``$.…`` paths in a Parameters/Payload template (values of ``….$`` keys, intrinsics included)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(".$") and isinstance(item, str):
                yield from PATH.findall(item)
            else:
                yield from _paths_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _paths_in(item)


def _choice_paths(rule: dict[str, Any]) -> Iterator[str]:
    for key, value in rule.items():
        if key in ("And", "Or"):
            for inner in value:
                yield from _choice_paths(inner)
        elif key == "Not":
            yield from _choice_paths(value)
        elif (key in CHOICE_PATH_KEYS or key.endswith("Path")) and isinstance(value, str):
            yield value


def read_paths(definition: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(state, path) for every path a state reads from its input, the run document.

    ResultSelector paths read the task's own result (a SageMaker or Lambda response) and OutputPath
    here picks the Lambda's Payload out of the invoke response, so neither reads the document.
    """
    for name, state in definition["States"].items():
        for path in _paths_in(state.get("Parameters", {})):
            yield name, path
        for rule in state.get("Choices", []):
            for path in _choice_paths(rule):
                yield name, path
        if "SecondsPath" in state:
            yield name, state["SecondsPath"]


def written_shapes(definition: dict[str, Any]) -> Iterator[tuple[str, str, set[str] | None]]:
    """(state, ResultPath, keys written there or None for an opaque result) for every write into the document."""
    for name, state in definition["States"].items():
        result_path = state.get("ResultPath")
        if result_path:
            if "ResultSelector" in state:
                keys: set[str] | None = {k.removesuffix(".$") for k in state["ResultSelector"]}
            elif state["Type"] == "Pass" and "Parameters" in state:
                keys = {k.removesuffix(".$") for k in state["Parameters"]}
            else:
                keys = None
            yield name, result_path, keys
        for catch in state.get("Catch", []):
            if catch.get("ResultPath"):
                yield name, catch["ResultPath"], {"Error", "Cause"}


def _resolve(schema: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The JSON schema node at ``path`` ($.a.b), or None when the model has no such field."""
    defs = schema.get("$defs", {})

    def deref(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[1]]
        return node

    node = schema
    for part in path.removeprefix("$").split(".")[1:]:
        found = None
        for branch in deref(node).get("anyOf", [deref(node)]):
            branch = deref(branch)
            if part in branch.get("properties", {}):
                found = branch["properties"][part]
            elif isinstance(branch.get("additionalProperties"), dict):
                found = branch["additionalProperties"]
            if found is not None:
                break
        if found is None:
            return None
        node = found
    return deref(node)


def _fields(node: dict[str, Any]) -> set[str]:
    return {name for branch in node.get("anyOf", [node]) for name in branch.get("properties", {})}


def contract_problems(definition: dict[str, Any]) -> list[str]:
    schema = RunDocument.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})
    problems = []
    for state, path in read_paths(definition):
        if _resolve(schema, path) is None:
            problems.append(f"{state!r} reads {path}, which the run document does not have")
    for state, path, keys in written_shapes(definition):
        node = _resolve(schema, path)
        if node is None:
            problems.append(f"{state!r} writes {path}, which the run document does not have")
            continue
        branches = [defs[b["$ref"].rsplit("/", 1)[1]] if "$ref" in b else b for b in node.get("anyOf", [node])]
        fields = {name for branch in branches for name in _fields(branch)}
        if keys is not None and fields and not keys <= fields:
            problems.append(f"{state!r} writes {sorted(keys - fields)} into {path}, fields the model lacks")
    return problems


def failed_steps(definition: dict[str, Any]) -> set[str]:
    return {
        state["Result"]
        for state in definition["States"].values()
        if state["Type"] == "Pass" and state.get("ResultPath") == "$.failed_step"
    }


def test_every_path_the_definition_reads_or_writes_is_in_the_run_document() -> None:
    problems = contract_problems(load_definition())
    assert not problems, "\n".join(problems)


def test_the_check_fails_on_a_misspelt_path() -> None:
    # GIVEN the definition with one path misspelt, as a careless edit would leave it
    broken = copy.deepcopy(load_definition())
    broken["States"][State.TRAIN]["Parameters"]["TrainingJobName.$"] = "$.attempt.training_jobname"
    broken["States"]["Endpoint exists?"]["Choices"][0]["Variable"] = "$.evaluation.endpoint_state"

    # THEN the contract check names both
    problems = contract_problems(broken)
    assert any("$.attempt.training_jobname" in p for p in problems), problems
    assert any("$.evaluation.endpoint_state" in p for p in problems), problems


def test_every_failed_step_the_definition_can_name_has_advice_and_no_advice_is_dead() -> None:
    named = failed_steps(load_definition())
    assert named == {step.value for step in Step}
    assert set(ADVICE) == set(Step)


def test_states_that_code_names_exist_and_each_job_kind_has_one_task() -> None:
    states = load_definition()["States"]
    assert {state.value for state in State} <= set(states)
    resources = [state.get("Resource", "") for state in states.values()]
    assert resources.count("arn:aws:states:::sagemaker:createTrainingJob.sync") == 1
    assert resources.count("arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync") == 1


def test_every_task_of_one_service_retries_the_same_way() -> None:
    # ASL has no shared blocks, so a Retry is repeated per task; this keeps the copies identical.
    retries: dict[str, list[str]] = {}
    for state in load_definition()["States"].values():
        if state["Type"] == "Task":
            service = "lambda" if ":lambda:" in state["Resource"] else "sagemaker"
            retries.setdefault(service, []).append(json.dumps(state.get("Retry"), sort_keys=True))
    for service, blocks in retries.items():
        assert len(set(blocks)) == 1, f"{service} tasks retry differently: {set(blocks)}"
