# loadgate: `make run` runs the default scenario against the embedded
# fixture API; `make test` runs every test. Both work on a fresh clone.
GO      ?= go
BIN     := bin/loadgate
SCENARIO ?= scenarios/normal.yaml

.PHONY: all build run test vet clean

all: build

build:
	$(GO) build -o $(BIN) .

run: build
	./$(BIN) run $(SCENARIO)

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race -count=1 -timeout 8m ./...

clean:
	rm -rf bin
