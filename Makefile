GO ?= go

.PHONY: help build demo test fuzz bench bench-agent bench-http run vet lint ui compat

# golangci-lint is pinned; `make lint` installs this version through the Go
# module proxy when the one on PATH (or in GOPATH/bin) differs.
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT ?= $(shell $(GO) env GOPATH)/bin/golangci-lint

help: ## show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/gmc
	$(GO) build -trimpath -o bin/gmc ./cmd/gmc

demo: ## gmc with a simulated trading system; dashboard at http://127.0.0.1:9900
	$(GO) run ./cmd/gmc demo

run: ## run the server on 127.0.0.1:9900 with data in ./data
	$(GO) run ./cmd/gmc server

vet: ## go vet and a go.mod tidiness check
	$(GO) vet ./...
	$(GO) mod tidy -diff

lint: ## golangci-lint (.golangci.yml, pinned version) and the import rules (ingest upstream of all; cmd/gmc thin)
	@$(GOLANGCI_LINT) version 2>/dev/null | grep -q "version $(GOLANGCI_LINT_VERSION:v%=%) " || \
		$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	$(GOLANGCI_LINT) run ./...
	@# ingest is upstream of everything: it must not depend on notify, rules, sla, bench or config.
	@bad=$$($(GO) list -deps ./internal/ingest | grep -E 'gmc-dev/gmc/internal/(notify|rules|sla|bench|config)$$'); \
		[ -z "$$bad" ] || { echo "internal/ingest imports $$bad"; exit 1; }
	@# cmd/gmc imports only server, agent, bench, demo and config.
	@bad=$$($(GO) list -f '{{join .Imports "\n"}}' ./cmd/gmc | grep 'gmc-dev/gmc/internal/' | grep -vE 'gmc-dev/gmc/internal/(server|agent|bench|demo|config)$$'); \
		[ -z "$$bad" ] || { echo "cmd/gmc imports $$bad"; exit 1; }

test: vet ## run the whole test suite (unit, e2e with real peers, fuzz seed corpora)
	$(GO) test -count=1 -timeout 25m ./...

compat: ## run the compatibility tests against the real clients and write docs/compat.md
	$(GO) test -count=1 -json -run Compat ./test/e2e > compat.json; \
		$(GO) run ./test/e2e/compatdoc < compat.json > docs/compat.md.tmp; st=$$?; rm -f compat.json; \
		[ $$st = 0 ] && mv docs/compat.md.tmp docs/compat.md || { rm -f docs/compat.md.tmp; exit 1; }

FUZZ_PKGS ?= ./internal/ingest ./internal/notify ./internal/config

ui: ## rebuild the web dashboard into internal/web/dist (needs npm)
	cd internal/web/ui && npm ci --no-audit --no-fund && sh build.sh

# A new-coverage input is minimized in the worker before fuzzing goes on, by
# default for up to 60 s, while the coordinator counts no execs: with 20-30 s per
# target one minimization took the whole run (0 execs/s). FUZZMINIMIZETIME bounds
# it in runs of the target, so the bound does not grow with the machine's load.
fuzz: ## run each fuzz target for 30s (FUZZTIME=30s, FUZZMINIMIZETIME=100x)
	@for p in $(FUZZ_PKGS); do for t in $$($(GO) test -list 'Fuzz.*' $$p | grep ^Fuzz); do \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-30s} -fuzzminimizetime $${FUZZMINIMIZETIME:-100x} $$p || exit 1; done; done

bench: ## the side-by-side ingest benchmark against Prometheus and VictoriaMetrics
	$(GO) run ./bench/ingest

bench-agent: ## gmc agent vs prometheus-node-exporter overhead (CPU, RSS)
	$(GO) run ./bench/agent

bench-http: ## the http benchmark runner's sustained rate vs wrk
	$(GO) run ./bench/httprunner
