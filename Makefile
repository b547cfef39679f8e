# Everything a fresh machine needs (Python 3.11, git, make) is set up by these targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9

# The Airflow lines of the version matrix: constraints/airflow-<line>.in names each one's release.
PIN_LINES := 3.0 3.1 3.2 3.3

.PHONY: install install-demo browser-deps demo test test-matrix lint typecheck bench bench-smoke \
	docs soak pins clean bench-smoke-lowest bench-airflow-triggerer

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The pinned set is installed as committed: nothing here re-resolves it (see `make pins`).
$(VENV)/.installed-demo: $(BIN)/uv pyproject.toml constraints.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e .
	touch $@

$(VENV)/.installed: $(BIN)/uv pyproject.toml constraints.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev,docs,bench,inbound-webhooks,openlineage]'
	touch $@ $(VENV)/.installed-demo

install-demo: $(VENV)/.installed-demo

install: $(VENV)/.installed

# The demo needs the package alone (Airflow and the sandbox come with it), not the test, docs
# and benchmark extras.
demo: install-demo
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

# The other Airflow lines and Pythons, one venv each under .venvs/ (see scripts/test_matrix.py).
test-matrix: $(BIN)/uv
	$(BIN)/python scripts/test_matrix.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy planasonix_provider

bench: install
	$(BIN)/python benchmarks/run_all.py

bench-smoke: install
	$(BIN)/python benchmarks/run_all.py --smoke

# Inside the real `airflow triggerer` (SQLite): ours, dbt Cloud's trigger and a no-I/O floor
# trigger, side by side (docs/scale.md). Not part of bench/bench-smoke (minutes per size).
# Other sizes: make bench-airflow-triggerer SIZES=5000:10 (SIZES=smoke for the small run).
SIZES ?= 1000:1,5000:10,10000:10
bench-airflow-triggerer: install
	$(BIN)/python benchmarks/bench_airflow_triggerer.py $(if $(filter smoke,$(SIZES)),--smoke,--sizes $(SIZES))

# The same smoke run on the lowest Airflow line, in the venv `make test-matrix` builds.
bench-smoke-lowest: $(BIN)/uv
	$(BIN)/python scripts/test_matrix.py --airflow 3.0 --python none --no-stack --no-tests
	.venvs/airflow-3.0/bin/python benchmarks/run_all.py --smoke

docs: install
	$(BIN)/mkdocs build --strict

# The reliability soak (opt-in): 200 concurrent deferrable waits under 10 % random faults.
soak: install
	PLANASONIX_SOAK=1 PLANASONIX_SOAK_SECONDS=$${PLANASONIX_SOAK_SECONDS:-60} \
		$(BIN)/python -m pytest -q -p no:cacheprovider tests/reliability/test_soak.py

# Explicit only: re-resolves every pinned set against what the index serves today.
pins: $(BIN)/uv
	$(BIN)/uv pip compile --quiet pyproject.toml --extra dev --extra docs --extra bench \
		--extra inbound-webhooks --python-version 3.11 -o constraints.txt
	for line in $(PIN_LINES); do \
		$(BIN)/uv pip compile --quiet pyproject.toml constraints/airflow-$$line.in --extra dev --extra bench \
			--universal --python-version 3.10 -o constraints/airflow-$$line.txt || exit 1; \
	done

clean:
	rm -rf $(VENV) .venvs .airflow-test-home
