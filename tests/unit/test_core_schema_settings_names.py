import json
import re

import numpy as np
import pytest

from core.errors import UserInputError
from core.names import dataset_and_file, endpoint_name, execution_name, owner_tag_value, run_id, slug
from core.schema import Feature, Schema
from core.settings import DatasetSettings, parse_settings
from local.sagemaker.errors import ValidationError
from local.sagemaker.tags import check_tags

SCHEMA = Schema(
    target="species",
    problem_type="multiclass",
    features=(
        Feature("Culmen Length (mm)", "numeric"),
        Feature("island", "categorical", ("Biscoe", "Dream"), capped=False),
        Feature("city", "categorical", ("Oslo",), capped=True),
        Feature("adult", "boolean"),
    ),
    classes=("Adelie", "Chinstrap", "Gentoo"),
    rows={"train": 8, "validation": 1, "test": 1, "missing_target": 0},
)


def test_raw_records_encode_with_missing_unseen_and_capped_values() -> None:
    matrix = SCHEMA.encode_records(
        [
            {"Culmen Length (mm)": "39.1", "island": "Dream", "city": "Oslo", "adult": "TRUE", "species": "x"},
            {"Culmen Length (mm)": "NA", "island": "Atlantis", "city": "Bergen", "adult": False},
            {},
        ]
    )
    nan = np.nan
    expected = np.array(
        [
            [39.1, 0, 1, 1, 0, 1],
            [nan, nan, nan, 0, 1, 0],  # unseen island → missing; city was capped → __other__
            [nan, nan, nan, nan, nan, nan],
        ],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(matrix, expected)
    assert SCHEMA.output_names() == [
        "Culmen Length (mm)",
        "island=Biscoe",
        "island=Dream",
        "city=Oslo",
        "city=__other__",
        "adult",
    ]


def test_bad_numeric_value_is_a_user_error_naming_the_column() -> None:
    with pytest.raises(UserInputError, match="Culmen Length"):
        SCHEMA.encode_records([{"Culmen Length (mm)": "long"}])


def test_schema_round_trips_through_json() -> None:
    assert Schema.from_json(SCHEMA.to_json()) == SCHEMA
    assert json.loads(SCHEMA.to_json())["classes"] == ["Adelie", "Chinstrap", "Gentoo"]


def test_settings_errors_name_every_field() -> None:
    with pytest.raises(UserInputError) as error:
        parse_settings(b'{"tragte": "y", "tuning": {"max_jobs": 0}}')
    assert "tragte: unknown setting" in error.value.reason
    assert "tuning.max_jobs" in error.value.reason
    assert parse_settings(b"{}") == DatasetSettings()


def test_names_are_stable_and_within_limits() -> None:
    a = run_id("b", "incoming/d/f.csv", "v1")
    assert a == run_id("b", "incoming/d/f.csv", "v1") != run_id("b", "incoming/d/f.csv", "v2")
    name = execution_name("ä" * 200, a)
    assert len(name) <= 80 and name.endswith(a)
    assert slug("Pingüinos 2026!", 40) == "Ping-inos-2026"
    assert dataset_and_file("incoming/d/f.csv") == ("d", "f.csv")
    assert dataset_and_file("incoming/f.csv") is None


# SageMaker's EndpointName pattern and length (CreateEndpoint in the service model).
ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


@pytest.mark.parametrize(
    "datasets",
    [
        ["my data", "my_data", "my-data", "my.data", "My-Data"],  # one slug, and one name to a case-blind service
        ["d" * 200 + "1", "d" * 200 + "2"],  # the same first 56 characters
        ["données", "donn-es", "donn es"],
    ],
)
def test_datasets_whose_slugs_collide_get_endpoints_of_their_own(datasets: list[str]) -> None:
    names = [endpoint_name("dropml", d) for d in datasets]
    # SageMaker compares endpoint names without case, so distinct must mean distinct in lower case
    assert len({n.lower() for n in names}) == len(datasets), names
    assert all(ENDPOINT_NAME.match(n) for n in names), names
    assert endpoint_name("dropml", "iris") == "dropml-iris"  # a name that is already an endpoint's is kept
    assert endpoint_name("dropml", datasets[0]) == names[0]  # and each is stable from run to run


def test_the_owner_tag_names_the_dataset_in_sagemakers_tag_alphabet() -> None:
    odd = ["iris", "my data", "Pingüinos 2026", "sales [final]", "v*", "données 🐧", "x" * 300, "a\tb"]
    values = [owner_tag_value(d) for d in odd]
    check_tags([{"Key": "dropml:dataset", "Value": v} for v in values])  # SageMaker would take each of them
    assert len(set(values)) == len(odd)
    assert values[:3] == ["iris", "my data", "Pingüinos 2026"]  # readable where the alphabet allows
    with pytest.raises(ValidationError, match="regular expression pattern"):
        check_tags([{"Key": "dropml:dataset", "Value": "données 🐧"}])
