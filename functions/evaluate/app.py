"""Adapter over :func:`take_turn` and :func:`evaluate_run`: the definition passes the run document (and
which execution it is) and gets it back with ``queue`` filled, and ``evaluation`` too once it is the
run's turn."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from functions import aws
from functions.evaluate.champion import evaluate_run
from functions.evaluate.queue import ThisExecution, take_turn
from functions.run_document import RunDocument

logger = Logger()
tracer = Tracer()


class EvaluateEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: RunDocument
    execution: str = Field(description="$$.Execution.Id")
    state_machine: str = Field(description="$$.StateMachine.Id")


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@event_parser(model=EvaluateEvent)
def lambda_handler(event: EvaluateEvent, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(run_id=event.run.run_id)
    me = ThisExecution(arn=event.execution, state_machine_arn=event.state_machine)
    queue = take_turn(event.run, aws.client("stepfunctions"), me)
    run = event.run.model_copy(update={"queue": queue})
    if queue.ahead is not None:
        logger.info("an earlier run of the dataset is running", extra={"ahead": queue.ahead, "polls": queue.polls})
        return run.to_state()
    evaluation = evaluate_run(
        run, sagemaker=aws.client("sagemaker"), runtime=aws.client("sagemaker-runtime"), s3=aws.client("s3")
    )
    logger.info("champion/challenger decided", extra={"decision": evaluation.decision, "reason": evaluation.reason})
    return run.model_copy(update={"evaluation": evaluation}).to_state()
