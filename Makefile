# The README's first two commands. Each works on a fresh machine with only Python 3.11 and pip.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SDK_VENV := .venv-sdk
SDK_STAMP := $(SDK_VENV)/.installed
SDK2_VENV := .venv-sdk2
SDK2_STAMP := $(SDK2_VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or run: make PYTHON=python3 ...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The SageMaker SDKs (3.x, 2.x) as clients, each over .venv's packages (see requirements-sdk.txt for why).
define sdk_venv
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" \
		> "$$($(1)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/dropml-dev.pth"
	$(1)/bin/python -m pip install --quiet --no-deps -r $(2)
	touch $(1)/.installed
endef

$(SDK_STAMP): requirements-sdk.txt $(STAMP)
	$(call sdk_venv,$(SDK_VENV),requirements-sdk.txt)

$(SDK2_STAMP): requirements-sdk2.txt $(STAMP)
	$(call sdk_venv,$(SDK2_VENV),requirements-sdk2.txt)

demo: $(STAMP)
	$(BIN)/dropml demo

test: $(STAMP) $(SDK_STAMP) $(SDK2_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile --max-worker-restart=0 -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(SDK_VENV) $(SDK2_VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info

# `sam build` runs build-<Function> for each function (template.yaml: CodeUri: ., BuildMethod: makefile).
# Every function gets the same package: core/ and functions/ side by side, plus the runtime dependencies at
# pyproject.toml's exact pins as Linux x86_64 wheels for the python3.12 runtime (Amazon Linux 2023: numpy
# 2.4 ships manylinux_2_28 wheels only, too new for python3.11's Amazon Linux 2). boto3/botocore come with
# the runtime, and stripping debug symbols keeps the package under Lambda's 250 MB (polars is most of it).
# Local mode zips the same two folders (local/deploy.py).
LAMBDA_FUNCTIONS := IngestFunction PrepareFunction EvaluateFunction NotifyFunction
LAMBDA_DEPENDENCIES := polars numpy pydantic aws-lambda-powertools aws-xray-sdk
# Notify draws the run report (matplotlib, jinja2) and reads no CSV: no polars, which keeps it under 250 MB.
build-NotifyFunction: LAMBDA_DEPENDENCIES := numpy pydantic aws-lambda-powertools aws-xray-sdk matplotlib jinja2
LAMBDA_RUNTIME_PROVIDED := boto3 botocore s3transfer urllib3 jmespath python_dateutil dateutil six
$(addprefix build-,$(LAMBDA_FUNCTIONS)):
	cp -R core functions "$(ARTIFACTS_DIR)/"
	python3 -m pip install --quiet --target "$(ARTIFACTS_DIR)" --only-binary=:all: \
		--platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --python-version 3.12 --implementation cp \
		$$(for name in $(LAMBDA_DEPENDENCIES); do grep -oE "\"$$name==[^\"]+\"" pyproject.toml | tr -d '"'; done)
	cd "$(ARTIFACTS_DIR)" && rm -rf $(foreach name,$(LAMBDA_RUNTIME_PROVIDED),$(name) $(name)-*.dist-info) bin
	find "$(ARTIFACTS_DIR)" -name __pycache__ -type d -prune -exec rm -rf {} +
	find "$(ARTIFACTS_DIR)" -name "*.so" -exec strip --strip-unneeded {} +
