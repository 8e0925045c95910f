import pytest

from core.errors import UserInputError
from core.hyperparameters import RULES
from training_image.hyperparameters import DEFAULT_NUM_ROUND, parse_hyperparameters

# A configuration as written for SageMaker's built-in XGBoost algorithm (its documentation's example).
BUILT_IN_CONFIG = {
    "max_depth": "5",
    "eta": "0.2",
    "gamma": "4",
    "min_child_weight": "6",
    "subsample": "0.7",
    "colsample_bytree": "0.8",
    "alpha": "0.1",
    "lambda": "1.5",
    "objective": "binary:logistic",
    "num_round": "50",
    "eval_metric": "auc",
    "scale_pos_weight": "2",
    "early_stopping_rounds": "10",
    "tree_method": "hist",
    "max_bin": "128",
    "csv_weights": "0",
    "verbosity": "1",
}


def test_a_built_in_algorithm_configuration_is_taken_with_its_meanings():
    parameters = parse_hyperparameters(BUILT_IN_CONFIG, problem_type=None, num_class=None)

    assert parameters.num_round == 50
    assert parameters.early_stopping_rounds == 10
    assert parameters.csv_weights is False
    assert parse_hyperparameters({"csv_weights": "1"}, problem_type=None, num_class=None).csv_weights is True
    assert parameters.problem_type == "binary"
    booster = parameters.booster_params
    assert booster["max_depth"] == 5 and booster["eta"] == 0.2 and booster["lambda"] == 1.5
    assert booster["eval_metric"] == ["auc"]
    assert "num_round" not in booster and "early_stopping_rounds" not in booster


@pytest.mark.parametrize(
    ("problem_type", "num_class", "objective", "metrics"),
    [
        ("binary", None, "binary:logistic", ["logloss", "auc"]),
        ("multiclass", 3, "multi:softprob", ["merror", "mlogloss"]),
        ("regression", None, "reg:squarederror", ["rmse"]),
        (None, None, "reg:squarederror", ["rmse"]),
    ],
)
def test_objective_and_metrics_default_from_the_schema(problem_type, num_class, objective, metrics):
    parameters = parse_hyperparameters({}, problem_type=problem_type, num_class=num_class)

    assert parameters.booster_params["objective"] == objective
    assert parameters.booster_params["eval_metric"] == metrics
    assert parameters.num_round == DEFAULT_NUM_ROUND
    if num_class:
        assert parameters.booster_params["num_class"] == 3


def test_the_users_objective_wins_over_the_schema_and_decides_the_metrics():
    parameters = parse_hyperparameters({"objective": "reg:logistic"}, problem_type="binary", num_class=None)

    assert parameters.problem_type == "regression"
    assert parameters.booster_params["eval_metric"] == ["rmse"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("eta", "1.5", "a number in [0, 1]"),
        ("subsample", "0", "a number in (0, 1]"),
        ("max_depth", "2.5", "an integer in [0, 1000]"),
        ("num_round", "many", "an integer in [1, 1000000]"),
        ("gamma", "-1", "a number in [0, ∞)"),
        ("objective", "binary:nonsense", "one of binary:logistic"),
        ("tweedie_variance_power", "2", "a number in (1, 2)"),
    ],
)
def test_a_bad_value_names_the_parameter_and_what_it_accepts(name, value, expected):
    with pytest.raises(UserInputError) as raised:
        parse_hyperparameters({name: value}, problem_type="binary", num_class=None)

    assert raised.value.reason.startswith(f"hyperparameter {name}={value!r} is invalid")
    assert expected in raised.value.reason
    assert raised.value.column == name


def test_an_unknown_hyperparameter_is_named():
    with pytest.raises(UserInputError, match="unknown hyperparameter 'max_dept'"):
        parse_hyperparameters({"max_dept": "4"}, problem_type="binary", num_class=None)


def test_sagemakers_own_keys_are_accepted_and_the_tuning_metric_gets_a_log_line():
    raw = {
        "_tuning_objective_metric": "validation:aucpr",
        "sagemaker_estimator_class_name": "XGBoost",
        "_kubeflow": "x",
    }

    parameters = parse_hyperparameters(raw, problem_type="binary", num_class=None)

    # Put last, so early stopping follows the metric the tuner optimises.
    assert parameters.booster_params["eval_metric"] == ["logloss", "auc", "aucpr"]
    moved = parse_hyperparameters(
        {"eval_metric": "auc,logloss", "_tuning_objective_metric": "validation:auc"},
        problem_type="binary",
        num_class=None,
    )
    assert moved.booster_params["eval_metric"] == ["logloss", "auc"]
    assert not any(k.startswith(("_", "sagemaker")) for k in parameters.booster_params)


def test_an_unknown_eval_metric_is_refused():
    with pytest.raises(UserInputError, match="unknown metric 'acc'"):
        parse_hyperparameters({"eval_metric": "auc,acc"}, problem_type="binary", num_class=None)


def test_multiclass_without_a_class_count_fails_early():
    with pytest.raises(UserInputError, match="num_class is required"):
        parse_hyperparameters({"objective": "multi:softmax"}, problem_type=None, num_class=None)


def test_gpu_hist_means_hist_on_the_gpu_and_dropped_parameters_are_not_passed_on():
    raw = {"tree_method": "gpu_hist", "single_precision_histogram": "true", "sketch_eps": "0.03"}

    parameters = parse_hyperparameters(raw, problem_type="regression", num_class=None)

    assert parameters.booster_params["tree_method"] == "hist"
    assert parameters.requested_device == "cuda"
    assert "single_precision_histogram" not in parameters.booster_params
    assert "sketch_eps" not in parameters.booster_params


def test_every_rule_describes_itself_for_error_messages():
    for name, rule in RULES.items():
        assert rule.describe(), name
