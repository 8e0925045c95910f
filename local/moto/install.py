"""Installing and uninstalling the patches, all of them, in one order, for the length of a block.

Kept out of ``__init__`` so that the patch modules, which import :mod:`local.moto.state`, are imported by
this module and never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Final

from local.moto import awslambda, cloudformation, events, iam, s3, sagemaker, sns, stepfunctions
from local.moto.state import LocalSettings, Replacements, settings_in_force

PATCHES: Final[tuple[Callable[[Replacements], None], ...]] = (
    stepfunctions.execute_definitions,
    awslambda.patch_invoke,
    awslambda.patch_s3_notifications_async,
    awslambda.patch_event_invoke_configs,
    s3.patch_event_records,
    sns.patch_email,
    stepfunctions.patch_unnamed_executions,
    events.patch_status_change_events,
    cloudformation.patch_state_machines,
    cloudformation.patch_buckets,
    cloudformation.patch_event_invoke_configs,
    cloudformation.patch_list_parameter_defaults,
    stepfunctions.patch_sagemaker_task_service,
    stepfunctions.patch_aws_sdk_results,
    iam.patch_simulate_principal_policy,
    iam.patch_enforcement,  # after the Step Functions patches: it re-signs the clients their tasks make
    stepfunctions.patch_error_names,
    sagemaker.patch_jobs_and_endpoints,  # last: it reads the settings and swaps the .sync job source
)
"""Applied in this order; :meth:`Replacements.restore` undoes them in the reverse one."""


@contextmanager
def installed(settings: LocalSettings) -> Iterator[None]:
    """Run the block with every patch installed and Step Functions executing definitions.

    The local server holds this for its lifetime; tests hold it for one test, so moto is back to
    itself for whatever runs next in the same process.
    """
    with settings_in_force(settings):
        replacements = Replacements()
        try:
            for patch in PATCHES:
                patch(replacements)
            yield
        finally:
            replacements.restore()
