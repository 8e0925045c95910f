"""Checkpoints every N rounds in ``/opt/ml/checkpoints``, so a restarted (spot) job resumes.

SageMaker syncs that folder to S3 while the job runs and restores it when a managed spot job restarts.
Files are XGBoost's own UBJ format named by their round count; each is written under a temporary name
and renamed, so a job killed mid-write never leaves a half file that looks like the latest one.

On several hosts every host writes the same (collectively trained) model to its own folder, so any host
can resume. Early stopping's patience starts afresh at a resume: its history is not part of the model.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import xgboost as xgb
from xgboost.callback import TrainingCallback

KEEP = 2
_NAME = re.compile(r"^checkpoint-(\d+)\.ubj$")


def checkpoint_path(folder: Path, rounds: int) -> Path:
    return folder / f"checkpoint-{rounds:07d}.ubj"


def saved_rounds(folder: Path) -> list[int]:
    """Round counts of the complete checkpoints in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = (_NAME.match(p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def load_latest(folder: Path) -> xgb.Booster | None:
    """Load the latest checkpoint's booster; None on a fresh start."""
    rounds = saved_rounds(folder)
    if not rounds:
        return None
    return xgb.Booster(model_file=str(checkpoint_path(folder, rounds[-1])))


class CheckpointEvery(TrainingCallback):
    """Save the model every ``every`` boosted rounds (counted over the whole job, resumes included)."""

    def __init__(self, folder: Path, every: int) -> None:
        super().__init__()
        self.folder = folder
        self.every = every

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: TrainingCallback.EvalsLog) -> bool:
        rounds = model.num_boosted_rounds()
        if rounds % self.every == 0:
            self.save(model, rounds)
        return False

    def save(self, model: xgb.Booster, rounds: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.folder / f".partial-{os.getpid()}.ubj"
        model.save_model(str(partial))
        os.replace(partial, checkpoint_path(self.folder, rounds))
        for old in saved_rounds(self.folder)[:-KEEP]:
            checkpoint_path(self.folder, old).unlink(missing_ok=True)
