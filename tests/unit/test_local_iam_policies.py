"""The IAM decisions local mode makes (local.moto.iam_policies) and what a request asks for
(local.moto.iam_requests), on the statement shapes template.yaml uses."""

from __future__ import annotations

import json

from local.moto.iam_policies import Policy, evaluate, trust_allows
from local.moto.iam_requests import PassedRole, Request, context, iam_action, passed_roles, resources

ROLE = "arn:aws:iam::123456789012:role/dropml-SageMakerExecutionRole-X"
PASS_ROLE = Policy.parse(
    "pass",
    {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:PassRole",
                "Resource": ROLE,
                "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            }
        ]
    },
)


def test_a_condition_that_does_not_hold_leaves_the_statement_out_rather_than_denying() -> None:
    sagemaker = evaluate([PASS_ROLE], "iam:PassRole", ROLE, {"iam:PassedToService": ["sagemaker.amazonaws.com"]})
    to_lambda = evaluate([PASS_ROLE], "iam:PassRole", ROLE, {"iam:PassedToService": ["lambda.amazonaws.com"]})
    unknown = evaluate([PASS_ROLE], "iam:PassRole", ROLE)

    assert (sagemaker.decision, sagemaker.matched) == ("allowed", ("pass",))
    assert to_lambda.decision == "implicitDeny"
    assert (unknown.decision, unknown.missing_context) == ("implicitDeny", ("iam:PassedToService",))


def test_an_explicit_deny_wins_and_not_action_allows_everything_else() -> None:
    policy = Policy.parse(
        "p",
        json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "s3:Delete*", "Resource": "arn:aws:s3:::b/incoming/*"},
                ]
            }
        ),
    )

    assert evaluate([policy], "s3:GetObject", "arn:aws:s3:::b/incoming/a.csv").decision == "allowed"
    assert evaluate([policy], "S3:deleteobject", "arn:aws:s3:::b/incoming/a.csv").decision == "explicitDeny"
    assert evaluate([policy], "s3:DeleteObject", "arn:aws:s3:::b/runs/a.csv").decision == "allowed"
    assert evaluate([policy], "iam:CreateUser", "*").decision == "implicitDeny"


def test_resources_match_with_wildcards_and_case() -> None:
    policy = Policy.parse(
        "p",
        {"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/runs/?/report.json"}},
    )

    assert evaluate([policy], "s3:GetObject", "arn:aws:s3:::b/runs/1/report.json").decision == "allowed"
    assert evaluate([policy], "s3:GetObject", "arn:aws:s3:::b/runs/12/report.json").decision == "implicitDeny"
    assert evaluate([policy], "s3:GetObject", "arn:aws:s3:::B/runs/1/report.json").decision == "implicitDeny"


def _request(service: str, operation: str, path: str = "/", body: object = None) -> Request:
    raw = json.dumps(body).encode() if body is not None else b""
    return Request(
        service=service, operation=operation, account="123456789012", region="us-east-1", path=path, body=raw
    )


def test_a_request_names_the_resources_and_roles_iam_checks() -> None:
    invoke = _request("lambda", "Invoke", "/2015-03-31/functions/dropml-Prepare/invocations", {})
    train = _request(
        "sagemaker", "CreateTrainingJob", body={"TrainingJobName": "dropml-Run-1", "RoleArn": ROLE, "Tags": []}
    )
    logs = _request(
        "logs", "PutLogEvents", body={"logGroupName": "/aws/sagemaker/TrainingJobs", "logStreamName": "j/a"}
    )
    listing = _request("s3", "ListBucket", "/b?list-type=2&prefix=runs%2Fx%2F")

    assert (iam_action(invoke), resources(invoke, "*")) == (
        "lambda:InvokeFunction",
        ["arn:aws:lambda:us-east-1:123456789012:function:dropml-Prepare"],
    )
    assert resources(train, "*") == ["arn:aws:sagemaker:us-east-1:123456789012:training-job/dropml-run-1"]
    assert passed_roles(train) == [PassedRole(ROLE, "sagemaker.amazonaws.com")]
    assert resources(logs, "*") == [
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TrainingJobs:log-stream:j/a"
    ]
    assert context(listing)["s3:prefix"] == ["runs/x/"]
    assert "s3:prefix" not in context(_request("s3", "ListBucket", "/b?list-type=2"))


def test_a_trust_policy_is_read_the_same_for_services_and_principals() -> None:
    trust = Policy.parse(
        "trust",
        {
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": ["sagemaker.amazonaws.com"]}, "Action": "sts:AssumeRole"},
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:Assume*"},
                {"Effect": "Deny", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"},
            ]
        },
    )

    assert trust_allows(trust, "Service", ["sagemaker.amazonaws.com"])
    assert not trust_allows(trust, "Service", ["lambda.amazonaws.com"])  # a Deny never lets anyone in
    assert trust_allows(trust, "AWS", ["123456789012", "arn:aws:iam::123456789012:root"])  # wildcard action
    assert not trust_allows(trust, "AWS", ["arn:aws:iam::210987654321:root"])
    anyone = Policy.parse("trust", {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]})
    assert trust_allows(anyone, "Service", ["states.amazonaws.com"])
