"""The ingest Lambda, called the way S3 calls it, against moto: what a user sees in the bucket, in the
state machine's executions and in their notifications."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.schema import Schema
from functions import aws as lambda_clients
from functions.ingest import app
from tests.helpers.aws import LambdaContext, client, s3_event
from tests.helpers.corpus import load_corpus_cases

REPO = Path(__file__).resolve().parents[2]
PENGUINS = REPO / "datasets" / "penguins" / "penguins.csv"
DIABETES = REPO / "datasets" / "diabetes" / "diabetes.csv"
BUCKET = "dropml-data"
PASS_DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@pytest.fixture
def stack(aws: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The resources the template gives the function: a versioned bucket, a state machine, a topic
    with a queue subscribed (so a test reads the notifications a subscriber would get)."""
    s3, sfn, sns, sqs = client("s3"), client("stepfunctions"), client("sns"), client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    machine = sfn.create_state_machine(
        name="dropml-pipeline", definition=PASS_DEFINITION, roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    topic = sns.create_topic(Name="dropml-notifications")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "false"})
    monkeypatch.setenv("STATE_MACHINE_ARN", machine)
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic)
    monkeypatch.setenv("LAMBDA_CONVERSION_MAX_BYTES", str(1 << 30))
    lambda_clients.reset()
    return {"machine": machine, "topic": topic, "queue": queue_url}


def upload(key: str, body: bytes) -> dict:
    """PUT an object as a user would, and build the event S3 sends for it."""
    put = client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return s3_event(BUCKET, key, etag=put["ETag"].strip('"'), version_id=put.get("VersionId"), size=len(body))


def invoke(event: dict) -> list[dict]:
    return app.lambda_handler(event, LambdaContext())


def keys(prefix: str = "") -> dict[str, str]:
    listing = client("s3").list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {o["Key"]: o["ETag"] for o in listing.get("Contents", [])}


def executions(machine: str) -> list[dict]:
    return client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]


def notifications(queue_url: str) -> list[dict]:
    messages = client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def test_penguins_upload_becomes_target_first_data_and_one_execution(stack: dict[str, str]) -> None:
    # GIVEN a dataset folder whose name and file name carry spaces and unicode, with its settings file
    client("s3").put_object(Bucket=BUCKET, Key="incoming/pingüinos 2026/dropml.json", Body=b'{"target": "species"}')
    event = upload("incoming/pingüinos 2026/palmer penguins+ä.csv", PENGUINS.read_bytes())

    # WHEN S3 notifies the function
    [outcome] = invoke(event)

    # THEN the data, the schema and an execution exist, named after the upload
    assert outcome["status"] == "started"
    run = outcome["run_id"]
    written = keys(f"runs/pingüinos 2026/{run}/")
    schema = Schema.from_json(
        client("s3").get_object(Bucket=BUCKET, Key=f"runs/pingüinos 2026/{run}/schema.json")["Body"].read()
    )
    assert schema.target == "species" and schema.problem_type == "multiclass"
    assert sorted(schema.classes) == ["Adelie", "Chinstrap", "Gentoo"]
    for split in ("train", "validation", "test"):
        assert any(k.startswith(f"runs/pingüinos 2026/{run}/data/{split}/") for k in written), split
    train_rows = 0
    for key in written:
        if "/data/train/" in key:
            text = client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
            for line in text.splitlines():
                label, *features = line.split(",")
                assert int(float(label)) in (0, 1, 2)
                assert len(features) == schema.width
                train_rows += 1
    assert train_rows == schema.rows["train"]
    assert sum(schema.rows[s] for s in ("train", "validation", "test")) == 344 - schema.rows["missing_target"]

    [execution] = executions(stack["machine"])
    assert execution["name"].startswith("ping-inos-2026-") and execution["name"].endswith(run)
    started = json.loads(client("stepfunctions").describe_execution(executionArn=execution["executionArn"])["input"])
    assert started["source"] == f"s3://{BUCKET}/incoming/pingüinos 2026/palmer penguins+ä.csv"
    assert started["prepared"]["schema"] == f"s3://{BUCKET}/runs/pingüinos 2026/{run}/schema.json"
    assert started["settings"]["target"] == "species"
    assert notifications(stack["queue"]) == []


def test_duplicate_event_converts_nothing_and_starts_nothing(stack: dict[str, str]) -> None:
    event = upload("incoming/diabetes/diabetes.csv", DIABETES.read_bytes())
    client("s3").put_object(Bucket=BUCKET, Key="incoming/diabetes/dropml.json", Body=b'{"target": "progression"}')
    [first] = invoke(event)
    before = keys("runs/")

    [second] = invoke(event)

    assert first["status"] == "started"
    assert second == {"key": "incoming/diabetes/diabetes.csv", "status": "duplicate", "run_id": first["run_id"]}
    assert keys("runs/") == before
    assert len(executions(stack["machine"])) == 1


def test_same_key_uploaded_again_is_a_new_run(stack: dict[str, str]) -> None:
    body = DIABETES.read_bytes()
    client("s3").put_object(Bucket=BUCKET, Key="incoming/diabetes/dropml.json", Body=b'{"target": "progression"}')
    [first] = invoke(upload("incoming/diabetes/d.csv", body))
    [second] = invoke(upload("incoming/diabetes/d.csv", body))
    assert first["run_id"] != second["run_id"]
    assert len(executions(stack["machine"])) == 2


def test_uploads_while_versioning_is_suspended_are_told_apart_by_content(stack: dict[str, str]) -> None:
    # GIVEN a bucket whose versioning was suspended: S3 names every new object's version "null"
    client("s3").put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    client("s3").put_object(Bucket=BUCKET, Key="incoming/diabetes/dropml.json", Body=b'{"target": "progression"}')
    rows = DIABETES.read_bytes().splitlines(keepends=True)

    # WHEN the key is uploaded twice, with different content
    outcomes = []
    for body in (b"".join(rows[:300]), b"".join(rows)):
        event = upload("incoming/diabetes/d.csv", body)
        event["Records"][0]["s3"]["object"]["versionId"] = "null"
        outcomes.extend(invoke(event))

    # THEN each is a run of its own
    assert [outcome["status"] for outcome in outcomes] == ["started", "started"]
    assert outcomes[0]["run_id"] != outcomes[1]["run_id"]
    assert len(executions(stack["machine"])) == 2


@pytest.mark.parametrize("key", ["incoming/penguins/dropml.json", "incoming/penguins/", "runs/x/y.csv"])
def test_settings_files_and_folders_start_nothing_and_tell_nobody(stack: dict[str, str], key: str) -> None:
    event = upload(key, b"a,target\n1,0\n2,1\n")
    before = keys()

    [outcome] = invoke(event)

    assert outcome["status"] == "ignored"
    assert keys() == before
    assert executions(stack["machine"]) == []
    assert notifications(stack["queue"]) == []


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("incoming/penguins/notes.txt", "notes.txt is not a .csv file"),
        (
            "incoming/stray.csv",
            "stray.csv is not directly in a dataset's folder: upload it as incoming/<dataset>/stray.csv",
        ),
        ("incoming/a/b/deep.csv", "deep.csv is not directly in a dataset's folder"),
        ("incoming//empty.csv", "empty.csv is not directly in a dataset's folder"),
        ("incoming/../up.csv", "'..' cannot name a dataset"),
    ],
)
def test_a_file_in_the_wrong_place_is_refused_with_an_email_not_ignored(
    stack: dict[str, str], key: str, reason: str
) -> None:
    event = upload(key, b"a,target\n1,0\n2,1\n")
    before = keys()

    [outcome] = invoke(event)

    assert outcome["status"] == "refused"
    assert keys() == before  # nothing written, the upload itself untouched
    assert executions(stack["machine"]) == []
    [message] = notifications(stack["queue"])
    assert message["Subject"].startswith("dropml: upload refused: ")
    assert f"Your upload s3://{BUCKET}/{key} was refused" in message["Message"]
    assert reason in message["Message"]


def test_an_upper_case_suffix_is_a_csv_like_any_other(stack: dict[str, str]) -> None:
    client("s3").put_object(Bucket=BUCKET, Key="incoming/shout/dropml.json", Body=b'{"target": "species"}')
    [outcome] = invoke(upload("incoming/shout/PENGUINS.CSV", PENGUINS.read_bytes()))

    assert outcome["status"] == "started"
    [execution] = executions(stack["machine"])
    assert execution["name"].startswith("shout-")


def test_a_key_overwritten_at_once_trains_the_version_its_event_names(stack: dict[str, str]) -> None:
    # GIVEN two uploads to one key, the second before the first event is handled
    client("s3").put_object(Bucket=BUCKET, Key="incoming/overw/dropml.json", Body=b'{"target": "species"}')
    penguins = PENGUINS.read_bytes()
    first = upload("incoming/overw/data.csv", penguins)
    header, *rows = penguins.decode().splitlines(keepends=True)
    second = upload("incoming/overw/data.csv", (header + "".join(rows[::5])).encode())  # 69 rows, every species

    # WHEN both events arrive
    outcomes = invoke(first) + invoke(second)

    # THEN each run converted its own version: the first all 344 rows, the second its 69
    assert [o["status"] for o in outcomes] == ["started", "started"]
    inputs = [json.loads(client("stepfunctions").describe_execution(executionArn=e["executionArn"])["input"])
              for e in executions(stack["machine"])]  # fmt: skip
    by_version = {i["prepared"]["source_version"]: sum(i["prepared"]["rows"].values()) for i in inputs}
    assert by_version == {
        first["Records"][0]["s3"]["object"]["versionId"]: 344,
        second["Records"][0]["s3"]["object"]["versionId"]: 69,
    }
    # AND no copy of either is left behind in the runs' folders
    assert not [k for k in keys("runs/overw/") if k.endswith("/upload.csv")]


@pytest.mark.parametrize("name", ["v*.csv", "v?.csv", "sales [final].csv", "a#b.csv", "p%20q.csv"])
def test_glob_and_url_characters_in_a_key_are_just_characters(stack: dict[str, str], name: str) -> None:
    # GIVEN a dataset folder with a glob-like name, beside files its pattern would match
    folder = "incoming/ir*s [x]"
    client("s3").put_object(Bucket=BUCKET, Key=f"{folder}/dropml.json", Body=b'{"target": "species"}')
    penguins = PENGUINS.read_bytes()
    header, *rows = penguins.decode().splitlines(keepends=True)
    client("s3").put_object(Bucket=BUCKET, Key=f"{folder}/v1.csv", Body=penguins)
    client("s3").put_object(Bucket=BUCKET, Key="incoming/iris/iris.csv", Body=penguins)

    # WHEN a file of 43 rows (every species) with glob or URL characters in its name is uploaded
    [outcome] = invoke(upload(f"{folder}/{name}", (header + "".join(rows[::8])).encode()))

    # THEN it is its own 43 rows that were converted, and nothing else
    assert outcome["status"] == "started", outcome
    [execution] = executions(stack["machine"])
    described = client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert sum(json.loads(described["input"])["prepared"]["rows"].values()) == 43


def test_invalid_settings_file_is_refused_with_the_setting_named(stack: dict[str, str]) -> None:
    client("s3").put_object(
        Bucket=BUCKET, Key="incoming/penguins/dropml.json", Body=b'{"target": "species", "split": {"train": 2}}'
    )
    original = PENGUINS.read_bytes()
    event = upload("incoming/penguins/penguins.csv", original)

    [outcome] = invoke(event)

    assert outcome["status"] == "refused"
    rejected = json.loads(
        client("s3").get_object(Bucket=BUCKET, Key=f"runs/penguins/{outcome['run_id']}/rejected.json")["Body"].read()
    )
    assert "split.train" in rejected["reason"] and "dropml.json" in rejected["reason"]
    assert list(keys("runs/")) == [f"runs/penguins/{outcome['run_id']}/rejected.json"]
    [message] = notifications(stack["queue"])
    assert message["Subject"] == "dropml: upload refused: penguins.csv"
    assert "split.train" in message["Message"]
    assert executions(stack["machine"]) == []
    assert client("s3").get_object(Bucket=BUCKET, Key="incoming/penguins/penguins.csv")["Body"].read() == original

    # a duplicate delivery of the refused upload sends no second notification
    [again] = invoke(event)
    assert again["status"] == "duplicate"
    assert notifications(stack["queue"]) == []


CORPUS_CASES = load_corpus_cases()


@pytest.mark.parametrize("name", sorted(CORPUS_CASES))
def test_awkward_upload_through_s3(stack: dict[str, str], corpus_dir: Path, name: str) -> None:
    """Every corpus upload, dropped in S3 as a user would: a refusal leaves only rejected.json and one
    notification naming the file and the reason; an accepted file starts exactly one execution."""
    case = CORPUS_CASES[name]
    dataset = Path(name).stem
    if "settings" in case:
        client("s3").put_object(
            Bucket=BUCKET, Key=f"incoming/{dataset}/dropml.json", Body=json.dumps(case["settings"]).encode()
        )
    original = (corpus_dir / name).read_bytes()

    [outcome] = invoke(upload(f"incoming/{dataset}/{name}", original))

    run_keys = list(keys("runs/"))
    if "reason" in case:
        assert outcome["status"] == "refused"
        assert run_keys == [f"runs/{dataset}/{outcome['run_id']}/rejected.json"]
        rejected = json.loads(client("s3").get_object(Bucket=BUCKET, Key=run_keys[0])["Body"].read())
        assert case["reason"] in rejected["reason"]
        assert rejected.get("line") == case.get("line", rejected.get("line"))
        [message] = notifications(stack["queue"])
        assert message["Subject"] == f"dropml: upload refused: {name}"
        assert case["reason"] in message["Message"] and name in message["Message"]
        assert executions(stack["machine"]) == []
    else:
        assert outcome["status"] == "started"
        schema = Schema.from_json(
            client("s3").get_object(Bucket=BUCKET, Key=f"runs/{dataset}/{outcome['run_id']}/schema.json")["Body"].read()
        )
        expected = case["accepted"]
        assert schema.problem_type == expected.get("problem_type", schema.problem_type)
        assert list(schema.classes) == expected.get("classes", list(schema.classes))
        assert schema.width == expected.get("width", schema.width)
        assert len(executions(stack["machine"])) == 1
        assert notifications(stack["queue"]) == []
    assert client("s3").get_object(Bucket=BUCKET, Key=f"incoming/{dataset}/{name}")["Body"].read() == original


def test_an_internal_error_is_raised_for_lambda_to_retry_and_emails_nothing_itself(
    stack: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a state machine that does not exist (the stack was half-deleted): starting an execution fails
    monkeypatch.setenv("STATE_MACHINE_ARN", stack["machine"].replace("dropml-pipeline", "gone"))
    event = upload("incoming/diabetes/diabetes.csv", DIABETES.read_bytes())
    client("s3").put_object(Bucket=BUCKET, Key="incoming/diabetes/dropml.json", Body=b'{"target": "progression"}')

    # THEN the error propagates, so Lambda retries the event; the user hears once, from the function's
    # OnFailure destination after the last attempt (tests/functional/test_ingest_failure_email.py),
    # not once per attempt from here
    with pytest.raises(Exception, match=r"StateMachineDoesNotExist|does not exist"):
        invoke(event)
    assert notifications(stack["queue"]) == []
    assert executions(stack["machine"]) == []


def test_an_upload_over_the_lambda_limit_is_checked_by_its_head_and_left_to_a_processing_job(
    stack: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a stack whose Lambda converts at most 1,000 bytes
    monkeypatch.setenv("LAMBDA_CONVERSION_MAX_BYTES", "1000")
    client("s3").put_object(Bucket=BUCKET, Key="incoming/big/dropml.json", Body=b'{"target": "species"}')

    # WHEN a larger upload arrives
    [outcome] = invoke(upload("incoming/big/penguins.csv", PENGUINS.read_bytes()))

    # THEN it converted nothing and started an execution without prepared data, for Prepare to hand on
    assert outcome["status"] == "started"
    assert not [key for key in keys("runs/") if "/data/" in key]
    [execution] = executions(stack["machine"])
    started = json.loads(client("stepfunctions").describe_execution(executionArn=execution["executionArn"])["input"])
    assert "prepared" not in started and started["settings"]["target"] == "species"

    # AND one whose head already fails (no such target column) is refused in seconds, with an email
    client("s3").put_object(Bucket=BUCKET, Key="incoming/big/dropml.json", Body=b'{"target": "kind"}')
    [refused] = invoke(upload("incoming/big/other.csv", PENGUINS.read_bytes()))
    assert refused["status"] == "refused"
    [notice] = notifications(stack["queue"])
    assert "'kind'" in notice["Message"]
    assert len(executions(stack["machine"])) == 1
