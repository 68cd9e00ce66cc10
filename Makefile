# The two commands a new user needs: `make demo` and `make test`. Everything else here serves them.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# GitHub's official OpenAPI description, pinned; fetched at set-up, never committed.
OCTOKIT_OPENAPI_VERSION := 23.0.2
OCTOKIT_DIR := .cache/octokit-openapi-$(OCTOKIT_OPENAPI_VERSION)
export BACKHUB_OPENAPI_SPEC := $(CURDIR)/$(OCTOKIT_DIR)/node_modules/@octokit/openapi/generated/api.github.com.json

.PHONY: demo test lint install openapi bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

$(OCTOKIT_DIR)/.installed:
	mkdir -p $(OCTOKIT_DIR)
	npm install --prefix $(OCTOKIT_DIR) --no-save --no-audit --no-fund --loglevel=error \
		@octokit/openapi@$(OCTOKIT_OPENAPI_VERSION)
	touch $@

openapi: $(OCTOKIT_DIR)/.installed

demo: install
	$(BIN)/backhub demo

lint: install
	$(BIN)/ruff check .

test: install openapi lint
	$(BIN)/pytest -n 2 --dist loadgroup

bench: install
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) .cache .demo
