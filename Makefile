# Two commands: `make repro` (run the pipeline) and `make test` (run the suite).
# `make repro PRESET=mnist5k` runs a preset's pipeline instead (presets/<name>/, docs/presets.md);
# PRESET=digits (the default) is the project's own dvc.yaml and params.yaml.
# Both set up .venv from the pinned constraints; it is reinstalled only when
# constraints.txt or pyproject.toml change.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export RAY_USAGE_STATS_ENABLED := 0
export PYTHONHASHSEED := 0

.PHONY: install repro presets test test-slow ui readme bench bench-tune clean

install: $(STAMP)

$(STAMP): constraints.txt pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[pipeline,tune,dev]" 2>&1 | grep -v "^WARNING: Location" || true
	@$(VENV)/bin/python -c "import torch, ray, mlflow, dvc, genmodels" || (echo "install failed" >&2; exit 1)
	@touch $@

PRESET ?= digits
PRESETS := digits $(patsubst presets/%/params.yaml,%,$(wildcard presets/*/params.yaml))
repro: $(STAMP)
	$(if $(filter $(PRESET),$(PRESETS)),,$(error no preset '$(PRESET)'; the presets are: $(PRESETS)))
ifeq ($(PRESET),digits)
	dvc repro
else
	python presets/generate.py --check
	dvc repro presets/$(PRESET)/dvc.yaml
endif

# Rewrite every presets/<name>/dvc.yaml from dvc.yaml (after editing dvc.yaml).
presets: $(STAMP)
	python presets/generate.py

# make test: everything but the tests marked slow; make test-slow: those (tune searches,
# multi-node, killed workers, signals, determinism); CI (.ci/run) runs both. make test runs on
# PYTEST_JOBS pytest-xdist workers, one test module per worker at a time (--dist loadscope: a
# module's fixtures are built once); tests/conftest.py gives each worker one torch/OpenMP thread.
# The slow suite runs serially by default: one of three two-worker runs lost a worker ("node
# down: Not properly terminated"), not yet diagnosed; SLOW_JOBS=2 takes it from 25 to ~16 min.
# 0 workers: in this process, one test at a time.
PYTEST_JOBS ?= 2
SLOW_JOBS ?= 0
PYTEST := python -m pytest -q --dist loadscope
test: $(STAMP)
	$(PYTEST) -n $(PYTEST_JOBS) -m "not slow"

test-slow: $(STAMP)
	$(PYTEST) -n $(SLOW_JOBS) -m slow

PORT ?= 5000
ui: $(STAMP)
	genmodels ui --port $(PORT)

# Copy each run's reports/leaderboard.md into the README and docs/ blocks that quote it.
readme: $(STAMP)
	python -m pipelines.readme_table

# make bench: every benchmark in turn, each writing its rows of benchmarks/results.csv, then the
# table (docs/bench.md says what each figure measures). Not part of make test. bench_repro's
# cold run is kept in build/bench/digits: bench_quality runs the same params once more and
# compares, bench_rbm_chains reuses its evaluator; bench_evaluator_seeds scores the repository's
# committed samples (run after make repro). Tune's search benchmark: make bench-tune.
BENCH := build/bench
bench: $(STAMP)
	rm -rf $(BENCH) && mkdir -p $(BENCH)
	time python benchmarks/bench_metrics.py
	time python benchmarks/bench_repro.py --keep $(BENCH)/digits
	time python benchmarks/bench_quality.py --first $(BENCH)/digits --keep $(BENCH)/digits-2
	time python benchmarks/bench_quality.py --params presets/mnist5k/params.yaml --keep $(BENCH)/mnist5k
	time python benchmarks/bench_stages.py
	time python benchmarks/bench_trainer_overhead.py --diagnose step_check
	time python benchmarks/bench_data_scaling.py
	time python benchmarks/bench_ray_overhead.py
	time python benchmarks/bench_rbm_chains.py --evaluator $(BENCH)/digits/models/evaluator
	time python benchmarks/bench_evaluator_seeds.py
	python benchmarks/table.py

bench-tune: $(STAMP)
	time python benchmarks/bench_tune.py
	python benchmarks/table.py --benchmark tune

clean:
	rm -rf .ray_runs mlruns mlartifacts
