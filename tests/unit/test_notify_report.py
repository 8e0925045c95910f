import json
from dataclasses import replace
from datetime import UTC, datetime

from functions.notify.app import parse_event
from functions.notify.execution_ended import ExecutionStatusChange, build_unreported_report
from functions.notify.invocation_failure import InvocationRecord, build_invocation_failure_report
from functions.notify.report import ERROR_ADVICE, FinalState, build_report, with_report_page
from tests.helpers.runs import PENGUIN_SCHEMA, planned_run

FINISHED = datetime(2026, 11, 25, 12, 4, 30, tzinfo=UTC)


def final(state: dict, started_at: str | None = None) -> FinalState:
    return FinalState.from_state(state, started_at)


def test_success_email_explains_the_decision_metrics_and_how_to_call_the_endpoint() -> None:
    # GIVEN a tuned run that fell back from GPU to CPU, deployed
    run = planned_run(
        failure={"Error": "States.TaskFailed", "Cause": "CapacityError: no ml.g4dn.xlarge"},  # recovered from
        training={
            "kind": "tuning job",
            "tuning_job": "dropml-penguins-0123456789-c",
            "job": "dropml-penguins-0123456789-c-003-1a2b",
            "trials": 4,
        },
        evaluation={
            "decision": "deploy",
            "reason": "the new model is better: logloss 0.1000 vs live 0.2000 (lower is better)",
            "metric": "logloss",
            "winner": {
                "job": "dropml-penguins-0123456789-c-003-1a2b",
                "model_data": "s3://b/runs/penguins/0123456789ab/jobs/j/output/model.tar.gz",
                "metrics": {"accuracy": 0.97, "logloss": 0.1},
                "hyperparameters": {"eta": "0.1"},
            },
            "champion": {
                "endpoint": "dropml-penguins",
                "endpoint_config": "c1",
                "metrics": {"accuracy": 0.9, "logloss": 0.2},
            },
            "endpoint_exists": True,
            "endpoint_status": "InService",
            "example_record": {"island": "Dream", "bill_length_mm": 39.5},
        },
        deployment={"endpoint": "dropml-penguins", "status": "InService", "config": "c2"},
    )
    state = run.to_state()
    state["attempt"] = {
        **state["plan"]["fallback_attempt"],
        "replaced": {
            "device": "GPU",
            "instance_type": "ml.g4dn.xlarge",
            "spot": True,
            "failure": "CapacityError: no ml.g4dn.xlarge",
        },
    }

    report = build_report(final(state, "2026-11-25T12:00:00Z"), failed=False, finished_at=FINISHED)

    assert report.subject == "dropml penguins: deployed the new model to endpoint dropml-penguins"
    body = report.body
    assert "File: s3://b/incoming/penguins/penguins.csv (version v1)" in body  # the upload it trained
    assert report.document["source_version"] == "v1"
    assert "Duration: 4 min 30 s" in body
    assert "2 rows without a label left out" in body
    assert "0=Adelie, 1=Chinstrap, 2=Gentoo" in body
    assert "  logloss         0.1000      0.2000" in body
    assert "eta=0.1" in body
    assert (
        "The first attempt (GPU ml.g4dn.xlarge, spot) got no capacity, so it ran on on-demand ml.m5.xlarge instead: "
        "CapacityError: no ml.g4dn.xlarge" in body
    )
    assert (
        "Training: tuning job dropml-penguins-0123456789-c on 1 × ml.m5.xlarge (CPU, on-demand); "
        "best trial dropml-penguins-0123456789-c-003-1a2b" in body
    )
    assert "Instances: auto: 40.0 MiB of training data, one instance per 4.0 GiB" in body
    assert "Trials completed: 4" in body
    assert "--endpoint-name dropml-penguins" in body and '"island": "Dream"' in body
    assert report.document["decision"] == "deploy" and report.document["duration_seconds"] == 270.0
    assert json.loads(body.rsplit("\n", 1)[1]) == report.document


def test_a_training_failure_names_the_step_and_keeps_what_the_run_knew() -> None:
    # GIVEN a run whose training job failed on CPU
    state = planned_run(gpu_instance_type=None).to_state()
    state["failure"] = {
        "Error": "SageMaker.TrainingJobFailed",
        "Cause": json.dumps({"FailureReason": "hyperparameter max_depth must be at least 0, not -3"}),
    }
    state["failed_step"] = "Train"

    report = build_report(final(state), failed=True, finished_at=FINISHED)

    assert report.subject == "dropml penguins: FAILED at Train"
    assert "Reason: hyperparameter max_depth must be at least 0, not -3 (SageMaker.TrainingJobFailed)" in report.body
    assert "What to do: Read the training job's log in CloudWatch Logs" in report.body
    assert "Data: multiclass on column 'species'" in report.body
    assert report.document["run_id"] == "0123456789ab" and report.document["failed_step"] == "Train"


def test_the_email_names_its_report_page_or_why_there_is_none() -> None:
    report = build_report(final(planned_run().to_state()), failed=False, finished_at=FINISHED)
    uri = "s3://b/runs/penguins/0123456789ab/report.html"

    linked = with_report_page(report, uri)
    unlinked = with_report_page(report, None, problem="ClientError: AccessDenied")

    lines = linked.body.splitlines()
    assert lines[lines.index(f"Report page: {uri}") - 1].startswith("Result: ")
    assert f"aws s3 cp {uri} report.html" in linked.body
    assert json.loads(lines[-1])["report_page"] == uri == linked.document["report_page"]
    assert "Report page: none (it could not be written: ClientError: AccessDenied)" in unlinked.body
    assert json.loads(unlinked.body.splitlines()[-1])["report_page"] is None


def test_a_state_the_definition_cannot_name_still_gets_an_email() -> None:
    state = {"source": "s3://b/incoming/penguins/penguins.csv", "failure": {"Error": "X", "Cause": "?"}}
    report = build_report(final(state), failed=True, finished_at=FINISHED)
    assert report.subject == "dropml penguins: FAILED at an unknown step"
    assert "What to do: Open the execution in the Step Functions console." in report.body


def test_failure_email_names_step_reason_and_what_to_do() -> None:
    state = {
        "source": "s3://b/incoming/penguins/penguins.csv",
        "failure": {
            "Error": "UserInputError",
            "Cause": json.dumps({"errorMessage": "no column named 'species'", "errorType": "UserInputError"}),
        },
        "failed_step": "Prepare data",
    }
    report = build_report(final(state), failed=True, finished_at=FINISHED)
    assert report.subject == "dropml penguins: FAILED at Prepare data"
    assert "Reason: no column named 'species' (UserInputError)" in report.body
    assert "What to do: Fix the CSV" in report.body
    assert report.document["status"] == "failed"


def test_subject_is_ascii_and_short_for_sns() -> None:
    state = {"source": "s3://b/incoming/" + "ü" * 150 + "/f.csv", "failure": {"Error": "X"}, "failed_step": "Train"}
    subject = build_report(final(state), failed=True, finished_at=FINISHED).subject
    assert subject.isascii() and len(subject) < 100


def _lambda_failure_record(response_payload: dict, *, attempts: int = 3, condition: str = "RetriesExhausted") -> dict:
    """Lambda's invocation record for an S3 event the ingest function failed to process."""
    return {
        "version": "1.0",
        "timestamp": "2026-11-25T12:04:30.123Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-4b8a-8880-a18cdf61200e",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:dropml-IngestFunction-AbC:$LATEST",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": {
            "Records": [{"s3": {"bucket": {"name": "uploads"}, "object": {"key": "incoming/penguins/new+batch.csv"}}}]
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": response_payload,
    }


def test_an_ingest_that_ran_out_of_memory_is_an_email_naming_the_file_the_reason_and_the_remedy() -> None:
    record = InvocationRecord.model_validate(
        _lambda_failure_record(
            {
                "errorType": "Runtime.OutOfMemory",
                "errorMessage": "RequestId: e4b46cbf-b738-4b8a-8880-a18cdf61200e Error: Runtime exited with error: "
                "signal: killed",
            }
        )
    )

    report = build_invocation_failure_report(record)

    assert report.subject == "dropml penguins: upload not processed (Runtime.OutOfMemory)"
    assert report.body.startswith(
        "s3://uploads/incoming/penguins/new batch.csv could not be processed: the ingest function ran out of "
        "memory (Runtime.OutOfMemory).\nAttempts: 3 (all attempts failed)."
    )
    assert "Function: dropml-IngestFunction-AbC" in report.body
    assert "Request id: e4b46cbf-b738-4b8a-8880-a18cdf61200e" in report.body
    assert "MemorySize" in report.body
    summary = json.loads(report.body.rsplit("Machine-readable summary:\n", 1)[1])
    assert summary == report.document
    assert report.document["status"] == "failed"
    assert report.document["failed_step"] == "ingest"
    assert report.document["source"] == "s3://uploads/incoming/penguins/new batch.csv"
    assert report.document["attempts"] == 3


def test_an_ingest_bug_is_reported_with_its_own_message_and_where_to_read_more() -> None:
    record = InvocationRecord.model_validate(
        _lambda_failure_record({"errorType": "KeyError", "errorMessage": "'label'"}, attempts=1)
    )

    report = build_invocation_failure_report(record)

    assert "could not be processed: 'label' (KeyError)." in report.body
    assert "Attempts: 1 (all attempts failed)." in report.body
    assert "CloudWatch Logs" in report.body


def test_notify_tells_a_lambda_failure_record_from_an_execution_state() -> None:
    from functions.notify.app import NotifyEvent, parse_event

    record = parse_event(_lambda_failure_record({"errorType": "Sandbox.Timedout", "errorMessage": "x"}))
    state = parse_event({"state": {}, "outcome": "failed"})

    assert isinstance(record, InvocationRecord)
    assert isinstance(state, NotifyEvent)
    assert "ran past its timeout (Sandbox.Timedout)" in build_invocation_failure_report(record).body


def test_the_errors_with_advice_of_their_own_are_the_ones_the_functions_raise() -> None:
    from functions.evaluate.champion import EndpointBusy, EndpointOfAnotherDataset
    from functions.evaluate.queue import EarlierRunStillRunning

    raised = (EndpointBusy, EndpointOfAnotherDataset, EarlierRunStillRunning)
    assert set(ERROR_ADVICE) == {error.__name__ for error in raised}


def test_a_run_that_waited_for_earlier_runs_says_so() -> None:
    run = planned_run(queue={"ahead": None, "polls": 4, "waited_for": ["penguins-aaaa", "penguins-bbbb"]})

    report = build_report(final(run.to_state()), failed=True, finished_at=FINISHED)

    assert "Waited for: penguins-aaaa, penguins-bbbb (earlier runs of this dataset) to end first" in report.body


def test_the_email_names_the_columns_left_out_and_why() -> None:
    # GIVEN a run whose upload had an order id and an empty column, neither of them a feature
    schema = replace(PENGUIN_SCHEMA, dropped_columns=("notes",), identifier_columns=("order_id",))
    run = planned_run(schema=schema)

    report = build_report(final(run.to_state()), failed=True, finished_at=FINISHED)

    assert (
        "Columns left out: 'notes' (no values); 'order_id' (an identifier: almost every value is distinct)"
        in report.body
    )
    assert report.document["left_out"] == {
        "notes": "no values",
        "order_id": "an identifier: almost every value is distinct",
    }


def _status_change(status: str, execution_input: str) -> dict:
    """EventBridge's "Step Functions Execution Status Change" event, as the RunEndedRule delivers it."""
    arn = "arn:aws:states:us-east-1:123456789012:execution:dropml-pipeline-x:penguins-0123456789ab"
    return {
        "version": "0",
        "id": "6c8f2b0e-0000-0000-0000-000000000000",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-12-02T03:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:dropml-pipeline-x",
            "name": "penguins-0123456789ab",
            "status": status,
            "startDate": 1796180000000,
            "stopDate": 1796180300000,
            "input": execution_input,
            "output": None,
            "error": "States.Runtime",
            "cause": "An error occurred while executing the state 'Endpoint ready?'",
        },
    }


def test_a_run_that_ended_without_its_report_is_emailed_with_what_is_known() -> None:
    event = parse_event(_status_change("FAILED", json.dumps({"source": "s3://b/incoming/penguins/penguins.csv"})))
    assert isinstance(event, ExecutionStatusChange)

    report = build_unreported_report(event)

    assert report.subject == "dropml penguins: run FAILED without a report"
    assert "ended FAILED before it could send its report" in report.body
    assert "File: s3://b/incoming/penguins/penguins.csv" in report.body
    assert "Reason: States.Runtime: An error occurred while executing the state 'Endpoint ready?'" in report.body
    assert (
        "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/" in report.body
    )


def test_a_run_whose_input_names_no_upload_is_still_emailed() -> None:
    report = build_unreported_report(parse_event(_status_change("TIMED_OUT", "[1, 2]")))  # type: ignore[arg-type]

    assert report.subject == "dropml (unknown): run TIMED_OUT without a report"
    assert "went past the state machine's time limit" in report.body
