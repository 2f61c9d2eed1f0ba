# The README's quick start: `make example` builds the bundled example, `make test` runs the tests.
# Both create .venv and install jcnrc into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: example test lint examples compiled-templates bench clean

$(BIN)/jcnrc: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/jcnrc

example: $(BIN)/jcnrc
	$(BIN)/jcnrc build examples/aks-evpn-type5.yaml --locked

# One process: on two cores `-n 2 --dist loadfile` (pytest-xdist, a test extra) saves 40 % of the wall
# time but costs 12 % more CPU; run it with `make test PYTEST_ARGS="-n 2 --dist loadfile"`.
test: $(BIN)/jcnrc
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The gates CI runs before the tests: ruff and mypy, configured in pyproject.toml; ruff is clean over
# jcnrc/ and the tests, benchmarks and fuzz scripts, mypy over jcnrc/.
$(VENV)/.lint-installed: $(BIN)/jcnrc pyproject.toml
	$(BIN)/pip install --quiet -e '.[lint]'
	touch $@

lint: $(VENV)/.lint-installed
	$(BIN)/ruff check jcnrc tests benchmarks fuzz
	$(BIN)/mypy

# Rebuild every committed example into out/ (the golden output).
examples: $(BIN)/jcnrc
	for intent in examples/*.yaml examples/fleets/*.yaml; do $(BIN)/jcnrc build "$$intent" --quiet || exit 1; done
	$(BIN)/jcnrc build examples/aks-evpn-type5.yaml --target jcnr --quiet

# The built-in templates compiled by Jinja, shipped in jcnrc/render/compiled_templates.json so that a run
# compiles none (a test fails when it is stale: after changing a template or a filter).
compiled-templates: $(BIN)/jcnrc
	$(BIN)/python -m jcnrc.render.templates

bench: $(BIN)/jcnrc
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache
