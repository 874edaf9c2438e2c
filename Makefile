# paymux build, test and tool targets. `make run` and `make test` are the README's two commands.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
TOOLS := $(CURDIR)/.tools
export PATH := $(TOOLS)/bin:$(PATH)

# Pinned code generators; protoc itself comes from Debian's protobuf-compiler.
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
STATICCHECK_VERSION := v0.8.2

# PostgreSQL for the store tests; unset it to skip them (they say so).
PAYMUX_TEST_POSTGRES_DSN ?=
export PAYMUX_TEST_POSTGRES_DSN

.PHONY: all build run test test-short e2e bench bench-check fuzz-short tools proto proto-check lint clean mutants mutants-check dist dist-check image unit-check

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/paymux ./host/cmd/paymux
	@for p in plugins/*/main.go; do \
		[ -e "$$p" ] || continue; d=$$(dirname $$p); n=$$(basename $$d); \
		echo "$(GO) build -ldflags \"$(LDFLAGS)\" -o $(BIN)/paymux-provider-$$n ./$$d"; \
		$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/paymux-provider-$$n ./$$d || exit 1; \
	done

# Runs paymux on the embedded defaults: SQLite, the simulator as gateway, both plugins.
run: build
	$(BIN)/paymux quickstart

# The full test suite. Plugin binaries are built first and handed to the tests through PAYMUX_BIN.
test: build
	PAYMUX_BIN=$(BIN) $(GO) test -count=1 -timeout 9m ./...

# The quickstart's demo shop in a real browser: headless Debian chromium driven by the pinned
# playwright-core (host/demo/e2e). Installs both if missing; screenshots go to .paymux/e2e-artifacts.
e2e: build
	./host/demo/e2e/install.sh
	PAYMUX_BIN=$(BIN) node host/demo/e2e/e2e.mjs

# Every benchmark runs once (they check their own results), so a benchmark that no longer works
# fails CI instead of waiting for the next measurement (~30 s).
bench-check: build
	PAYMUX_BIN=$(BIN) $(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./...

bench: build
	PAYMUX_BIN=$(BIN) $(GO) test -run '^$$' -bench . -benchmem -count 6 ./... | tee bench.out

# Mutation check: every deliberate bug in .ci/mutants.d must make the suite fail (docs/reliability.md).
# One mutant: make mutants M=ack-before-commit
mutants:
	./.ci/mutants $(M)

# Seconds: every deliberate bug of .ci/mutants.d still applies to the tree (a change to the code
# a patch mutates must regenerate the patch; .ci/run checks this before the long steps).
mutants-check:
	@for p in .ci/mutants.d/*.patch; do git apply --check "$$p" || { echo "mutants-check: $$p no longer applies; regenerate it against the current code"; exit 1; }; done; echo "mutants-check: every patch applies"

tools:
	@./.ci/install-tools

proto: tools
	cd plugins/proto && protoc -I . --go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative provider.proto

# Fails when the committed generated code is not what the pinned generators produce.
proto-check: proto
	@test -z "$$(git status --porcelain -- plugins/proto)" || { git status --short -- plugins/proto; git diff -- plugins/proto | head -40; \
		echo "plugins/proto: generated code is stale or uncommitted; run make proto and commit"; exit 1; }

lint: tools
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet ./...
	staticcheck ./...

# Release archives in dist/: static binaries of the host and every plugin for linux/amd64 and
# linux/arm64, the example config with the plugins pinned, deploy files, docs, SHA256SUMS.
dist:
	./host/deploy/dist.sh $(VERSION)

# Starts paymux from the host platform's archive alone, without Go, on PostgreSQL when
# PAYMUX_TEST_POSTGRES_DSN is set (docs/operations.md, "Installing from a release archive").
dist-check:
	./host/deploy/archive-smoke.sh $(VERSION)

# The container image (FROM scratch) from dist/, with docker or podman, checked after the build.
# Says so and succeeds when no container tool can build here (REQUIRE_IMAGE=1 makes that fail).
image:
	./host/deploy/image.sh $(VERSION)

# The systemd unit through systemd-analyze verify, with ExecStart pointed at bin/paymux.
unit-check: build
	@if ! command -v systemd-analyze >/dev/null 2>&1; then echo "unit-check: SKIPPED: systemd-analyze is not installed"; exit 0; fi; \
	d=$$(mktemp -d) && sed "s#/opt/paymux/bin/paymux#$(BIN)/paymux#" host/deploy/paymux.service > $$d/paymux.service && \
	systemd-analyze verify $$d/paymux.service && echo "unit-check: host/deploy/paymux.service verified" && \
	{ out=$$(systemd-analyze security --offline=yes --threshold=30 $$d/paymux.service); rc=$$?; echo "$$out" | tail -1; }; \
	rm -rf $$d; exit $$rc

clean:
	rm -rf $(BIN) dist
