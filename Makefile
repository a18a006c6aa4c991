GO ?= go

.PHONY: help build demo test fuzz bench bench-agent bench-http run vet ui compat

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

test: vet ## run the whole test suite (unit, e2e with real peers, fuzz seed corpora)
	$(GO) test -count=1 -timeout 25m ./...

compat: ## run the compatibility tests against the real clients and write docs/compat.md
	$(GO) test -count=1 -json -run Compat ./test/e2e > compat.json; \
		$(GO) run ./test/e2e/compatdoc < compat.json > docs/compat.md.tmp; st=$$?; rm -f compat.json; \
		[ $$st = 0 ] && mv docs/compat.md.tmp docs/compat.md || { rm -f docs/compat.md.tmp; exit 1; }

FUZZ_PKGS ?= ./internal/ingest ./internal/notify ./internal/config

ui: ## rebuild the web dashboard into internal/web/dist (needs npm)
	cd internal/web/ui && npm ci --no-audit --no-fund && sh build.sh

fuzz: ## run each fuzz target for 30s (FUZZTIME=30s)
	@for p in $(FUZZ_PKGS); do for t in $$($(GO) test -list 'Fuzz.*' $$p | grep ^Fuzz); do \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-30s} $$p || exit 1; done; done

bench: ## the side-by-side ingest benchmark against Prometheus and VictoriaMetrics
	$(GO) run ./bench/ingest

bench-agent: ## gmc agent vs prometheus-node-exporter overhead (CPU, RSS)
	$(GO) run ./bench/agent

bench-http: ## the http benchmark runner's sustained rate vs wrk
	$(GO) run ./bench/httprunner
