import pytest

from core.errors import UserInputError
from training_image.device import choose_device, visible_gpus


@pytest.mark.parametrize(
    ("requested", "cuda_built", "gpus", "expected"),
    [
        (None, True, 1, "cuda"),
        (None, True, 0, "cpu"),
        (None, False, 4, "cpu"),
        ("cpu", True, 1, "cpu"),
        ("cuda", True, 1, "cuda"),
        ("gpu", True, 1, "cuda"),
        ("cuda:1", True, 2, "cuda:1"),
    ],
)
def test_the_gpu_is_used_by_default_when_this_build_and_machine_have_one(requested, cuda_built, gpus, expected):
    assert choose_device(requested=requested, cuda_built=cuda_built, gpus=gpus) == expected


def test_asking_for_a_gpu_on_a_cpu_instance_says_what_to_change():
    with pytest.raises(UserInputError, match="choose a GPU instance type"):
        choose_device(requested="cuda", cuda_built=True, gpus=0)


def test_a_device_xgboost_does_not_know_is_refused():
    with pytest.raises(UserInputError, match="expected cpu, cuda"):
        choose_device(requested="tpu", cuda_built=True, gpus=1)


@pytest.mark.parametrize("hidden", ["", "-1", "NoDevFiles"])
def test_cuda_visible_devices_can_hide_every_gpu(hidden):
    assert visible_gpus(hidden) == 0
