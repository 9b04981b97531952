# trustledger. `make run` starts a single-validator node with everything on loopback;
# `make test` is what CI runs.
GO       ?= go
TAGS     := badgerdb
BIN      := bin/trustd
HOME_DIR ?= $(CURDIR)/.home
# Tests that start real nodes share the two cores; one package at a time keeps them calm.
TESTFLAGS ?= -count=1 -p 1 -timeout 15m

.PHONY: build run test vet fmt fuzz clean

build:
	$(GO) build -tags $(TAGS) -o $(BIN) ./cmd/trustd

run: build
	$(BIN) start --init --home $(HOME_DIR)

vet:
	$(GO) vet -tags $(TAGS) ./...

fmt:
	gofmt -l -w .

test: build vet
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	TRUSTD_BIN=$(CURDIR)/$(BIN) $(GO) test -tags $(TAGS) $(TESTFLAGS) ./...
	$(GO) test -tags $(TAGS) -count=1 -run '^$$' -fuzz FuzzCheckTx -fuzztime 20s ./ledger

fuzz:
	$(GO) test -tags $(TAGS) -run '^$$' -fuzz FuzzCheckTx -fuzztime 5m ./ledger

clean:
	rm -rf bin .home
