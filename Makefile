# Two commands set everything up on a fresh machine with Python 3.11:
#   make demo   - create .venv if missing, install, run the default experiment
#   make test   - same set-up, then the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The stamp makes a second run install nothing: it is newer than the files
# that declare the dependencies until one of them changes.
STAMP := $(VENV)/.installed

.PHONY: demo test lint install clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m experiments.train

# Two test processes, one per core: most tests wait on a subprocess or on
# tracing, so two at a time take about 0.6 of the time of one after another.
test: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest -n 2 --durations=25

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

clean:
	rm -rf $(VENV) runs .pytest_cache
