"""Every fixture is registered here, once; each is defined in ``tests/fixtures/`` under its own name.

What a test imports (builders, runners, constants, the classes fixtures yield) is in ``tests/helpers/``.
Every run loads these plugins, unit runs included, so a fixture module imports moto, scikit-learn and
``local`` inside the fixture that needs them: a unit run does not pay for them, and a module broken
mid-change fails only the tests that use it.
"""

pytest_plugins = [
    "tests.fixtures.aws",
    "tests.fixtures.datasets",
    "tests.fixtures.local",
    "tests.fixtures.sagemaker",
]
