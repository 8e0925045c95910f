import gzip

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.errors import UserInputError
from tests.helpers.training import OptMl, breast_cancer
from training_image.channels import part_files, read_channel
from training_image.environment import Channel


@pytest.fixture
def opt_ml(tmp_path):
    return OptMl(tmp_path / "opt" / "ml")


def test_every_part_file_is_read_from_subfolders_and_gzip_in_a_stable_order(opt_ml):
    rows = breast_cancer()
    folder = opt_ml.channel("train", rows, parts=5, compress=True, nested=True)

    dataset = read_channel(Channel("train", folder))

    assert [str(p.relative_to(folder)) for p in part_files(folder)] == [
        "run-0/part-00000.csv.gz",
        "run-0/part-00002.csv.gz",
        "run-0/part-00004.csv.gz",
        "run-1/part-00001.csv.gz",
        "run-1/part-00003.csv.gz",
    ]
    assert dataset.rows == len(rows)
    assert dataset.features.dtype == np.float32 and dataset.features.flags.c_contiguous
    assert sorted(dataset.labels.tolist()) == sorted(rows[:, 0].tolist())
    np.testing.assert_allclose(np.sort(dataset.features[:, 0]), np.sort(rows[:, 1].astype(np.float32)), rtol=1e-6)


def test_an_empty_field_is_missing_not_zero(opt_ml):
    folder = opt_ml.channel("train", np.zeros((1, 1)))
    (folder / "part-00000.csv").write_text("1,,2.5\n0,3,\n")

    dataset = read_channel(Channel("train", folder))

    assert np.isnan(dataset.features[0, 0]) and dataset.features[0, 1] == 2.5
    assert dataset.features[1, 0] == 3 and np.isnan(dataset.features[1, 1])
    assert dataset.labels.tolist() == [1, 0]


def test_the_schema_and_hidden_files_are_never_read_as_data(opt_ml):
    folder = opt_ml.channel("train", breast_cancer()[:10])
    (folder / "schema.json").write_text('{"version": 1}')
    (folder / ".part.crc").write_text("garbage")
    (folder / "_SUCCESS").write_text("")

    assert [p.name for p in part_files(folder)] == ["part-00000.csv"]
    assert read_channel(Channel("train", folder)).rows == 10


def test_csv_weights_take_the_column_after_the_label(opt_ml):
    folder = opt_ml.channel("train", np.zeros((1, 1)))
    (folder / "part-00000.csv").write_text("1,0.5,7,8\n0,2,9,10\n")

    dataset = read_channel(Channel("train", folder), with_weights=True)

    assert dataset.weights is not None and dataset.weights.tolist() == [0.5, 2.0]
    assert dataset.features.tolist() == [[7, 8], [9, 10]]


def test_text_in_a_number_column_names_the_file(opt_ml):
    folder = opt_ml.channel("train", np.zeros((1, 1)), nested=True)
    (folder / "run-0" / "part-00000.csv").write_text("1,2,3\n0,abc,4\n")

    with pytest.raises(UserInputError) as raised:
        read_channel(Channel("train", folder))

    assert "channel 'train', file run-0/part-00000.csv" in raised.value.reason
    assert "abc" in raised.value.reason


def test_parts_with_different_widths_are_refused(opt_ml):
    folder = opt_ml.channel("train", breast_cancer()[:10], parts=2)
    (folder / "part-00001.csv").write_text("1,2,3\n")

    with pytest.raises(UserInputError, match="different column counts"):
        read_channel(Channel("train", folder))


def test_a_row_without_a_label_is_refused(opt_ml):
    folder = opt_ml.channel("train", np.zeros((1, 1)))
    (folder / "part-00000.csv").write_text("1,2,3\n,4,5\n")

    with pytest.raises(UserInputError, match="row 2 has no label"):
        read_channel(Channel("train", folder))


def test_libsvm_gets_a_clear_refusal(opt_ml):
    folder = opt_ml.channel("train", breast_cancer()[:10])

    with pytest.raises(UserInputError, match="content type 'text/libsvm' is not supported"):
        read_channel(Channel("train", folder, content_type="text/libsvm"))


def test_the_built_in_algorithms_csv_content_type_with_label_size_is_accepted(opt_ml):
    folder = opt_ml.channel("train", breast_cancer()[:10])

    assert read_channel(Channel("train", folder, content_type="text/csv; label_size=1")).rows == 10


def test_parquet_parts_read_label_first(opt_ml, tmp_path):
    folder = tmp_path / "parquet"
    folder.mkdir()
    pq.write_table(pa.table({"y": [1.0, 0.0], "a": [3, 4], "b": [None, 0.5]}), folder / "part-0.parquet")

    dataset = read_channel(Channel("train", folder, content_type="application/x-parquet"))

    assert dataset.labels.tolist() == [1, 0]
    assert dataset.features[0, 0] == 3 and np.isnan(dataset.features[0, 1])


def test_an_empty_compressed_part_is_skipped_and_a_channel_of_only_such_parts_refused(opt_ml):
    folder = opt_ml.channel("train", breast_cancer()[:10])
    (folder / "part-00001.csv.gz").write_bytes(gzip.compress(b""))

    assert read_channel(Channel("train", folder)).rows == 10

    (folder / "part-00000.csv").unlink()
    with pytest.raises(UserInputError, match="has no rows in its 1 data file"):
        read_channel(Channel("train", folder))
