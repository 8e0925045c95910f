"""Two hosts as two local processes on loopback, joined by XGBoost's own collective."""

import json

import numpy as np
import pytest

from local.ports import free_port
from tests.helpers.training import OptMl, breast_cancer, run_train, split, start_train

HOSTS = ["algo-1", "algo-2"]
HYPERPARAMETERS = {"num_round": 30, "max_depth": 3, "eta": 0.3, "objective": "binary:logistic"}


def evaluation(opt_ml):
    return json.loads(opt_ml.evaluation.read_text())["metrics"]


@pytest.mark.parametrize("distribution", ["FullyReplicated", "ShardedByS3Key"])
def test_two_hosts_train_a_model_as_good_as_one_hosts(tmp_path, distribution):
    train, validation, test = split(breast_cancer())
    single = OptMl(tmp_path / "single")
    single.channel("train", train)
    single.channel("validation", validation)
    single.channel("test", test)
    single.hyperparameters(HYPERPARAMETERS)
    assert run_train(single.root).returncode == 0

    # ShardedByS3Key: SageMaker gives each host its own part files; FullyReplicated: every host all.
    shards = np.array_split(train, 2) if distribution == "ShardedByS3Key" else [train, train]
    port = free_port()
    addresses = json.dumps(dict.fromkeys(HOSTS, "127.0.0.1"))
    jobs, processes = [], []
    for host, shard in zip(HOSTS, shards, strict=True):
        opt_ml = OptMl(tmp_path / host)
        opt_ml.channel("train", shard, parts=2, distribution=distribution)
        opt_ml.channel("validation", validation)
        opt_ml.channel("test", test)
        opt_ml.hyperparameters(HYPERPARAMETERS)
        opt_ml.resources(HOSTS, current=host)
        jobs.append(opt_ml)
        processes.append(
            start_train(opt_ml.root, {"DROPML_HOST_ADDRESSES": addresses, "DROPML_TRACKER_PORT": str(port)})
        )
    outputs = [process.communicate(timeout=120) for process in processes]

    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    first, second = jobs
    assert (first.model_dir / "model.ubj").exists() and first.evaluation.exists()
    assert not second.model_dir.exists() or not any(second.model_dir.iterdir())
    assert not second.evaluation.exists()
    assert first.summary()["hosts"] == 2
    # The metric lines come from the first host only, once per round.
    assert outputs[0][0].count("\tvalidation-auc:") == 30 and "validation-auc" not in outputs[1][0]

    together, alone = evaluation(first), evaluation(single)
    assert together["auc"] >= alone["auc"] - 0.01 and together["auc"] > 0.95
    assert together["logloss"] <= alone["logloss"] * 1.2
    # FullyReplicated validation rows are split between the hosts and the metric combined over them.
    validation_auc = first.summary()["metrics"]["validation"]["auc"]
    assert validation_auc == pytest.approx(single.summary()["metrics"]["validation"]["auc"], abs=0.02)
