"""``dropml demo``: the whole product on one machine, on the bundled real datasets (``make demo``).

Starts local mode, deploys ``template.yaml``, drops each bundled dataset (with its ``dropml.json``)
into ``incoming/`` as a user would, follows every execution live, prints a summary and where the
emails are, calls each endpoint with a raw record, and stops local mode again, discarding what it held
(``--keep`` leaves it running instead).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cli.follow import Watched, follow
from core.names import slug
from local import stack
from local.mail import list_outbox
from local.ports import free_port

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
TIMEOUT_S = 600.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run the whole pipeline locally on the bundled real datasets")
    parser.add_argument("--port", type=int, help="loopback port for local mode (default: a free one)")
    parser.add_argument("--keep", action="store_true", help="leave local mode running afterwards")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    began = time.monotonic()
    port = args.port or free_port()
    print(f"starting local mode on port {port} and deploying template.yaml …", flush=True)
    local = stack.up(port)
    try:
        return _demo(local, began)
    finally:
        if args.keep:
            print(f"local mode keeps running: dropml local status --port {port}")
            print(f"stop it with: dropml local down --port {port}")
        else:
            stack.down(port, discard=True)
            print("local mode stopped; what it held (emails included) is discarded: --keep leaves it running")


def _demo(local: stack.LocalStack, began: float) -> int:
    session, url = local.session(), local.endpoint_url
    s3 = session.client("s3", endpoint_url=url)
    stepfunctions = session.client("stepfunctions", endpoint_url=url)
    sagemaker = session.client("sagemaker", endpoint_url=url)
    runtime = session.client("sagemaker-runtime", endpoint_url=url)
    info = stack.status(local.port) or {}
    bucket, machine = info["bucket"], info["state_machine_arn"]
    print(f"deployed: bucket {bucket}, state machine {machine.rsplit(':', 1)[1]}", flush=True)

    uploads = {}
    # What the trigger starts from here on; a stack kept from before may hold earlier runs of the datasets.
    since = datetime.now(UTC).replace(microsecond=0)
    for folder in sorted(p for p in DATASETS.iterdir() if p.is_dir()):
        [data] = sorted(folder.glob("*.csv"))
        s3.put_object(
            Bucket=bucket, Key=f"incoming/{folder.name}/dropml.json", Body=(folder / "dropml.json").read_bytes()
        )
        s3.put_object(Bucket=bucket, Key=f"incoming/{folder.name}/{data.name}", Body=data.read_bytes())
        uploads[folder.name] = data
        print(f"uploaded s3://{bucket}/incoming/{folder.name}/{data.name}", flush=True)

    watched = [Watched(label=name, arn=_execution_for(stepfunctions, machine, name, since)) for name in uploads]
    follow(stepfunctions=stepfunctions, sagemaker=sagemaker, executions=watched, say=print, timeout_s=TIMEOUT_S)

    print()
    print(f"{'dataset':<10} {'status':<10} {'decision':<8} {'metric':<28} {'endpoint':<24} seconds")
    for item in watched:
        evaluation = item.run.evaluation if item.run else None
        value = evaluation.winner.metrics.get(evaluation.metric) if evaluation else None
        shown = f"{evaluation.metric} {value:.4f}" if evaluation and value is not None else "-"
        endpoint = item.run.deployment.endpoint if item.run and item.run.deployment else "-"
        decision = evaluation.decision if evaluation else "-"
        print(f"{item.label:<10} {item.status:<10} {decision:<8} {shown:<28} {endpoint:<24} {item.seconds:.0f}")

    print()
    for mail in list_outbox(local.outbox):
        print(f"email: {mail.subject}\n       {mail.path}")

    failures = 0
    for item in watched:
        if item.run is None or item.run.deployment is None:
            failures += 1
            continue
        endpoint = item.run.deployment.endpoint
        record = _first_record(uploads[item.label], item.run.prepared.target)
        answer = runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType="application/json", Accept="application/json", Body=json.dumps([record])
        )
        print(f"\n{endpoint} ← {json.dumps(record)}\n{endpoint} → {answer['Body'].read().decode()}")
    print(f"\ndemo finished in {time.monotonic() - began:.0f} s")
    return 1 if failures else 0


def _execution_for(stepfunctions: Any, machine: str, dataset: str, since: datetime, timeout_s: float = 60.0) -> str:
    """The execution the S3 trigger started for a dataset (its name starts with the dataset's slug) at
    ``since`` or later: one started before is an earlier run's."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for execution in stepfunctions.list_executions(stateMachineArn=machine)["executions"]:
            if execution["name"].startswith(f"{slug(dataset, 60)}-") and execution["startDate"] >= since:
                return str(execution["executionArn"])
        time.sleep(0.2)
    raise TimeoutError(f"no execution started for {dataset} within {timeout_s:.0f} s")


def _first_record(path: Path, target: str) -> dict[str, str]:
    with path.open(newline="", encoding="utf-8") as handle:
        row = next(csv.DictReader(handle))
    return {name: value for name, value in row.items() if name != target}
