# Two commands: `make run` and `make test`. Everything else is set up by them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-nodeps.txt | cksum | cut -d' ' -f1)

VENDOR := static/vendor
VENDOR_STAMP := $(VENDOR)/node_modules/.installed-$(shell cat $(VENDOR)/package-lock.json | cksum | cut -d' ' -f1)

.PHONY: run test test-fast bench setup install clean-db

$(STAMP): requirements.txt requirements-nodeps.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	# torch first, pinned: any other spec pulls GBs of CUDA packages.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt
	@rm -f $(VENV)/.installed-* && touch $@

# Front-end libraries (tus-js-client for resumable uploads) from the npm registry, pinned by the committed lockfile,
# into a git-ignored folder Flask serves as it is (no build step).
$(VENDOR_STAMP): $(VENDOR)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "Node.js and npm are needed to install the front-end libraries (apt-get install nodejs npm)"; exit 1; }
	cd $(VENDOR) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@rm -f $(VENDOR)/node_modules/.installed-* && touch $@

install: $(STAMP) $(VENDOR_STAMP)

setup: install
	@sh scripts/ensure-speech-tools.sh
	$(BIN)/flask setup

run: setup
	$(BIN)/python -m server.serve

test: setup
	@sh scripts/ensure-chromium.sh
	@sh scripts/ensure-nginx.sh
	$(BIN)/python -m pytest -q

# The inner loop: SQLite only, no browser or worker-process tests, stop at the first failure. CI runs `make test`.
test-fast: setup
	CLINLABEL_TEST_BACKENDS=sqlite $(BIN)/python -m pytest -q -x -m "not browser and not worker" $(ARGS)

bench: setup
	$(BIN)/python benchmarks/run_all.py
