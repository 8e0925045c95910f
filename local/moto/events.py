"""EventBridge as the pipeline's last-resort email needs it: Step Functions' execution status changes,
and rules that deliver them to a Lambda function.

AWS sends a "Step Functions Execution Status Change" event to the default bus each time a standard
execution changes status (the Step Functions guide, "Automating Step Functions event delivery with
EventBridge"); moto sends none. Here each execution that ends puts one, shaped as AWS's: ``detail``
holds the execution's ARN, its state machine's, name, status, start and stop dates (epoch
milliseconds), input and output as JSON text, error and cause.

moto's rules deliver to logs, SQS, archives and other buses, and raise NotImplementedError for a
Lambda target. Here a Lambda target is invoked asynchronously, as EventBridge does (so it is retried and
its destinations are used, :mod:`local.moto.awslambda`); other targets are moto's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.utils import get_backend
from moto.events.models import Rule, events_backends
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.utilities.arns import parse_arn

from local.moto.awslambda import queue_event
from local.moto.state import Replacements

STATUS_CHANGE: Final = "Step Functions Execution Status Change"


def _epoch_ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def status_change_detail(execution: Execution) -> dict[str, Any]:
    """The event's ``detail`` for an execution as it is now."""
    output = execution.output
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": str(execution.exec_status.value if execution.exec_status else "RUNNING"),
        "startDate": _epoch_ms(execution.start_date),
        "stopDate": _epoch_ms(execution.stop_date),
        "input": json.dumps(execution.input_data),
        "inputDetails": {"included": True},
        "output": None if output is None else json.dumps(output),
        "outputDetails": {"included": True} if output is not None else None,
        "error": execution.error,
        "cause": execution.cause,
    }


def _putting_status_changes(terminated: Callable[[Any], None]) -> Callable[[Any], None]:
    def on_termination(self: BaseExecutionWorkerCommunication) -> None:
        terminated(self)
        execution = self.execution
        events_backends[execution.account_id][execution.region_name].put_events(
            [
                {
                    "Source": "aws.states",
                    "DetailType": STATUS_CHANGE,
                    "Detail": json.dumps(status_change_detail(execution)),
                    "Resources": [execution.exec_arn],
                }
            ]
        )

    return on_termination


def _delivering_to_lambda(send: Callable[..., None]) -> Callable[..., None]:
    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        others = []
        for target in self.targets:
            arn = parse_arn(target["Arn"])
            if arn.service != "lambda":
                others.append(target)
                continue
            try:
                function = get_backend(arn.account, arn.region).get_function(target["Arn"])
            except UnknownFunctionException:  # a target that is gone: EventBridge's delivery fails, nothing runs
                continue
            queue_event(function, original_event)
        if others:
            rest = copy.copy(self)
            rest.targets = others
            send(rest, original_event, transform_input)

    return send_to_targets


def patch_status_change_events(replacements: Replacements) -> None:
    """Executions that end put their status change on the default bus, and rules invoke Lambda targets."""
    terminated = vars(BaseExecutionWorkerCommunication)["terminated"]
    replacements.replace(BaseExecutionWorkerCommunication, "terminated", _putting_status_changes(terminated))
    replacements.replace(Rule, "send_to_targets", _delivering_to_lambda(vars(Rule)["send_to_targets"]))
