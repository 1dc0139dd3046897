# labelapp: `make run` opens the app on a generated demo project; `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO ?= demo-project
# Every pip call of the set-up uses the pins: a looser torch pulls gigabytes of CUDA.
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test demo clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -e ".[dev,export]"
	@touch $(STAMP)

$(DEMO)/project.sqlite: | $(STAMP)
	$(BIN)/labelapp demo $(DEMO)

demo: $(DEMO)/project.sqlite

run: install demo
	$(BIN)/labelapp open $(DEMO)

test: install
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(DEMO) *.egg-info
