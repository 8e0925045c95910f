"""Run documents as the real Prepare step builds them, for tests of the states after it."""

from __future__ import annotations

from typing import Any

from core.names import RunPaths
from core.schema import Feature, Schema
from core.settings import DatasetSettings
from functions.prepare.plan import DataSize, plan_run
from functions.run_document import RunDocument
from functions.upload import UploadVersion, prepared_document

PENGUIN_SCHEMA = Schema(
    target="species",
    problem_type="multiclass",
    features=(Feature("bill", "numeric"),),
    classes=("Adelie", "Chinstrap", "Gentoo"),
    rows={"train": 273, "validation": 34, "test": 35, "missing_target": 2},
)
RUN = "0123456789ab"
SMALL_DATA = DataSize(train_parts=4, train_bytes=40 << 20, total_bytes=50 << 20)


def planned_run(
    settings: DatasetSettings | None = None,
    *,
    schema: Schema = PENGUIN_SCHEMA,
    dataset: str = "penguins",
    gpu_instance_type: str | None = "ml.g4dn.xlarge",
    endpoint_poll_seconds: int = 30,
    data_size: DataSize = SMALL_DATA,
    **results: Any,
) -> RunDocument:
    """The document Prepare returns for ``settings``, with ``results`` (training, evaluation, …) as
    later states would have written them."""
    settings = settings or DatasetSettings()
    paths = RunPaths("b", dataset, RUN)
    upload = UploadVersion.of("b", f"incoming/{dataset}/{dataset}.csv", "v1", '"0123"')
    prepared = prepared_document(paths, schema, upload)
    plan, attempt = plan_run(
        prefix="dropml",
        dataset=dataset,
        execution_name=f"{dataset}-{RUN}",
        schema=schema,
        settings=settings,
        gpu_instance_type=gpu_instance_type,
        cpu_instance_type="ml.m5.xlarge",
        data_uri=prepared.data,
        data_size=data_size,
        max_instances=4,
        schema_uri=prepared.schema_uri,
        output_path=paths.uri(paths.jobs_key),
        checkpoint_uri=paths.uri(paths.checkpoints_key),
        max_runtime_seconds=3600,
        endpoint_poll_seconds=endpoint_poll_seconds,
        endpoint_instance_type="ml.m5.large",
    )
    document = RunDocument(
        source=f"s3://b/incoming/{dataset}/{dataset}.csv",
        dataset=dataset,
        file=f"{dataset}.csv",
        run_id=RUN,
        settings=settings,
        prepared=prepared,
        plan=plan,
        attempt=attempt,
    )
    return RunDocument.model_validate({**document.to_state(), **results})
