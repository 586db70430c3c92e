# Two commands: `make repro` (run the pipeline) and `make test` (run the suite).
# Both set up .venv from the pinned constraints; it is reinstalled only when
# constraints.txt or pyproject.toml change.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export RAY_USAGE_STATS_ENABLED := 0
export PYTHONHASHSEED := 0

.PHONY: install repro test test-slow ui bench clean

install: $(STAMP)

$(STAMP): constraints.txt pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[pipeline,tune,dev]" 2>&1 | grep -v "^WARNING: Location" || true
	@$(VENV)/bin/python -c "import torch, ray, mlflow, dvc, genmodels" || (echo "install failed" >&2; exit 1)
	@touch $@

repro: $(STAMP)
	dvc repro

# make test: everything but the tests marked slow (well under 15 minutes on 2 cores);
# make test-slow: those (tune searches, multi-node, killed workers, signals, determinism);
# CI (.ci/run) runs both.
test: $(STAMP)
	python -m pytest -q -m "not slow"

test-slow: $(STAMP)
	python -m pytest -q -m slow

PORT ?= 5000
ui: $(STAMP)
	genmodels ui --port $(PORT)

bench: $(STAMP)
	time python benchmarks/bench_metrics.py
	time python benchmarks/bench_repro.py
	time python benchmarks/bench_stages.py
	time python benchmarks/bench_trainer_overhead.py
	time python benchmarks/bench_data_scaling.py
	time python benchmarks/bench_ray_overhead.py
	time python benchmarks/bench_tune.py
	time python benchmarks/bench_rbm_chains.py
	python benchmarks/table.py

clean:
	rm -rf .ray_runs mlruns mlartifacts
