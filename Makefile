# The two commands a newcomer needs: `make lab` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: lab test test-fast bench bench-quick run grade clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make lab: create .venv, install, open JupyterLab on the course
# The server's root is the project, so the notebooks' links to ../exercises/ work;
# the browser opens on the first notebook. (Root in a container: --allow-root.)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=$(CURDIR) $(if $(filter 0,$(shell id -u)),--allow-root) \
	    notebooks/00_orientation.ipynb

## make test: create .venv if missing, install, run every test
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=120 --nbval-sanitize-with notebooks/sanitize.cfg

test: $(STAMP)
	$(PY) -m pytest tests notebooks solutions $(NBVAL)

## make test-fast: the library's unit tests only
test-fast: $(STAMP)
	$(PY) -m pytest tests --ignore=tests/reliability --ignore=tests/browser -q

## make bench: side-by-side benchmarks against a bare SimpleQueue and Pykka
bench: $(STAMP)
	$(PY) -m benchmarks

bench-quick: $(STAMP)
	$(PY) -m benchmarks --quick

## make run: execute every notebook with papermill into build/ and print a table
run: $(STAMP)
	$(PY) tools/nb.py run

## make grade: grade every exercise notebook (passes only when they are solved)
grade: $(STAMP)
	$(PY) -m pytest exercises $(NBVAL)

clean:
	rm -rf build .pytest_cache
