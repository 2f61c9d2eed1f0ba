# The README's quick start: `make example` builds the bundled example, `make test` runs the tests.
# Both create .venv and install jcnrc into it first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: example test examples bench clean

$(BIN)/jcnrc: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/jcnrc

example: $(BIN)/jcnrc
	$(BIN)/jcnrc build examples/aks-evpn-type5.yaml --locked

test: $(BIN)/jcnrc
	$(BIN)/python -m pytest

# Rebuild every committed example into out/ (the golden output).
examples: $(BIN)/jcnrc
	for intent in examples/*.yaml; do $(BIN)/jcnrc build "$$intent" --quiet || exit 1; done
	$(BIN)/jcnrc build examples/aks-evpn-type5.yaml --target jcnr --quiet

bench: $(BIN)/jcnrc
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache
