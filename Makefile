# The team's habits as targets. `make test` and `make demo` work from a fresh clone: they create .venv and
# install the pinned dependencies first.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda runs Python 3.12: test on the same minor version when the machine has it (pyenv or system).
PYTHON ?= $(shell for p in python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3.13 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REQS := requirements.txt requirements-dev.txt layers/deps/requirements.txt layers/kubernetes/requirements.txt
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv format lint test test-unit synth bench demo clean

help:
	@echo "make test    set up .venv, lint (ruff, mypy, import-linter) and run every test"
	@echo "make demo    set up .venv and run the game day on the local sandbox (SCENARIO=name to choose;"
	@echo "             KUBE=real: on real control planes from FERRY_KUBE_ASSETS, in real time)"
	@echo "make synth   synthesize the CDK app offline into cdk.out (no AWS credentials, no Docker)"
	@echo "make bench   run the benchmarks and print the figures"
	@echo "make format  format and fix the code with ruff"

$(STAMP): $(REQS)
	@test -n "$(PYTHON)" || { echo "error: Python 3.12 or newer is required (Lambda runs 3.12); none found" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PYTHONPATH=layers/ferry/python:. $(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/pytest -n 2 --dist loadscope

test-unit: $(STAMP)
	$(BIN)/pytest tests/unit

synth: $(STAMP)
	$(BIN)/python -m cdk.synth

bench: $(STAMP)
	$(BIN)/python -m bench

SCENARIO ?= az-outage
KUBE ?= double
demo: $(STAMP)
	$(BIN)/python -m sandbox.gameday $(SCENARIO) --kube $(KUBE)

clean:
	rm -rf $(VENV) cdk.out .build .mypy_cache .ruff_cache
