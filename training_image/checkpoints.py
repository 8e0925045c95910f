"""Checkpoints every N rounds in ``/opt/ml/checkpoints``, so a restarted (spot) job resumes.

SageMaker syncs that folder to S3 while the job runs and restores it when a managed spot job restarts.
Files are XGBoost's own UBJ format named by their round count; each is written under a temporary name
and renamed, so a job killed mid-write never leaves a half file that looks like the latest one.

On several hosts every host writes the same (collectively trained) model to its own folder, so any host
can resume. Early stopping's patience starts afresh at a resume: its history is not part of the model.

Each checkpoint carries the booster parameters it was trained with (a model attribute). A tuning job's
trials may share one ``CheckpointConfig.S3Uri``, so the latest checkpoint there can be another trial's:
one trained with other parameters is never resumed from. A checkpoint without the attribute (SageMaker's
built-in XGBoost writes none) is resumed from, as the built-in algorithm would.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xgboost as xgb
from xgboost.callback import TrainingCallback

KEEP = 2
PARAMETERS_ATTR = "dropml_parameters"
log = logging.getLogger(__name__)
_NAME = re.compile(r"^checkpoint-(\d+)\.ubj$")


def checkpoint_path(folder: Path, rounds: int) -> Path:
    return folder / f"checkpoint-{rounds:07d}.ubj"


def saved_rounds(folder: Path) -> list[int]:
    """Round counts of the complete checkpoints in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = (_NAME.match(p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def signature(booster_params: Mapping[str, Any]) -> str:
    """The parameters a checkpoint is resumable with, as one string."""
    return json.dumps(dict(booster_params), sort_keys=True, default=str)


def load_latest(folder: Path, parameters: str) -> xgb.Booster | None:
    """Load the latest checkpoint's booster if it was trained with ``parameters`` (see the module
    docstring); None on a fresh start."""
    rounds = saved_rounds(folder)
    if not rounds:
        return None
    booster = xgb.Booster(model_file=str(checkpoint_path(folder, rounds[-1])))
    written_with = booster.attr(PARAMETERS_ATTR)
    if written_with is not None and written_with != parameters:
        log.warning("the checkpoint after round %d has other parameters (another job's): not resuming", rounds[-1])
        return None
    return booster


class CheckpointEvery(TrainingCallback):
    """Save the model every ``every`` boosted rounds (counted over the whole job, resumes included)."""

    def __init__(self, folder: Path, every: int, parameters: str) -> None:
        super().__init__()
        self.folder = folder
        self.every = every
        self.parameters = parameters

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: TrainingCallback.EvalsLog) -> bool:
        rounds = model.num_boosted_rounds()
        if rounds % self.every == 0:
            self.save(model, rounds)
        return False

    def save(self, model: xgb.Booster, rounds: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / f".partial-{os.getpid()}.ubj"
        model.set_attr(**{PARAMETERS_ATTR: self.parameters})
        model.save_model(str(partial))
        os.replace(partial, checkpoint_path(self.folder, rounds))
        for old in saved_rounds(self.folder)[:-KEEP]:
            checkpoint_path(self.folder, old).unlink(missing_ok=True)
