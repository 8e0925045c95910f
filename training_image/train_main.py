"""``train``: the one orchestrator between SageMaker's folder contract and the pure training step.

It reads the environment once, owns the mapping error → ``output/failure`` → exit code, and writes
the model directory that ``serve`` and the pipeline read:

- ``model/model.ubj``: XGBoost's own format (never pickle: the endpoint would unpickle any file);
- ``model/schema.json``: the ingest's schema, copied, so ``serve`` encodes raw rows as in training;
- ``model/summary.json``: problem type, objective, hyperparameters used, best iteration, metrics;
- ``output/data/evaluation.json`` when a ``test`` channel exists: the test split's metrics, and the
  data of the run report's figures (``diagnostics``).

Exit codes: 0 success, 1 a problem the user can fix (the failure file says what, XGBoost's own refusals
of parameters included), 2 our own bug.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xgboost as xgb

from core.container import (
    EVALUATION_FILE,
    FAILURE_REASON_MAX,
    MODEL_FILE,
    SCHEMA_CHANNEL,
    SCHEMA_FILE,
    SUMMARY_FILE,
    TEST_CHANNEL,
    TRAIN_CHANNEL,
    VALIDATION_CHANNEL,
    OptMlLayout,
    opt_ml_root,
)
from core.errors import UserInputError
from core.schema import Schema
from training_image import checkpoints, distributed, evaluation
from training_image.channels import Dataset, part_files, read_channel
from training_image.device import choose_device, visible_gpus
from training_image.diagnostics import diagnostics
from training_image.environment import TrainingEnvironment
from training_image.hyperparameters import TrainingParameters, parse_hyperparameters
from training_image.trainer import TrainingResult, check_labels, train

log = logging.getLogger("dropml.train")
_XGBOOST_PREFIX = re.compile(r"^\[[0-9:]+\] \S+:\d+: ")

EXIT_USER_ERROR = 1
EXIT_INTERNAL_ERROR = 2


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        env = TrainingEnvironment.from_environ(os.environ)
    except UserInputError as exc:
        return fail(OptMlLayout(opt_ml_root(os.environ)).failure_file, exc.reason, EXIT_USER_ERROR)
    return run(env)


def run(env: TrainingEnvironment) -> int:
    """Run the job described by ``env``; every failure leaves a one-line reason in the failure file."""
    try:
        run_job(env)
    except UserInputError as exc:
        return fail(env.failure_file, exc.reason, EXIT_USER_ERROR)
    except xgb.core.XGBoostError as exc:
        # Free-form parameters (monotone_constraints, updater, base_score, …) are XGBoost's to check.
        return fail(env.failure_file, f"XGBoost refused the job: {xgboost_reason(exc)}", EXIT_USER_ERROR)
    except Exception as exc:
        traceback.print_exc()
        return fail(env.failure_file, f"internal error in train: {type(exc).__name__}: {exc}", EXIT_INTERNAL_ERROR)
    return 0


def xgboost_reason(exc: Exception) -> str:
    """XGBoost's message without its ``[time] source.cc:line:`` prefix and stack trace."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _XGBOOST_PREFIX.sub("", first)


def fail(failure_file: Path, reason: str, code: int) -> int:
    line = " ".join(reason.split())[:FAILURE_REASON_MAX]
    log.error("training failed: %s", line)
    failure_file.parent.mkdir(parents=True, exist_ok=True)
    failure_file.write_text(line + "\n")
    return code


def run_job(env: TrainingEnvironment) -> None:
    schema_path = find_schema(env)
    schema = Schema.from_json(schema_path.read_bytes()) if schema_path else None
    parameters = parse_hyperparameters(
        env.hyperparameters,
        problem_type=schema.problem_type if schema else None,
        num_class=schema.num_class if schema and schema.problem_type == "multiclass" else None,
    )
    device = choose_device(
        requested=parameters.requested_device,
        cuda_built=bool(xgb.build_info().get("USE_CUDA")),
        gpus=visible_gpus(env.cuda_visible_devices),
    )
    log.info(
        "host %s (%d of %d), device %s, objective %s",
        env.current_host, env.rank + 1, len(env.hosts), device, parameters.booster_params["objective"],
    )  # fmt: skip

    train_data = host_share(env, TRAIN_CHANNEL, parameters, required=True)
    validation = host_share(env, VALIDATION_CHANNEL, parameters, required=False)
    assert train_data is not None
    resumable = checkpoints.signature(parameters.booster_params)
    resume_from = checkpoints.load_latest(env.checkpoint_dir, resumable)
    if resume_from is not None:
        log.info("resuming from the checkpoint after round %d", resume_from.num_boosted_rounds())
    with distributed.collective(env):
        result = train(
            train=train_data,
            validation=validation,
            parameters=parameters,
            device=device,
            resume_from=resume_from,
            callbacks=[checkpoints.CheckpointEvery(env.checkpoint_dir, parameters.checkpoint_frequency, resumable)],
            printer=lambda line: print(line.strip(), flush=True),
        )
    if env.rank != 0:
        log.info("host %s done; the first host writes the model", env.current_host)
        return
    metrics: dict[str, Any] = dict(result.metrics)
    if TEST_CHANNEL in env.channels:
        report = evaluate_test(env, parameters, result, schema)
        metrics[TEST_CHANNEL] = report["metrics"]
        write_json(env.output_data_dir / EVALUATION_FILE, report)
    write_model(env, result, parameters, device, schema_path, metrics)


def find_schema(env: TrainingEnvironment) -> Path | None:
    """Find the ingest's schema.json: in its own ``schema`` channel or among the train channel's files."""
    for name in (SCHEMA_CHANNEL, TRAIN_CHANNEL):
        channel = env.channels.get(name)
        if channel is not None and channel.path.is_dir():
            found = sorted(channel.path.rglob(SCHEMA_FILE))
            if found:
                return found[0]
    return None


def host_share(
    env: TrainingEnvironment, name: str, parameters: TrainingParameters, *, required: bool
) -> Dataset | None:
    channel = env.channels.get(name)
    if channel is None or not part_files(channel.path):
        if required:
            raise UserInputError(f"the {name!r} channel is required and has no data files")
        return None
    dataset = read_channel(channel, with_weights=parameters.csv_weights)
    check_labels(dataset, parameters, name)
    return distributed.share_of(dataset, channel, rank=env.rank, hosts=len(env.hosts))


def evaluate_test(
    env: TrainingEnvironment, parameters: TrainingParameters, result: TrainingResult, schema: Schema | None
) -> dict:
    """Score the saved model on every row of the ``test`` channel (the first host reads all of it), and
    keep what the run report draws from its predictions."""
    test = read_channel(env.channels[TEST_CHANNEL], with_weights=parameters.csv_weights)
    check_labels(test, parameters, TEST_CHANNEL)
    prediction = evaluation.output(
        problem_type=parameters.problem_type,
        objective=parameters.booster_params["objective"],
        margin=evaluation.predict_margin(result.booster, test.features),
    )
    return {
        "problem_type": parameters.problem_type,
        "rows": test.rows,
        "metrics": evaluation.evaluate(problem_type=parameters.problem_type, labels=test.labels, prediction=prediction),
        "diagnostics": diagnostics(
            problem_type=parameters.problem_type,
            booster=result.booster,
            labels=test.labels,
            prediction=prediction,
            source_columns=schema.source_columns() if schema else None,
        ),
    }


def write_model(
    env: TrainingEnvironment,
    result: TrainingResult,
    parameters: TrainingParameters,
    device: str,
    schema_path: Path | None,
    metrics: Mapping[str, Any],
) -> None:
    env.model_dir.mkdir(parents=True, exist_ok=True)
    result.booster.save_model(str(env.model_dir / MODEL_FILE))
    if schema_path is not None:
        (env.model_dir / SCHEMA_FILE).write_bytes(schema_path.read_bytes())
    write_json(
        env.model_dir / SUMMARY_FILE,
        {
            "problem_type": parameters.problem_type,
            "objective": parameters.booster_params["objective"],
            "hyperparameters": {
                **parameters.booster_params,
                "num_round": parameters.num_round,
                "early_stopping_rounds": parameters.early_stopping_rounds,
                "checkpoint_frequency": parameters.checkpoint_frequency,
                "csv_weights": int(parameters.csv_weights),
            },
            "device": device,
            "hosts": len(env.hosts),
            "rounds_trained": result.rounds,
            "best_iteration": result.best_iteration,
            "resumed_from_round": result.resumed_from,
            "xgboost_version": xgb.__version__,
            "metrics": metrics,
        },
    )


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    sys.exit(main())
