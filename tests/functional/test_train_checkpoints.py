"""Spot training: checkpoints every N rounds, and a restarted job resumes from the latest one."""

import re
import shutil
import signal
import time

import numpy as np
import pytest
import xgboost as xgb

from tests.helpers.training import OptMl, breast_cancer, run_train, split, start_train

FIRST_ROUND = re.compile(r"^\[(\d+)\]\t", re.MULTILINE)


@pytest.fixture
def data():
    return split(breast_cancer())


def make_job(root, data, **hyperparameters):
    train, validation, _ = data
    opt_ml = OptMl(root)
    opt_ml.channel("train", train)
    opt_ml.channel("validation", validation)
    opt_ml.hyperparameters(hyperparameters)
    return opt_ml


def predictions(opt_ml, rows):
    booster = xgb.Booster(model_file=str(opt_ml.model_dir / "model.ubj"))
    return booster.inplace_predict(rows[:, 1:].astype(np.float32))


def test_a_restarted_job_continues_from_the_latest_checkpoint_to_the_same_model(tmp_path, data):
    whole = make_job(tmp_path / "whole", data, num_round=20, max_depth=3, checkpoint_frequency=5)
    assert run_train(whole.root).returncode == 0

    # The first attempt stops after 10 rounds (as if the spot instance went away then) …
    cut = make_job(tmp_path / "cut", data, num_round=10, max_depth=3, checkpoint_frequency=5)
    assert run_train(cut.root).returncode == 0
    assert sorted(p.name for p in cut.checkpoints.iterdir()) == ["checkpoint-0000005.ubj", "checkpoint-0000010.ubj"]
    # … and the restarted job gets a fresh model folder, the checkpoints and the job's hyperparameters.
    shutil.rmtree(cut.model_dir)
    cut.hyperparameters({"num_round": 20, "max_depth": 3, "checkpoint_frequency": 5})

    resumed = run_train(cut.root)

    assert resumed.returncode == 0, resumed.stderr
    assert FIRST_ROUND.findall(resumed.stdout) == [str(r) for r in range(10, 20)]
    summary = cut.summary()
    assert summary["resumed_from_round"] == 10 and summary["rounds_trained"] == 20
    test = data[2]
    np.testing.assert_allclose(predictions(cut, test), predictions(whole, test), rtol=1e-6)


def test_a_job_with_other_parameters_never_resumes_from_the_checkpoint_it_finds(tmp_path, data):
    # GIVEN the checkpoints of a tuning trial with max_depth 3, where another trial's job finds them
    first = make_job(tmp_path / "trial", data, num_round=10, max_depth=3, checkpoint_frequency=5)
    assert run_train(first.root).returncode == 0
    shutil.rmtree(first.model_dir)
    # WHEN a trial with max_depth 5 starts in that folder
    first.hyperparameters({"num_round": 10, "max_depth": 5, "checkpoint_frequency": 5})
    other = run_train(first.root)
    # THEN it trains from round 0, with its own parameters, and says why it did not resume
    assert other.returncode == 0, other.stderr
    assert FIRST_ROUND.findall(other.stdout)[0] == "0"
    assert "other parameters" in other.stdout + other.stderr
    assert first.summary()["resumed_from_round"] in (None, 0)


def test_a_killed_job_resumes_from_what_it_had_saved(tmp_path, data):
    opt_ml = make_job(tmp_path / "job", data, num_round=2000, max_depth=1, checkpoint_frequency=50)
    first = start_train(opt_ml.root)
    deadline = time.monotonic() + 60
    while not any(opt_ml.checkpoints.glob("checkpoint-*.ubj")) and time.monotonic() < deadline:
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    assert first.returncode == -signal.SIGKILL, "the first attempt finished before it could be killed"
    saved = max(int(p.stem.split("-")[1]) for p in opt_ml.checkpoints.glob("checkpoint-*.ubj"))
    assert not (opt_ml.model_dir / "model.ubj").exists()

    again = run_train(opt_ml.root)

    assert again.returncode == 0, again.stderr
    assert FIRST_ROUND.findall(again.stdout)[0] == str(saved)
    assert opt_ml.summary()["resumed_from_round"] == saved
    assert xgb.Booster(model_file=str(opt_ml.model_dir / "model.ubj")).num_boosted_rounds() == 2000
    # Older checkpoints are pruned: the folder (synced to S3 while training) stays small.
    assert len(list(opt_ml.checkpoints.glob("checkpoint-*.ubj"))) == 2
