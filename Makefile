# loadgate: `make run` runs the default scenario against the embedded
# fixture API; `make test` runs every test. Both work on a fresh clone.
GO      ?= go
BIN     := bin/loadgate
SCENARIO ?= scenarios/normal.yaml

.PHONY: all build run capacity test vet cross browser prometheus vegeta bench bench-memory soak clean

all: build

build:
	$(GO) build -o $(BIN) .

run: build
	./$(BIN) run $(SCENARIO)

# capacity searches the capacity of the fixture modelled as a service of
# 160 requests/s (scenarios/capacity.yaml); the last line names the report.
capacity: build
	./$(BIN) capacity scenarios/capacity.yaml --start 100/s --step-duration 5s --pause 1s

vet:
	$(GO) vet ./...

# cross builds the binary for macOS and Windows: code for one system only
# must sit behind a build tag.
cross:
	GOOS=darwin $(GO) build -o /dev/null .
	GOOS=windows $(GO) build -o /dev/null .

# browser installs Debian's Chromium when it is missing: the report's
# browser test needs it, and fails rather than skips under `make test`.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=; if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi; \
		$$SUDO apt-get update && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

# prometheus installs Debian's Prometheus server, which the observe test
# runs against the fixture and loadgate's /metrics.
prometheus:
	@command -v prometheus >/dev/null 2>&1 || { \
		SUDO=; if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi; \
		$$SUDO apt-get update && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; }

# vegeta installs the vegeta CLI at the library's version into bin/: the
# tests check that 'vegeta report' and 'vegeta plot' read what loadgate writes.
VEGETA_VERSION = $(shell $(GO) list -m -f '{{.Version}}' github.com/tsenart/vegeta/v12)
vegeta:
	@test -x bin/vegeta || GOBIN=$(CURDIR)/bin $(GO) install github.com/tsenart/vegeta/v12@$(VEGETA_VERSION)

# test runs every test under the race detector, then the timing tests
# (which skip under it) one package at a time, so nothing else loads the
# machine while they measure.
test: vet cross browser prometheus vegeta
	LOADGATE_REQUIRE_BROWSER=1 LOADGATE_REQUIRE_PROMETHEUS=1 LOADGATE_VEGETA=$(CURDIR)/bin/vegeta $(GO) test -race -count=1 -timeout 8m ./...
	$(GO) test -count=1 -p 1 -run '^TestAccuracy' ./internal/cli ./internal/attack

# bench runs loadgate, vegeta, hey and wrk side by side against nginx on
# loopback (about 3 minutes) and writes bench/RESULTS.md; see bench/README.md.
bench:
	bench/run.sh

# bench-memory runs loadgate at 1000 requests/s for MEMORY_DURATION (3m by
# default) and reports how flat its RSS stayed, in bench/MEMORY.md.
bench-memory:
	bench/run.sh memory

# soak runs 5 minutes at 500 requests/s against the embedded fixture API
# (SOAK and SOAK_RATE to change them) and checks that the heap stays flat
# and no goroutine or open file is left behind. Not part of `make test`.
SOAK      ?= 5m
SOAK_RATE ?= 500/s
soak:
	LOADGATE_SOAK=$(SOAK) LOADGATE_SOAK_RATE=$(SOAK_RATE) $(GO) test -count=1 -run '^TestSoak$$' -timeout 30m -v ./internal/cli

clean:
	rm -rf bin
