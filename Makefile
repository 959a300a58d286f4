# Every target creates .venv and installs the project with its dev extras when missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench chaos clean chromium

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks chaos
	$(BIN)/ruff format --check src tests benchmarks chaos
	$(BIN)/mypy --strict src

# the web UI's browser test drives Debian's chromium (Playwright's own download is not used)
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium) \
		|| echo "chromium unavailable: the browser test will be skipped"

test: lint chromium
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=10

demo: $(STAMP)
	$(BIN)/python -m cbas_async demo

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# seeded chaos run on the local cloud; `make chaos SEED=123` reproduces a run
ifndef SEED
SEED := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif
chaos: $(STAMP)
	@echo "chaos seed: $(SEED)"
	$(BIN)/python -m chaos --jobs 200 --worker-kills 50 --master-kills 10 --interruptions 30 --seed $(SEED)

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info
