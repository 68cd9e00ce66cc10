# The two commands a new user needs: `make demo` and `make test`. Everything else here serves them.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# GitHub's official OpenAPI description, pinned; fetched at set-up, never committed.
OCTOKIT_OPENAPI_VERSION := 23.0.2
OCTOKIT_DIR := .cache/octokit-openapi-$(OCTOKIT_OPENAPI_VERSION)
export BACKHUB_OPENAPI_SPEC := $(CURDIR)/$(OCTOKIT_DIR)/node_modules/@octokit/openapi/generated/api.github.com.json
# GitHub's webhook payload schemas (one JSON Schema draft-07 file, definitions "<event>$<action>"), pinned.
WEBHOOKS_SCHEMAS_VERSION := 7.6.1
WEBHOOKS_SCHEMAS_DIR := .cache/octokit-webhooks-schemas-$(WEBHOOKS_SCHEMAS_VERSION)
export BACKHUB_WEBHOOKS_SCHEMAS := $(CURDIR)/$(WEBHOOKS_SCHEMAS_DIR)/node_modules/@octokit/webhooks-schemas/schema.json

# GitHub's published GraphQL schema (schema.graphql at the package root), pinned: queries are checked against it.
GRAPHQL_SCHEMA_VERSION := 15.26.1
GRAPHQL_SCHEMA_DIR := .cache/octokit-graphql-schema-$(GRAPHQL_SCHEMA_VERSION)
export BACKHUB_GRAPHQL_SCHEMA := $(CURDIR)/$(GRAPHQL_SCHEMA_DIR)/node_modules/@octokit/graphql-schema/schema.graphql

.PHONY: demo test lint install openapi webhooks-schemas graphql-schema bench clean

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

$(WEBHOOKS_SCHEMAS_DIR)/.installed:
	mkdir -p $(WEBHOOKS_SCHEMAS_DIR)
	npm install --prefix $(WEBHOOKS_SCHEMAS_DIR) --no-save --no-audit --no-fund --loglevel=error \
		@octokit/webhooks-schemas@$(WEBHOOKS_SCHEMAS_VERSION)
	touch $@

webhooks-schemas: $(WEBHOOKS_SCHEMAS_DIR)/.installed

$(GRAPHQL_SCHEMA_DIR)/.installed:
	mkdir -p $(GRAPHQL_SCHEMA_DIR)
	npm install --prefix $(GRAPHQL_SCHEMA_DIR) --no-save --no-audit --no-fund --loglevel=error \
		@octokit/graphql-schema@$(GRAPHQL_SCHEMA_VERSION)
	touch $@

graphql-schema: $(GRAPHQL_SCHEMA_DIR)/.installed

demo: install
	$(BIN)/backhub demo

lint: install
	$(BIN)/ruff check .

test: install openapi webhooks-schemas graphql-schema lint
	$(BIN)/pytest -n 2 --dist loadgroup

bench: install
	$(BIN)/python -m bench $(BENCH)

clean:
	rm -rf $(VENV) .cache .demo
