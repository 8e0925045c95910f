"""Training jobs that really train: the training image's ``train`` in subprocesses, one per host.

A job's life, as SageMaker reports it in ``SecondaryStatusTransitions``: Starting (a private ``/opt/ml``
tree per host), Downloading (channels and checkpoints from S3), Training (``train`` runs; its output
goes to CloudWatch Logs and through the MetricDefinitions), Uploading (``model.tar.gz`` and
``output.tar.gz`` to ``S3OutputPath/<job>/output/``), then Completed, Failed, Stopped or
MaxRuntimeExceeded. ``InstanceCount`` > 1 starts that many processes forming one distributed job; the
image reaches its peers through ``DROPML_HOST_ADDRESSES`` and ``DROPML_TRACKER_PORT``.

DescribeTrainingJob answers with the defaults AWS fills in where the request left them out
(:func:`_with_defaults`): ``OutputDataConfig.KmsKeyId`` ``""``, each channel's ``CompressionType`` and
``RecordWrapperType`` ``"None"`` and ``S3DataDistributionType`` ``"FullyReplicated"``, and
``AlgorithmSpecification.EnableSageMakerMetricsTimeSeries`` ``false``; the SageMaker Python SDK's
``Estimator.attach`` reads some of them unguarded.

Stopping sends SIGTERM and allows ``EngineContext.stop_grace_s`` for the program to save its work (AWS allows
120 s) before SIGKILL; whatever the model folder then holds is still uploaded, as AWS does.

Managed spot training (``EnableManagedSpotTraining``) is checked as AWS checks it: ``MaxWaitTimeInSeconds``
is required, at least ``MaxRuntimeInSeconds``, and refused without spot (:func:`check_spot`). This machine
never runs out of spot capacity, so an interruption happens only when asked for
(``EngineContext.spot_interruptions``, e.g. ``DROPML_LOCAL_SPOT_INTERRUPTIONS=1``): each spot job is then
interrupted that many times, each time as soon as its checkpoint folder holds a file or, at the latest,
when its program ends before uploading. An interruption syncs the checkpoints, kills the hosts (the
instances are reclaimed), reports ``Interrupted`` and ``Restarting``, and runs the job again on fresh
``/opt/ml`` trees with the checkpoints downloaded, as SageMaker restarts a spot job. A job still running
``MaxWaitTimeInSeconds`` after its creation is stopped with ``MaxWaitTimeExceeded``.
``TrainingTimeInSeconds`` spans the first start to the end; ``BillableTimeInSeconds`` leaves out the time
between an interruption and the restarted run, so an interrupted job bills less than it took.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import shutil
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from core.container import (
    FAILURE_REASON_MAX,
    HOST_ADDRESSES_ENV,
    MODEL_ARCHIVE,
    OUTPUT_ARCHIVE,
    TRACKER_PORT_ENV,
    TRAIN_PROGRAM,
    TRAINING_JOB_ARN_ENV,
    TRAINING_JOB_NAME_ENV,
    OptMlLayout,
    host_names,
)
from local.ports import free_port
from local.sagemaker import s3
from local.sagemaker.capacity import capacity_failure
from local.sagemaker.context import DEFAULT_MAX_RUNTIME_S, AwsAccount, EngineContext
from local.sagemaker.errors import ResourceInUse, ValidationError
from local.sagemaker.images import builtin_metric_definitions, unrunnable_reason
from local.sagemaker.logs import TRAINING_LOG_GROUP, LogStream
from local.sagemaker.metrics import MetricPoint, MetricPublisher, MetricReader
from local.sagemaker.processes import ImageProcess, container_environment, records_folder
from local.sagemaker.registry import JobRegistry, Listing

_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job exceeded MaxRuntimeInSeconds provided",
    "Interrupted": "The spot instances were interrupted (local mode: DROPML_LOCAL_SPOT_INTERRUPTIONS)",
    "Restarting": "Restarting the training job on new spot instances, from its last checkpoint",
    "MaxWaitTimeExceeded": "Training job exceeded MaxWaitTimeInSeconds provided",
}
_POLL_S = 0.1
_CHECKPOINT_SYNC_EVERY_S = 5.0


class _Stop(Exception):
    """Raised inside the job's thread when a stop was asked for between two phases."""


class _Interrupted(Exception):
    """Raised inside the job's thread when its spot instances were taken back (an injected fault)."""


@dataclass
class _Transition:
    status: str
    start: datetime
    message: str
    end: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        item: dict[str, Any] = {"Status": self.status, "StartTime": self.start, "StatusMessage": self.message}
        if self.end is not None:
            item["EndTime"] = self.end
        return item


@dataclass
class _Host:
    name: str
    root: Path
    process: ImageProcess | None = None

    @property
    def layout(self) -> OptMlLayout:
        return OptMlLayout(self.root)


class TrainingJob:
    """One CreateTrainingJob request, run in a background thread that owns its subprocesses.

    ``on_metric`` sees every metric value as it is logged (a tuner's early stopping listens there).
    """

    def __init__(
        self,
        request: Mapping[str, Any],
        *,
        context: EngineContext,
        tuning_job_arn: str | None = None,
        on_metric: Callable[[MetricPoint], None] | None = None,
    ) -> None:
        self.request = copy.deepcopy(dict(request))
        self.name: str = self.request["TrainingJobName"]
        self.arn = context.aws.arn("training-job", self.name)
        self.tuning_job_arn = tuning_job_arn
        self._context = context
        self._lock = threading.RLock()
        self._done = threading.Event()
        self._stop_reason: str | None = None
        algorithm = self.request.setdefault("AlgorithmSpecification", {})
        if not algorithm.get("MetricDefinitions") and unrunnable_reason(algorithm.get("TrainingImage")) is None:
            algorithm["MetricDefinitions"] = builtin_metric_definitions()
        self._metrics = MetricReader(algorithm.get("MetricDefinitions") or [], context.clock, on_metric)
        self.status = "InProgress"
        self.failure_reason: str | None = None
        self.model_artifact: str | None = None
        self.creation_time = context.clock()
        self.last_modified = self.creation_time
        self.training_start: datetime | None = None
        self.training_end: datetime | None = None
        self._transitions: list[_Transition] = []
        self._hosts: list[_Host] = []
        self._spot = bool(self.request.get("EnableManagedSpotTraining"))
        self._interruptions_left = context.spot_interruptions if self._spot else 0
        self._ran_s = 0.0  # the programs' time in earlier runs of an interrupted job
        self._interrupted_at: float | None = None
        self._downtime_s = 0.0
        self._created = time.monotonic()
        self._folder = context.workdir / "training-jobs" / self.name
        self._thread = threading.Thread(target=self._run, name=f"training-job-{self.name}", daemon=True)
        self._secondary("Starting")

    # -- the API ------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, reason: str = "Stopped") -> None:
        """StopTrainingJob: Stopping now, Stopped once the processes have exited and output is saved."""
        with self._lock:
            if self.status != "InProgress":
                return
            self._stop_reason = reason
            self.status = "Stopping"
            self._secondary("Stopping")

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    @property
    def final_metrics(self) -> list[dict[str, Any]]:
        return self._metrics.final()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            request = self.request
            description: dict[str, Any] = {
                "TrainingJobName": self.name,
                "TrainingJobArn": self.arn,
                "TrainingJobStatus": self.status,
                "SecondaryStatus": self._transitions[-1].status,
                "HyperParameters": dict(request.get("HyperParameters") or {}),
                "AlgorithmSpecification": {
                    "EnableSageMakerMetricsTimeSeries": False,
                    **request["AlgorithmSpecification"],
                },
                "RoleArn": request.get("RoleArn"),
                "InputDataConfig": [_with_defaults(channel) for channel in request.get("InputDataConfig") or []],
                "OutputDataConfig": {"KmsKeyId": "", **request["OutputDataConfig"]},
                "ResourceConfig": request.get("ResourceConfig"),
                "StoppingCondition": request.get("StoppingCondition") or {},
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified,
                "SecondaryStatusTransitions": [t.as_dict() for t in self._transitions],
                "FinalMetricDataList": self._metrics.final(),
                "EnableNetworkIsolation": bool(request.get("EnableNetworkIsolation", False)),
                "EnableInterContainerTrafficEncryption": bool(
                    request.get("EnableInterContainerTrafficEncryption", False)
                ),
                "EnableManagedSpotTraining": bool(request.get("EnableManagedSpotTraining", False)),
            }
            optional = {
                "TuningJobArn": self.tuning_job_arn,
                "FailureReason": self.failure_reason,
                "ModelArtifacts": {"S3ModelArtifacts": self.model_artifact} if self.model_artifact else None,
                "TrainingStartTime": self.training_start,
                "TrainingEndTime": self.training_end,
                "CheckpointConfig": request.get("CheckpointConfig"),
                "VpcConfig": request.get("VpcConfig"),
                "Environment": request.get("Environment"),
                "ExperimentConfig": request.get("ExperimentConfig"),
            }
            description.update({k: v for k, v in optional.items() if v is not None})
            if self.training_start is not None and self.training_end is not None:
                seconds = max(1, round((self.training_end - self.training_start).total_seconds()))
                description["TrainingTimeInSeconds"] = seconds
                description["BillableTimeInSeconds"] = max(1, seconds - round(self._downtime_s))
            return description

    def summary(self) -> dict[str, Any]:
        """The ``ListTrainingJobs`` entry."""
        with self._lock:
            item = {
                "TrainingJobName": self.name,
                "TrainingJobArn": self.arn,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified,
                "TrainingJobStatus": self.status,
                "SecondaryStatus": self._transitions[-1].status,
            }
            if self.training_end is not None:
                item["TrainingEndTime"] = self.training_end
            return item

    # -- the job's thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._prepare()
            while True:
                try:
                    self._train()
                    break
                except _Interrupted:
                    self._restart()
        except _Stop:
            self._finish_stopped()
        except _Done:
            pass
        except ValidationError as exc:
            self._finish("Failed", f"ClientError: {exc.message}")
        except Exception as exc:
            self._finish("Failed", f"InternalServerError: local SageMaker failed: {exc!r}")
        finally:
            for host in self._hosts:
                if host.process is not None:
                    host.process.kill()
            self._done.set()

    def _prepare(self) -> None:
        algorithm = self.request["AlgorithmSpecification"]
        instance_type = (self.request.get("ResourceConfig") or {}).get("InstanceType", "")
        reason = unrunnable_reason(algorithm.get("TrainingImage")) or capacity_failure(instance_type)
        if reason is not None:
            self._finish("Failed", reason)
            raise _Done
        modes = {algorithm.get("TrainingInputMode", "File")}
        modes |= {c.get("InputMode") for c in self.request.get("InputDataConfig") or [] if c.get("InputMode")}
        if "Pipe" in modes:
            raise ValidationError("Pipe input mode is not supported locally: use File (or FastFile)")
        count = int((self.request.get("ResourceConfig") or {}).get("InstanceCount", 1))
        names = host_names(count)
        shutil.rmtree(self._folder, ignore_errors=True)
        self._hosts = [_Host(name=name, root=self._folder / name) for name in names]
        for host in self._hosts:
            self._write_config(host, names)
        self._check_stop()
        self._secondary("Downloading")
        client = self._aws().client("s3")
        for index, host in enumerate(self._hosts):
            for channel in self.request.get("InputDataConfig") or []:
                source = channel["DataSource"].get("S3DataSource")
                if source is None:
                    raise ValidationError(f"channel {channel['ChannelName']!r}: only S3DataSource is supported")
                if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                    raise ValidationError(
                        f"channel {channel['ChannelName']!r}: only S3DataType S3Prefix is supported locally"
                    )
                s3.download_channel(
                    client,
                    source["S3Uri"],
                    host.layout.channel_dir(channel["ChannelName"]),
                    host_index=index,
                    host_count=len(self._hosts),
                    sharded=source.get("S3DataDistributionType") == "ShardedByS3Key",
                    cache=self._context.workdir / "s3-cache",
                )
            checkpoint = self.request.get("CheckpointConfig")
            if checkpoint:
                s3.download_prefix(client, s3.S3Location.parse(checkpoint["S3Uri"]), host.layout.checkpoint_dir)
            self._check_stop()

    def _restart(self) -> None:
        """A spot job whose instances were taken back waits for new ones and starts over, checkpoints in."""
        self._secondary("Interrupted")
        max_wait = (self.request.get("StoppingCondition") or {}).get("MaxWaitTimeInSeconds")
        deadline = time.monotonic() + self._context.spot_restart_s
        while time.monotonic() < deadline:
            if max_wait is not None and time.monotonic() - self._created > float(max_wait):
                self.stop("MaxWaitTimeExceeded")  # no new capacity in time: the job ends Stopped
            self._check_stop()
            time.sleep(_POLL_S)
        self._secondary("Restarting")
        self._prepare()

    def _aws(self) -> AwsAccount:
        """S3 and logs as the job's role, as SageMaker reaches them."""
        return self._context.aws.as_role(self.request.get("RoleArn"))

    def _write_config(self, host: _Host, names: list[str]) -> None:
        opt_ml = host.layout
        opt_ml.config_dir.mkdir(parents=True)
        for folder in (opt_ml.model_dir, opt_ml.output_data_dir, opt_ml.checkpoint_dir, opt_ml.data_dir):
            folder.mkdir(parents=True, exist_ok=True)
        hyperparameters = {str(k): str(v) for k, v in (self.request.get("HyperParameters") or {}).items()}
        channels = {
            channel["ChannelName"]: {
                "ContentType": channel.get("ContentType", "text/csv"),
                "TrainingInputMode": channel.get("InputMode")
                or self.request["AlgorithmSpecification"].get("TrainingInputMode", "File"),
                "S3DistributionType": channel["DataSource"]
                .get("S3DataSource", {})
                .get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
            }
            for channel in self.request.get("InputDataConfig") or []
        }
        instance_type = (self.request.get("ResourceConfig") or {}).get("InstanceType", "ml.m5.large")
        resources = {
            "current_host": host.name,
            "current_instance_type": instance_type,
            "current_group_name": "homogeneousCluster",
            "hosts": names,
            "instance_groups": [
                {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": names}
            ],
            "network_interface_name": "lo",
        }
        opt_ml.hyperparameters_file.write_text(json.dumps(hyperparameters))
        opt_ml.input_data_config_file.write_text(json.dumps(channels))
        opt_ml.resource_config_file.write_text(json.dumps(resources))

    def _train(self) -> None:
        self._secondary("Training")
        with self._lock:
            if self.training_start is None:
                self.training_start = self._context.clock()
        started = time.monotonic()
        if self._interrupted_at is not None:
            self._downtime_s += started - self._interrupted_at
            self._interrupted_at = None
        tracker_port = free_port()
        addresses = json.dumps({host.name: "127.0.0.1" for host in self._hosts})
        logs = self._aws().client("logs")
        self._publisher = MetricPublisher(self._aws().client("cloudwatch"), self.name)
        epoch = int(time.time())
        for host in self._hosts:
            environment = container_environment(
                host.root,
                self.request.get("Environment"),
                fixed={
                    HOST_ADDRESSES_ENV: addresses,
                    TRACKER_PORT_ENV: str(tracker_port),
                    TRAINING_JOB_NAME_ENV: self.name,
                    TRAINING_JOB_ARN_ENV: self.arn,
                },
            )
            host.process = ImageProcess(
                self._context.programs.train,
                TRAIN_PROGRAM,
                opt_ml=host.root,
                environment=environment,
                log=LogStream(logs, TRAINING_LOG_GROUP, f"{self.name}/{host.name}-{epoch}"),
                records=records_folder(self._context.workdir),
                on_line=functools.partial(self._read_metrics, host.name),
            )
        self._supervise(started)

    def _read_metrics(self, host: str, line: str) -> None:
        self._publisher.add(host, self._metrics.read(line))

    def _supervise(self, started: float) -> None:
        """Wait for every host, enforcing StopTrainingJob, MaxRuntimeInSeconds and MaxWaitTimeInSeconds,
        syncing checkpoints; a spot job due an interruption is interrupted here."""
        stopping = self.request.get("StoppingCondition") or {}
        max_runtime, max_wait = stopping.get("MaxRuntimeInSeconds"), stopping.get("MaxWaitTimeInSeconds")
        checkpoint = self.request.get("CheckpointConfig")
        synced: dict[str, tuple[int, int]] = {}
        last_sync = time.monotonic()
        terminated_at: float | None = None
        processes = [host.process for host in self._hosts if host.process is not None]
        while any(process.running for process in processes):
            now = time.monotonic()
            if max_runtime is not None and now - started + self._ran_s > float(max_runtime):
                self.stop("MaxRuntimeExceeded")
            if self._spot and max_wait is not None and now - self._created > float(max_wait):
                self.stop("MaxWaitTimeExceeded")
            if self._stop_reason is not None and terminated_at is None:
                terminated_at = now
                for process in processes:
                    process.send_signal(signal.SIGTERM)
            if terminated_at is not None and now - terminated_at > self._context.stop_grace_s:
                for process in processes:
                    process.kill()
            if self._stop_reason is None and self._interruptions_left and self._has_checkpoint():
                self._interrupt(processes, started, checkpoint, synced)
            if checkpoint and now - last_sync > _CHECKPOINT_SYNC_EVERY_S:
                self._sync_checkpoints(checkpoint, synced)
                last_sync = now
            self._publisher.flush()
            time.sleep(_POLL_S)
        for process in processes:
            process.join_output(timeout=10)
        self._publisher.flush()
        if self._stop_reason is None and self._interruptions_left and all(p.returncode == 0 for p in processes):
            self._interrupt(processes, started, checkpoint, synced)  # ended before a checkpoint was seen
        with self._lock:
            self.training_end = self._context.clock()
        if checkpoint:
            self._sync_checkpoints(checkpoint, synced)
        if self._stop_reason is not None:
            raise _Stop
        failed = [host for host in self._hosts if host.process is not None and host.process.returncode != 0]
        if failed:
            self._upload_output()
            self._finish("Failed", self._failure_reason(failed[0]))
            return
        self._secondary("Uploading")
        self._upload_output()
        if self.model_artifact is None:
            self._finish("Failed", "AlgorithmError: the training program exited without writing a model")
            return
        self._finish("Completed", None)

    def _has_checkpoint(self) -> bool:
        return any(
            path.is_file() and not path.name.startswith(".")
            for host in self._hosts
            for path in host.layout.checkpoint_dir.rglob("*")
        )

    def _interrupt(
        self,
        processes: list[ImageProcess],
        started: float,
        checkpoint: Mapping[str, Any] | None,
        synced: dict[str, tuple[int, int]],
    ) -> None:
        """The instances are taken back: what was synced of the checkpoints is all the next run gets."""
        if checkpoint:
            self._sync_checkpoints(checkpoint, synced)
        for process in processes:
            process.kill()
            process.join_output(timeout=10)
        self._interruptions_left -= 1
        self._interrupted_at = time.monotonic()
        self._ran_s += self._interrupted_at - started
        raise _Interrupted

    def _sync_checkpoints(self, checkpoint: Mapping[str, Any], synced: dict[str, tuple[int, int]]) -> None:
        """Every host's checkpoints go to the same S3 URI, as on AWS (distributed code names them apart)."""
        client = self._aws().client("s3")
        for host in self._hosts:
            s3.upload_folder(client, host.layout.checkpoint_dir, s3.S3Location.parse(checkpoint["S3Uri"]), synced)

    def _upload_output(self) -> None:
        """The first host's model and output data, under ``S3OutputPath/<job>/output/``."""
        if not self._hosts:
            return
        output = s3.S3Location.parse(self.request["OutputDataConfig"]["S3OutputPath"]).child(self.name, "output")
        client = self._aws().client("s3")
        first = self._hosts[0].layout
        if s3.upload_tarball(client, first.model_dir, output.child(MODEL_ARCHIVE)):
            with self._lock:
                self.model_artifact = str(output.child(MODEL_ARCHIVE))
        s3.upload_tarball(client, first.output_data_dir, output.child(OUTPUT_ARCHIVE))

    def _failure_reason(self, host: _Host) -> str:
        """AWS's ``AlgorithmError: <the failure file>``; the exit status and last line when there is none."""
        for candidate in [host, *self._hosts]:
            failure = candidate.layout.failure_file
            if failure.is_file() and failure.read_text().strip():
                return f"AlgorithmError: {failure.read_text().strip()}"
        code = host.process.returncode if host.process is not None else None
        return f"AlgorithmError: {host.name}: the training program exited with status {code}"

    def _finish_stopped(self) -> None:
        """Stopped, with whatever model the program saved uploaded; a failed upload must not hide the stop."""
        with contextlib.suppress(Exception):
            self._upload_output()
        reason = self._stop_reason or "Stopped"
        self._finish("Stopped", None, secondary=reason)

    def _finish(self, status: str, failure_reason: str | None, *, secondary: str | None = None) -> None:
        with self._lock:
            self.status = status
            self.failure_reason = failure_reason[:FAILURE_REASON_MAX] if failure_reason else None
            if self.training_start is not None and self.training_end is None:
                self.training_end = self._context.clock()
            self._secondary(secondary or status)
            self._transitions[-1].end = self._transitions[-1].start

    def _secondary(self, status: str) -> None:
        with self._lock:
            now = self._context.clock()
            if self._transitions:
                self._transitions[-1].end = now
            self._transitions.append(_Transition(status, now, _MESSAGES[status]))
            self.last_modified = now

    def _check_stop(self) -> None:
        if self._stop_reason is not None:
            raise _Stop


def _with_defaults(channel: Mapping[str, Any]) -> dict[str, Any]:
    """A channel as DescribeTrainingJob shows it: what AWS fills in where the request said nothing."""
    described = copy.deepcopy(dict(channel))
    described.setdefault("CompressionType", "None")
    described.setdefault("RecordWrapperType", "None")
    source = described.get("DataSource", {}).get("S3DataSource")
    if source is not None:
        source.setdefault("S3DataDistributionType", "FullyReplicated")
    return described


class _Done(Exception):
    """The job reached its final status before training (e.g. an image local mode cannot run)."""


LISTING = Listing(
    page_key="TrainingJobSummaries",
    name_field="TrainingJobName",
    status_field="TrainingJobStatus",
    sort_fields={"Name": "TrainingJobName", "Status": "TrainingJobStatus"},
    time_bounds=True,
)


class TrainingJobs(JobRegistry[TrainingJob]):
    """Every training job of one engine, by name: Create/Describe/List/Stop."""

    def __init__(self, context: EngineContext) -> None:
        super().__init__(
            lambda _name: ValidationError("Requested resource not found."),
            listing=LISTING,
            stop_timeout_s=context.stop_grace_s + 15,
        )
        self._context = context

    def create(
        self,
        request: Mapping[str, Any],
        *,
        tuning_job_arn: str | None = None,
        on_metric: Callable[[MetricPoint], None] | None = None,
    ) -> TrainingJob:
        _require(request, "TrainingJobName", "AlgorithmSpecification", "OutputDataConfig", "ResourceConfig")
        check_spot(request)
        job = self.add(
            request["TrainingJobName"],
            lambda: TrainingJob(request, context=self._context, tuning_job_arn=tuning_job_arn, on_metric=on_metric),
            taken=lambda existing: ResourceInUse(
                f"Training job names must be unique within an AWS account and region, "
                f"and a training job with this name already exists ({existing.arn})"
            ),
        )
        job.start()
        return job

    def stop(self, name: str) -> None:
        job = self.get(name)
        if job.status not in ("InProgress", "Stopping"):
            raise ValidationError(f"The request was rejected because the training job is in status {job.status}.")
        job.stop()


def check_spot(request: Mapping[str, Any]) -> None:
    """AWS's checks of a managed spot job's stopping condition (CreateTrainingJob, and a tuning job's
    training job definition), with AWS's messages."""
    stopping = request.get("StoppingCondition") or {}
    wait, runtime = stopping.get("MaxWaitTimeInSeconds"), stopping.get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_S)
    if not request.get("EnableManagedSpotTraining"):
        if wait is not None:
            raise ValidationError(
                "Invalid MaxWaitTimeInSeconds. It is only supported when EnableManagedSpotTraining is set to true"
            )
        return
    if wait is None or wait < runtime:
        raise ValidationError(
            "Invalid MaxWaitTimeInSeconds. It must be present and be greater than or equal to MaxRuntimeInSeconds"
        )


def _require(request: Mapping[str, Any], *names: str) -> None:
    missing = [name for name in names if not request.get(name)]
    if missing:
        raise ValidationError(f"missing required parameter(s): {', '.join(missing)}")
