"""The SageMaker container contract, written once: what the training image and whoever runs it spell alike.

SageMaker hands a container a folder, ``/opt/ml``, and a few environment variables, and runs its
program ``train`` or ``serve``. The training image reads them (:mod:`training_image.environment`,
:mod:`training_image.serving`); local mode writes them when it plays SageMaker (:mod:`local.sagemaker`);
the pipeline reads what the image left behind (``evaluation.json`` in ``output.tar.gz``) and tells
SageMaker how to read the image's log (:func:`metric_definitions`). Outside a container
``DROPML_OPT_ML`` points at a folder laid out like ``/opt/ml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# -- the programs ------------------------------------------------------------------------------------
# SageMaker runs ``docker run <image> train`` for a training job and ``... serve`` for an endpoint.
TRAIN_PROGRAM = "train"
SERVE_PROGRAM = "serve"
# ... and a Processing job's ``ContainerEntrypoint``: the dataset conversion, for uploads a Lambda cannot take.
PROCESS_PROGRAM = "process"

# -- environment variables -----------------------------------------------------------------------------
# Ours: where /opt/ml is outside a container; how several hosts on one machine reach each other (local
# mode: a JSON object host → address, and the port the first host's tracker listens on).
OPT_ML_ENV = "DROPML_OPT_ML"
HOST_ADDRESSES_ENV = "DROPML_HOST_ADDRESSES"
TRACKER_PORT_ENV = "DROPML_TRACKER_PORT"
# The address ``serve`` listens on: all interfaces by default, as SageMaker's front end needs; local mode
# sets loopback, so an endpoint on a laptop is not open to its network.
BIND_TO_HOST_ENV = "DROPML_BIND_TO_HOST"
# SageMaker's: a training job's identity; a serving container's port, worker count and request timeout.
TRAINING_JOB_NAME_ENV = "TRAINING_JOB_NAME"
TRAINING_JOB_ARN_ENV = "TRAINING_JOB_ARN"
BIND_TO_PORT_ENV = "SAGEMAKER_BIND_TO_PORT"
MODEL_SERVER_WORKERS_ENV = "SAGEMAKER_MODEL_SERVER_WORKERS"
MODEL_SERVER_TIMEOUT_ENV = "SAGEMAKER_MODEL_SERVER_TIMEOUT"

# -- channels -----------------------------------------------------------------------------------------
# The ingest writes one folder per split; each is the training channel of the same name. The schema
# travels in a channel of its own, so that ``train`` can pack it into the model for ``serve``.
TRAIN_CHANNEL = "train"
VALIDATION_CHANNEL = "validation"
TEST_CHANNEL = "test"
SCHEMA_CHANNEL = "schema"
DATA_CHANNELS = (TRAIN_CHANNEL, VALIDATION_CHANNEL, TEST_CHANNEL)

# -- /opt/ml ------------------------------------------------------------------------------------------
DEFAULT_OPT_ML = "/opt/ml"
HYPERPARAMETERS_FILE = "hyperparameters.json"
INPUT_DATA_CONFIG_FILE = "inputdataconfig.json"
RESOURCE_CONFIG_FILE = "resourceconfig.json"
# What ``train`` writes into the model folder (packed as model.tar.gz, unpacked for ``serve``) and
# into the output data folder (packed as output.tar.gz).
MODEL_FILE = "model.ubj"
SCHEMA_FILE = "schema.json"
SUMMARY_FILE = "summary.json"
EVALUATION_FILE = "evaluation.json"
MODEL_ARCHIVE = "model.tar.gz"
OUTPUT_ARCHIVE = "output.tar.gz"
# SageMaker keeps at most this many characters of the failure file as the job's FailureReason.
FAILURE_REASON_MAX = 1024
# A job's hosts are algo-1 … algo-N.
DEFAULT_HOST = "algo-1"


def host_names(count: int) -> list[str]:
    return [f"algo-{number}" for number in range(1, count + 1)]


def opt_ml_root(environ: Mapping[str, str]) -> Path:
    """``/opt/ml``, or ``$DROPML_OPT_ML`` outside a container."""
    return Path(environ.get(OPT_ML_ENV) or DEFAULT_OPT_ML)


@dataclass(frozen=True)
class OptMlLayout:
    """Where each part of the contract lives below one ``/opt/ml`` root."""

    root: Path

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def hyperparameters_file(self) -> Path:
        return self.config_dir / HYPERPARAMETERS_FILE

    @property
    def input_data_config_file(self) -> Path:
        return self.config_dir / INPUT_DATA_CONFIG_FILE

    @property
    def resource_config_file(self) -> Path:
        return self.config_dir / RESOURCE_CONFIG_FILE

    @property
    def data_dir(self) -> Path:
        return self.root / "input" / "data"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def failure_file(self) -> Path:
        return self.root / "output" / "failure"

    @property
    def exit_message_file(self) -> Path:
        """A Processing job's message: DescribeProcessingJob's ``ExitMessage`` is its first 1 KB."""
        return self.root / "output" / "message"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"


# -- a Processing job's folders ---------------------------------------------------------------------
# SageMaker downloads each ProcessingInput to its LocalPath and uploads each output's LocalPath at the
# end; ``process`` reads and writes these, Prepare names them in the job's request.
PROCESSING_UPLOAD = "processing/input/upload"  # the pinned copy of the upload (one file)
PROCESSING_SETTINGS = "processing/input/settings"  # settings.json: the dataset's settings
PROCESSING_DATA = "processing/output/data"  # → the run's data/ folder: train/, validation/, test/
PROCESSING_SCHEMA = "processing/output/schema"  # → the run's folder: schema.json
SETTINGS_JSON = "settings.json"


def container_path(relative: str) -> str:
    """Where a folder of the contract is inside the container, as a request names it (``/opt/ml/...``)."""
    return f"{DEFAULT_OPT_ML}/{relative}"


# -- metrics in the log ------------------------------------------------------------------------------
# SageMaker's log shipping shows a tab as "#011" (syslog's octal escape); metric regexes match that form.
LOGGED_TAB = "#011"
METRIC_VALUE = r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
METRIC_CHANNELS = (TRAIN_CHANNEL, VALIDATION_CHANNEL)


def metric_regex(channel: str, metric: str) -> str:
    """The built-in XGBoost algorithm's regex for one metric on one channel, as SageMaker defines it.

    XGBoost prints a line per boosting round, ``[12]#011train-auc:0.91#011validation-auc:0.89``. The
    capture is a number, not ``\\S+``: ``#011`` is no whitespace, so ``\\S+`` would run on through it.
    """
    return rf".*\[[0-9]+\].*{LOGGED_TAB}{channel}-{re.escape(metric)}:({METRIC_VALUE}).*"


def metric_definition(channel: str, metric: str) -> dict[str, str]:
    """One entry of SageMaker's ``MetricDefinitions``: ``{"Name": "validation:auc", "Regex": ...}``."""
    return {"Name": f"{channel}:{metric}", "Regex": metric_regex(channel, metric)}


def metric_definitions(metric: str) -> list[dict[str, str]]:
    """``MetricDefinitions`` for one metric on the train and validation channels, in that order."""
    return [metric_definition(channel, metric) for channel in METRIC_CHANNELS]
