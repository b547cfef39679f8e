# Everything a fresh machine needs (Python 3.11, git, make) is set up by these targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

.PHONY: install browser-deps demo test lint typecheck bench bench-smoke docs soak clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(BIN)/uv pyproject.toml constraints.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev,docs,bench,openlineage]'
	touch $@

install: $(VENV)/.installed

demo: install

	$(BIN)/python scripts/run_demo.py

# Headless Chromium for tests/stack/test_browser.py, from Debian (never `playwright install`).
# Installed only when missing and running as root; otherwise the browser tests skip with a reason.
browser-deps:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		{ apt-get install -y chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y chromium >/dev/null; }; } \
			|| echo "browser-deps: apt-get install chromium failed"; \
	else echo "browser-deps: /usr/bin/chromium missing (install it as root: apt-get install -y chromium)"; fi

test: install browser-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy planasonix_provider

bench: install
	$(BIN)/python benchmarks/run_all.py

bench-smoke: install
	$(BIN)/python benchmarks/run_all.py --smoke

docs: install
	$(BIN)/mkdocs build --strict

# The reliability soak (opt-in): 200 concurrent deferrable waits under 10 % random faults.
soak: install
	PLANASONIX_SOAK=1 PLANASONIX_SOAK_SECONDS=$${PLANASONIX_SOAK_SECONDS:-60} \
		$(BIN)/python -m pytest -q -p no:cacheprovider tests/reliability/test_soak.py

constraints.txt: pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra docs --extra bench --python-version 3.11 -o constraints.txt

clean:
	rm -rf $(VENV) .airflow-test-home
