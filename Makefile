# mcphost: the one entry point. `make run` serves on mcphost.yaml; `make test` runs every test.
GO        ?= go
BIN       := bin
# Go plugins are the plugins/* with a main.go (TypeScript ones: see build-ts).
PLUGINS   := $(notdir $(patsubst %/main.go,%,$(wildcard plugins/*/main.go)))
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
TOOLS     := $(CURDIR)/$(BIN)/tools
BUF_VERSION            := v1.75.0
PROTOC_GEN_GO_VERSION  := v1.36.12
PROTOC_GEN_GRPC_VERSION := v1.6.2

FUZZTIME  ?= 10s

.PHONY: all build run test fuzz bench proto proto-check clean

all: build

build: build-ts
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/mcphost ./cmd/mcphost
	@for p in $(PLUGINS); do \
		$(GO) build -o $(BIN)/plugins/$$p ./plugins/$$p || exit 1; \
	done

run: build
	./scripts/test-deps.sh run
	./scripts/run-dev.sh

test: build
	./scripts/test-deps.sh
	$(GO) vet ./...
	$(GO) test -count=1 -race -timeout 20m ./...
	$(MAKE) test-ts
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 ./...
	$(MAKE) test-py
	$(MAKE) fuzz
	$(MAKE) conformance

# Each fuzz target runs briefly on every `make test`; raise FUZZTIME to dig deeper.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./auth/workos/
	$(GO) test -run '^$$' -fuzz '^FuzzMiddleware$$' -fuzztime $(FUZZTIME) ./auth/workos/
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./config/
	$(GO) test -run '^$$' -fuzz '^FuzzDotEnv$$' -fuzztime $(FUZZTIME) ./config/

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...

# --- Python (owned by sdk/python and plugins/notes-py) ---------------------------
# Nothing to build: plugins/notes-py/notes.py is the plugin (its #! line names
# /usr/bin/python3, since plugins get no PATH). The SDK needs Debian's
# python3-grpcio, python3-protobuf and python3-cryptography (scripts/test-deps.sh).
# Its message classes come from sdk/python/mcphost_sdk/_descriptors.py, made
# from the Go descriptors by py-descriptors; a Go test fails when it is stale.
PYTHON ?= /usr/bin/python3

.PHONY: test-py py-descriptors
test-py:
	cd sdk/python && $(PYTHON) -m unittest discover -s tests -t .
	cd plugins/notes-py && $(PYTHON) -m unittest test_notes

py-descriptors:
	$(GO) run ./sdk/python/gendescriptor -o sdk/python/mcphost_sdk/_descriptors.py
# --- end Python -------------------------------------------------------------------

# Regenerate proto/ with pinned local generators (buf compiles; no network plugins).
proto: $(TOOLS)/buf $(TOOLS)/protoc-gen-go $(TOOLS)/protoc-gen-go-grpc
	cd proto && PATH=$(TOOLS):$$PATH buf lint && PATH=$(TOOLS):$$PATH buf generate

# Fails when the committed generated code differs from what `make proto` makes.
proto-check: proto
	git diff --exit-code -- proto/ || (echo "proto/: generated code is stale; run make proto and commit" >&2; exit 1)

$(TOOLS)/buf:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/protoc-gen-go-grpc:
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GRPC_VERSION)

clean:
	rm -rf $(BIN) .mcphost

# --- conformance (owned by conformance/; see conformance/README.md) -------------
# The MCP conformance suites (pinned in conformance/package.json, with their own
# Node 22 from npm) against mcphost serving conformance/fixture in its default
# configuration, directly and through the auth gate: 0.2.0-alpha.12 with
# --requirements 2026-07-28 and 2025-11-25, and 0.1.16 --suite all. Runner flags
# go in CONFORMANCE_FLAGS, e.g.
#   make conformance CONFORMANCE_FLAGS='-suite 2025-11-25 -scenario tools-call-sampling'
#   make conformance CONFORMANCE_FLAGS='-runs stateless -suite stable'
CONFORMANCE_FLAGS ?=
CONFORMANCE_NPM   := conformance/node_modules/.package-lock.json

.PHONY: conformance
conformance: build $(CONFORMANCE_NPM)
	GO=$(GO) $(GO) run ./conformance/runner $(CONFORMANCE_FLAGS)

$(CONFORMANCE_NPM): conformance/package.json conformance/package-lock.json
	cd conformance && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
# --- end conformance -------------------------------------------------------------

# --- bench-http (owned by cmd/mcpbench and bench/; see bench/README.md) ---------
# mcphost vs the go-sdk v1.8.0 and a bare net/http handler, over HTTP, one table.
# Flags for `mcpbench compare` go in BENCH_FLAGS, e.g.
#   make bench-http BENCH_FLAGS='-d 20s -rounds 3'
BENCH_FLAGS ?=

.PHONY: bench-http
bench-http: build
	$(GO) build -o $(BIN)/mcpbench ./cmd/mcpbench
	$(GO) build -o $(BIN)/bench/addplugin ./bench/addplugin
	./$(BIN)/mcpbench compare -mcphost $(BIN)/mcphost -plugin $(BIN)/bench/addplugin $(BENCH_FLAGS)
# --- end bench-http --------------------------------------------------------------

# --- TypeScript (owned by sdk/typescript and plugins/tasks-ts) -------------------
# The SDK is compiled with tsc (its wire descriptor generated from
# proto/mcphost/plugin/v1/plugin.proto); each TypeScript plugin is type-checked
# and bundled by esbuild into one executable file, bin/plugins/<name>, whose
# first line is the absolute path of the node that built it: the host starts
# plugins with an empty environment, where `#!/usr/bin/env node` finds no node.
# Override with NODE=/path/to/node. npm only reaches the registry when a
# package is not in its cache already.
NODE     ?= $(shell command -v node 2>/dev/null)
NPM_CI   := npm ci --no-audit --no-fund --prefer-offline --loglevel=error
TS_SDK   := sdk/typescript
TS_SDK_BUILT := $(TS_SDK)/dist/index.js
CHECK_NODE = @case "$(NODE)" in /*) ;; *) echo "build-ts: node not found (NODE=$(NODE)); install Node.js 20+ (apt-get install nodejs npm) or set NODE=/absolute/path/to/node" >&2; exit 1;; esac; \
	$(NODE) -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' || { echo "build-ts: $(NODE) is Node.js $$($(NODE) --version); the TypeScript SDK needs 20 or newer" >&2; exit 1; }

.PHONY: build-ts test-ts
build-ts: $(BIN)/plugins/tasks-ts

$(TS_SDK)/node_modules/.package-lock.json: $(TS_SDK)/package.json $(TS_SDK)/package-lock.json
	$(CHECK_NODE)
	cd $(TS_SDK) && $(NPM_CI)
	@touch $@

$(TS_SDK_BUILT): $(TS_SDK)/node_modules/.package-lock.json $(wildcard $(TS_SDK)/src/*.ts $(TS_SDK)/proto/*.proto $(TS_SDK)/scripts/*) proto/mcphost/plugin/v1/plugin.proto
	cd $(TS_SDK) && npm run --silent build
	@touch $@

plugins/tasks-ts/node_modules/.package-lock.json: plugins/tasks-ts/package.json plugins/tasks-ts/package-lock.json
	cd plugins/tasks-ts && $(NPM_CI)
	@touch $@

$(BIN)/plugins/tasks-ts: $(TS_SDK_BUILT) plugins/tasks-ts/node_modules/.package-lock.json $(wildcard plugins/tasks-ts/src/*.ts)
	$(CHECK_NODE)
	@mkdir -p $(@D)
	cd plugins/tasks-ts && npx tsc -p tsconfig.json && npx esbuild src/main.ts --bundle --platform=node \
		--target=node20 --format=cjs --log-level=warning '--banner:js=#!$(NODE)' --outfile=$(CURDIR)/$@.tmp
	chmod 755 $@.tmp && mv $@.tmp $@

test-ts: $(TS_SDK_BUILT) $(BIN)/plugins/tasks-ts
	cd $(TS_SDK) && node --test test/*.test.mjs
# --- end TypeScript ---------------------------------------------------------------

# --- soak (owned by cmd/mcpbench; see README "Development") ----------------------
# `mcphost dev` in its default configuration under mixed traffic from many
# clients (both protocol eras, sessions kept, cycled and abandoned), with plugins
# killed and hot-swapped and the listener flooded; a line of RSS, fds and counts
# every 30 s; fails on any lost call or on growth after warm-up. Not part of
# `make test`, which runs a short one (cmd/mcpbench TestSoakShort). E.g.
#   make soak SOAK_DURATION=3m SOAK_CLIENTS=16 SOAK_FLAGS='-v -keep'
SOAK_DURATION ?= 10m
SOAK_CLIENTS  ?= 32
SOAK_FLAGS    ?=

.PHONY: soak
soak: build
	$(GO) build -o $(BIN)/mcpbench ./cmd/mcpbench
	$(GO) build -ldflags "-X main.buildVersion=A" -o $(BIN)/soak/testplugin-a ./internal/testplugin
	$(GO) build -ldflags "-X main.buildVersion=B -X main.extraTool=added" -o $(BIN)/soak/testplugin-b ./internal/testplugin
	./$(BIN)/mcpbench soak -duration $(SOAK_DURATION) -clients $(SOAK_CLIENTS) $(SOAK_FLAGS)
# --- end soak --------------------------------------------------------------------
