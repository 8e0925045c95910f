"""Plain code the tests import, one module per area; fixtures are in ``tests/fixtures/``."""
