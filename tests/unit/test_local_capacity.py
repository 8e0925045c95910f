from local.sagemaker.capacity import capacity_failure, is_gpu_instance


def test_gpu_families_are_recognised() -> None:
    assert is_gpu_instance("ml.g4dn.xlarge") and is_gpu_instance("ml.p3.2xlarge") and is_gpu_instance("ml.g5.12xlarge")
    assert not is_gpu_instance("ml.m5.xlarge") and not is_gpu_instance("ml.c5.2xlarge")


def test_gpu_instance_without_a_gpu_is_a_capacity_error() -> None:
    reason = capacity_failure("ml.g4dn.xlarge", has_gpu=False)
    assert reason is not None and reason.startswith("CapacityError: Unable to provision requested ML compute capacity")
    assert capacity_failure("ml.g4dn.xlarge", has_gpu=True) is None
    assert capacity_failure("ml.m5.xlarge", has_gpu=False) is None
