# multitab: `make run` runs the app on a fresh machine; `make test` runs every test.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/multitab
export PATH := $(PATH):/usr/local/go/bin

# Root can install what is missing; others get a message naming the package.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT  := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq

.PHONY: run build web templ deps deps-system deps-node test test-go test-e2e vet fmt clean loadgen

## run: start one node on http://localhost:8080 (local Redis and embedded store unless REDIS_URL / MONGO_URI are set)
run: deps build
	./$(BIN) serve

## build: the single binary, with the front end and templ code generated first
build: web templ
	$(GO) build -o $(BIN) ./cmd/multitab

templ:
	$(GO) tool templ generate -log-level error

web: deps-node
	node web/build.mjs

deps: deps-system deps-node

deps-system:
	@command -v redis-server >/dev/null || [ -n "$$REDIS_URL" ] || { $(SUDO) apt-get update -qq && $(APT) redis-server; }

deps-node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## test: vet, unit and integration tests (real redis-server, embedded store), then the browser suite
test: deps-test build vet test-go test-e2e

deps-test: deps
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(APT) chromium; }

vet:
	@test -z "$$(gofmt -l cmd internal views static)" || { gofmt -l cmd internal views static; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

test-go:
	$(GO) test -count=1 -timeout 20m ./...

test-e2e: build
	./e2e/run.sh

## loadgen: 20 typists on two local nodes for 20 s (start the nodes first; see README)
loadgen: build
	./$(BIN) loadgen -urls "$(URLS)" -clients 20 -duration 20s

clean:
	rm -rf bin static/dist/*.js static/dist/*.map e2e/test-results
