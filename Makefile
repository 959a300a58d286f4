# Every target creates .venv and installs the project with its dev extras when missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench chaos clean chromium dmtcp screenshots

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

# DMTCP is in no package registry here: unpack the build beside the project (see
# ../shared/tools/dmtcp/README.md) into .venv/dmtcp when dmtcp_launch is not installed;
# the tests, the benchmark and the chaos run give its bin/ to workers as CBAS_DMTCP_BIN
DMTCP_TARBALL := $(firstword $(wildcard ../shared/tools/dmtcp/dmtcp-*.tar.xz))
dmtcp: $(STAMP)
	@command -v dmtcp_launch >/dev/null || test -x $(VENV)/dmtcp/bin/dmtcp_launch \
		|| (test -n "$(DMTCP_TARBALL)" && tar xJf "$(DMTCP_TARBALL)" -C $(VENV)) \
		|| echo "dmtcp unavailable: the DMTCP tests will be skipped"

test: lint chromium dmtcp
	$(BIN)/python -m pytest -q -p no:cacheprovider -n auto --dist worksteal --durations=10

# the browser test, saving its pictures into docs/screenshots (a plain test run does not)
screenshots: $(STAMP) chromium
	CBAS_SCREENSHOTS=docs $(BIN)/python -m pytest -q -p no:cacheprovider tests/web/test_browser.py

demo: $(STAMP) dmtcp
	$(BIN)/python -m cbas_async demo

bench: $(STAMP) dmtcp
	$(BIN)/python -m benchmarks

# seeded chaos run on the local cloud; `make chaos SEED=123` reproduces a run
ifndef SEED
SEED := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif
chaos: $(STAMP) dmtcp
	@echo "chaos seed: $(SEED)"
	$(BIN)/python -m chaos --jobs 200 --worker-kills 50 --master-kills 10 --interruptions 30 --seed $(SEED)

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info
