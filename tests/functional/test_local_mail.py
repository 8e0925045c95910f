"""The SNS patch (``local.moto.sns``) and the outbox: SNS email subscriptions deliver real mail to the SMTP sink."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default

import pytest
from botocore.exceptions import ClientError

from functions import sns
from local.mail import list_outbox
from tests.helpers.local import PatchedAws, wait_for


def _topic_with_subscriptions(aws: PatchedAws, *subscriptions: tuple[str, str]) -> str:
    sns = aws.client("sns")
    topic = sns.create_topic(Name="runs")["TopicArn"]
    for protocol, endpoint in subscriptions:
        sns.subscribe(TopicArn=topic, Protocol=protocol, Endpoint=endpoint)
    return str(topic)


def test_a_publish_to_an_email_subscription_is_a_message_in_the_outbox(patched_aws: PatchedAws) -> None:
    # GIVEN a topic with an email subscription
    topic = _topic_with_subscriptions(patched_aws, ("email", "ana@example.com"))

    # WHEN a message is published
    patched_aws.client("sns").publish(TopicArn=topic, Subject="dropml: data prepared", Message="Ready: iris")

    # THEN it arrived over SMTP and was filed as an .eml a person can open
    [item] = wait_for(lambda: list_outbox(patched_aws.outbox), what="the email")
    assert item.to == "ana@example.com"
    assert item.subject == "dropml: data prepared"
    assert item.date  # from the Date header
    message = message_from_bytes(item.path.read_bytes(), policy=default)
    assert message["From"] == "AWS Notifications <no-reply@sns.amazonaws.com>"
    assert message.get_content().startswith("Ready: iris")


def test_a_subject_long_enough_to_be_folded_reads_back_as_sent(patched_aws: PatchedAws) -> None:
    topic = _topic_with_subscriptions(patched_aws, ("email", "ana@example.com"))
    subject = "dropml my_data: deployed the new model to endpoint dropml-my-data-e1f40338f6"  # folded whole

    patched_aws.client("sns").publish(TopicArn=topic, Subject=subject, Message="body")

    [item] = wait_for(lambda: list_outbox(patched_aws.outbox), what="the email")
    assert item.subject == subject


def test_email_json_subscriptions_get_the_notification_document(patched_aws: PatchedAws) -> None:
    topic = _topic_with_subscriptions(patched_aws, ("email-json", "ops@example.com"))

    patched_aws.client("sns").publish(TopicArn=topic, Message="run failed")

    [item] = wait_for(lambda: list_outbox(patched_aws.outbox), what="the email")
    assert item.subject == "AWS Notification Message"
    document = json.loads(message_from_bytes(item.path.read_bytes(), policy=default).get_content())
    assert document["Type"] == "Notification"
    assert document["TopicArn"] == topic
    assert document["Message"] == "run failed"


def test_each_email_subscription_gets_its_own_message(patched_aws: PatchedAws) -> None:
    topic = _topic_with_subscriptions(patched_aws, ("email", "a@example.com"), ("email", "b@example.com"))

    patched_aws.client("sns").publish(TopicArn=topic, Subject="hello", Message="body")

    items = wait_for(lambda: len(list_outbox(patched_aws.outbox)) == 2 and list_outbox(patched_aws.outbox))
    assert sorted(item.to for item in items) == ["a@example.com", "b@example.com"]


def test_other_subscriptions_still_work_as_in_moto(patched_aws: PatchedAws) -> None:
    sqs = patched_aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="copies")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = _topic_with_subscriptions(patched_aws, ("sqs", queue_arn))

    patched_aws.client("sns").publish(TopicArn=topic, Message="to the queue")

    [message] = sqs.receive_message(QueueUrl=queue_url)["Messages"]
    assert json.loads(message["Body"])["Message"] == "to the queue"
    assert list_outbox(patched_aws.outbox) == []


@pytest.mark.parametrize(
    "subject", ["tab\there", "esc \x1b[2J", "line\nbreak", "Pingüinos", " leading space", "x" * 100]
)
def test_a_subject_sns_refuses_is_refused_and_sends_nothing(patched_aws: PatchedAws, subject: str) -> None:
    topic = _topic_with_subscriptions(patched_aws, ("email", "ana@example.com"))

    with pytest.raises(ClientError) as refused:
        patched_aws.client("sns").publish(TopicArn=topic, Subject=subject, Message="body")

    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    assert refused.value.response["Error"]["Message"] == "Invalid parameter: Subject"
    assert list_outbox(patched_aws.outbox) == []


def test_the_subjects_dropml_builds_from_any_dataset_name_are_taken(patched_aws: PatchedAws) -> None:
    topic = _topic_with_subscriptions(patched_aws, ("email", "ana@example.com"))
    names = ["tab\there", "ansi\x1b[2Jname", "données 🐧", " ", "\t", "x" * 300]

    for name in names:
        patched_aws.client("sns").publish(TopicArn=topic, Subject=sns.subject(f"dropml {name}: deployed"), Message="b")

    assert (
        len(wait_for(lambda: len(list_outbox(patched_aws.outbox)) == len(names) and list_outbox(patched_aws.outbox)))
        == 6
    )
