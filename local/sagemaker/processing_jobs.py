"""Processing jobs that really process: the training image's ``process`` in subprocesses, one per host.

The container contract, as SageMaker's "Build your own processing container" guide states it:
- each ``ProcessingInputs[].S3Input`` is downloaded to its ``LocalPath`` before the program starts
  (``ShardedByS3Key`` gives each host a disjoint part, :func:`local.sagemaker.s3.download_channel`), and
  each output's ``LocalPath`` exists, empty, when it starts; both paths must begin with
  ``/opt/ml/processing/``, and two inputs may not share one (AWS refuses that with an empty message);
- ``/opt/ml/config/processingjobconfig.json`` (the request, defaults filled in) and
  ``/opt/ml/config/resourceconfig.json`` (``current_host``, ``hosts``) are written first;
- the program is ``ContainerEntrypoint`` + ``ContainerArguments``, or the image's own entrypoint; the job
  completes when every host exits 0 and fails otherwise, with the FailureReason
  ``AlgorithmError: See job logs for more information`` (the processing contract has no failure file:
  a program explains itself in ``/opt/ml/output/message``, whose first 1 KB, every host's concatenated,
  is ``ExitMessage`` once the job has ended; a message that is not UTF-8 fails the job with a ClientError);
- ``StopProcessingJob`` sends SIGINT ("SIGINT and SIGKILL signals, which Processing uses to stop
  processing jobs") and SIGKILL after ``EngineContext.stop_grace_s``; so does ``MaxRuntimeInSeconds``;
- each output's ``LocalPath`` goes to its ``S3Uri`` at the end (``EndOfJob``), or every few seconds and
  at the end (``Continuous``); what the folders hold is uploaded whichever way the job ends, the stricter
  reading of "after the job completes" for a program that must leave nothing behind when it fails;
- the output goes to CloudWatch Logs, ``/aws/sagemaker/ProcessingJobs``, stream ``<job>/algo-N-<epoch>``.

There is no container: each host's ``/opt/ml`` is a private folder whose path the program finds in
``DROPML_OPT_ML``, so ``/opt/ml/processing/input/data`` is ``$DROPML_OPT_ML/processing/input/data``; the
config files name the container's paths, as SageMaker writes them. Local mode runs only the image's
``process`` program (``ContainerEntrypoint`` ``["process", ...]`` or none): another entrypoint fails the
job with a ClientError, as an image local mode cannot run does.

Requests are checked against botocore's service model as AWS checks them (:func:`check_request`:
required members, lengths, ranges, patterns, enums, in AWS's "N validation errors detected" wording),
then against the rules above (:func:`_check_paths`).
"""

from __future__ import annotations

import copy
import json
import shutil
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Final

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import ClientError

from core.container import DEFAULT_OPT_ML, HOST_ADDRESSES_ENV, PROCESS_PROGRAM, OptMlLayout, host_names
from local.sagemaker import s3
from local.sagemaker.capacity import capacity_failure
from local.sagemaker.context import DEFAULT_MAX_RUNTIME_S, AwsAccount, EngineContext
from local.sagemaker.errors import ResourceInUse, ValidationError
from local.sagemaker.images import unrunnable_reason
from local.sagemaker.logs import LogStream
from local.sagemaker.processes import ImageProcess, container_environment, records_folder
from local.sagemaker.registry import JobRegistry, Listing
from local.sagemaker.request_validation import check_request

PROCESSING_LOG_GROUP: Final = "/aws/sagemaker/ProcessingJobs"
PROCESSING_ROOT: Final = f"{DEFAULT_OPT_ML}/processing/"
JOB_CONFIG_FILE: Final = "config/processingjobconfig.json"
RESOURCE_CONFIG_FILE: Final = "config/resourceconfig.json"
ALGORITHM_ERROR: Final = "AlgorithmError: See job logs for more information"
MAX_RUNTIME_EXCEEDED: Final = "Processing job exceeded MaxRuntimeInSeconds provided"
EXIT_MESSAGE_MAX: Final = 1024  # "the first 1 KB of this file"
_S3_INPUT_DEFAULTS: Final = {  # an S3Input as processingjobconfig.json shows it
    "S3InputMode": "File",
    "S3DataDistributionType": "FullyReplicated",
    "S3CompressionType": "None",
    "S3DownloadMode": "StartOfJob",
}
_ECHOED: Final = (  # the request's members DescribeProcessingJob answers with, as given
    "ProcessingInputs",
    "ProcessingOutputConfig",
    "ProcessingResources",
    "StoppingCondition",
    "AppSpecification",
    "Environment",
    "NetworkConfig",
    "RoleArn",
    "ExperimentConfig",
)
_CONTINUOUS_SYNC_EVERY_S: Final = 5.0
_POLL_S: Final = 0.1
_TERMINAL: Final = ("Completed", "Failed", "Stopped")


class _Stop(Exception):
    """Raised inside the job's thread when a stop was asked for before the program started."""


class _Done(Exception):
    """The job reached its final status before anything ran (an image or entrypoint local mode cannot run)."""


@dataclass
class _Host:
    name: str
    root: Path
    process: ImageProcess | None = None

    def local(self, container_path: str) -> Path:
        """Where a ``/opt/ml/...`` path of the container is in this host's private tree."""
        return self.root / PurePosixPath(container_path).relative_to(DEFAULT_OPT_ML)


@dataclass
class _Output:
    """One S3 output and what of each host's folder has been uploaded so far (path → size, mtime)."""

    local_path: str
    location: s3.S3Location
    continuous: bool
    uploaded: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)


class ProcessingJob:
    """One CreateProcessingJob request, run in a background thread that owns its subprocesses."""

    def __init__(self, request: Mapping[str, Any], *, context: EngineContext) -> None:
        self.request = copy.deepcopy(dict(request))
        self.name: str = self.request["ProcessingJobName"]
        self.arn = context.aws.arn("processing-job", self.name)
        self._context = context
        self._lock = threading.RLock()
        self._done = threading.Event()
        self._stop_reason: str | None = None
        self.status = "InProgress"
        self.failure_reason: str | None = None
        self.exit_message: str | None = None
        self.creation_time = context.clock()
        self.last_modified = self.creation_time
        self.start_time: datetime | None = None
        self.end_time: datetime | None = None
        self._hosts: list[_Host] = []
        self._folder = context.workdir / "processing-jobs" / self.name
        self._thread = threading.Thread(target=self._run, name=f"processing-job-{self.name}", daemon=True)

    # -- the API ------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, reason: str = "Stopped") -> None:
        """StopProcessingJob: Stopping now, Stopped once the programs have exited and the outputs are up."""
        with self._lock:
            if self.status != "InProgress":
                return
            self._stop_reason = reason
            self._set_status("Stopping")

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            description: dict[str, Any] = {k: copy.deepcopy(self.request[k]) for k in _ECHOED if k in self.request}
            description.update(
                {
                    "ProcessingJobName": self.name,
                    "ProcessingJobArn": self.arn,
                    "ProcessingJobStatus": self.status,
                    "CreationTime": self.creation_time,
                    "LastModifiedTime": self.last_modified,
                }
            )
            optional = {
                "ExitMessage": self.exit_message,
                "FailureReason": self.failure_reason,
                "ProcessingStartTime": self.start_time,
                "ProcessingEndTime": self.end_time,
            }
            description.update({k: v for k, v in optional.items() if v is not None})
            return description

    def summary(self) -> dict[str, Any]:
        """The ``ListProcessingJobs`` entry."""
        with self._lock:
            item = {
                "ProcessingJobName": self.name,
                "ProcessingJobArn": self.arn,
                "CreationTime": self.creation_time,
                "LastModifiedTime": self.last_modified,
                "ProcessingJobStatus": self.status,
            }
            optional = {
                "ProcessingEndTime": self.end_time,
                "FailureReason": self.failure_reason,
                "ExitMessage": self.exit_message,
            }
            item.update({k: v for k, v in optional.items() if v is not None})
            return item

    # -- the job's thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            command = self._prepare()
            self._download()
            self._process(command)
        except _Stop:
            self._finish("Stopped", self._stopped_reason())
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

    def _prepare(self) -> list[str]:
        """The program's command, once the image, instance type and inputs are ones local mode can run and
        each host has its ``/opt/ml`` tree with the config files and the output folders."""
        app = self.request["AppSpecification"]
        cluster = self.request["ProcessingResources"]["ClusterConfig"]
        instance_type = cluster.get("InstanceType", "")
        reason = unrunnable_reason(app.get("ImageUri")) or capacity_failure(instance_type) or _entrypoint_refusal(app)
        if reason is not None:
            self._finish("Failed", reason)
            raise _Done
        for item in self.request.get("ProcessingInputs") or []:
            _check_supported_input(item)
        for item in (self.request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            if "S3Output" not in item and not item.get("AppManaged"):
                raise ValidationError(f"output {item['OutputName']!r}: local mode supports only S3Output outputs")
        names = host_names(int(cluster.get("InstanceCount", 1)))
        shutil.rmtree(self._folder, ignore_errors=True)
        self._hosts = [_Host(name=name, root=self._folder / name) for name in names]
        for host in self._hosts:
            self._write_config(host, names)
        entrypoint = app.get("ContainerEntrypoint") or [PROCESS_PROGRAM]
        return [str(self._context.programs.process), *entrypoint[1:], *(app.get("ContainerArguments") or [])]

    def _write_config(self, host: _Host, names: list[str]) -> None:
        """The two config files and the folders the program finds when it starts."""
        (host.root / "config").mkdir(parents=True)
        OptMlLayout(host.root).exit_message_file.parent.mkdir(parents=True)
        for output in _s3_outputs(self.request):
            host.local(output["LocalPath"]).mkdir(parents=True, exist_ok=True)
        (host.root / JOB_CONFIG_FILE).write_text(json.dumps(self._job_config()))
        (host.root / RESOURCE_CONFIG_FILE).write_text(json.dumps({"current_host": host.name, "hosts": names}))

    def _job_config(self) -> dict[str, Any]:
        """``processingjobconfig.json`` as the guide shows it: the request with SageMaker's defaults."""
        request = self.request
        app = request["AppSpecification"]
        cluster = request["ProcessingResources"]["ClusterConfig"]
        inputs = copy.deepcopy(request.get("ProcessingInputs") or [])
        for item in inputs:
            if "S3Input" in item:
                item["S3Input"] = {**_S3_INPUT_DEFAULTS, **item["S3Input"]}
        config = {
            "ProcessingJobArn": self.arn,
            "ProcessingJobName": self.name,
            "AppSpecification": {
                "ImageUri": app["ImageUri"],
                "ContainerEntrypoint": app.get("ContainerEntrypoint"),
                "ContainerArguments": app.get("ContainerArguments"),
            },
            "Environment": request.get("Environment") or {},
            "ProcessingInputs": inputs,
            "ProcessingResources": {"ClusterConfig": {"VolumeKmsKeyId": None, **cluster}},
            "RoleArn": request["RoleArn"],
            "StoppingCondition": {"MaxRuntimeInSeconds": self._max_runtime_s()},
        }
        if "ProcessingOutputConfig" in request:
            config["ProcessingOutputConfig"] = {"KmsKeyId": None, **request["ProcessingOutputConfig"]}
        return config

    def _max_runtime_s(self) -> int:
        return int((self.request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_S))

    def _download(self) -> None:
        client = self._aws().client("s3")
        for index, host in enumerate(self._hosts):
            for item in self.request.get("ProcessingInputs") or []:
                source = item.get("S3Input")
                if source is None or item.get("AppManaged"):
                    continue
                self._check_stop()
                s3.download_channel(
                    client,
                    source["S3Uri"],
                    host.local(source["LocalPath"]),
                    host_index=index,
                    host_count=len(self._hosts),
                    sharded=source.get("S3DataDistributionType") == "ShardedByS3Key",
                    cache=self._context.workdir / "s3-cache",
                )
        self._check_stop()

    def _aws(self) -> AwsAccount:
        """S3 and logs as the job's role, as SageMaker reaches them."""
        return self._context.aws.as_role(self.request.get("RoleArn"))

    def _process(self, command: list[str]) -> None:
        """Run the program on every host, then upload the outputs and end as the programs did."""
        outputs = self._outputs()
        with self._lock:
            self.start_time = self._context.clock()
            self.last_modified = self.start_time
        addresses = json.dumps({host.name: "127.0.0.1" for host in self._hosts})
        logs = self._aws().client("logs")
        epoch = int(time.time())
        for host in self._hosts:
            host.process = ImageProcess(
                Path(command[0]),
                PROCESS_PROGRAM,
                arguments=command[1:],
                opt_ml=host.root,
                environment=container_environment(
                    host.root, self.request.get("Environment"), fixed={HOST_ADDRESSES_ENV: addresses}
                ),
                log=LogStream(logs, PROCESSING_LOG_GROUP, f"{self.name}/{host.name}-{epoch}"),
                records=records_folder(self._context.workdir),
            )
        self._supervise(outputs)
        upload_failure = self._upload(outputs)
        self._end(upload_failure)

    def _outputs(self) -> list[_Output]:
        return [
            _Output(
                local_path=output["LocalPath"],
                location=s3.S3Location.parse(output["S3Uri"]),
                continuous=output["S3UploadMode"] == "Continuous",
            )
            for output in _s3_outputs(self.request)
        ]

    def _supervise(self, outputs: list[_Output]) -> None:
        """Wait for every host, enforcing StopProcessingJob and MaxRuntimeInSeconds and uploading the
        Continuous outputs every few seconds."""
        max_runtime = self._max_runtime_s()
        started = last_sync = time.monotonic()
        interrupted_at: float | None = None
        processes = [host.process for host in self._hosts if host.process is not None]
        while any(process.running for process in processes):
            now = time.monotonic()
            if now - started > max_runtime:
                self.stop(MAX_RUNTIME_EXCEEDED)
            if self._stop_reason is not None and interrupted_at is None:
                interrupted_at = now
                for process in processes:
                    process.send_signal(signal.SIGINT)
            if interrupted_at is not None and now - interrupted_at > self._context.stop_grace_s:
                for process in processes:
                    process.kill()
            if now - last_sync > _CONTINUOUS_SYNC_EVERY_S:
                self._upload([output for output in outputs if output.continuous])
                last_sync = now
            time.sleep(_POLL_S)
        for process in processes:
            process.join_output(timeout=10)

    def _upload(self, outputs: list[_Output]) -> str | None:
        """Upload what changed in each host's output folders; the FailureReason of an upload that failed."""
        client = self._aws().client("s3")
        try:
            for output in outputs:
                for host in self._hosts:
                    uploaded = output.uploaded.setdefault(host.name, {})
                    s3.upload_folder(client, host.local(output.local_path), output.location, uploaded)
        except (ClientError, S3UploadFailedError) as error:  # e.g. the job's role may not write there
            return f"ClientError: Output upload failed: {error}"
        return None

    def _end(self, upload_failure: str | None) -> None:
        """The final status: stopped, the programs' failure, a failed upload, an unreadable message, or done."""
        message, unreadable = self._exit_message()
        with self._lock:
            self.exit_message = message or None
        failed = any(host.process is not None and host.process.returncode != 0 for host in self._hosts)
        if self._stop_reason is not None:
            self._finish("Stopped", self._stopped_reason())
        elif failed:
            self._finish("Failed", ALGORITHM_ERROR)
        elif upload_failure is not None:
            self._finish("Failed", upload_failure)
        elif unreadable is not None:
            self._finish("Failed", f"ClientError: {unreadable}: the exit message must be UTF-8 text")
        else:
            self._finish("Completed", None)

    def _exit_message(self) -> tuple[str, str | None]:
        """Every host's message file, concatenated and cut to 1 KB; and the first host whose file is not UTF-8."""
        parts: list[str] = []
        for host in self._hosts:
            path = OptMlLayout(host.root).exit_message_file
            if not path.is_file():
                continue
            try:
                parts.append(path.read_bytes().decode("utf-8"))
            except UnicodeDecodeError:
                return "", f"{host.name}: {DEFAULT_OPT_ML}/output/message"
        return "".join(parts)[:EXIT_MESSAGE_MAX], None

    def _stopped_reason(self) -> str | None:
        """A stop asked for has no FailureReason; one past MaxRuntimeInSeconds says so."""
        return self._stop_reason if self._stop_reason == MAX_RUNTIME_EXCEEDED else None

    def _finish(self, status: str, failure_reason: str | None) -> None:
        with self._lock:
            self.failure_reason = failure_reason
            self.end_time = self._context.clock()
            self._set_status(status)

    def _set_status(self, status: str) -> None:
        with self._lock:
            self.status = status
            self.last_modified = self._context.clock()

    def _check_stop(self) -> None:
        if self._stop_reason is not None:
            raise _Stop


def _entrypoint_refusal(app: Mapping[str, Any]) -> str | None:
    """The FailureReason of an entrypoint other than the image's ``process`` (None when it is that one)."""
    entrypoint = app.get("ContainerEntrypoint")
    if not entrypoint or entrypoint[0] == PROCESS_PROGRAM:
        return None
    return (
        f"ClientError: local mode runs only the image's {PROCESS_PROGRAM} program: ContainerEntrypoint must be "
        f"absent or start with {PROCESS_PROGRAM!r}, not {entrypoint!r}"
    )


def _check_supported_input(item: Mapping[str, Any]) -> None:
    """What local mode cannot download fails the job, as a ClientError (the request itself is valid)."""
    name, source = item["InputName"], item.get("S3Input")
    if source is None:
        if item.get("AppManaged"):
            return
        raise ValidationError(f"input {name!r}: local mode supports only S3Input inputs")
    if source.get("S3InputMode", "File") == "Pipe":
        raise ValidationError(f"input {name!r}: Pipe input mode is not supported locally: use File")
    if source["S3DataType"] != "S3Prefix":
        raise ValidationError(f"input {name!r}: only S3DataType S3Prefix is supported locally")


def _s3_outputs(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The outputs SageMaker uploads (an app-managed output is the program's business)."""
    outputs = (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    return [item["S3Output"] for item in outputs if "S3Output" in item and not item.get("AppManaged")]


LISTING = Listing(
    page_key="ProcessingJobSummaries",
    name_field="ProcessingJobName",
    status_field="ProcessingJobStatus",
    sort_fields={"Name": "ProcessingJobName", "Status": "ProcessingJobStatus"},
    time_bounds=True,
)


class ProcessingJobs(JobRegistry[ProcessingJob]):
    """Every processing job of one engine, by name: Create/Describe/List/Stop."""

    def __init__(self, context: EngineContext) -> None:
        super().__init__(
            lambda name: ValidationError(f"Could not find requested job with name {name}"),
            listing=LISTING,
            stop_timeout_s=context.stop_grace_s + 15,
        )
        self._context = context

    def create(self, request: Mapping[str, Any]) -> ProcessingJob:
        check_request("CreateProcessingJob", request)
        _check_paths(request)
        job = self.add(
            request["ProcessingJobName"],
            lambda: ProcessingJob(request, context=self._context),
            taken=lambda existing: ResourceInUse(
                "Job name must be unique within an AWS account and region, and a job with this name already "
                f"exists ({existing.arn})"
            ),
        )
        job.start()
        return job

    def stop(self, name: str) -> None:
        job = self.get(name)
        if job.status in _TERMINAL:
            raise ValidationError(f"The request was rejected because the processing job is in status {job.status}.")
        job.stop()


def _check_paths(request: Mapping[str, Any]) -> None:
    """The Developer Guide's rules for ``LocalPath``, which the model cannot state: every path SageMaker
    moves data through begins with ``/opt/ml/processing/``; no two inputs share one (AWS refuses that with
    an empty message), nor does an output share an input's. ``Gzip`` is for ``Pipe`` mode only."""
    problems: list[str] = []
    inputs: dict[str, str] = {}
    for item in request.get("ProcessingInputs") or []:
        source = item.get("S3Input")
        if source is None or item.get("AppManaged"):
            continue
        name, path = item["InputName"], source.get("LocalPath", "")
        problems += _path_problems(f"input {name!r}", path)
        if path in inputs:
            problems.append(f"inputs {inputs[path]!r} and {name!r} have the same LocalPath {path!r}")
        inputs.setdefault(path, name)
        if source.get("S3CompressionType") == "Gzip" and source.get("S3InputMode", "File") != "Pipe":
            problems.append(f"input {name!r}: S3CompressionType Gzip can only be used when S3InputMode is Pipe")
    for item in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
        target = item.get("S3Output")
        if target is None or item.get("AppManaged"):
            continue
        name, path = item["OutputName"], target.get("LocalPath", "")
        problems += _path_problems(f"output {name!r}", path)
        if path in inputs:
            problems.append(f"output {name!r} has the LocalPath {path!r} of input {inputs[path]!r}")
    if problems:
        raise ValidationError("; ".join(problems))


def _path_problems(what: str, path: str) -> list[str]:
    """A path outside ``/opt/ml/processing/`` is AWS's refusal; one that climbs out of it with ``..`` (or
    says ``.`` or ``//``) is local mode's, since the host folder stands for the container's."""
    below = path[len(PROCESSING_ROOT) :].rstrip("/")
    segments = below.split("/") if below else []
    if path.startswith(PROCESSING_ROOT) and all(segment not in ("", ".", "..") for segment in segments):
        return []
    return [f"{what}: LocalPath must be an absolute path that begins with {PROCESSING_ROOT}, not {path!r}"]
