import numpy as np

from training_image.channels import Dataset
from training_image.distributed import share_of
from training_image.environment import Channel


def dataset(rows):
    return Dataset(np.arange(rows * 2, dtype=np.float32).reshape(rows, 2), np.arange(rows, dtype=np.float32))


def test_fully_replicated_rows_are_split_so_the_hosts_see_each_row_once():
    channel = Channel("train", path=None, distribution="FullyReplicated")  # type: ignore[arg-type]
    full = dataset(10)

    shares = [share_of(full, channel, rank=rank, hosts=3) for rank in range(3)]

    assert [s.rows for s in shares] == [3, 3, 4]
    assert np.concatenate([s.labels for s in shares]).tolist() == full.labels.tolist()
    assert np.concatenate([s.features for s in shares]).tolist() == full.features.tolist()


def test_sharded_by_s3_key_keeps_every_row_the_host_was_given():
    channel = Channel("train", path=None, distribution="ShardedByS3Key")  # type: ignore[arg-type]
    mine = dataset(7)

    assert share_of(mine, channel, rank=1, hosts=2) is mine
