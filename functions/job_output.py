"""A training job's ``evaluation.json``, read from its ``output.tar.gz`` in S3.

The image scores its model on the test split there (metrics, and the data of the report's figures);
the evaluate step reads the metrics, the report the figures' data, from the same archive.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

from core.container import EVALUATION_FILE, OUTPUT_ARCHIVE
from core.s3 import split_s3_uri


def read_evaluation(s3: Any, job: dict[str, Any]) -> dict[str, Any]:
    """``job`` is the job's DescribeTrainingJob answer."""
    output = f"{job['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job['TrainingJobName']}/output/{OUTPUT_ARCHIVE}"
    bucket, key = split_s3_uri(output)
    archive = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = tar.extractfile(EVALUATION_FILE)
        if member is None:
            raise RuntimeError(f"{output} holds no {EVALUATION_FILE}: the job had no test channel")
        evaluation: dict[str, Any] = json.load(member)
    return evaluation
