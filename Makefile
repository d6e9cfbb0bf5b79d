# Two commands: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt | cksum | cut -d' ' -f1)

.PHONY: run test bench setup install clean-db

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	# torch first, pinned: any other spec pulls GBs of CUDA packages.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

setup: install
	$(BIN)/flask setup

run: setup
	$(BIN)/python -m server.serve

test: setup
	@sh scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python benchmarks/run_all.py
