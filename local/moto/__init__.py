"""Every change dropml makes to moto's behaviour, one module per AWS service, each with its tests.

moto is pinned to one exact version (see pyproject.toml); the patches replace or wrap named moto
internals read in that version, so an upgrade that renames one fails loudly at :func:`installed` or in
that module's tests rather than silently changing local mode. :func:`installed` applies them all for
the length of a block and puts moto back afterwards.

- :mod:`local.moto.awslambda` (tests: ``test_local_lambda``, ``test_local_server``): moto runs function
  code in Docker or not at all; here the handler runs from its package in a child process
  (:mod:`local.lambda_runner`), with AWS's error payload, ``Event`` in the background and ``DryRun``
  running nothing, and the function's ``MemorySize`` and ``Timeout`` enforced. ``Event`` invocations
  and S3 notifications (which moto delivers inside the upload; on AWS the upload returns first) are
  queued, retried as Lambda retries them and reported to the ``EventInvokeConfig``'s destinations
  (:mod:`local.lambda_async`); moto's Put/UpdateFunctionEventInvokeConfig append where AWS replaces.
- :mod:`local.moto.s3` (``test_local_s3_events``): moto's S3 event records lack the object's
  ``versionId`` and a ``sequencer``, percent-encode the key's ``/`` and give removals a size and ETag;
  here they are as AWS writes them, so the ingest tells two uploads of the same bytes apart.
- :mod:`local.moto.sns` (``test_local_mail``): moto delivers nothing to ``email`` / ``email-json``
  subscriptions, and the pipeline's result is an email; here it is sent through the SMTP sink
  (:mod:`local.mail`).
- :mod:`local.moto.stepfunctions` (``test_local_stepfunctions``): moto only records executions unless
  told to run them (turned on here); it names executions started without a name ``None`` where AWS
  gives a UUID; and its SageMaker task service has no ``.sync``, which the pipeline uses to wait for
  training and tuning jobs. The ``.sync`` job status source can be swapped
  (:func:`use_sagemaker_job_source`). moto also names task errors as AWS does not (aws-sdk
  ``sagemaker.sagemakerException``, optimized integrations ``States.Runtime``), lets ``States.ALL``
  catch ``States.Runtime``, reads a Choice on a missing path as false, and leaves datetimes in aws-sdk
  results; here each is as Step Functions does it.
- :mod:`local.moto.events` (``test_pipeline``, the stopped run): moto's Step Functions sends no
  execution status changes to EventBridge, and its rules cannot invoke Lambda; here an execution that
  ends puts AWS's event on the default bus and a rule's Lambda target is invoked asynchronously, which
  the pipeline's last-resort email needs.
- :mod:`local.moto.persistence` (``test_local_stack``): moto keeps everything in memory; the local
  server saves its backends when it stops and loads them before it serves, so ``down`` then ``up``
  keeps what an AWS account would.
- :mod:`local.moto.cloudformation` (``test_local_deploy``): deploying the template through moto loses
  what the pipeline needs: state machines land where executions do not run and without their
  ``DefinitionSubstitutions``; buckets lose ``NotificationConfiguration`` (the upload trigger),
  ``VersioningConfiguration`` and ``PublicAccessBlockConfiguration``; ``AWS::Lambda::EventInvokeConfig``
  is skipped.
- :mod:`local.moto.sagemaker` (``test_sagemaker_local_api``): moto's SageMaker only records calls (jobs
  complete at once, endpoints answer nothing); with :attr:`LocalSettings.run_sagemaker` (the local
  server) jobs and endpoints run for real in the local engine (:mod:`local.sagemaker`).
- :mod:`local.moto.iam` (``test_local_iam``, ``test_local_iam_policies``): moto checks no IAM unless
  told to, and then cannot read the template's policies (conditions deny, resources are ``*``); here
  every request is judged as AWS judges it
  (:mod:`local.moto.iam_policies`, :mod:`local.moto.iam_requests`), the printed credentials are an
  administrator, and Step Functions' tasks run as the state machine's role. SimulatePrincipalPolicy
  (moto: HTTP 500) answers from the same evaluator.

Shared by them: :mod:`local.moto.state` (the settings, the record of every replaced attribute, whether
the patches are installed), :mod:`local.moto.wire` (Describe* answers as JSON, timestamps in the unit
each service uses) and :mod:`local.moto.role_sessions` (a role's temporary credentials, as Lambda,
SageMaker and Step Functions get them). :mod:`local.moto.install` holds the order they are applied in.
"""

from local.moto.install import installed
from local.moto.state import LocalSettings
from local.moto.stepfunctions import JobKind, SageMakerJobSource, describe_job_in_moto, use_sagemaker_job_source

__all__ = [
    "JobKind",
    "LocalSettings",
    "SageMakerJobSource",
    "describe_job_in_moto",
    "installed",
    "use_sagemaker_job_source",
]
