"""Deploy ``template.yaml`` into the embedded AWS the way ``sam deploy`` would, from the working tree.

Local resources are made *from the template*, not beside it, so what runs locally is what the template
says: aws-sam-translator turns SAM into CloudFormation and moto's CloudFormation creates the stack.
The translator refuses local paths, so the two things ``sam package`` would upload are handled here:
each function's code is zipped into an artifacts bucket, and the state machine's definition file is
inlined (its ``DefinitionSubstitutions`` stay for CloudFormation to fill).

One resource stays AWS-only on purpose: moto's CloudFormation skips ``AWS::S3::BucketPolicy``, and
applying the TLS-only policy by hand would lock local mode out of its own bucket, because moto
enforces Deny statements without their conditions and local mode speaks plain HTTP on loopback.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

ARTIFACTS_BUCKET = "dropml-local-artifacts"
DEFAULT_STACK_NAME = "dropml"
# Template parameters that differ from the defaults on one machine: the image URI names our repository
# (the local SageMaker runs the working tree's training_image/ for it), and a deploying endpoint is
# ready in seconds, so the state machine need not wait 30 s between checks.
LOCAL_PARAMETERS = {
    "TrainingImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/dropml-xgboost:latest",
    "EndpointPollSeconds": "1",
}
# What `CodeUri: .` means: the folders the Makefile's build-IngestFunction target copies. Lambda
# handlers import `functions.…` and `core.…`, so both ride in one package, at its root.
PACKAGED_FOLDERS = ("core", "functions")
_STACK_WAIT_S = 120.0


@dataclass(frozen=True)
class Deployment:
    """What a deployed stack exposes: its outputs (BucketName, StateMachineArn, TopicArn, …)."""

    stack_name: str
    outputs: dict[str, str]


def _no_managed_policies() -> dict[str, str]:
    """Answer the translator's managed-policy lookup without IAM: the template names no managed policy."""
    return {}


def package_code(repo_root: Path) -> bytes:
    """Zip the working tree's ``core/`` and ``functions/`` (sources and package data) as a Lambda package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _package_files(repo_root):
            archive.write(path, path.relative_to(repo_root).as_posix())
    return buffer.getvalue()


def _package_files(repo_root: Path) -> Iterator[Path]:
    for folder in PACKAGED_FOLDERS:
        for path in sorted((repo_root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield path


def to_cloudformation(template_path: Path, code_uri: str, region: str) -> dict[str, Any]:
    """Translate the SAM template to CloudFormation, replacing local code and definition files.

    ``code_uri`` (``s3://bucket/key``) is where the packaged code was uploaded.
    """
    sam = yaml_parse(template_path.read_text())
    for resource in sam.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = code_uri
        if resource.get("Type") == "AWS::Serverless::StateMachine" and "DefinitionUri" in properties:
            definition_file = template_path.parent / properties.pop("DefinitionUri")
            properties["Definition"] = json.loads(definition_file.read_text())
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=region))
    translated: dict[str, Any] = translator.translate(
        sam, parameter_values={}, get_managed_policy_map=_no_managed_policies
    )
    return translated


def deploy(
    *,
    session: boto3.Session,
    endpoint_url: str | None,
    repo_root: Path,
    notification_email: str,
    stack_name: str = DEFAULT_STACK_NAME,
) -> Deployment:
    """Package, translate and create the stack; return once it is CREATE_COMPLETE.

    ``endpoint_url`` is the embedded AWS (None: wherever ``session``'s clients go, e.g. ``mock_aws``).
    """
    region = session.region_name
    s3 = session.client("s3", endpoint_url=endpoint_url)
    cloudformation = session.client("cloudformation", endpoint_url=endpoint_url)

    code = package_code(repo_root)
    key = f"{stack_name}/code-{_short_digest(code)}.zip"
    _ensure_bucket(s3, region)
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=key, Body=code)
    template = to_cloudformation(repo_root / "template.yaml", f"s3://{ARTIFACTS_BUCKET}/{key}", region)

    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": key, "ParameterValue": value}
            for key, value in {**LOCAL_PARAMETERS, "NotificationEmail": notification_email}.items()
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = _wait_for_stack(cloudformation, stack_name)
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    return Deployment(stack_name=stack_name, outputs=outputs)


def _short_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _ensure_bucket(s3: Any, region: str) -> None:
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if ARTIFACTS_BUCKET in existing:
        return
    if region == "us-east-1":
        s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    else:
        s3.create_bucket(Bucket=ARTIFACTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})


def _wait_for_stack(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    deadline = time.monotonic() + _STACK_WAIT_S
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return dict(stack)
        if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
            reasons = [
                f"{event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}"
                for event in events
                if event.get("ResourceStatus", "").endswith("FAILED")
            ]
            raise RuntimeError(f"stack {stack_name} is {status}: {'; '.join(reasons) or 'no reason given'}")
        time.sleep(0.2)
