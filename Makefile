# The two commands of the README: `make demo` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint perf clean

venv: $(STAMP)

# torch is pinned to the exact CPU build on the machine's disk: never let pip pick another.
$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	# An editable install skips data_files; `git testlog --help` opens this page.
	install -D -m 644 testlog/man/git-testlog.1 $(VENV)/share/man/man1/git-testlog.1
	touch $(STAMP)

demo: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

test: venv lint
	$(PY) -m pytest -q

# Lint and types: ruff (rules in pyproject.toml) and mypy (setup.cfg; strict on testlog/core).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy gitstore testlog

perf: venv
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist *.egg-info
