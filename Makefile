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
test: lint test-unit test-real ## The whole test suite (what CI runs)

.PHONY: lint
lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

.PHONY: test-unit
test-unit: dashboard-deps ## Unit, property and end-to-end tests against the fake API server (and the dashboard's queries)
	$(CARGO) test --workspace --locked

.PHONY: dashboard-deps
dashboard-deps: dashboards/node_modules/.package-lock.json ## npm packages the dashboard query test runs with (jsonata, jsonpath-plus)

dashboards/node_modules/.package-lock.json: dashboards/package.json dashboards/package-lock.json
	npm ci --prefix dashboards --no-audit --no-fund --loglevel=error


.PHONY: test-real
test-real: ## The end-to-end suites against a real kube-apiserver + etcd and argocd-server (built once per machine)
	testenv/run-real-suite.sh

.PHONY: real-bins
real-bins: ## Build and cache kube-apiserver, etcd and argocd-server from their Go modules
	testenv/real-kube.sh bins
	testenv/real-argocd.sh bins

.PHONY: record-fixtures
record-fixtures: ## Re-record fixtures/demo/30-live-objects.yaml from a fresh real API server
	testenv/record-fixtures.sh

.PHONY: bench
bench: ## Load test GET /api/v1/status on the demo (wrk, 32 connections)
	scripts/bench.sh

.PHONY: bench-reports
bench-reports: ## The reports port against the Go gitops-status-server, side by side (wrk); GO_PEER_DIR=…
	scripts/bench-reports.sh
