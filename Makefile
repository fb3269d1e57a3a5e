# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
MEDIAPIPE_VERSION ?= 0.10.21
# Extra pip arguments for torch, e.g. TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=
PYTEST_ARGS ?=
# Parallel test processes (pytest-xdist); each gets its own database and Redis database.
TEST_WORKERS ?= 2

.PHONY: install run test test-fast test-drill test-bench lint format clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first: an unpinned torch from another package's requirements pulls GBs of CUDA.
	$(PY) -m pip install -q "torch==$(TORCH_VERSION)" $(TORCH_PIP_ARGS)
	$(PY) -m pip install -q -e ".[dev]"
	# mediapipe's metadata pins numpy<2/protobuf<5; the pose and segmentation models it ships
	# run with the numpy and protobuf pyproject.toml installs, so its pins are skipped.
	$(PY) -m pip install -q --no-deps "mediapipe==$(MEDIAPIPE_VERSION)"
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m illuplatform.launcher

test: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# The 20-job fault drill against the supervised stack (also: python -m bench.faults), and the
# benchmark scripts run end to end with tiny settings: scenarios of minutes that `make test`
# leaves out (tests/conftest.py ASKED_BY_NAME).
test-drill: install
	$(PY) -m pytest -m drill $(PYTEST_ARGS)

test-bench: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal -m bench_smoke $(PYTEST_ARGS)

# The quick loop: everything but the tests marked slow (real worker processes, browsers, fuzzing).
test-fast: install
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not slow and not drill" $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var
