# The README's first two commands. Each works on a fresh machine with only Python 3.11 and pip.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or run: make PYTHON=python3 ...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dropml demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info

# `sam build` runs this for IngestFunction (template.yaml: CodeUri: ., BuildMethod: makefile). The package
# is core/ and functions/ side by side, plus the runtime dependencies at pyproject.toml's exact pins,
# as Linux x86_64 wheels for Python 3.11. Local mode zips the same two folders (local/deploy.py).
# numpy 2.4 ships manylinux_2_28 wheels only (glibc 2.27+), newer than the python3.11 runtime's Amazon Linux 2.
LAMBDA_DEPENDENCIES := polars numpy pydantic aws-lambda-powertools aws-xray-sdk
build-IngestFunction:
	cp -R core functions "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
	python3 -m pip install --quiet --target "$(ARTIFACTS_DIR)" --only-binary=:all: \
		--platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp \
		$$(for name in $(LAMBDA_DEPENDENCIES); do grep -oE "\"$$name==[^\"]+\"" pyproject.toml | tr -d '"'; done)
