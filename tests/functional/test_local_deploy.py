"""The CloudFormation patches (``local.moto.cloudformation``) and ``local.deploy``: the local resources are the
template's."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3

from local.deploy import deploy, to_cloudformation
from local.stack import REPO_ROOT
from tests.helpers.local import ACCOUNT, REGION, PatchedAws, wait_for


def _create_stack(aws: PatchedAws, template: dict) -> None:
    aws.client("cloudformation").create_stack(StackName="raw", TemplateBody=json.dumps(template))


def test_deploying_the_template_creates_its_resources_as_written(patched_aws: PatchedAws) -> None:
    # WHEN template.yaml is deployed from the working tree
    deployment = deploy(
        session=boto3.Session(region_name=REGION),
        endpoint_url=None,
        repo_root=REPO_ROOT,
        notification_email="ana@example.com",
        stack_name="dropml-test",
    )
    outputs = deployment.outputs
    s3, sfn, sns = patched_aws.client("s3"), patched_aws.client("stepfunctions"), patched_aws.client("sns")

    # THEN the bucket is named for the stack's id (valid whatever the stack is called), versioned, and
    # notifies the ingest function for everything under incoming/
    bucket = outputs["BucketName"]
    stack_id = patched_aws.client("cloudformation").describe_stacks(StackName="dropml-test")["Stacks"][0]["StackId"]
    assert bucket == f"dropml-{stack_id.rsplit('/', 1)[1]}" and re.fullmatch(r"dropml-[0-9a-f-]{36}", bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
    [notification] = s3.get_bucket_notification_configuration(Bucket=bucket)["LambdaFunctionConfigurations"]
    function_name = outputs["IngestFunctionName"]
    assert notification["LambdaFunctionArn"].endswith(f":function:{function_name}")
    rules = {rule["Name"]: rule["Value"] for rule in notification["Filter"]["Key"]["FilterRules"]}
    assert rules == {"prefix": "incoming/"}

    # AND the function has the template's handler, environment and the working tree's code
    configuration = patched_aws.client("lambda").get_function_configuration(FunctionName=function_name)
    assert configuration["Handler"] == "functions.ingest.app.lambda_handler"
    assert (configuration["Timeout"], configuration["MemorySize"]) == (900, 2048)  # the template's, not Globals'
    assert configuration["Environment"]["Variables"]["STATE_MACHINE_ARN"] == outputs["StateMachineArn"]
    assert configuration["Environment"]["Variables"]["NOTIFICATION_TOPIC_ARN"] == outputs["TopicArn"]
    code_location = patched_aws.client("lambda").get_function(FunctionName=function_name)["Code"]
    assert code_location["RepositoryType"] == "S3"

    # AND the state machine is one executions can run, with its substitutions filled
    machines = sfn.list_state_machines()["stateMachines"]
    assert [machine["stateMachineArn"] for machine in machines] == [outputs["StateMachineArn"]]
    definition = sfn.describe_state_machine(stateMachineArn=outputs["StateMachineArn"])["definition"]
    assert "${" not in definition
    prepare = json.loads(definition)["States"]["Prepare data"]["Parameters"]["FunctionName"]
    assert prepare.startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:")
    assert "/dropml-xgboost:latest" in definition  # the local TrainingImageUri parameter
    # AND a list parameter's default reaches the function as CloudFormation joins it (a list, not characters)
    environment = patched_aws.client("lambda").get_function_configuration(FunctionName=prepare)["Environment"]
    allowed = environment["Variables"]["ALLOWED_ENDPOINT_INSTANCE_TYPES"]
    assert allowed == "ml.m5.large,ml.m5.xlarge,ml.c5.large,ml.c5.xlarge,ml.g4dn.xlarge"

    # AND the topic has the email subscription from the parameter
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=outputs["TopicArn"])["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "ana@example.com")


def test_the_function_package_holds_core_and_functions_from_the_working_tree(patched_aws: PatchedAws) -> None:
    deploy(
        session=boto3.Session(region_name=REGION),
        endpoint_url=None,
        repo_root=REPO_ROOT,
        notification_email="ana@example.com",
    )
    s3 = patched_aws.client("s3")
    [artifact] = s3.list_objects_v2(Bucket="dropml-local-artifacts")["Contents"]
    package = zipfile.ZipFile(
        io.BytesIO(s3.get_object(Bucket="dropml-local-artifacts", Key=artifact["Key"])["Body"].read())
    )
    names = set(package.namelist())
    assert {"core/schema.py", "functions/ingest/app.py"} <= names
    assert (REPO_ROOT / "core" / "schema.py").read_bytes() == package.read("core/schema.py")
    assert not any("__pycache__" in name or name.startswith("local/") for name in names)


def test_a_cloudformation_state_machine_runs_with_its_definition_substitutions(patched_aws: PatchedAws) -> None:
    # GIVEN a plain CloudFormation state machine with a substitution
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "greeter",
                    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/states",
                    "DefinitionString": json.dumps(
                        {
                            "StartAt": "Say",
                            "States": {"Say": {"Type": "Pass", "Result": {"greeting": "${Greeting}"}, "End": True}},
                        }
                    ),
                    "DefinitionSubstitutions": {"Greeting": "hello from the template"},
                },
            }
        }
    }
    _create_stack(patched_aws, template)
    sfn = patched_aws.client("stepfunctions")
    [machine] = sfn.list_state_machines()["stateMachines"]

    # WHEN it is executed
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="one", input="{}")

    # THEN it ran with the substituted value
    def output() -> str | None:
        described = sfn.describe_execution(executionArn=execution["executionArn"])
        return described.get("output") if described["status"] == "SUCCEEDED" else None

    assert json.loads(wait_for(output, what="the execution")) == {"greeting": "hello from the template"}


def test_a_cloudformation_bucket_notification_delivers_matching_uploads(patched_aws: PatchedAws) -> None:
    sqs = patched_aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    template = {
        "Resources": {
            "Bucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "BucketName": "uploads",
                    "NotificationConfiguration": {
                        "QueueConfigurations": [
                            {
                                "Event": "s3:ObjectCreated:*",
                                "Queue": queue_arn,
                                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "incoming/"}]}},
                            }
                        ]
                    },
                },
            }
        }
    }
    _create_stack(patched_aws, template)
    sqs.purge_queue(QueueUrl=queue_url)  # S3's test event

    s3 = patched_aws.client("s3")
    s3.put_object(Bucket="uploads", Key="elsewhere/a.csv", Body=b"x")
    s3.put_object(Bucket="uploads", Key="incoming/iris/a.csv", Body=b"x")

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    keys = [json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"] for message in messages]
    assert [key.replace("%2F", "/") for key in keys] == ["incoming/iris/a.csv"]


def test_the_evaluate_role_reads_executions_of_this_stacks_machine_only() -> None:
    template = to_cloudformation(REPO_ROOT / "template.yaml", "s3://artifacts/code.zip", REGION)
    machine = template["Resources"]["PipelineStateMachine"]["Properties"]["StateMachineName"]
    statements = {
        statement["Sid"]: statement
        for policy in template["Resources"]["EvaluateFunctionRole"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    }
    arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
    assert statements["SeeEarlierRuns"]["Resource"] == {
        "Fn::Sub": [f"{arn}:stateMachine:${{Machine}}", {"Machine": machine}]
    }
    assert statements["ReadEarlierRuns"]["Resource"] == {
        "Fn::Sub": [f"{arn}:execution:${{Machine}}:*", {"Machine": machine}]
    }


def test_the_ingest_role_grants_what_ingest_does_on_this_stacks_resources_only() -> None:
    template = to_cloudformation(REPO_ROOT / "template.yaml", "s3://artifacts/code.zip", REGION)

    role = template["Resources"]["IngestFunctionRole"]["Properties"]
    statements = {
        statement["Sid"]: statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    }
    # the bucket by the same expression that names it (a !Ref to it would be a dependency cycle)
    bucket = template["Resources"]["DataBucket"]["Properties"]["BucketName"]

    def objects(keys: str) -> dict:
        return {"Fn::Sub": [f"arn:${{AWS::Partition}}:s3:::${{Bucket}}/{keys}", {"Bucket": bucket}]}

    assert statements["ReadUploads"]["Resource"] == objects("incoming/*")
    assert statements["WriteRuns"]["Resource"] == objects("runs/*")
    assert statements["StartPipeline"] == {
        "Sid": "StartPipeline",
        "Effect": "Allow",
        "Action": "states:StartExecution",
        "Resource": {"Ref": "PipelineStateMachine"},
    }
    assert statements["NotifyRejections"]["Resource"] == {"Ref": "NotificationTopic"}
    assert statements["SkipDuplicateEvents"]["Action"] == "states:DescribeExecution"
    # logs, and X-Ray for Powertools' Tracer (Tracing: Active)
    assert role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    ]


def test_deleting_the_stack_removes_its_state_machine(patched_aws: PatchedAws) -> None:
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
    machine = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/states", "DefinitionString": definition},
    }
    _create_stack(patched_aws, {"Resources": {"Machine": machine}})
    sfn = patched_aws.client("stepfunctions")
    assert len(sfn.list_state_machines()["stateMachines"]) == 1

    patched_aws.client("cloudformation").delete_stack(StackName="raw")

    assert sfn.list_state_machines()["stateMachines"] == []


def test_the_template_passes_cfn_lint() -> None:
    linted = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "template.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert linted.returncode == 0, linted.stdout + linted.stderr
