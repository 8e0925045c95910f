"""The problem table: the parts that read it must find what they need in it."""

import numpy as np
import pytest

from core.metrics import score
from core.problems import PROBLEMS, problem_of_objective

PREDICTIONS = {
    "binary": np.array([0.2, 0.8, 0.6, 0.3]),
    "multiclass": np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2]]),
    "regression": np.array([0.1, 1.2, 1.9, 0.2]),
}
LABELS = {"binary": [0, 1, 1, 0], "multiclass": [0, 1, 2, 0], "regression": [0.0, 1.0, 2.0, 0.5]}


@pytest.mark.parametrize("problem_type", sorted(PROBLEMS))
def test_each_problem_type_is_consistent_across_its_uses(problem_type: str) -> None:
    problem = PROBLEMS[problem_type]
    # the objective solves this problem
    assert problem_of_objective(problem.objective) == problem_type
    # early stopping follows the last logged metric, which must be the one the tuner optimises
    assert problem.eval_metrics[-1] == problem.tuning_metric
    # champion and challenger are compared on a metric score() computes for the problem
    assert problem.comparison_metric in score(problem_type, np.array(LABELS[problem_type]), PREDICTIONS[problem_type])
