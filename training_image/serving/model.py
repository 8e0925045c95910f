"""Load ``/opt/ml/model`` once per worker: the booster, the schema when there is one, and what they imply.

Everything a request needs to know about the model (its width, its problem type, the user's class
names) is worked out here at start-up, so a request does no lookups and a broken model directory fails
``serve`` before it answers ``/ping``, not on the first invocation.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xgboost as xgb

from core.container import MODEL_FILE, SCHEMA_FILE, OptMlLayout, opt_ml_root
from core.errors import UserInputError
from core.problems import problem_of_objective
from core.schema import ProblemType, Schema


def model_dir_from_env() -> Path:
    """``/opt/ml/model``, or ``$DROPML_OPT_ML/model`` outside a container."""
    return OptMlLayout(opt_ml_root(os.environ)).model_dir


@dataclass(frozen=True)
class ServedModel:
    """A loaded model and the facts about it that every request uses.

    ``classes[i]`` names encoded class ``i``: the user's own label text from the schema, or the index
    itself (``"0"``, ``"1"`` …) for a model that came without one. ``iteration_range`` keeps only the
    best iteration's trees when training stopped early, as XGBoost's scikit-learn wrapper does.
    ``outputs_margin`` marks ``binary:logitraw``, whose predictions are log-odds, not probabilities.
    ``column_names`` are the schema's input columns, the keys a raw record may use.
    """

    booster: xgb.Booster
    schema: Schema | None
    problem_type: ProblemType
    classes: tuple[str, ...]
    width: int
    iteration_range: tuple[int, int]
    outputs_margin: bool = False
    column_names: frozenset[str] = frozenset()


def load_model(model_dir: Path) -> ServedModel:
    """Read ``model.ubj`` (and ``schema.json`` when present) from ``model_dir``; never unpickles."""
    model_path = model_dir / MODEL_FILE
    if not model_path.is_file():
        raise UserInputError(f"no {MODEL_FILE} in {model_dir}")
    booster = xgb.Booster(model_file=str(model_path))
    # One thread per worker: serve runs a worker per CPU, and threads inside a one-row prediction only
    # add synchronisation cost.
    booster.set_param({"nthread": 1})
    schema_path = model_dir / SCHEMA_FILE
    schema = Schema.from_json(schema_path.read_bytes()) if schema_path.is_file() else None
    width = booster.num_features()
    if schema is not None and schema.width != width:
        raise UserInputError(f"{SCHEMA_FILE} describes {schema.width} model columns but {MODEL_FILE} expects {width}")
    learner = json.loads(booster.save_config())["learner"]
    # without a schema the objective tells
    objective = str(learner["objective"]["name"])
    problem_type = schema.problem_type if schema is not None else problem_of_objective(objective)
    return ServedModel(
        booster=booster,
        schema=schema,
        problem_type=problem_type,
        classes=_classes(learner, schema, problem_type),
        width=width,
        iteration_range=_iteration_range(booster),
        outputs_margin=learner["objective"]["name"] == "binary:logitraw",
        column_names=frozenset(f.name for f in schema.features) if schema is not None else frozenset(),
    )


def _classes(learner: dict[str, Any], schema: Schema | None, problem_type: ProblemType) -> tuple[str, ...]:
    if problem_type == "regression":
        return ()
    if schema is not None and schema.classes:
        return schema.classes
    if problem_type == "binary":
        return ("0", "1")
    num_class = int(learner["learner_model_param"]["num_class"])
    return tuple(str(i) for i in range(num_class))


def _iteration_range(booster: xgb.Booster) -> tuple[int, int]:
    best = booster.attr("best_iteration")
    return (0, int(best) + 1) if best is not None else (0, 0)
