"""CloudFormation resources created as the template writes them.

Local mode deploys ``template.yaml`` through moto's CloudFormation, which drops properties dropml needs:

- ``AWS::StepFunctions::StateMachine``: moto creates it in Step Functions' recording backend, not in
  the one that executes definitions (:mod:`local.moto.stepfunctions`), reads only ``DefinitionString``
  and ignores ``DefinitionSubstitutions``; here it is created in, and deleted from, the backend that
  serves the Step Functions API, from either form of the definition, with the substitutions filled.
- ``AWS::S3::Bucket``: moto ignores ``NotificationConfiguration`` (the upload → Lambda trigger),
  ``VersioningConfiguration`` and ``PublicAccessBlockConfiguration``; here they are put on the bucket.
- ``AWS::Lambda::EventInvokeConfig`` (what SAM's ``EventInvokeConfig`` becomes): moto has no such
  resource and skips it with a warning; here it is put on the function through Lambda's backend, so
  the retries and destinations it sets are the ones local mode's asynchronous invocations honour.
- Parameters: moto splits a ``CommaDelimitedList`` (or ``List<…>``) value passed in, not the default, so
  ``!Join [",", !Ref AllowedEndpointInstanceTypes]`` joined the default's characters; here the default is
  a list too, as CloudFormation makes it.
"""

from __future__ import annotations

import json
from typing import Any, Final

from moto.awslambda.exceptions import UnknownEventConfig, UnknownFunctionException
from moto.awslambda.models import lambda_backends
from moto.cloudformation import parsing as cfn_parsing
from moto.s3.models import FakeBucket, s3_backends
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.utils import cfn_to_api_tags
from moto.utilities.utils import get_partition

from local.moto.state import Replacements

# State machines ------------------------------------------------------------------------------------


def substitute(definition: str, substitutions: dict[str, Any]) -> str:
    """Fill ``${Name}`` placeholders the way CloudFormation's DefinitionSubstitutions does."""
    for name, value in substitutions.items():
        definition = definition.replace("${" + name + "}", str(value))
    return definition


def _create_state_machine_from_cloudformation(
    cls: type[StateMachine],
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> StateMachine:
    properties = cloudformation_json["Properties"]
    definition = properties.get("DefinitionString") or json.dumps(properties.get("Definition", {}))
    definition = substitute(definition, properties.get("DefinitionSubstitutions", {}))
    tags = cfn_to_api_tags(properties.get("Tags", []))
    backend = sfn_responses.get_backend(account_id, region_name)
    return backend.create_state_machine(
        properties.get("StateMachineName", resource_name),
        definition,
        properties.get("RoleArn", ""),
        tags=tags,
    )


def _delete_state_machine_from_cloudformation(
    cls: type[StateMachine], resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
) -> None:
    sfn_responses.get_backend(account_id, region_name).delete_state_machine(resource_name)


def patch_state_machines(replacements: Replacements) -> None:
    create = classmethod(_create_state_machine_from_cloudformation)
    replacements.replace(StateMachine, "create_from_cloudformation_json", create)
    delete = classmethod(_delete_state_machine_from_cloudformation)
    replacements.replace(StateMachine, "delete_from_cloudformation_json", delete)


# Buckets -------------------------------------------------------------------------------------------

_CFN_NOTIFICATION_KINDS: Final = (
    ("LambdaConfigurations", "CloudFunctionConfiguration", "Function", "CloudFunction"),
    ("QueueConfigurations", "QueueConfiguration", "Queue", "Queue"),
    ("TopicConfigurations", "TopicConfiguration", "Topic", "Topic"),
)


def notification_config_from_cloudformation(properties: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's ``NotificationConfiguration`` in the shape moto's S3 backend takes from the API."""
    config: dict[str, Any] = {}
    for cfn_key, api_key, cfn_target, api_target in _CFN_NOTIFICATION_KINDS:
        entries = []
        for entry in properties.get(cfn_key, []):
            api_entry: dict[str, Any] = {api_target: entry[cfn_target], "Event": [entry["Event"]]}
            rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules")
            if rules:
                api_entry["Filter"] = {"S3Key": {"FilterRule": list(rules)}}
            entries.append(api_entry)
        if entries:
            config[api_key] = entries
    if properties.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        config["EventBridgeConfiguration"] = {}
    return config


def patch_buckets(replacements: Replacements) -> None:
    create = vars(FakeBucket)["create_from_cloudformation_json"].__func__

    def create_from_cloudformation_json(
        cls: type[FakeBucket],
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> FakeBucket:
        bucket = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        backend = s3_backends[account_id][get_partition(region_name)]
        versioning = properties.get("VersioningConfiguration", {}).get("Status")
        if versioning:
            backend.put_bucket_versioning(bucket.name, versioning)
        if properties.get("PublicAccessBlockConfiguration"):
            backend.put_public_access_block(bucket.name, properties["PublicAccessBlockConfiguration"])
        notifications = notification_config_from_cloudformation(properties.get("NotificationConfiguration", {}))
        if notifications:
            backend.put_bucket_notification_configuration(bucket.name, notifications)
        return bucket

    replacements.replace(FakeBucket, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


# Event invoke configs ------------------------------------------------------------------------------

EVENT_INVOKE_CONFIG_TYPE: Final = "AWS::Lambda::EventInvokeConfig"
_EVENT_INVOKE_SETTINGS: Final = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


class EventInvokeConfigResource:
    """A stack's ``AWS::Lambda::EventInvokeConfig``: created and deleted as the function's config in
    Lambda's backend, where the API's Get/Put/DeleteFunctionEventInvokeConfig see it too."""

    def __init__(self, function_name: str, qualifier: str) -> None:
        self.function_name = function_name
        self.qualifier = qualifier

    @property
    def physical_resource_id(self) -> str:
        return f"{self.function_name}:{self.qualifier}"

    def is_created(self) -> bool:
        return True  # put synchronously, as CloudFormation reports it

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return False  # the resource type has no Fn::GetAtt attributes

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> EventInvokeConfigResource:
        properties = cloudformation_json["Properties"]
        config = {name: properties[name] for name in _EVENT_INVOKE_SETTINGS if name in properties}
        for number in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if number in config:  # a template parameter arrives as text
                config[number] = int(config[number])
        backend = lambda_backends[account_id][region_name]
        backend.put_function_event_invoke_config(properties["FunctionName"], config)
        return cls(properties["FunctionName"], str(properties.get("Qualifier", "$LATEST")))

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        function_name = cloudformation_json["Properties"]["FunctionName"]
        try:
            lambda_backends[account_id][region_name].delete_function_event_invoke_config(function_name)
        except (UnknownFunctionException, UnknownEventConfig):  # the stack deleted the function first
            return


def patch_event_invoke_configs(replacements: Replacements) -> None:
    resource_class_from_type = cfn_parsing.resource_class_from_type

    def with_event_invoke_configs(resource_type: str) -> Any:
        if resource_type == EVENT_INVOKE_CONFIG_TYPE:
            return EventInvokeConfigResource
        return resource_class_from_type(resource_type)

    replacements.replace(cfn_parsing, "resource_class_from_type", with_event_invoke_configs)


# Parameters ----------------------------------------------------------------------------------------


def _load_parameters_splitting_list_defaults(load: Any) -> Any:
    def load_parameters(self: cfn_parsing.ResourceMap) -> None:
        load(self)
        for name, slot in self._template.get("Parameters", {}).items():
            value = self.resolved_parameters.get(name)
            if _is_list_type(slot.get("Type", "")) and isinstance(value, str):
                self.resolved_parameters[name] = self._parsed_resources[name] = value.split(",")

    return load_parameters


def _is_list_type(parameter_type: str) -> bool:
    return parameter_type == "CommaDelimitedList" or parameter_type.startswith("List<")


def patch_list_parameter_defaults(replacements: Replacements) -> None:
    """A ``CommaDelimitedList`` parameter's default is a list, as a value passed in is (moto splits only those)."""
    original = vars(cfn_parsing.ResourceMap)["load_parameters"]
    replacements.replace(cfn_parsing.ResourceMap, "load_parameters", _load_parameters_splitting_list_defaults(original))
