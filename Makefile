# Two commands set everything up on a fresh machine with Python 3.11:
#   make demo   - create .venv if missing, install, run the default experiment
#   make test   - same set-up, then the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# A stamp makes a second run install nothing: it is newer than the files
# that declare the dependencies until one of them changes. uv installs the
# same releases as pip in a fraction of the time (seen: 65 s with torch
# against 130 s without); it reads pip's find-links (where this kind of
# machine keeps its CPU build of torch) only when told.
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
FIND_LINKS = $(or $(PIP_FIND_LINKS),$(shell $(PYTHON) -m pip config get \
	global.find-links 2>/dev/null))
UV_INSTALL = $(BIN)/uv pip install --python $(BIN)/python --quiet \
	--compile-bytecode $(if $(FIND_LINKS),--find-links $(FIND_LINKS))

.PHONY: demo test lint install clean

install: $(STAMP)

$(BIN)/uv:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv

$(STAMP): setup.cfg pyproject.toml | $(BIN)/uv
	$(UV_INSTALL) -e .
	touch $(STAMP)

# The tests also need the `test` extra, `bench` (the CPU build of torch)
# for the PyTorch twins of the benchmark, `rl` (gymnasium), `nas`
# (keras-tuner) and `explain` (shap, lime) for the experiments of
# sections 7.8, 7.7.1 and 9.
$(TEST_STAMP): setup.cfg pyproject.toml | $(BIN)/uv
	$(UV_INSTALL) -e '.[test,bench,rl,nas,explain]'
	touch $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/python -m experiments.train

# Two test processes, one per core: most tests wait on a subprocess or on
# tracing, so two at a time take about 0.6 of the time of one after another.
test: $(TEST_STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest -n 2 --durations=25

lint: $(TEST_STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

clean:
	rm -rf $(VENV) runs .pytest_cache
