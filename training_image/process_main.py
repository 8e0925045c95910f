"""``process``: the dataset conversion as a SageMaker Processing job, for uploads a Lambda cannot convert.

It runs the same conversion as the ingest Lambda (:func:`core.conversion.convert`) on a processing
instance, which has the memory, disk and time a Lambda lacks. SageMaker puts the pinned copy of the
upload in ``processing/input/upload/`` and the dataset's settings in ``processing/input/settings/``;
the splits go to ``processing/output/data/`` and ``schema.json`` to ``processing/output/schema/``,
which SageMaker uploads to the run's folder when the program ends (:mod:`core.container` names them).

A refusal (:class:`core.errors.UserInputError`: a ragged row, no target column…) is written to
``/opt/ml/output/message``, which DescribeProcessingJob reports as the job's ``ExitMessage`` (its
FailureReason is SageMaker's generic one), and the program exits 1, leaving the output folders empty, so
a refused upload leaves no data behind.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from core.container import (
    FAILURE_REASON_MAX as EXIT_MESSAGE_MAX,
)
from core.container import (
    PROCESSING_DATA,
    PROCESSING_SCHEMA,
    PROCESSING_SETTINGS,
    PROCESSING_UPLOAD,
    SCHEMA_FILE,
    SETTINGS_JSON,
    OptMlLayout,
    opt_ml_root,
)
from core.conversion import convert
from core.errors import UserInputError
from core.settings import parse_settings

log = logging.getLogger("dropml.process")


def process(root: Path) -> None:
    """Convert the one file in the upload folder; raises :class:`UserInputError` for what the user must fix."""
    uploads = sorted(path for path in (root / PROCESSING_UPLOAD).rglob("*") if path.is_file())
    if len(uploads) != 1:
        raise UserInputError(f"{PROCESSING_UPLOAD} must hold exactly one file, not {len(uploads)}")
    settings = parse_settings((root / PROCESSING_SETTINGS / SETTINGS_JSON).read_bytes(), source=SETTINGS_JSON)
    log.info("converting %s (%d bytes)", uploads[0].name, uploads[0].stat().st_size)
    result = convert(str(uploads[0]), str(root / PROCESSING_DATA), settings)
    schema_folder = root / PROCESSING_SCHEMA
    schema_folder.mkdir(parents=True, exist_ok=True)
    (schema_folder / SCHEMA_FILE).write_text(result.schema.to_json())
    log.info("wrote %s", {split: len(parts) for split, parts in result.files.items()})


def main(environ: Mapping[str, str] = os.environ) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stdout)
    root = opt_ml_root(environ)
    try:
        process(root)
    except UserInputError as refusal:
        message = OptMlLayout(root).exit_message_file
        message.parent.mkdir(parents=True, exist_ok=True)
        message.write_text(refusal.reason[:EXIT_MESSAGE_MAX])
        log.error("refused: %s", refusal.reason)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
