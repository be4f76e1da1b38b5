# argocd-drift: every entry point. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.PHONY: demo
demo: ## Run the demo: a fake cluster with Argo CD fixtures and argocd-drift against it
	scripts/demo.sh

.PHONY: test
test: lint test-unit ## The whole test suite (what CI runs)

.PHONY: lint
lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

.PHONY: test-unit
test-unit: ## Unit, property and end-to-end tests against the fake API server
	$(CARGO) test --workspace --locked

