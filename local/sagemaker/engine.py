"""The local SageMaker as one object: training jobs, tuning jobs and endpoints of one account and region.

Whatever fronts it (moto's SageMaker responses in the local stack, or a test) hands it API request dicts
and returns its answers; ``shutdown()`` is what ``dropml local down`` relies on to leave no process
behind.
"""

from __future__ import annotations

from local.sagemaker.endpoints import Endpoints
from local.sagemaker.runtime import Runtime
from local.sagemaker.training_jobs import TrainingJobs
from local.sagemaker.tuning_jobs import TuningJobs


class SageMakerEngine:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.training_jobs = TrainingJobs(runtime)
        self.tuning_jobs = TuningJobs(runtime, self.training_jobs)
        self.endpoints = Endpoints(runtime)

    def shutdown(self) -> None:
        """Stop every tuning job, training job and endpoint server, and wait for their processes to end."""
        self.tuning_jobs.shutdown()
        self.training_jobs.shutdown()
        self.endpoints.shutdown()
