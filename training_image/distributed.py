"""Several hosts train one model with XGBoost's own collective (no Dask, no MPI).

As in SageMaker's built-in algorithm, hosts are sorted and the first one runs the tracker (port 9099
unless ``DROPML_TRACKER_PORT`` says otherwise) as well as a worker; the others connect to it, retrying
while it starts. Histograms and metrics are summed across hosts, so every host ends with the same model;
only the first one writes it.

Data per host: with ``ShardedByS3Key`` SageMaker already gave each host its own part files, which are
read in full. With ``FullyReplicated`` every host received every file; each host keeps its contiguous
1/n of the rows (by rank), so the hosts together train on each row exactly once, as one host would.
The ``test`` channel is not split: the first host scores the saved model on all of it.

A host that fails before joining (bad data on its shard) leaves the others waiting for it until
:data:`TRACKER_TIMEOUT_S`, after which they fail too; SageMaker reports the first failure.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from xgboost.collective import CommunicatorContext
from xgboost.tracker import RabitTracker

from training_image.channels import Dataset
from training_image.environment import Channel, TrainingEnvironment

TRACKER_TIMEOUT_S = 300  # the longest a host may take to join (e.g. slower data download), then fail
CONNECT_RETRIES = 30


def share_of(dataset: Dataset, channel: Channel, *, rank: int, hosts: int) -> Dataset:
    """Keep this host's rows of a channel it read in full (see the module docstring)."""
    if hosts == 1 or channel.distribution == "ShardedByS3Key":
        return dataset
    return dataset.rows_slice(dataset.rows * rank // hosts, dataset.rows * (rank + 1) // hosts)


@contextmanager
def collective(env: TrainingEnvironment) -> Iterator[None]:
    """Join the hosts' communicator for the duration of training; nothing to do on one host."""
    if not env.is_distributed:
        yield
        return
    address = socket.gethostbyname(env.address_of(env.hosts[0]))
    tracker = None
    if env.rank == 0:
        tracker = RabitTracker(
            n_workers=len(env.hosts), host_ip=address, port=env.tracker_port, sortby="task",
            timeout=TRACKER_TIMEOUT_S,
        )  # fmt: skip
        tracker.start()
        args = tracker.worker_args()
    else:
        args = {"dmlc_tracker_uri": address, "dmlc_tracker_port": env.tracker_port}
    args |= {
        "dmlc_task_id": f"{env.rank:05d}",
        "dmlc_retry": CONNECT_RETRIES,
        "dmlc_timeout": TRACKER_TIMEOUT_S,
    }
    with CommunicatorContext(**args):
        yield
    if tracker is not None:
        tracker.wait_for(timeout=TRACKER_TIMEOUT_S)
