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

from core.container import PROCESS_PROGRAM
from core.names import OWNER_TAG
from functions.notify.report import ADVICE
from functions.run_document import PendingConversion, RunDocument, State, Step

DEFINITION = Path(__file__).resolve().parents[2] / "state_machine" / "pipeline.asl.json"
# A JSONPath into the state document: "$.plan.names.endpoint", "$.failed_trials.reasons[0]" (no filters).
PATH = re.compile(r"(?<![$\w])\$(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])?)+|(?<![$\w])\$(?![$.\w])")
INDEX = re.compile(r"\[\d+\]$")
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
    for step in path.removeprefix("$").split(".")[1:]:
        part, indexed = INDEX.sub("", step), bool(INDEX.search(step))
        found = None
        for branch in deref(node).get("anyOf", [deref(node)]):
            branch = deref(branch)
            if part in branch.get("properties", {}):
                found = branch["properties"][part]
            elif isinstance(branch.get("additionalProperties"), dict):
                found = branch["additionalProperties"]
            elif branch.get("additionalProperties") is True:  # a free-form answer (dict[str, Any]): any member
                found = {}
            if found is not None:
                break
        if found is None:
            return None
        node = found
        if indexed:  # an item of a list: the array branch's items
            arrays = [deref(b) for b in deref(node).get("anyOf", [deref(node)]) if deref(b).get("type") == "array"]
            if not arrays:
                return None
            node = arrays[0].get("items", {})
    return deref(node)


def _fields(node: dict[str, Any]) -> set[str]:
    return {name for branch in node.get("anyOf", [node]) for name in branch.get("properties", {})}


# The states between "Prepare data" handing back a Processing job and Prepare planning the converted
# data read and write that pending document, not the run document.
PENDING_STATES = {State.CONVERT, State.REMOVE_UPLOAD_COPY, State.PLAN_CONVERTED}


def contract_problems(definition: dict[str, Any]) -> list[str]:
    schemas = {
        False: RunDocument.model_json_schema(by_alias=True),
        True: PendingConversion.model_json_schema(by_alias=True),
    }
    problems = []
    for state, path in read_paths(definition):
        if _resolve(schemas[state in PENDING_STATES], path) is None:
            problems.append(f"{state!r} reads {path}, which the run document does not have")
    for state, path, keys in written_shapes(definition):
        schema = schemas[state in PENDING_STATES]
        defs = schema.get("$defs", {})
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
    broken["States"]["Blame the first failed trial"]["Parameters"]["Cause.$"] = "$.failed_trials.reason[0]"
    broken["States"]["Any failed trial?"]["Choices"][0]["Variable"] = "$.plan.mode[0]"  # not a list

    # THEN the contract check names each
    problems = contract_problems(broken)
    assert any("$.attempt.training_jobname" in p for p in problems), problems
    assert any("$.evaluation.endpoint_state" in p for p in problems), problems
    assert any("$.failed_trials.reason[0]" in p for p in problems), problems
    assert any("$.plan.mode[0]" in p for p in problems), problems


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
    assert resources.count("arn:aws:states:::sagemaker:createProcessingJob.sync") == 1


def test_the_processing_job_runs_the_images_process_program() -> None:
    convert = load_definition()["States"][State.CONVERT]["Parameters"]
    assert convert["AppSpecification"]["ContainerEntrypoint"] == [PROCESS_PROGRAM]


# Step Functions names errors by integration: the optimized SageMaker integration raises the Java SDK's
# names (SageMaker.AmazonSageMakerException for what the model does not declare), an aws-sdk task
# raises <Service>.<Service>Exception for those ("AWS SDK service integrations", Step Functions guide).
INTEGRATION_ERRORS = {
    "sagemaker": "SageMaker.AmazonSageMakerException",
    "aws-sdk:sagemaker": "SageMaker.SageMakerException",
    "aws-sdk:s3": "S3.S3Exception",
}
# Tasks whose errors are their answer: DescribeEndpoint's "Could not find endpoint" means "deleted",
# and a retry on its error name (shared with throttling) would retry that answer.
ANSWER_IN_THE_ERROR = {"Is the failed endpoint gone?"}


def _integration(resource: str) -> str:
    if ":lambda:" in resource:
        return "lambda"
    if ":aws-sdk:" in resource:
        return "aws-sdk:" + resource.split(":aws-sdk:")[1].split(":")[0]
    return "sagemaker"


def test_every_task_of_one_integration_retries_the_same_way_on_names_it_raises() -> None:
    # ASL has no shared blocks, so a Retry is repeated per task; this keeps the copies identical.
    retries: dict[str, set[str]] = {}
    for name, state in load_definition()["States"].items():
        if state["Type"] == "Task" and name not in ANSWER_IN_THE_ERROR:
            integration = _integration(state["Resource"])
            retries.setdefault(integration, set()).add(json.dumps(state.get("Retry"), sort_keys=True))
    assert all(len(blocks) == 1 for blocks in retries.values()), retries
    for integration, unmodelled in INTEGRATION_ERRORS.items():
        [block] = retries[integration]
        named = {error for retry in json.loads(block) for error in retry["ErrorEquals"]}
        assert unmodelled in named, f"{integration} tasks do not retry {unmodelled}"
        assert not named & (set(INTEGRATION_ERRORS.values()) - {unmodelled}), (
            f"{integration} retries a name it never raises"
        )


def test_a_task_whose_error_is_its_answer_has_no_retry_and_reads_every_error() -> None:
    states = load_definition()["States"]
    for name in ANSWER_IN_THE_ERROR:
        assert "Retry" not in states[name]
        [catch] = states[name]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and states[catch["Next"]]["Type"] == "Choice"


def _unguarded(rule: dict[str, Any], guarded: frozenset[str] = frozenset()) -> Iterator[str]:
    """Cause paths a rule compares without an earlier ``IsPresent: true`` on them in an enclosing And."""
    if "And" in rule:
        for inner in rule["And"]:
            yield from _unguarded(inner, guarded)
            if inner.get("IsPresent") is True:
                guarded = guarded | {inner["Variable"]}
    for inner in rule.get("Or", []) + ([rule["Not"]] if "Not" in rule else []):
        yield from _unguarded(inner, guarded)
    variable = rule.get("Variable", "")
    if variable.endswith(".Cause") and "IsPresent" not in rule and variable not in guarded:
        yield variable


def test_every_choice_on_an_optional_field_checks_it_is_present_first() -> None:
    # A Catch's output "usually" holds Cause; a Choice that reads a missing path ends the execution
    # with States.Runtime, which no Catch takes, so the user would get no email.
    found = [
        (name, path)
        for name, state in load_definition()["States"].items()
        for choice in state.get("Choices", [])
        for path in _unguarded(choice)
    ]
    assert not found


def test_the_presence_check_finds_an_unguarded_cause() -> None:
    broken = copy.deepcopy(load_definition())
    del broken["States"]["Out of capacity?"]["Choices"][0]["And"][1]
    assert "$.failure.Cause" in set(_unguarded(broken["States"]["Out of capacity?"]["Choices"][0]))


def test_a_failed_endpoint_is_created_again_only_once_it_is_gone_and_the_wait_is_bounded() -> None:
    states = load_definition()["States"]
    delete = states["Delete the failed endpoint"]
    assert delete["Resource"].endswith(":aws-sdk:sagemaker:deleteEndpoint")
    # Delete → wait → describe; only "Could not find endpoint" leads to Create endpoint
    assert states[delete["Next"]]["Type"] == "Wait"
    probe = states[states[delete["Next"]]["Next"]]
    assert probe["Resource"].endswith(":aws-sdk:sagemaker:describeEndpoint")
    gone = states[probe["Catch"][0]["Next"]]
    [to_create] = [c for c in gone["Choices"] if c["Next"] == "Create endpoint"]
    assert "*Could not find endpoint*" in json.dumps(to_create)
    # still there (or any other error) → the poll count is checked against the plan's bound before waiting again
    bound = states[probe["Next"]]
    assert gone["Default"] == probe["Next"] and bound["Type"] == "Choice"
    [give_up] = bound["Choices"]
    assert give_up["NumericGreaterThanEqualsPath"] == "$.plan.endpoint_deletion_polls"
    assert states[give_up["Next"]]["Next"] == "Deployment failed"
    assert states[bound["Default"]]["Next"] == delete["Next"]
    assert "States.MathAdd" in json.dumps(states[bound["Default"]]["Parameters"])


def test_a_failed_tuning_job_is_judged_by_its_first_failed_trial() -> None:
    states = load_definition()["States"]
    [catch] = states[State.TUNE]["Catch"]
    reader = states[catch["Next"]]
    assert reader["Resource"].endswith(":aws-sdk:sagemaker:listTrainingJobsForHyperParameterTuningJob")
    assert reader["Parameters"]["StatusEquals"] == "Failed"
    # the trial's summary replaces the generic cause before the GPU capacity check reads it
    blame = states[states[reader["Next"]]["Choices"][0]["Next"]]
    assert blame["ResultPath"] == "$.failure" and blame["Next"] == "Out of capacity?"
    assert states[reader["Next"]]["Default"] == "Out of capacity?"
    assert reader["Catch"][0]["Next"] == "Out of capacity?" and reader["Catch"][0]["ResultPath"] is None


def test_the_endpoint_a_run_creates_carries_the_dataset_tag_evaluate_checks() -> None:
    # Evaluate refuses an endpoint without its dataset's tag, so a created endpoint without it would be
    # refused by the dataset's own next run.
    create = load_definition()["States"]["Create endpoint"]
    assert create["Resource"].endswith(":sagemaker:createEndpoint")
    assert {"Key": OWNER_TAG, "Value.$": "$.plan.names.endpoint_owner"} in create["Parameters"]["Tags"]


def test_the_wait_for_a_deploying_endpoint_ends_on_every_state_and_is_bounded() -> None:
    states = load_definition()["States"]
    ready = states["Endpoint ready?"]
    success, failure, bound = ready["Choices"]
    assert states[success["Next"]]["Next"] == "Notify success"
    # the configuration is compared only once it is known to be there (optional in DescribeEndpoint's answer)
    [is_present] = [rule for rule in success["And"] if rule.get("IsPresent")]
    assert is_present["Variable"] == "$.endpoint_check.answer.EndpointConfigName"
    # every EndpointStatus that no longer changes by itself ends the wait (the service model's enum)
    settled_badly = {rule["StringEquals"] for rule in failure["Or"]}
    assert settled_badly == {"Failed", "InService", "OutOfService", "UpdateRollbackFailed", "Deleting"}
    assert states[failure["Next"]]["Next"] == "Deployment failed"
    # still changing → counted, and past the plan's bound the run fails at Deploy with an email
    assert bound["NumericGreaterThanEqualsPath"] == "$.plan.endpoint_wait_polls"
    assert states[bound["Next"]]["Next"] == "Deployment failed"
    count = states[ready["Default"]]
    assert "States.MathAdd($.endpoint_wait.polls, 1)" in json.dumps(count) and count["Next"] == "Wait for the endpoint"
    for deploy in ("Create endpoint", "Update endpoint"):  # each deployment starts the count at 0
        assert states[deploy]["ResultSelector"] == {"polls": 0} and states[deploy]["ResultPath"] == "$.endpoint_wait"


def test_a_run_evaluates_only_on_its_turn_and_waits_otherwise() -> None:
    states = load_definition()["States"]
    evaluate = states["Evaluate against the live model"]
    assert evaluate["Parameters"]["Payload"] == {
        "run.$": "$", "execution.$": "$$.Execution.Id", "state_machine.$": "$$.StateMachine.Id"
    }  # fmt: skip
    turn = states[evaluate["Next"]]
    [waiting] = turn["Choices"]
    assert "$.queue.ahead" in json.dumps(waiting) and turn["Default"] == "Better than the live model?"
    assert (
        states[waiting["Next"]]["Type"] == "Wait"
        and states[waiting["Next"]]["Next"] == "Evaluate against the live model"
    )


def test_aws_sdk_tasks_select_only_members_the_service_model_requires() -> None:
    # a ResultSelector path that is missing ends the run with States.Runtime, which no Catch takes
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    for state in load_definition()["States"].values():
        resource = state.get("Resource", "")
        if ":aws-sdk:sagemaker:" not in resource or "ResultSelector" not in state:
            continue
        operation = resource.rsplit(":", 1)[1]
        output = model.operation_model(operation[0].upper() + operation[1:]).output_shape
        for key, value in state["ResultSelector"].items():
            if not key.endswith(".$") or not value.startswith("$."):  # a constant, the whole answer, an intrinsic
                continue
            member = value.split(".")[1].split("[")[0]
            assert member in output.required_members, (operation, member)
