import json

import pytest

from core.errors import UserInputError
from tests.helpers.training import OptMl, breast_cancer
from training_image.environment import TrainingEnvironment


def test_the_opt_ml_tree_is_read_once_into_one_object(tmp_path):
    opt_ml = OptMl(tmp_path)
    opt_ml.channel("train", breast_cancer()[:5], content_type="text/csv;label_size=1", distribution="ShardedByS3Key")
    opt_ml.channel("validation", breast_cancer()[:5], content_type=None)
    opt_ml.hyperparameters({"eta": 0.1})
    opt_ml.resources(["algo-2", "algo-1"], "algo-2")

    env = TrainingEnvironment.from_environ(
        {
            "DROPML_OPT_ML": str(tmp_path),
            "DROPML_HOST_ADDRESSES": json.dumps({"algo-1": "127.0.0.1"}),
            "DROPML_TRACKER_PORT": "19099",
        }
    )

    assert env.hyperparameters == {"eta": "0.1"}
    assert env.hosts == ("algo-1", "algo-2") and env.current_host == "algo-2" and env.rank == 1
    assert env.channels["train"].distribution == "ShardedByS3Key"
    assert env.channels["train"].content_type == "text/csv;label_size=1"
    assert env.channels["validation"].content_type == "text/csv"
    assert env.address_of("algo-1") == "127.0.0.1" and env.address_of("algo-2") == "algo-2"
    assert env.tracker_port == 19099
    assert env.model_dir == tmp_path / "model" and env.failure_file == tmp_path / "output" / "failure"
    with pytest.raises(AttributeError):
        env.current_host = "algo-1"  # type: ignore[misc]


def test_without_a_resource_config_the_job_is_one_host(tmp_path):
    env = TrainingEnvironment.from_environ({"DROPML_OPT_ML": str(tmp_path)})

    assert env.hosts == ("algo-1",) and not env.is_distributed and env.channels == {}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DROPML_HOST_ADDRESSES", "algo-1=127.0.0.1", "must be a JSON object"),
        ("DROPML_TRACKER_PORT", "http", "must be a port number"),
    ],
)
def test_a_malformed_override_is_a_clear_error(tmp_path, variable, value, message):
    with pytest.raises(UserInputError, match=message):
        TrainingEnvironment.from_environ({"DROPML_OPT_ML": str(tmp_path), variable: value})
